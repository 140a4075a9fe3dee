"""Builds the bus named by a URL: memory://, nats://host:port, kafka://host:port[,host:port]."""

from __future__ import annotations

from orderloom.bus.port import Bus
from orderloom.core.errors import ConfigError


def open_bus(url: str) -> Bus:
    """Build (not connect) the bus for `url`; broker clients are imported only when used."""
    from orderloom.core.urls import take_options

    url, options = take_options(url, ("stream", "prefix", "topic"))
    scheme, sep, rest = url.partition("://")
    where = rest.split("?", 1)[0].strip("/")
    if not sep:
        raise ConfigError(f"ORDERLOOM_BUS_URL {url!r} needs a scheme: memory://, nats://host:port or kafka://host:port")
    if scheme == "memory":
        from orderloom.bus.memory import MemoryBus

        return MemoryBus()
    if scheme == "nats":
        if not where:
            raise ConfigError("ORDERLOOM_BUS_URL nats:// needs a server, e.g. nats://127.0.0.1:4222")
        from orderloom.bus.nats import NatsBus

        return NatsBus(
            url=f"nats://{where}",
            stream=options.get("stream") or "ORDERLOOM",
            subject_prefix=options.get("prefix") or "orderloom.events",
        )
    if scheme == "kafka":
        if not where:
            raise ConfigError("ORDERLOOM_BUS_URL kafka:// needs a broker, e.g. kafka://127.0.0.1:9092")
        from orderloom.bus.kafka import KafkaBus

        return KafkaBus(bootstrap=where, topic=options.get("topic") or "orderloom.events")
    raise ConfigError(f"ORDERLOOM_BUS_URL {url!r} is not a bus this version knows (memory, nats, kafka)")
