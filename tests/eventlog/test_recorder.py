"""The recorder without an engine: a stateful Spark batch's row waits for its progress figures,
rows are retried after a failed write, and the Prometheus metrics it feeds (exact lines)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from kappa.eventlog import writer
from kappa.eventlog.writer import EventLog
from kappa.metrics_http import StreamMetrics


@pytest.fixture
def appended(monkeypatch):
    """What the recorder appends, commit by commit (no table written)."""
    commits: list[list[tuple]] = []
    monkeypatch.setattr(writer, "append", lambda path, rows: commits.append([(r["node"], r.get("batch_id"), r["event"], r.get("late_rows"), r.get("state_rows")) for r in rows]))
    return commits


def counts(rows_in: int, rows_out: int) -> SimpleNamespace:
    return SimpleNamespace(input_rows=rows_in, output_rows=rows_out, dropped_rows=0, quarantined_rows=0, failures={"f": 0})


def test_a_stateful_batch_row_waits_for_its_progress(appended):
    log = EventLog("/nowhere", "p", "spark (stream)")
    agg, plain = log.node_events("agg", wait_progress=True), log.node_events("plain")
    agg.batch(0, counts(3, 1), 0, started=1.0)
    plain.batch(7, counts(2, 2), 0)
    log.flush()
    assert appended == [[("plain", 7, "batch", 0, None)]]
    agg.progress(0, late_rows=2, watermark="2026-01-01T00:00:00.000Z", state_rows=5)
    agg.progress(1, late_rows=1, watermark=None, state_rows=4)  # before its batch: merged when it comes
    agg.batch(1, counts(1, 0), 0)
    agg.batch(2, counts(1, 0), 0)  # no progress yet: waits until the run ends
    log.flush()
    assert appended[1] == [("agg", 0, "batch", 2, 5), ("agg", 1, "batch", 1, 4)]
    log.finish()
    assert appended[2] == [("agg", 2, "batch", 0, None), (None, None, "run", None, None)]


def test_rows_of_a_failed_write_are_retried_and_one_warning_is_printed(monkeypatch, capsys):
    commits: list[int] = []

    def flaky(path, rows):
        if not commits:
            commits.append(0)
            raise OSError("disk full")
        commits.append(len(rows))

    monkeypatch.setattr(writer, "append", flaky)
    log = EventLog("/ck/p/.kappa_event_log", "p", "polars")
    log.batch("n", 0, 1.0, 2.0, rows_in=1)
    log.flush()
    log.batch("n", 1, 2.0, 3.0, rows_in=1)
    log.flush()
    assert commits == [0, 2] and log.written == 2
    assert capsys.readouterr().err == ("kappa: warning: the event log /ck/p/.kappa_event_log could not be written "
                                       "(OSError: disk full); the run continues, its rows are retried\n")


def test_the_metrics_of_batches_errors_and_refreshes():
    metrics = StreamMetrics("p")
    log = EventLog("/nowhere", "p", "spark (stream)", listeners=[metrics], write=False)
    log.batch("a", 0, 10.0, 10.5, rows_in=4, rows_out=3, rows_dropped=1)
    log.batch("a", 1, 11.0, 13.0, rows_in=2, rows_out=2)
    log.node_events("b", wait_progress=True).batch(0, counts(5, 5), 1)
    log.progress("b", 0, late_rows=2, watermark=None, state_rows=9)
    log.error("b", "boom")
    log.live([SimpleNamespace(node="a", lag=17, state_rows=None), SimpleNamespace(node="b", lag=None, state_rows=8)])
    lines = [line for line in metrics.exposition().splitlines() if not line.startswith("#") and "_created" not in line]
    assert [line for line in lines if 'node="a"' in line] == [
        'kappa_node_batches_total{node="a",pipeline="p"} 2.0',
        'kappa_node_rows_in_total{node="a",pipeline="p"} 6.0',
        'kappa_node_rows_out_total{node="a",pipeline="p"} 5.0',
        'kappa_node_rows_dropped_total{node="a",pipeline="p"} 1.0',
        'kappa_node_rows_quarantined_total{node="a",pipeline="p"} 0.0',
        'kappa_node_rows_dead_total{node="a",pipeline="p"} 0.0',
        'kappa_node_late_rows_total{node="a",pipeline="p"} 0.0',
        'kappa_node_errors_total{node="a",pipeline="p"} 0.0',
        *[f'kappa_node_batch_duration_seconds_bucket{{le="{le}",node="a",pipeline="p"}} {n}' for le, n in (
            ("0.005", "0.0"), ("0.01", "0.0"), ("0.025", "0.0"), ("0.05", "0.0"), ("0.075", "0.0"), ("0.1", "0.0"),
            ("0.25", "0.0"), ("0.5", "1.0"), ("0.75", "1.0"), ("1.0", "1.0"), ("2.5", "2.0"), ("5.0", "2.0"),
            ("7.5", "2.0"), ("10.0", "2.0"), ("+Inf", "2.0"))],
        'kappa_node_batch_duration_seconds_count{node="a",pipeline="p"} 2.0',
        'kappa_node_batch_duration_seconds_sum{node="a",pipeline="p"} 2.5',
        'kappa_node_lag{node="a",pipeline="p"} 17.0',
    ]
    b = {line.split("{")[0]: line.rsplit(" ", 1)[1] for line in lines if 'node="b"' in line and "_bucket" not in line}
    assert b == {"kappa_node_batches_total": "1.0", "kappa_node_rows_in_total": "5.0", "kappa_node_rows_out_total": "5.0",
                 "kappa_node_rows_dropped_total": "0.0", "kappa_node_rows_quarantined_total": "0.0",
                 "kappa_node_rows_dead_total": "1.0", "kappa_node_late_rows_total": "2.0", "kappa_node_errors_total": "1.0",
                 "kappa_node_batch_duration_seconds_count": "1.0", "kappa_node_batch_duration_seconds_sum": "0.0",
                 "kappa_node_state_rows": "8.0"}


def test_a_taken_metrics_port_is_one_clear_error():
    import socket

    from kappa.metrics_http import MetricsUnavailable, serving

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MetricsUnavailable) as exc, serving("p", port):
            pass
    assert str(exc.value) == f"--metrics-port {port}: cannot serve metrics on 127.0.0.1:{port}: Address already in use"
    assert exc.value.exit_code == 2
    with serving("p", None) as listeners:
        assert listeners == []


def test_the_polars_types_of_the_log_are_its_arrow_schemas():
    """The log is written from a Polars frame (no pyarrow on a replay's path); its types must be
    exactly what the Arrow schema says, so every run appends the same columns."""
    import time

    from kappa.eventlog.schema import COLUMNS, polars_types, schema, to_arrow, to_polars
    from kappa.types import polars_schema

    assert dict(polars_schema(schema())) == polars_types()
    rows = [{"run_id": "r", "seq": 0, "event": "batch", "started_at": time.time(), "expectation_failures": {"e": 2}}]
    assert list(to_polars(rows).schema.items()) == list(polars_types().items())
    assert to_arrow(rows).schema == schema() and to_arrow(rows).column_names == list(COLUMNS)
