"""Spark-only ``read_options`` do not reach Polars' readers (both engines accept the same YAML)."""

from __future__ import annotations

import json

import pytest

from kappa.files import polars_read_options, scan_files


def test_spark_only_options_are_left_out_for_polars(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(json.dumps({"id": i, "v": None}) for i in range(3)) + "\n")
    opts = {"maxFilesPerTrigger": 1, "multiLine": False, "mode": "PERMISSIVE", "infer_schema_length": 10}
    assert polars_read_options("JSONL", opts) == {"infer_schema_length": 10}
    assert scan_files([str(path)], "JSONL", None, opts).collect()["id"].to_list() == [0, 1, 2]


@pytest.mark.parametrize(("fmt", "opts", "kept"), [
    ("CSV", {"header": True, "sep": ";", "maxFilesPerTrigger": 2}, {"header": True, "sep": ";"}),
    ("PARQUET", {"maxFilesPerTrigger": 2, "mergeSchema": True}, {}),
])
def test_options_per_format(fmt, opts, kept):
    assert polars_read_options(fmt, opts) == kept


PIPELINE = """\
name: opts
checkpoint_root: {root}/ck
nodes:
- name: raw
  source:
    path: {root}/in
    format: JSONL
    as_stream: true
    read_options: {{maxFilesPerTrigger: 1}}
  sinks:
  - format: DELTA
    path: {root}/raw
"""


def test_a_spark_read_option_without_a_schema_runs_on_both_engines(engine, tmp_path):
    from tests.helpers.pipelines import pipeline_for
    from tests.helpers.tables import delta_rows

    (tmp_path / "in").mkdir()
    for i in range(2):
        (tmp_path / "in" / f"p{i}.jsonl").write_text(json.dumps({"id": i, "v": "x"}) + "\n")
    summary = engine.run(pipeline_for(PIPELINE, tmp_path))
    assert summary.ok
    assert delta_rows(tmp_path / "raw")[1] == [{"id": 0, "v": "x"}, {"id": 1, "v": "x"}]


def test_an_empty_jsonl_file_has_no_rows_and_does_not_break_inference(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    (tmp_path / "one.jsonl").write_text('{"id": 1}\n')
    files = [str(tmp_path / "empty.jsonl"), str(tmp_path / "one.jsonl")]
    assert scan_files(files, "JSONL").collect().to_dicts() == [{"id": 1}]
    assert scan_files(files[:1], "JSONL").collect().height == 0
