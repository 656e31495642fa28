"""``kappa stream start --metrics-port``: a scrape of the Prometheus endpoint during a short
stream run (exact counts per node), and the run's event log rows (engine ``spark (stream)``)."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from kappa.eventlog.reader import read_events
from kappa.runner import stream
from tests.eventlog.test_polars_event_log import PIPELINE, write
from tests.helpers.pipelines import pipeline_for

pytestmark = pytest.mark.spark


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def counts(text: str) -> list[str]:
    """The scrape's counter and gauge lines of kappa's nodes (no ``_created``, no histogram buckets)."""
    return sorted(line for line in text.splitlines()
                  if line.startswith("kappa_node_") and "_created" not in line and "_bucket" not in line and "_sum" not in line)


def test_a_scrape_of_the_metrics_endpoint_and_the_event_log_of_a_stream(spark, tmp_path):
    write(tmp_path, "a.jsonl", [{"id": 1, "price": 5}, {"id": 2, "price": None}, {"id": 3, "price": -1}, {"id": 4, "price": 2}])
    port = free_port()
    scrapes: list[str] = []

    def scrape(_rows) -> None:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            scrapes.append(response.read().decode())

    outcome = stream(pipeline_for(PIPELINE, tmp_path), profile="python", until_idle=True, refresh=0.5, on_update=scrape,
                     metrics_port=port, quiet=True)
    assert outcome.summary.ok
    expected = {"raw": {"batches": 1, "rows_in": 4, "rows_out": 3, "rows_dropped": 1, "rows_quarantined": 0},
                "silver": {"batches": 1, "rows_in": 3, "rows_out": 2, "rows_dropped": 0, "rows_quarantined": 1}}
    assert counts(scrapes[-1]) == sorted(
        [f'kappa_node_{name}_total{{node="{node}",pipeline="evlog"}} {float(value)}' for node, values in expected.items()
         for name, value in {**values, "rows_dead": 0, "late_rows": 0, "errors": 0}.items()]
        + [f'kappa_node_batch_duration_seconds_count{{node="{node}",pipeline="evlog"}} 1.0' for node in expected]
        + ['kappa_node_lag{node="silver",pipeline="evlog"} 0.0']  # a Delta source's lag (a file source has none)
    )
    assert '# TYPE kappa_node_batch_duration_seconds histogram' in scrapes[-1]
    with pytest.raises(OSError):  # the endpoint lives as long as the stream
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
    rows = read_events(str(tmp_path / "ck" / "evlog" / ".kappa_event_log"))
    assert [(r["event"], r["engine"], r["node"], r["batch_id"], r["rows_in"], r["rows_out"], r["rows_dropped"],
             r["rows_quarantined"], r["expectation_failures"]) for r in rows] == [
        ("batch", "spark (stream)", "raw", 0, 4, 3, 1, 0, {"has_price": 1}),
        ("batch", "spark (stream)", "silver", 0, 3, 2, 0, 1, {"positive": 1}),
        ("run", "spark (stream)", None, None, None, None, None, None, None),
    ]
