"""The backlog forecast over HTTP: per sorting centre, the backlog the twin really had, a forecast, alerts, roles."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from orderloom.api import errors, forecast_routes
from orderloom.api.app import create_app
from orderloom.bootstrap import build_services
from orderloom.core.clock import ManualClock
from orderloom.core.envelope import format_time
from orderloom.core.settings import Settings
from orderloom.sim.twin import NodeHour, parse_scenario, simulate
from orderloom.status.forecast import BacklogModel, Setup, score_hour, train
from orderloom.status.forecast.board import Source
from orderloom.status.forecast.model import save
from orderloom.status.forecast.observe import USED_TYPES
from orderloom.status.forecast.scenario import SCENARIO_YAML

NETWORK = SCENARIO_YAML.parent / "network.yaml"


def setup() -> Setup:
    """Four days at the Xi'an centre, with a fault on the third day that builds a queue."""
    sc = parse_scenario(
        {
            "name": "forecast-api",
            "network": "network.yaml",
            "days": 4,
            "seed": 5,
            "start": "2026-01-04T16:00:00Z",
            "arrivals": {"per_hour": 30, "window_hours": 48, "cities": {"西安": 1}, "skus": {"PARCEL": 1}},
            "disruptions": [{"kind": "capacity_drop", "nodes": ["XA-SC"], "at_hour": 84, "hours": 10, "factor": 0.2}],
        },
        base=SCENARIO_YAML.parent,
    )
    return Setup(sc, "nearest", threshold_hours=4.0, horizon=6, held_out_days=1, source="test")


@dataclass
class Board:
    client: TestClient
    keys: dict[str, str]
    queued: dict[int, int]  # the twin's own XA-SC queue at the end of each simulated hour
    intake: Any
    ends: Any

    def get(self, role: str, **params: Any) -> Any:
        return self.client.get("/v1/forecast", params=params, headers={"Authorization": f"Bearer {self.keys[role]}"})


@pytest.fixture(scope="module")
def model() -> BacklogModel:
    return train(setup())


@pytest.fixture
def board(tmp_path: Path) -> Iterator[Board]:
    s = setup()
    batches: list[list[dict[str, Any]]] = []
    queued: dict[int, int] = {}

    def trace(h: int, nodes: Any) -> None:
        state: NodeHour = nodes["XA-SC"]
        queued[h] = state.queued

    end = s.scenario.start + timedelta(days=s.scenario.days)
    simulate(s.scenario, s.policy, record=batches.append, trace=trace, record_types=USED_TYPES)
    svc = build_services(
        Settings(db_url=f"sqlite:///{tmp_path / 'f.db'}", network_path=str(NETWORK)), clock=ManualClock(end)
    )
    cut = format_time(end)
    for batch in batches:
        kept = [e for e in batch if e["time"] <= cut]  # the simulated days, not the twin's drain after them
        if kept:
            assert all(r.status == "accepted" for r in svc.intake.record(kept, allow_internal=True))
    keys = {role: svc.keys.create(role)[0] for role in ("cs", "finance", "ops", "admin")}
    with TestClient(create_app(services=svc), raise_server_exceptions=False) as client:
        yield Board(client, keys, queued, svc.intake, end)
    svc.close()


def test_without_a_model_the_board_shows_the_real_backlog_series_and_no_forecast(board: Board) -> None:
    r = board.get("ops", hours=24)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["model_version"] is None and doc["source"] == "log"
    assert doc["at"] == format_time(board.ends)
    [xa] = doc["nodes"]
    assert xa["node"] == "XA-SC" and xa["capacity_per_hour"] == 60
    assert xa["threshold_orders"] == 240
    assert len(xa["series"]) == 24 and xa["series"][-1]["time"] == doc["at"]
    assert xa["predicted"] is None and xa["ahead"] == [] and xa["open_alert"] is None
    # The backlog folded from the log is the twin's own queue, hour by hour.
    last_h = setup().scenario.days * 24 - 1
    for k, point in enumerate(reversed(xa["series"])):
        assert point["backlog_orders"] == board.queued[last_h - k]
        assert point["backlog_hours"] == round(point["backlog_orders"] / 60, 3)
        assert point["forecast_hours"] is None
    assert max(p["backlog_hours"] for p in xa["series"]) > 2  # the fault on day 3 built a real queue


