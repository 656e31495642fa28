"""Prometheus metrics of ``kappa stream start --metrics-port N`` (the ``prometheus-client`` library).

Design note: :class:`StreamMetrics` is a listener of the run's event log
(:class:`kappa.eventlog.writer.EventLog`): it sees every batch and error row when recorded
(from the driver-side counters the Spark engine already keeps: no node data is read) and every
live status refresh (lag, rows in state). It owns its own ``CollectorRegistry`` (one per
process and run, not the library's global one), served by ``prometheus_client``'s HTTP server
on ``127.0.0.1`` unless another host is given. Every metric has the labels ``pipeline`` and
``node``:

==========================================  =========  ==========================================
metric                                      type       meaning
==========================================  =========  ==========================================
``kappa_node_batches_total``                counter    micro-batches committed
``kappa_node_rows_in_total``                counter    rows read
``kappa_node_rows_out_total``               counter    rows written to the output sinks
``kappa_node_rows_dropped_total``           counter    rows a ``drop`` expectation removed
``kappa_node_rows_quarantined_total``       counter    rows set aside by ``quarantine``
``kappa_node_rows_dead_total``              counter    undecodable records sent to dead letters
``kappa_node_late_rows_total``              counter    rows later than the watermark (stateful)
``kappa_node_errors_total``                 counter    node failures
``kappa_node_batch_duration_seconds``       histogram  a batch's duration (``_bucket``, ``_sum``,
                                                       ``_count``)
``kappa_node_lag``                          gauge      records not yet read (Kafka, Delta
                                                       sources; absent while unknown)
``kappa_node_state_rows``                   gauge      rows in state (stateful nodes)
==========================================  =========  ==========================================

Counters also expose the ``_created`` samples prometheus-client adds. Counts start at 0 when
the stream starts (Prometheus' ``rate()`` and ``increase()`` handle restarts).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from kappa.errors import KappaError

_COUNTERS = {
    "batches": ("kappa_node_batches", "Micro-batches committed"),
    "rows_in": ("kappa_node_rows_in", "Rows read"),
    "rows_out": ("kappa_node_rows_out", "Rows written to the output sinks"),
    "rows_dropped": ("kappa_node_rows_dropped", "Rows a drop expectation removed"),
    "rows_quarantined": ("kappa_node_rows_quarantined", "Rows a quarantine expectation set aside"),
    "rows_dead": ("kappa_node_rows_dead", "Undecodable records sent to dead letters"),
    "late_rows": ("kappa_node_late_rows", "Rows later than the watermark, dropped"),
    "errors": ("kappa_node_errors", "Node failures"),
}
LABELS = ("pipeline", "node")


class MetricsUnavailable(KappaError):
    """The metrics endpoint cannot be served (port taken, bad host)."""

    exit_code = 2


class StreamMetrics:
    """The per-node metrics of one pipeline, in a registry of their own."""

    def __init__(self, pipeline: str):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.pipeline = pipeline
        self.registry = CollectorRegistry()
        self.counters = {key: Counter(name, text, LABELS, registry=self.registry) for key, (name, text) in _COUNTERS.items()}
        self.duration = Histogram("kappa_node_batch_duration_seconds", "Duration of a micro-batch", LABELS, registry=self.registry)
        self.lag = Gauge("kappa_node_lag", "Records not yet read", LABELS, registry=self.registry)
        self.state_rows = Gauge("kappa_node_state_rows", "Rows in state", LABELS, registry=self.registry)
        self._nodes: set[str] = set()

    def _labels(self, metric: Any, node: str) -> Any:
        if node not in self._nodes:  # every counter of a node is served (at 0) from its first sight
            self._nodes.add(node)
            for counter in self.counters.values():
                counter.labels(pipeline=self.pipeline, node=node)
            self.duration.labels(pipeline=self.pipeline, node=node)
        return metric.labels(pipeline=self.pipeline, node=node)

    def on_row(self, row: dict[str, Any]) -> None:
        """A recorded event log row: a batch adds its counts, an error counts one."""
        node = row.get("node")
        if node is None:
            return
        if row["event"] == "error":
            self._labels(self.counters["errors"], node).inc()
            return
        if row["event"] != "batch":
            return
        self._labels(self.counters["batches"], node).inc()
        for key in ("rows_in", "rows_out", "rows_dropped", "rows_quarantined", "rows_dead", "late_rows"):
            self._labels(self.counters[key], node).inc(int(row.get(key) or 0))
        self._labels(self.duration, node).observe(float(row.get("duration_seconds") or 0.0))
        if row.get("state_rows") is not None:
            self._labels(self.state_rows, node).set(int(row["state_rows"]))

    def on_progress(self, row: dict[str, Any]) -> None:
        """A stateful batch's figures arrived after its row: its late rows and state."""
        node = row["node"]
        self._labels(self.counters["late_rows"], node).inc(int(row.get("late_rows") or 0))
        if row.get("state_rows") is not None:
            self._labels(self.state_rows, node).set(int(row["state_rows"]))

    def on_live(self, rows: list[Any]) -> None:
        """A live status refresh: each node's lag (when known) and rows in state."""
        for r in rows:
            self._labels(self.counters["batches"], r.node)  # every node appears from the first refresh
            if r.lag is not None:
                self._labels(self.lag, r.node).set(int(r.lag))
            if getattr(r, "state_rows", None) is not None:
                self._labels(self.state_rows, r.node).set(int(r.state_rows))

    def exposition(self) -> str:
        """The metrics in Prometheus' text format (what the endpoint serves)."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()


@contextmanager
def serving(pipeline: str, port: int | None, host: str = "127.0.0.1") -> Iterator[list[StreamMetrics]]:
    """Serve a pipeline's :class:`StreamMetrics` on ``host:port`` for the block; yields the
    listeners to give the event log (none when ``port`` is None)."""
    if port is None:
        yield []
        return
    from prometheus_client import start_http_server

    metrics = StreamMetrics(pipeline)
    try:
        server, thread = start_http_server(int(port), addr=host, registry=metrics.registry)
    except OSError as exc:
        raise MetricsUnavailable(f"--metrics-port {port}: cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from exc
    try:
        yield [metrics]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
