"""kappa.initial.decide_once: the first decided value is kept, across processes (the driver-side
methods of a Python data source run in a process the JVM spawns)."""

from __future__ import annotations

import json
import multiprocessing

from kappa.initial import decide_once, read_decided


def _decide(path: str, value: int, start, out) -> None:
    start.wait(10)
    out.put(decide_once(path, lambda: {"by": value}))


def test_first_decision_is_kept(tmp_path):
    path = tmp_path / "ck" / "initial.json"
    assert read_decided(path) is None
    assert decide_once(path, lambda: {"t": {"0": 5}}) == {"t": {"0": 5}}
    assert decide_once(path, lambda: {"t": {"0": 9}}) == {"t": {"0": 5}}
    assert json.loads(path.read_text()) == {"t": {"0": 5}}
    assert [p.name for p in path.parent.iterdir()] == ["initial.json"]  # no temporary file left


def test_concurrent_processes_agree(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    path = str(tmp_path / "initial.json")
    procs = [ctx.Process(target=_decide, args=(path, i, start, out)) for i in range(4)]
    for p in procs:
        p.start()
    start.set()
    results = [out.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(30)
    assert len({json.dumps(r) for r in results}) == 1
    assert json.loads((tmp_path / "initial.json").read_text()) == results[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["initial.json"]
