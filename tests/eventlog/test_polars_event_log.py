"""The event log of known Polars replays: exact rows (timestamps and run ids aside), ``kappa
log``'s output, and a failure to write the log (a warning, the run goes on)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from kappa.cli import main
from kappa.cli.app import app
from kappa.errors import RunFailed
from kappa.eventlog.reader import read_events
from kappa.runner import replay
from tests.helpers.pipelines import pipeline_for

PIPELINE = """\
name: evlog
checkpoint_root: {root}/ck
nodes:
- name: raw
  source:
    path: {root}/in
    format: JSONL
    as_stream: true
  expectations:
  - name: has_price
    expr: price IS NOT NULL
    action: drop
  sinks:
  - format: DELTA
    path: {root}/raw
- name: silver
  source:
    node_name: raw
    as_stream: true
  expectations:
  - name: positive
    expr: price > 0
    action: quarantine
  - name: small_id
    expr: id < 100
    action: fail
  sinks:
  - format: DELTA
    path: {root}/silver
  - format: DELTA
    path: {root}/silver_q
    is_quarantine: true
"""

VOLATILE = ("run_id", "started_at", "ended_at", "duration_seconds")


def write(root, name: str, rows: list[dict]) -> None:
    (root / "in").mkdir(exist_ok=True)
    (root / "in" / name).write_text("".join(json.dumps(r) + "\n" for r in rows))


def batch(seq, node, batch_id, rows_in, rows_out, dropped=0, quarantined=0, failures=None) -> dict:
    return {"seq": seq, "event": "batch", "pipeline": "evlog", "node": node, "engine": "polars", "batch_id": batch_id,
            "rows_in": rows_in, "rows_out": rows_out, "rows_dropped": dropped, "rows_quarantined": quarantined,
            "rows_dead": 0, "expectation_failures": failures or {}, "late_rows": 0, "watermark": None, "lag": None,
            "state_rows": None, "error": None}


def run_row(seq, error=None) -> dict:
    return {"seq": seq, "event": "run", "pipeline": "evlog", "node": None, "engine": "polars", "batch_id": None,
            "rows_in": None, "rows_out": None, "rows_dropped": None, "rows_quarantined": None, "rows_dead": None,
            "expectation_failures": None, "late_rows": None, "watermark": None, "lag": None, "state_rows": None,
            "error": error}


FAILED = "node 'silver': expectation 'small_id' failed on 1 row(s); no sink was written"


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    """Three replays: two rows kept of three, one more row, then a row that fails ``silver``."""
    tmp_path = tmp_path_factory.mktemp("three_runs")
    write(tmp_path, "a.jsonl", [{"id": 1, "price": 5}, {"id": 2, "price": None}, {"id": 3, "price": -1}])
    assert replay(pipeline_for(PIPELINE, tmp_path)).ok
    write(tmp_path, "b.jsonl", [{"id": 4, "price": 7}])
    assert replay(pipeline_for(PIPELINE, tmp_path)).ok
    write(tmp_path, "c.jsonl", [{"id": 100, "price": 1}])
    with pytest.raises(RunFailed):
        replay(pipeline_for(PIPELINE, tmp_path))
    return tmp_path


def test_the_event_log_of_three_runs(three_runs):
    rows = read_events(str(three_runs / "ck" / "evlog" / ".kappa_event_log"))
    assert [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows] == [
        batch(0, "raw", 0, 3, 2, dropped=1, failures={"has_price": 1}),
        batch(1, "silver", 0, 2, 1, quarantined=1, failures={"positive": 1}),
        run_row(2),
        batch(0, "raw", 1, 1, 1),
        batch(1, "silver", 1, 1, 1),
        run_row(2),
        batch(0, "raw", 2, 1, 1),
        {**batch(1, "silver", None, 0, 0), "event": "error", "error": FAILED},  # the node's counts of the run so far
        run_row(2, FAILED),
    ]
    runs = [r["run_id"] for r in rows]
    assert len(set(runs)) == 3 and runs[0] == runs[1] == runs[2]
    for r in rows:
        assert r["started_at"] <= r["ended_at"] and r["duration_seconds"] >= 0
        assert r["ended_at"] > datetime.now(timezone.utc) - timedelta(minutes=5)


def normalise(text: str) -> list[str]:
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  [0-9a-f]{8}", "<ended>  <run id>", text)
    return [re.sub(r" +\d+\.\d\d ", " <secs> ", line) for line in text.splitlines()]


def test_kappa_log_prints_the_rows_of_a_node_since_a_time(three_runs):
    path = str(three_runs / "pipeline.yaml")
    log = three_runs / "ck" / "evlog" / ".kappa_event_log"
    result = CliRunner().invoke(app, ["log", path, "--node", "silver", "--since", "1h"])
    assert result.exit_code == 0, result.output
    assert normalise(result.output) == [
        f"event log {log}: 3 row(s)",
        "ended (UTC)          run       event  node                 batch    secs       in      out dropped  quar.  dead  late    lag  state  details",
        "<ended>  <run id>  batch  silver                   0 <secs>        2        1       0      1     0     0      -      -  positive: 1 failing",
        "<ended>  <run id>  batch  silver                   1 <secs>        1        1       0      0     0     0      -      -",
        f"<ended>  <run id>  error  silver                   - <secs>        0        0       0      0     0     0      -      -  error: {FAILED}",
    ]
    future = CliRunner().invoke(app, ["log", path, "--since", "2999-01-01T00:00:00Z"])
    assert future.output == f"event log {log}: no rows\n"
    as_json = json.loads(CliRunner().invoke(app, ["log", path, "--node", "raw", "--json"]).output)
    assert [(r["batch_id"], r["rows_in"], r["expectation_failures"]) for r in as_json] == [(0, 3, {"has_price": 1}), (1, 1, {}), (2, 1, {})]
    assert all(r["ended_at"].endswith("Z") for r in as_json)


def test_kappa_log_refuses_a_bad_since_or_node_in_one_line(tmp_path, capsys):
    write(tmp_path, "a.jsonl", [{"id": 1, "price": 5}])
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(root=tmp_path))
    with pytest.raises(SystemExit) as exc:
        main(["log", str(path), "--since", "yesterday"])
    assert exc.value.code == 2
    assert capsys.readouterr().err == "error: --since 'yesterday': expected a duration like 30m, 1h, 2d or an ISO-8601 time like 2024-01-01T08:00\n"
    assert CliRunner().invoke(app, ["log", str(path)]).output == f"event log {tmp_path}/ck/evlog/.kappa_event_log: no rows\n"
    with pytest.raises(SystemExit) as exc:
        main(["log", str(path), "--node", "silvr"])
    assert exc.value.code == 2
    assert capsys.readouterr().err == "error: --node 'silvr' is not a node of pipeline evlog (nodes: raw, silver); did you mean 'silver'?\n"


def test_a_log_that_cannot_be_written_warns_once_and_the_run_goes_on(tmp_path, capsys):
    (tmp_path / "ck" / "evlog").mkdir(parents=True)
    (tmp_path / "ck" / "evlog" / ".kappa_event_log").write_text("not a folder")
    write(tmp_path, "a.jsonl", [{"id": 1, "price": 5}])
    result = replay(pipeline_for(PIPELINE, tmp_path))
    assert result.ok and result.node("silver").output_rows == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert err[0].startswith(f"kappa: warning: the event log {tmp_path}/ck/evlog/.kappa_event_log could not be written (")
    assert err[0].endswith("); the run continues, its rows are retried")
    assert re.fullmatch(r"kappa: warning: 3 event log row\(s\) of run [0-9a-f]{32} were not written", err[1])


def test_kappa_event_log_off_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("KAPPA_EVENT_LOG", "off")
    write(tmp_path, "a.jsonl", [{"id": 1, "price": 5}])
    assert replay(pipeline_for(PIPELINE, tmp_path)).ok
    assert not (tmp_path / "ck" / "evlog" / ".kappa_event_log").exists()
