"""The crash drill (``benchmarks/drill_data_safety.py``) with small numbers, per engine and scenario.

Not part of ``make test`` (minutes per Spark case): ``make drill`` runs the full drill and
``make test-drill`` these small cases. Each case runs the script as its own process (its own embedded broker) and asserts what it
measured: trials ran, and no row was lost or duplicated in any sink.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "drill_data_safety.py"
SCENARIOS = ("kill", "fresh", "fresh_kill", "latest", "concurrent")

pytestmark = [pytest.mark.slow, pytest.mark.drill, pytest.mark.kafka]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_drill_loses_and_duplicates_nothing(tmp_path, engine, scenario):
    engine = engine.name  # the drill runs the engine in its own process: no session here
    out = tmp_path / "drill.json"
    env = {**os.environ, "PYTHONPATH": str(REPO), "SPARK_LOCAL_IP": "127.0.0.1"}
    cmd = [sys.executable, str(SCRIPT), "--quick", "--engine", engine, "--scenario", scenario, "--json", str(out), "--work-dir", str(tmp_path)]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1500, check=False)
    assert out.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    (result,) = json.loads(out.read_text())
    assert (result["engine"], result["trials"] > 0) == (engine, True)
    assert (result["lost"], result["duplicated"], result["errors"]) == (0, 0, []), run.stdout[-3000:]
    if scenario == "kill":
        assert result["kills"] == 3  # --quick: three kill -9 of a running pipeline
    if scenario == "fresh_kill":
        assert result["kills"] == result["trials"]  # each landed before batch 0 committed
    assert run.returncode == 0
