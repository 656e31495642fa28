"""Streamed writes of the Polars replay (issue 14, :mod:`kappa.engines.polars.streaming`): a node
with one Parquet-file or Delta append/overwrite sink and no expectations goes from its scan to its
sink uncollected; its counts, its re-runs and ``output_df`` (a scan of what it wrote) stay exact."""

from __future__ import annotations

import json

import polars as pl
import pytest

from kappa.runner import execute_pipeline
from kappa.engines.polars.streaming import streamable
from kappa.plan import build_plan

from tests.helpers.pipelines import pipeline_for
from tests.helpers.tables import delta_rows

PIPELINE = """\
name: streamed
dataframe_backend: POLARS
checkpoint_root: {root}/ck
nodes:
- name: brz
  source:
    path: {root}/in
    format: JSONL
    as_stream: true
    read_options: {{maxFilesPerTrigger: {max_files}}}
  sinks:
  - path: {root}/brz
    format: PARQUET
- name: slv
  source:
    node_name: brz
    as_stream: false
  transformer:
    nodes:
    - expr: SELECT id, UPPER(v) AS v FROM {{df}} WHERE id > 1
  sinks:
  - format: DELTA
    path: {root}/slv
    mode: {mode}
"""


def _inputs(root, files: int = 3) -> None:
    (root / "in").mkdir()
    for f in range(files):
        rows = [{"id": 2 * f + i, "v": f"x{2 * f + i}"} for i in range(2)]
        (root / "in" / f"p{f}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_a_parquet_and_a_delta_sink_are_streamed_with_exact_counts_and_lazy_outputs(tmp_path):
    _inputs(tmp_path)
    pipeline = pipeline_for(PIPELINE, tmp_path, max_files=2, mode="append")
    assert [streamable(n, None) for n in build_plan(pipeline).nodes] == [True, True]
    result = execute_pipeline(pipeline, engine="polars")
    brz, slv = result.summary.nodes
    assert (brz.batches, brz.input_rows, brz.output_rows, brz.sink_rows) == (2, 6, 6, {"sink0": 6})
    assert (slv.batches, slv.input_rows, slv.output_rows, slv.sink_rows) == (1, 4, 4, {"sink0": 4})
    assert slv.removed_rows == 2
    assert sorted(p.name for p in (tmp_path / "brz").iterdir()) == ["part-00000000.parquet", "part-00000001.parquet"]
    # output_df: lazy scans of what the node's last batch wrote
    assert isinstance(result.output_df("brz").to_native(), pl.LazyFrame)
    assert result.output_df("brz").to_native().collect().to_dicts() == [{"id": 4, "v": "x4"}, {"id": 5, "v": "x5"}]
    assert sorted(result.output_df("slv").to_native().collect()["id"].to_list()) == [2, 3, 4, 5]
    assert sorted(r["id"] for r in delta_rows(tmp_path / "slv")[1]) == [2, 3, 4, 5]


def test_a_streamed_delta_batch_the_table_recorded_is_not_written_again(tmp_path):
    from kappa.engines.polars.streaming import stream_sink

    _inputs(tmp_path, files=1)
    pipeline = pipeline_for(PIPELINE, tmp_path, max_files=1, mode="append")
    execute_pipeline(pipeline, engine="polars")
    sink = next(n for n in build_plan(pipeline).for_engine("polars").nodes if n.name == "slv").sinks[0]
    frame = pl.LazyFrame({"id": [7], "v": ["X7"]})
    rows, written, output = stream_sink(sink, frame, 0)  # batch 0 is recorded: skipped, rows still counted
    assert (rows, written, output.collect().to_dicts()) == (1, 0, [{"id": 7, "v": "X7"}])
    assert [r["id"] for r in delta_rows(tmp_path / "slv")[1]] == []  # batch 0 had no row with id > 1
    rows, written, output = stream_sink(sink, pl.LazyFrame({"id": [], "v": []}, schema={"id": pl.Int64, "v": pl.String}), 1)
    assert (rows, written) == (0, 0)  # an empty append to an existing table writes nothing
    rows, written, output = stream_sink(sink, frame, 2)
    assert (rows, written, output.collect().to_dicts()) == (1, 1, [{"id": 7, "v": "X7"}])
    assert [r["id"] for r in delta_rows(tmp_path / "slv")[1]] == [7]


def test_overwrite_streams_and_the_output_is_the_new_content(tmp_path):
    _inputs(tmp_path, files=2)
    pipeline = pipeline_for(PIPELINE, tmp_path, max_files=5, mode="overwrite")
    result = execute_pipeline(pipeline, engine="polars")
    assert sorted(r["id"] for r in delta_rows(tmp_path / "slv")[1]) == [2, 3]
    assert sorted(result.output_df("slv").to_native().collect()["id"].to_list()) == [2, 3]
    (tmp_path / "in" / "p9.jsonl").write_text('{"id": 9, "v": "n"}\n')
    result = execute_pipeline(pipeline, engine="polars")
    assert sorted(r["id"] for r in delta_rows(tmp_path / "slv")[1]) == [2, 3, 9]  # slv re-reads the whole bronze
    assert sorted(result.output_df("slv").to_native().collect()["id"].to_list()) == [2, 3, 9]


def test_a_failing_plan_raises_its_own_error_not_a_delta_write_error(tmp_path):
    from kappa.engines.polars.streaming import stream_sink

    _inputs(tmp_path, files=1)
    pipeline = pipeline_for(PIPELINE, tmp_path, max_files=1, mode="append")
    sink = next(n for n in build_plan(pipeline).for_engine("polars").nodes if n.name == "slv").sinks[0]
    bad = pl.LazyFrame({"id": ["a"], "v": ["x"]}).select(pl.col("id").cast(pl.Int64, strict=True), "v")
    with pytest.raises(pl.exceptions.InvalidOperationError):
        stream_sink(sink, bad, 0)


@pytest.mark.parametrize("value", [0, "two"])
def test_max_files_per_trigger_must_be_a_positive_integer(tmp_path, value):
    from kappa.errors import KappaError

    _inputs(tmp_path, files=1)
    pipeline = pipeline_for(PIPELINE, tmp_path, max_files=json.dumps(value), mode="append")
    with pytest.raises(KappaError, match=f"read_options.maxFilesPerTrigger must be a positive integer, not {value!r}"):
        execute_pipeline(pipeline, engine="polars")


def test_streamed_delta_batches_get_the_eager_writers_types(tmp_path):
    from kappa.engines.polars.streaming import stream_sink

    _inputs(tmp_path, files=1)
    pipeline = pipeline_for(PIPELINE, tmp_path, max_files=1, mode="append")
    sink = next(n for n in build_plan(pipeline).for_engine("polars").nodes if n.name == "slv").sinks[0]
    frame = pl.LazyFrame({"u": [1], "t": [0], "s": ["x"], "n": [None]}).with_columns(
        pl.col("u").cast(pl.UInt8), pl.col("t").cast(pl.Datetime("ns")), pl.col("s").cast(pl.Categorical()))
    assert stream_sink(sink, frame, 0)[:2] == (1, 1)
    schema, rows = delta_rows(tmp_path / "slv")
    assert rows == [{"u": 1, "t": __import__("datetime").datetime(1970, 1, 1), "s": "x"}]  # the null column dropped
    assert [(f.name, str(f.type)) for f in schema] == [("u", "int16"), ("t", "timestamp[us]"), ("s", "string")]


def test_a_plan_whose_root_holds_its_output_is_collected_in_memory_and_written_the_same_way(tmp_path):
    from kappa.engines.polars.streaming import holds_output, stream_sink

    _inputs(tmp_path, files=1)
    pipeline = pipeline_for(PIPELINE, tmp_path, max_files=1, mode="append")
    sink = next(n for n in build_plan(pipeline).for_engine("polars").nodes if n.name == "slv").sinks[0]
    frame = pl.LazyFrame({"id": [1, 1, 2], "v": ["a", "a", "b"]})
    assert [holds_output(f) for f in (frame.unique(), frame.group_by("id").len(), frame.sort("id"), frame.select("id"),
                                      frame.unique().select("id"))] == [True, True, True, False, False]
    rows, written, output = stream_sink(sink, frame.unique(), 0)
    assert (rows, written, sorted(output.collect().rows())) == (2, 2, [(1, "a"), (2, "b")])
    rows, written, _ = stream_sink(sink, frame.filter(pl.col("id") > 5).unique(), 1)
    assert (rows, written) == (0, 0)  # an empty append to an existing table writes nothing
    assert sorted(r["id"] for r in delta_rows(tmp_path / "slv")[1]) == [1, 2]
    bad = pl.LazyFrame({"id": ["a"], "v": ["x"]}).select(pl.col("id").cast(pl.Int64, strict=True), "v").unique()
    with pytest.raises(pl.exceptions.InvalidOperationError):
        stream_sink(sink, bad, 2)
