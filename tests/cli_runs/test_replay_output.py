"""``kappa replay``'s output: the summary table (rows read, removed by steps, per-node secs),
``--json`` (validated against :mod:`kappa.summary_json`, exact values), plain progress lines
when stderr is not a terminal, ``--quiet``, ``--log-format json``."""

from __future__ import annotations

import json
import logging
import re

import pytest

from kappa.cli import main
from kappa.summary_json import RunSummaryJson, json_schema

SECS = re.compile(r"(?<= )\d+\.\d\d(?=  )")


def _table(out: str) -> str:
    return SECS.sub("S", out)


def test_summary_counts_rows_removed_by_steps(pipeline_file, monkeypatch, capsys):
    monkeypatch.chdir(pipeline_file.parent)
    main(["replay", str(pipeline_file)])
    out = capsys.readouterr().out
    assert _table(out) == (
        "pipeline demo on polars\n"
        "node                         batches       read  removed        out  dropped quarant.   dead    secs  status\n"
        "------------------------------------------------------------------------------------------------------------\n"
        "bronze                             1         30        2         24        4        0      0    S  ok\n"
        "    expectation v_small: 4 failing row(s)\n"
        "silver                             1         24        0         24        0        0      0    S  ok\n"
    )


def test_json_summary_validates_and_has_exact_values(pipeline_file, capsys):
    main(["replay", str(pipeline_file), "--json"])
    out = capsys.readouterr().out
    doc = RunSummaryJson.model_validate_json(out)  # extra keys forbidden: the schema is complete
    data = json.loads(out)
    for node in data["nodes"]:
        assert node.pop("seconds") >= 0
    common = {"status": "ok", "skipped": None, "error": None, "batches": 1, "dead_letter_rows": 0, "quarantined_rows": 0,
              "skipped_offsets": 0, "data_loss": [], "late_rows": 0, "watermark": None, "state_rows": None, "state_bytes": None}
    assert data == {
        "schema_version": 1, "pipeline": "demo", "engine": "polars", "profile": None, "ok": True, "error": None, "log_file": None,
        "stop_reason": None, "nodes": [
            {"node": "bronze", **common, "read_rows": 30, "removed_rows": 2, "output_rows": 24, "dropped_rows": 4,
             "failures": {"v_small": 4}, "sink_rows": {"sink0": 24}},
            {"node": "silver", **common, "read_rows": 24, "removed_rows": 0, "output_rows": 24, "dropped_rows": 0,
             "failures": {}, "sink_rows": {"sink0": 24}},
        ],
    }
    # each node's own time, not the run's total for every node
    assert doc.nodes[0].seconds != doc.nodes[1].seconds


def test_json_schema_names_every_field():
    schema = json_schema()
    assert schema["required"] == ["pipeline", "engine", "ok", "nodes"]
    assert schema["additionalProperties"] is False
    node = schema["$defs"]["NodeJson"]
    assert node["required"] == [
        "node", "status", "batches", "read_rows", "removed_rows", "output_rows", "dropped_rows", "quarantined_rows",
        "dead_letter_rows", "seconds", "failures", "sink_rows", "skipped_offsets", "data_loss", "late_rows", "watermark",
        "state_rows", "state_bytes"]


def test_plain_progress_lines_when_not_a_terminal(pipeline_file, capsys):
    main(["replay", str(pipeline_file)])
    err = re.sub(r"\d+ rows/s, \d+\.\d s", "R, T", capsys.readouterr().err)
    assert err == (
        "bronze: started\n"
        "bronze: batch 1, 30 rows read, 24 out, R, T\n"
        "bronze: ok, 1 batch(es), 30 rows read, 24 out, R, T\n"
        "silver: started\n"
        "silver: batch 1, 24 rows read, 24 out, R, T\n"
        "silver: ok, 1 batch(es), 24 rows read, 24 out, R, T\n"
    )


def test_quiet_prints_only_the_summary(pipeline_file, capsys):
    main(["--quiet", "replay", str(pipeline_file)])
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.startswith("pipeline demo on polars\n")


def test_a_failed_node_with_json(tmp_path, capsys):
    from tests.cli_runs.conftest import write_pipeline

    path = write_pipeline(tmp_path, where="nope > 1")
    with pytest.raises(SystemExit) as exit_info:
        main(["--quiet", "replay", str(path), "--json"])
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    data = RunSummaryJson.model_validate_json(captured.out)
    assert (data.ok, [(n.node, n.status) for n in data.nodes]) == (False, [("bronze", "error")])
    cause = "cannot resolve the SQL step: Column 'nope' could not be resolved. Line: 1, Col: 39"
    assert (data.nodes[0].error, data.error) == (cause, f"node 'bronze': {cause}")
    assert captured.err == f"error: {data.error}\n"  # no table on stderr: the JSON has it


def test_log_format_json(capsys):
    from kappa.cli.logs import configure_logging

    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        configure_logging(log_format="json")
        logging.getLogger("kappa.test").warning("disk %s almost full", "/x")
        logging.getLogger("kappa.test").info("not shown")
    finally:
        for h in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(h)
        root.setLevel(level)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record.pop("time"))
    assert record == {"level": "WARNING", "logger": "kappa.test", "message": "disk /x almost full"}


def test_unknown_log_format_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--log-format", "xml", "validate", "x.yaml"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "error: --log-format xml: expected text or json\n"
