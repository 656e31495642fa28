"""kill -9 in the middle of a stateful batch, restart: exact tables (nothing lost, nothing twice).

One pipeline, two stateful nodes over one Delta source (one commit per run): ``win`` (a
watermark and a 1-minute tumbling window, append: a window is written once, when the watermark
passes its end, usually by Spark's no-data batch) and ``dd`` (a watermark and a streaming
dedup on ``id, ts``: keys evicted by the watermark, late copies dropped). Each run is a real
process (``kappa replay`` on Polars; ``tests/spark_engine/crash_driver.py ... drain`` on
Spark, availableNow) that SIGKILLs itself at a failpoint (``KAPPA_FAILPOINTS``): after a
sink wrote, or after every sink and the state but before the batch's commit. The restart
re-runs the batch from the last committed state; after every run both tables equal the
oracle's (tests/helpers/state_oracle.py) for the batches written so far.
"""

from __future__ import annotations

import random
import signal
import subprocess
from pathlib import Path

import pytest

from tests.helpers.cli import crash_run
from tests.helpers.state_oracle import US, Query, simulate
from tests.helpers.state_streams import BASE, write_batch
from tests.helpers.tables import delta_rows, row_key

pytestmark = pytest.mark.slow

WIN = Query("window", "append", delay_us=60 * US, size_us=60 * US)
DD = Query("dedup", delay_us=60 * US, subset=("id", "ts"))
AGGS = "count(*) AS n, sum(v) AS total, min(v) AS lo, max(v) AS hi, min_by(v, ts) AS first_v, max_by(v, ts) AS last_v"

PIPELINE = f"""
name: state-crash
checkpoint_root: {{root}}/ck
nodes:
- name: win
  source: {{{{path: {{root}}/src, format: DELTA, as_stream: true}}}}
  output_mode: append
  transformer:
  - {{{{func_name: with_watermark, func_kwargs: {{{{column: ts, delay: 60 seconds}}}}}}}}
  - expr: SELECT window(ts, '1 minute') AS window, key, {AGGS} FROM {{{{df}}}} GROUP BY window(ts, '1 minute'), key
  sinks:
  - {{{{format: DELTA, path: {{root}}/win}}}}
- name: dd
  source: {{{{path: {{root}}/src, format: DELTA, as_stream: true}}}}
  transformer:
  - {{{{func_name: with_watermark, func_kwargs: {{{{column: ts, delay: 60 seconds}}}}}}}}
  - {{{{func_name: unique, func_kwargs: {{{{subset: [id, ts]}}}}}}}}
  sinks:
  - {{{{format: DELTA, path: {{root}}/dd}}}}
"""

#: (failpoint of the run after each batch, None: no crash) per engine. Polars runs a node's
#: batches in turn (win: data batch, no-data batch; then dd): ``after_sink@1`` is win's data
#: batch, ``before_commit@2`` win's no-data batch (the one emitting the closed windows),
#: ``after_sink@3`` / ``before_commit@3`` dd's data batch.
STEPS = {
    "polars": ["after_sink@1", "before_commit@2", "after_sink@3", "before_commit@3", None],
    "spark": ["after_sink@1", "before_commit@2", None],
}


def batches(n: int, seed: int = 7) -> list[list[dict]]:
    """``n`` batches of 12 events: time moving on ~2 minutes a batch, late rows, identical copies."""
    rng = random.Random(seed)
    out, events = [], []
    for b in range(n):
        batch = []
        for i in range(12):
            if events and rng.random() < 0.2:
                batch.append(dict(rng.choice(events)))  # a duplicate, maybe of an earlier batch
                continue
            sec = b * 120 + i * 10 + rng.choice([0, 0, 0, -200])  # some rows far behind: late
            e = {"id": len(events) + 1, "key": rng.choice("ab"), "ts": BASE + (max(sec, 0) * 1000 + len(events)) * 1000, "v": rng.randint(-9, 9)}
            events.append(e)
            batch.append(e)
        out.append(batch)
    return out


def run(engine: str, path: Path, failpoint: str | None) -> subprocess.CompletedProcess:
    return crash_run(engine, path, failpoint)


def assert_tables(root: Path, cut: list[list[dict]]) -> None:
    for name, q in (("win", WIN), ("dd", DD)):
        _, got = delta_rows(root / name)
        want = sorted(simulate(q, cut).table(), key=row_key)
        assert got == want, f"{name} after {len(cut)} batches: {len(got)} rows, oracle {len(want)}"


def test_kill_9_mid_batch_then_restart_gives_exact_tables(engine, tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(root=tmp_path))
    steps = STEPS[engine.name]
    cut = batches(len(steps))
    for i, point in enumerate(steps):
        write_batch(tmp_path / "src", cut[i])
        if point:
            crashed = run(engine.name, path, point)
            assert crashed.returncode == -signal.SIGKILL, f"{point} did not fire:\n{crashed.stderr[-3000:]}"
        done = run(engine.name, path, None)
        assert done.returncode == 0, done.stderr[-3000:]
        assert_tables(tmp_path, cut[: i + 1])
    assert run(engine.name, path, None).returncode == 0  # nothing new: the tables stay exact
    assert_tables(tmp_path, cut)
