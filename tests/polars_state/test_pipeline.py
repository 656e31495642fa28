"""A YAML pipeline end to end on Polars (the plan's state from :mod:`kappa.stateful.analyze`):
with_watermark, a window aggregate selected as ``window.start``, update mode, upsert sink."""

from __future__ import annotations

import polars as pl
from deltalake import write_deltalake

from kappa.config.loader import load_pipeline_text
from kappa.delta.read import read_delta
from kappa.runner import execute_pipeline

from tests.polars_state.harness import BATCHES, frame

PIPELINE = """name: e2e
checkpoint_root: {root}/ck
nodes:
- name: gold
  output_mode: update
  source: {{path: {root}/in, format: DELTA, as_stream: true}}
  transformer:
  - {{func_name: with_watermark, func_kwargs: {{column: ts, delay: 10 minutes}}}}
  - expr: "SELECT window.start AS ws, count(*) AS n, CAST(AVG(CAST(v AS DECIMAL(18,6))) AS DECIMAL(18,4)) AS av FROM {{df}} GROUP BY window(ts, '10 minutes')"
  sinks:
  - {{format: DELTA, path: {root}/out, mode: upsert}}
"""


def test_update_mode_window_aggregate_upserted(tmp_path):
    text = PIPELINE.format(root=tmp_path)
    late = []
    for rows in BATCHES:
        write_deltalake(str(tmp_path / "in"), frame(rows).to_arrow(), mode="append")
        result = execute_pipeline(load_pipeline_text(text), engine="polars")
        summary = getattr(result, "summary", result)
        late.append(summary.node("gold").late_rows)
    assert late == [0, 3, 0, 0]
    out = pl.from_arrow(read_delta(str(tmp_path / "out"))).sort("ws")
    assert out.schema == pl.Schema({"ws": pl.Datetime("us", "UTC"), "n": pl.Int64, "av": pl.Decimal(18, 4)})
    assert [(r["ws"].minute + 60 * (r["ws"].hour - 12), r["n"], str(r["av"])) for r in out.to_dicts()] == [
        (0, 2, "1.5000"), (10, 2, "5.5000"), (20, 1, "3.0000"), (30, 2, "11.0000"), (40, 2, "10.0000"), (90, 1, "13.0000")]
