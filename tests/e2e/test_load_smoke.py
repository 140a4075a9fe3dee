"""The load generator (`benchmarks/load.py`) still runs: a tiny count against the embedded setup.

Not a performance test: it checks that the script starts `orderloom serve`,
drives every endpoint of its mix and the SSE stream, sees the views catch up,
and ends with its JSON line; no figure is compared with a target.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_load_generator_drives_the_embedded_setup_and_reports_its_figures(tmp_path: Path) -> None:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "load.py"), "--setups", "embedded", "--users", "2", "--sse", "1"]
    cmd += ["--seconds", "3", "--warmup", "1", "--orders", "40", "--profile-seconds", "0", "--logs", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["embedded_events_per_s"] > 0
    for endpoint in ("create_order", "route", "event_batch", "chain_read"):
        assert figures[f"embedded_{endpoint}_p99_ms"] >= figures[f"embedded_{endpoint}_p50_ms"] > 0
    assert figures["embedded_view_lag_p99_ms"] >= 0
    assert figures["embedded_server_errors"] == 0
    assert "non-2xx answers and client errors: none" in done.stdout, done.stdout[-2000:]
    assert "views drained: True" in done.stdout
