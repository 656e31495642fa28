"""kappa.initial.decide_once: the first decided value is kept, across processes (the driver-side
methods of a Python data source run in a process the JVM spawns)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from kappa.initial import decide_once, read_decided

REPO = Path(__file__).resolve().parents[2]


_DECIDE = """
import json, sys, time
from kappa.initial import decide_once
path, value, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
time.sleep(max(0.0, start - time.time()))
print(json.dumps(decide_once(path, lambda: {"by": value})))
"""


def test_first_decision_is_kept(tmp_path):
    path = tmp_path / "ck" / "initial.json"
    assert read_decided(path) is None
    assert decide_once(path, lambda: {"t": {"0": 5}}) == {"t": {"0": 5}}
    assert decide_once(path, lambda: {"t": {"0": 9}}) == {"t": {"0": 5}}
    assert json.loads(path.read_text()) == {"t": {"0": 5}}
    assert [p.name for p in path.parent.iterdir()] == ["initial.json"]  # no temporary file left


def test_concurrent_processes_agree(tmp_path):
    """Four processes (not threads: the JVM spawns the reader's Python) decide at the same instant."""
    path = str(tmp_path / "initial.json")
    start = time.time() + 2.0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([sys.executable, "-c", _DECIDE, path, str(i), str(start)], env=env,
                              stdout=subprocess.PIPE, text=True) for i in range(4)]
    results = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0]
    assert len({json.dumps(r) for r in results}) == 1
    assert json.loads((tmp_path / "initial.json").read_text()) == results[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["initial.json"]
