"""Idle detection of ``kappa stream start`` (a mixin of :class:`kappa.engines.spark.streaming.StreamRunner`).

A node is idle when no trigger is active and no data is pending in Spark's status, its upstream
nodes are idle, its checkpoint has no uncommitted batch, and its source is caught up: Kafka:
committed offsets equal the topics' end offsets; kappa's Delta source: the committed offset is
past the table's latest version; other sources: a trigger that began after the upstreams were
idle found no new data (a progress event is posted on every trigger). Each refresh also
updates every node's input rate, lag and state for the live status.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql.streaming import StreamingQuery

    from kappa.engines.spark.compiler import CompiledNode
    from kappa.engines.spark.gate import BatchGate


@dataclass
class _Node:
    """One node of the runner: its compiled query, gate, and the live state a refresh updates."""

    compiled: "CompiledNode"
    gate: "BatchGate"
    query: "StreamingQuery | None" = None
    log: Any = None  # Spark Connect: the node's BatchLog
    state: str = "waiting"
    lag: int | None = None
    upstream_batches: tuple = ()
    quiet_since: float | None = None
    last_rows: tuple[float, int] | None = None
    rate: float | None = None
    progress_ts: str | None = None  # the newest progress event read (its trigger's start)


def _parse_ts(text: str | None) -> float | None:
    from datetime import datetime

    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _input_rows(progress: Any) -> int:
    """A progress event's input rows (Spark Connect leaves the top-level field out of the JSON:
    the StreamingQueryProgress property sums the sources then)."""
    try:
        return int(progress.numInputRows or 0)
    except (AttributeError, KeyError, TypeError):
        return int(progress.get("numInputRows") or 0)


def new_progress(query: "StreamingQuery", after: str | None) -> "tuple[list, str | None]":
    """The query's progress events that started after ``after`` (a progress ``timestamp``: its
    trigger's start, ISO 8601 in UTC, increasing), oldest first as dicts, and the newest
    timestamp read.

    Classic Spark: Spark's buffer of recent events is walked from its newest end and only the
    new events are fetched (three py4j calls each). PySpark's ``recentProgress`` converts the
    whole buffer (``spark.sql.streaming.numRecentProgressUpdates``, 100 events: ~200 py4j calls
    and 100 JSON documents) on every call, and a refresh in this thread holds the GIL the
    running micro-batch's ``foreachBatch`` needs. Spark Connect: ``recentProgress`` as is (the
    metrics ignore events they already counted)."""
    import json

    jsq = getattr(query, "_jsq", None)
    if jsq is None:
        return list(query.recentProgress), after
    buffer = jsq.recentProgress()
    out: list = []
    for i in range(len(buffer) - 1, -1, -1):
        event = buffer[i]
        if after is not None and str(event.timestamp()) <= after:
            break
        out.append(json.loads(event.json()))
    out.reverse()
    return out, (str(out[-1].get("timestamp")) if out else after)


class IdleDetection:
    """Rates, lags and the idle verdict of every node (the runner's ``nodes``, ``profile``)."""

    def _refresh(self) -> bool:
        """Update rates and lags; True when every node has consumed all its input."""
        self._read_logs()
        self._read_progress()
        all_idle = True
        upstream_idle: dict[str, bool] = {}
        for n in self.nodes:
            ups = [u for u in n.compiled.node.upstreams if u in upstream_idle]
            ups_idle = all(upstream_idle[u] for u in ups)
            idle = self._node_idle(n, ups_idle)
            upstream_idle[n.compiled.node.name] = idle
            all_idle = all_idle and idle
        return all_idle

    def _read_progress(self) -> None:
        """Stateful nodes: add their queries' new progress events (watermark, state, late rows)."""
        for n in self.nodes:
            if n.query is not None and n.compiled.stateful:
                try:
                    events, n.progress_ts = new_progress(n.query, n.progress_ts)
                    n.compiled.metrics.record_progress(events)
                except Exception:  # noqa: BLE001 - a stopped query or a Connect hiccup: next refresh
                    pass

    def _read_logs(self) -> None:
        """Spark Connect: add the batches committed since the last refresh to the counters."""
        for n in self.nodes:
            if n.log is not None:
                n.log.refresh()

    def _rate(self, n: "_Node") -> None:
        now = time.monotonic()
        rows = n.compiled.metrics.snapshot()["input_rows"]
        if n.last_rows is not None and now > n.last_rows[0]:
            n.rate = (rows - n.last_rows[1]) / (now - n.last_rows[0])
        n.last_rows = (now, rows)

    def _node_idle(self, n: "_Node", upstreams_idle: bool) -> bool:
        from kappa.engines.spark import status as st
        from kappa.engines.spark.connectors import source_reader

        self._rate(n)
        node = n.compiled.node
        if n.query is None:
            n.lag = None
            return upstreams_idle  # its source does not exist yet: nothing to consume
        if not n.query.isActive:
            return True
        status = n.query.status
        busy = bool(status.get("isTriggerActive") or status.get("isDataAvailable"))
        ck = st.read_checkpoint(n.compiled.checkpoint_location)
        n.state = "running" if busy else "idle"
        source = node.source
        try:
            if node.streaming and self.profile in source_reader(source).lag_profiles:
                n.lag = st.node_status(node).backlog
                n.state = "running" if busy else ("behind" if n.lag else "idle")
                return not busy and upstreams_idle and n.lag == 0 and ck.pending_batch_id is None
        except Exception:  # noqa: BLE001 - lag unknown this round; try again on the next
            return False
        # Other sources: idle when a trigger that started after the upstreams went quiet found
        # no new data (a no-data progress event is posted on every trigger).
        n.lag = None
        if not upstreams_idle or busy:
            n.quiet_since = None
            return False
        if n.compiled.reads_per_run and self._request_run(n):
            n.quiet_since = None
            return False
        if n.quiet_since is None:
            n.quiet_since = time.time()
            return False
        progress = n.query.lastProgress or {}
        ts = _parse_ts(progress.get("timestamp"))
        return ts is not None and ts > n.quiet_since and _input_rows(progress) == 0 and ck.pending_batch_id is None

    def _request_run(self, n: "_Node") -> bool:
        """Ask a node that re-reads its source per run for a run when its input changed.

        Inputs without a cheap fingerprint (another node's in-memory output, no source) count
        as changed only when an upstream node committed a batch since the last request."""
        from kappa.engines.spark.ticks import fingerprint

        by_name = {m.compiled.node.name: m for m in self.nodes}
        batches = tuple(by_name[u].compiled.metrics.snapshot()["batches"] for u in n.compiled.node.upstreams if u in by_name)
        if fingerprint(n.compiled.node) is None and batches == n.upstream_batches:
            return False
        n.upstream_batches = batches
        return n.compiled.request_run()