@pytest.mark.slow
def test_with_a_model_each_centre_has_a_forecast_a_chart_line_and_its_open_alert(
    board: Board, model: BacklogModel
) -> None:
    app = board.client.app
    network = setup().scenario.network
    always = replace(model, threshold_hours=0.0)  # any backlog expected is "over": raises an alert now
    scored = score_hour(board.intake, always, network, at=board.ends)
    raised = {r.as_dict()["id"]: r.status for r in scored.results}
    assert raised.get(f"fa:XA-SC:{board.ends:%Y%m%dT%H%MZ}") == "accepted"
    app.state.forecast_source = Source(network, model)

    doc = board.get("admin", hours=12, node="XA-SC").json()
    assert doc["model_version"] == model.version and doc["horizon_hours"] == 6 and doc["threshold_hours"] == 4.0
    [xa] = doc["nodes"]
    predicted = xa["predicted"]
    assert predicted["target_time"] == format_time(board.ends + timedelta(hours=6))
    assert predicted["backlog_orders"] == round(predicted["backlog_hours"] * 60)
    assert predicted["over"] == (predicted["backlog_hours"] > 4.0)
    assert [p["time"] for p in xa["ahead"]] == [format_time(board.ends + timedelta(hours=k)) for k in range(1, 7)]
    assert xa["ahead"][-1]["forecast_hours"] == predicted["backlog_hours"]
    assert all(p["forecast_hours"] is not None and p["forecast_hours"] >= 0 for p in xa["series"])
    alert = xa["open_alert"]
    assert alert["id"] == f"fa:XA-SC:{board.ends:%Y%m%dT%H%MZ}" and alert["node"] == "XA-SC"
    assert alert["alert_id"].startswith("XA-SC:")


def test_only_ops_and_admin_read_the_forecast_and_bad_queries_name_the_parameter(board: Board) -> None:
    for role in ("cs", "finance"):
        r = board.get(role)
        assert r.status_code == 403 and "ops, admin" in r.json()["error"]["message"]
    assert board.client.get("/v1/forecast").status_code == 401
    for bad in ({"hours": 0}, {"hours": 337}, {"hours": "many"}, {"node": "no such/node"}):
        r = board.get("ops", **bad)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["problems"][0]["field"] == next(iter(bad))
    r = board.get("ops", node="SH-SC")
    assert r.status_code == 404 and "SH-SC" in r.json()["error"]["message"]
    assert "XA-SC" in r.json()["error"]["message"]  # says which centres there are


def test_the_openapi_document_shows_an_example_board(board: Board) -> None:
    spec = board.client.get("/openapi.json").json()
    op = spec["paths"]["/v1/forecast"]["get"]
    example = op["responses"]["200"]["content"]["application/json"]["example"]
    assert {"at", "horizon_hours", "threshold_hours", "model_version", "nodes"} <= set(example)
    assert {"predicted", "open_alert", "series", "ahead"} <= set(example["nodes"][0])


def _app_with_model_file(board: Board, path: Path) -> TestClient:
    """The forecast route alone, on the same services, reading its model from a file as a deployment does."""
    app = FastAPI()
    errors.install(app)
    app.state.services = board.client.app.state.services
    app.include_router(forecast_routes.router(setup().scenario.network, model_path=str(path)))
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.slow
def test_a_deployment_reads_its_model_from_the_file_made_by_forecast_train(
    board: Board, model: BacklogModel, tmp_path: Path
) -> None:
    path = tmp_path / "model.pkl"
    save(model, path)
    ops = {"Authorization": f"Bearer {board.keys['ops']}"}
    doc = _app_with_model_file(board, path).get("/v1/forecast", headers=ops).json()
    assert doc["model_version"] == model.version
    assert doc["nodes"][0]["predicted"]["target_time"] == format_time(board.ends + timedelta(hours=6))

    bad = tmp_path / "not-a-model.pkl"
    bad.write_bytes(b"not a pickle")
    r = _app_with_model_file(board, bad).get("/v1/forecast", headers=ops)
    assert r.status_code == 500 and r.json()["error"]["code"] == "configuration"
    assert str(bad) in r.json()["error"]["message"] and "forecast train" in r.json()["error"]["message"]
