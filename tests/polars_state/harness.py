"""A streaming node over a Delta table with a hand-built :class:`StatefulPlan` (until
:mod:`kappa.stateful.analyze` fills ``NodePlan.state``), run on the Polars engine.

Each :meth:`Harness.batch` appends one commit to the source table and runs the pipeline once
(availableNow-like: one data batch, then Spark's no-data batch when the watermark moved).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import polars as pl

from kappa.config.loader import load_pipeline_text
from kappa.engines.polars.engine import PolarsEngine
from kappa.plan import build_plan
from kappa.stateful.spec import StatefulPlan, WatermarkSpec

T0 = dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
SCHEMA = {"k": pl.String, "ts": pl.Datetime("us", "UTC"), "v": pl.Int64}
WM = WatermarkSpec(0, "ts", "10 minutes", 600_000_000)
#: the probe's batches (minutes after 12:00), see kappa.engines.polars.stateful
BATCHES = [
    [("a", 0, 1), ("b", 5, 2), ("a", 20, 3)],
    [("c", 10, 4), ("h", 5, 5), ("s", 7, 6), ("a", 15, 7), ("d", 2, 8), ("e", 40, 9)],
    [("f", 30, 10), ("a", 45, 11), ("b", 31, 12)],
    [("g", 90, 13)],
]


def minutes(m: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=m)


def frame(rows) -> pl.DataFrame:
    return pl.DataFrame({"k": [r[0] for r in rows], "ts": [minutes(r[1]) for r in rows], "v": [r[2] for r in rows]}, schema=SCHEMA)


def us(m: int) -> int:
    return int(minutes(m).timestamp()) * 1_000_000


class Harness:
    """``steps``: transformer entries (dicts) after the watermark step (step 0); ``sink``
    options (dict) of the Delta sink ``ROOT/out``."""

    def __init__(self, root: Path, steps: list[dict], state: StatefulPlan, sink: dict | None = None):
        self.root = Path(root)
        self.state = state
        sink = json.dumps({"format": "DELTA", "path": f"{root}/out", **(sink or {})})
        body = "\n".join(f"  - {json.dumps(s)}" for s in [{"expr": "SELECT * FROM {df}"}, *steps])
        self.text = (f"name: st\ncheckpoint_root: {root}/ck\nnodes:\n- name: n\n"
                     f"  source: {{path: {root}/in, format: DELTA, as_stream: true}}\n"
                     f"  transformer:\n{body}\n  sinks:\n  - {sink}\n")

    def plan(self):
        plan = build_plan(load_pipeline_text(self.text))
        nodes = {name: dataclasses.replace(n, state=self.state) for name, n in plan.all_nodes.items()}
        return dataclasses.replace(plan, all_nodes=nodes)

    def append(self, rows) -> None:
        from deltalake import write_deltalake

        write_deltalake(str(self.root / "in"), frame(rows).to_arrow(), mode="append")

    def run(self, outputs: list | None = None) -> Any:
        return PolarsEngine()._run(self.plan().for_engine("polars"), (), None).node("n")

    def batch(self, rows) -> Any:
        self.append(rows)
        return self.run()

    def out(self) -> pl.DataFrame:
        from kappa.delta.read import read_delta

        return pl.from_arrow(read_delta(str(self.root / "out")))


def simulate(state: StatefulPlan, steps: list, batches=BATCHES) -> list[tuple[int, list[dict], int, int, int]]:
    """Run ``batches`` through :func:`run_stateful` directly (each data batch followed by the
    no-data batch when due); per batch: (batch id, output rows as short dicts, late rows,
    eviction watermark in minutes after 12:00 (None: 0), state rows)."""
    from types import SimpleNamespace

    from kappa.engines.polars.stateful.run import needs_no_data_batch, run_stateful
    from kappa.engines.polars.stateful.store import StateSnapshot
    from kappa.plan import StepPlan

    node = SimpleNamespace(name="n", sql_refs=(), state=state,
                           steps=(StepPlan(0, "method", func_name="with_watermark"), *steps))
    snap, out, bid = StateSnapshot(), [], 0
    for rows in batches:
        for data in (rows, None):
            if data is None and not needs_no_data_batch(state, snap):
                continue
            res = run_stateful(node, frame(data or []).lazy(), {}, snap)
            check_changes(snap, res.snapshot)
            snap = res.snapshot
            snap.batch_id = bid
            wm = None if snap.watermark == 0 else (snap.watermark - us(0)) // 60_000_000
            out.append((bid, short(res.output.collect()), res.late_rows, wm, snap.rows))
            bid += 1
    return out


def check_changes(prev, snap) -> None:
    """Every operator's reported change turns its previous state into its new one (the changelog
    the state store writes, :func:`kappa.engines.polars.stateful.store.apply_changes`)."""
    from kappa.engines.polars.stateful.store import apply_changes

    for name, new in snap.frames.items():
        old = prev.frames.get(name)
        old = new.clear() if old is None else old
        got = apply_changes(old, [snap.changes[name]])
        assert got.height == new.height and got.sort(got.columns, nulls_last=True).equals(new.sort(new.columns, nulls_last=True)), name


def short(df: pl.DataFrame) -> list[dict]:
    """Rows with times as minutes after 12:00 and windows as (start, end) minutes, sorted."""
    def conv(v):
        if isinstance(v, dt.datetime):
            return int((v - T0).total_seconds() // 60)
        if isinstance(v, dict):
            return tuple(conv(x) for x in v.values())
        return v
    return sorted(({k: conv(v) for k, v in r.items()} for r in df.to_dicts()), key=lambda r: sorted(r.items()))
