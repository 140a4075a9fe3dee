"""Per-key rate limits: a runaway key gets 429 with Retry-After; other keys are not affected."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from orderloom.api.app import create_app
from orderloom.api.ratelimit import RateLimiter
from orderloom.bootstrap import build_services
from orderloom.core.settings import Settings


def test_a_key_over_its_rate_gets_429_with_retry_after_and_other_keys_carry_on(tmp_path: Path) -> None:
    svc = build_services(Settings(db_url=f"sqlite:///{tmp_path / 'r.db'}", rate_per_key=1, rate_burst=2))
    busy, calm = svc.keys.create("ops")[0], svc.keys.create("ops")[0]
    with TestClient(create_app(services=svc)) as c:
        codes = [c.get("/v1/dictionary", headers={"Authorization": f"Bearer {busy}"}).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        r = c.get("/v1/dictionary", headers={"Authorization": f"Bearer {busy}"})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert "requests per second" in r.json()["error"]["message"]
        assert c.get("/v1/dictionary", headers={"Authorization": f"Bearer {calm}"}).status_code == 200
    svc.close()


def test_the_bucket_refills_at_the_rate_and_never_above_the_burst() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=3, clock=lambda: now[0])
    assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("k") == 0.5  # half a second until the next token
    now[0] = 10.0
    assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("k") > 0
    assert RateLimiter(rate=0, burst=1).take("k") == 0.0  # rate 0: no limit
