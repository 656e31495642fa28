"""kappa.engines.spark.idle.new_progress: only the progress events a refresh has not read yet are
fetched from Spark's buffer (no JVM: a stand-in for PySpark's query and its Java objects)."""

from __future__ import annotations

import json

from kappa.engines.spark.idle import new_progress
from kappa.engines.spark.metrics import NodeMetrics


class _JavaProgress:
    """What py4j hands out for a ``StreamingQueryProgress``: methods, each a JVM call (counted)."""

    def __init__(self, calls: list, batch_id: int, ts: str, ops: bool):
        self.calls, self.body = calls, {"runId": "r1", "batchId": batch_id, "timestamp": ts,
                                        "stateOperators": [{"numRowsTotal": 10 * batch_id, "numRowsDroppedByWatermark": 1,
                                                            "memoryUsedBytes": 0}] if ops else []}

    def timestamp(self) -> str:
        self.calls.append(("timestamp", self.body["batchId"]))
        return self.body["timestamp"]

    def json(self) -> str:
        self.calls.append(("json", self.body["batchId"]))
        return json.dumps(self.body)


class _Query:
    def __init__(self):
        self.calls: list = []
        self.buffer: list = []
        self._jsq = self

    def add(self, batch_id: int, second: int, ops: bool = True) -> None:
        self.buffer.append(_JavaProgress(self.calls, batch_id, f"2026-12-03T13:00:{second:02d}.000Z", ops))

    def recentProgress(self) -> list:  # the JVM method: the buffer as it is
        return list(self.buffer)


def test_only_new_events_are_fetched_oldest_first():
    q = _Query()
    for b in range(3):
        q.add(b, b)
    events, after = new_progress(q, None)
    assert [e["batchId"] for e in events] == [0, 1, 2] and after == "2026-12-03T13:00:02.000Z"
    q.add(3, 3, ops=False)  # a trigger that found no data
    q.add(3, 4)
    q.add(4, 5)
    q.calls.clear()
    events, after = new_progress(q, after)
    assert [(e["batchId"], bool(e["stateOperators"])) for e in events] == [(3, False), (3, True), (4, True)]
    assert after == "2026-12-03T13:00:05.000Z"
    # newest first, and the walk stops at the first event already read: its json is never fetched
    assert q.calls == [("timestamp", 4), ("json", 4), ("timestamp", 3), ("json", 3), ("timestamp", 3), ("json", 3),
                       ("timestamp", 2)]
    q.calls.clear()
    assert new_progress(q, after) == ([], after) and q.calls == [("timestamp", 4)]


def test_metrics_from_new_events_equal_those_from_the_whole_buffer():
    q = _Query()
    whole, parts = NodeMetrics("n"), NodeMetrics("n")
    after = None
    for b in range(6):
        q.add(b, b, ops=b != 2)
        events, after = new_progress(q, after)
        parts.record_progress(events)
    whole.record_progress([json.loads(p.json()) for p in q.buffer])
    assert parts.totals.late_rows == whole.totals.late_rows == 5
    assert parts.totals.state_rows == whole.totals.state_rows == 50
