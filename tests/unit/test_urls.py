"""Orderloom's own options travel in connection URLs and are removed before drivers see them."""

from orderloom.core.urls import take_options


def test_options_are_taken_out_and_the_rest_of_the_url_is_kept() -> None:
    url, opts = take_options("postgresql://u@h:5432/test?schema=s1&connect_timeout=3", ("schema",))
    assert url == "postgresql://u@h:5432/test?connect_timeout=3" and opts == {"schema": "s1"}


def test_a_url_without_options_is_left_exactly_as_it_was() -> None:
    assert take_options("memory://", ("stream",)) == ("memory://", {})
    assert take_options("nats://127.0.0.1:4222", ("stream",)) == ("nats://127.0.0.1:4222", {})


def test_sqlite_urls_name_relative_and_absolute_files() -> None:
    import pytest

    from orderloom.core.errors import ConfigError
    from orderloom.core.urls import sqlite_path

    assert sqlite_path("sqlite:///./orderloom.db") == "./orderloom.db"
    assert sqlite_path("sqlite:////var/lib/orderloom/log.db") == "/var/lib/orderloom/log.db"
    with pytest.raises(ConfigError, match="ORDERLOOM_DB_URL"):
        sqlite_path("sqlite:///")
