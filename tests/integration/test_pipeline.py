"""The in-process pipeline of `make run`: API → log → relay → in-process bus → views."""

from __future__ import annotations

import copy
import time
from pathlib import Path

from fastapi.testclient import TestClient

from orderloom.api.app import create_app
from orderloom.bootstrap import build_services
from orderloom.core.settings import Settings
from orderloom.sim.demo import load_demo
from orderloom.status.projections import project_all, status_projections


def _wait(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("the views did not catch up in time")


def test_views_follow_the_log_live_and_equal_a_rebuild(tmp_path: Path) -> None:
    svc = build_services(Settings(db_url=f"sqlite:///{tmp_path / 'p.db'}"))
    load_demo(svc)
    key, _ = svc.keys.create("ops")
    try:
        with TestClient(create_app(services=svc)) as client:
            head = svc.store.last_position()
            _wait(lambda: svc.views.checkpoint("order_status") >= head and svc.views.checkpoint("relay") >= head)
            ex = copy.deepcopy(dict(svc.dictionary.types["linehaul.in_transit"].example))
            ex["data"].pop("shipment", None)
            ev = {
                "id": "live-x",
                "type": "linehaul.in_transit",
                "source": "tms",
                "oid": "OL-DEMO-0003",
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                **ex,
            }
            r = client.post("/v1/events", json=[ev], headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 200, r.text
            # The monitors answer some events with findings of their own (the demo stall resolves): wait for quiet.
            _wait(lambda: svc.views.checkpoint("monitor_state") >= svc.store.last_position())
            head = svc.store.last_position()
            _wait(lambda: svc.views.checkpoint("order_status") >= head)
            live = svc.views.read("order_status", "OL-DEMO-0003")
            seen = [e for e in svc.store.read_stream("OL-DEMO-0003") if e.position <= head]
            assert any(e.id == "live-x" for e in seen)
            assert live is not None and live["event_count"] >= len(seen)  # the live event is in the view
        # Background writers (monitors, playbooks) may still append; with the pipeline stopped, each view must
        # equal a rebuild of the log up to its own checkpoint.
        log = svc.store.read_all(0, 100_000)
        for projection in status_projections(svc.dictionary):
            upto = svc.views.checkpoint(projection.view)
            assert upto >= head
            rebuilt = project_all([e for e in log if e.position <= upto], projection)
            assert {k: svc.views.read(projection.view, k) for k in rebuilt} == rebuilt, projection.view
    finally:
        svc.close()
