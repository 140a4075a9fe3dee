"""Settings come from ORDERLOOM_* variables; a bad value is named in the error."""

from __future__ import annotations

import os

import pytest

from orderloom.core.errors import ConfigError
from orderloom.core.settings import Settings


def test_an_empty_environment_gives_the_defaults() -> None:
    s = Settings.from_env({})
    assert s == Settings()
    assert s.db_url == "sqlite:///./orderloom.db"
    assert s.bus_url == "memory://"
    assert (s.host, s.port) == ("127.0.0.1", 8000)
    assert s.dictionary_paths == ()
    assert s.max_batch == 1000
    assert s.max_body_bytes == 8 * 1024 * 1024


def test_empty_values_count_as_unset() -> None:
    assert Settings.from_env({"ORDERLOOM_PORT": "", "ORDERLOOM_DB_URL": "", "ORDERLOOM_HOST": ""}) == Settings()


def test_values_are_read_and_typed() -> None:
    s = Settings.from_env(
        {
            "ORDERLOOM_DB_URL": "postgresql://u@db/orders",
            "ORDERLOOM_BUS_URL": "nats://bus:4222",
            "ORDERLOOM_HOST": "0.0.0.0",
            "ORDERLOOM_PORT": "9090",
            "ORDERLOOM_MAX_BATCH": "50",
            "ORDERLOOM_DICTIONARY": os.pathsep.join(["/etc/orderloom/acme.yaml", "", "/etc/orderloom/packs"]),
        }
    )
    assert s.db_url == "postgresql://u@db/orders"
    assert s.bus_url == "nats://bus:4222"
    assert (s.host, s.port, s.max_batch) == ("0.0.0.0", 9090, 50)
    assert s.dictionary_paths == ("/etc/orderloom/acme.yaml", "/etc/orderloom/packs")


@pytest.mark.parametrize("port", ["http", "80.5", "0", "65536", "-1"])
def test_a_bad_port_is_named_in_the_error(port: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"ORDERLOOM_PORT": port})
    assert "ORDERLOOM_PORT" in str(caught.value)


def test_the_port_limits_are_accepted() -> None:
    assert Settings.from_env({"ORDERLOOM_PORT": "1"}).port == 1
    assert Settings.from_env({"ORDERLOOM_PORT": "65535"}).port == 65535


@pytest.mark.parametrize("url", ["mysql://db/orders", "orders.db", "https://example.com"])
def test_an_unknown_database_scheme_is_named_in_the_error(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"ORDERLOOM_DB_URL": url})
    message = str(caught.value)
    assert "ORDERLOOM_DB_URL" in message
    assert url in message


@pytest.mark.parametrize("url", ["sqlite:///tmp/o.db", "postgres://h/d", "postgresql://h/d", "memory://"])
def test_every_supported_database_scheme_is_accepted(url: str) -> None:
    assert Settings.from_env({"ORDERLOOM_DB_URL": url}).db_url == url


def test_an_unknown_bus_scheme_is_named_in_the_error() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"ORDERLOOM_BUS_URL": "amqp://mq"})
    assert "ORDERLOOM_BUS_URL" in str(caught.value)


def test_a_too_small_body_limit_is_named_in_the_error() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"ORDERLOOM_MAX_BODY_BYTES": "10"})
    assert "ORDERLOOM_MAX_BODY_BYTES" in str(caught.value)
