"""The outage drills (``benchmarks/drill_outages.py``) with short outages, per engine and
scenario: the broker frozen, the durable broker killed, the S3 server killed mid-write.

Not part of ``make test`` (a minute or more per case): marked ``slow`` and ``drill``. Each case
runs the script as its own process (its own brokers and S3 server) and asserts what it
measured: nothing lost or duplicated by kappa in any sink, no run hung, and a kappa run that
stopped printed one ``error:`` line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "drill_outages.py"

pytestmark = [pytest.mark.slow, pytest.mark.drill, pytest.mark.kafka]


@pytest.mark.parametrize("scenario", ("sigstop", "broker_kill", "s3_kill"))
def test_outage_drill_loses_and_duplicates_nothing(tmp_path, engine, scenario):
    engine = engine.name  # the drill runs the engine in its own process: no session here
    out = tmp_path / "drill.json"
    env = {**os.environ, "PYTHONPATH": str(REPO), "SPARK_LOCAL_IP": "127.0.0.1"}
    cmd = [sys.executable, str(SCRIPT), "--engine", engine, "--scenario", scenario, "--pause", "10", "--down", "5",
           "--json", str(out), "--work-dir", str(tmp_path)]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1500, check=False)
    assert out.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    (result,) = json.loads(out.read_text())["results"]
    assert (result["engine"], result["trials"]) == (engine, 1)
    assert (result["lost"], result["duplicated"], result["errors"]) == (0, 0, []), run.stdout[-3000:]
    if scenario != "sigstop":
        assert result["kills"] == 1 and result["rows"] > 0
        assert result["detect_s"] is None or (result["error"].startswith("error: ") and "Traceback" not in result["error"])
    assert run.returncode == 0
