"""Stateful steps on a Kafka source, on every engine (the ``engine`` fixture): JSON values with a
declared schema are decoded in the streaming plan, the stateful operators hold their state
across batches and runs, undecodable records go to the node's dead-letter table, and late
rows are dropped with the watermark of the previous batch (Spark's rule).

Event times are seconds (``t``) cast to timestamps in the first SQL step; the watermark delay
is 1 minute. The exact tables are worked out in each test's comments.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from kappa.kafka.writer import produce_table
from kappa.testing.kafka import produce

from tests.helpers.pipelines import pipeline_for
from tests.helpers.tables import assert_delta

pytestmark = pytest.mark.kafka

SELECT = "SELECT value.id AS id, value.k AS k, CAST(value.t AS TIMESTAMP) AS ts, value.v AS v FROM {{df}}"
WM = "{{func_name: with_watermark, func_kwargs: {{column: ts, delay: 1 minute}}}}"
WINDOW = ("SELECT k, window(ts, '1 minute') AS window, count(*) AS n, sum(v) AS s FROM {{df}} "
          "GROUP BY k, window(ts, '1 minute')")


def _node(name: str, steps: list[str], limit: int | None = None, extra: str = "") -> str:
    lines = [f"- name: {name}", "  source:", "    bootstrap_servers: {bootstrap}", "    topic: {topic}",
             '    schema: "id BIGINT, k STRING, t BIGINT, v BIGINT"']
    if limit:
        lines.append(f"    max_offsets_per_trigger: {limit}")
    lines += ["  transformer:", f"  - expr: {SELECT}"] + [f"  - {s}" for s in steps]
    lines += [extra] if extra else []
    lines += ["  sinks:", "  - format: DELTA", f"    path: {{root}}/{name}"]
    return "\n".join(lines)


def _pipeline(name: str, *nodes: str) -> str:
    return "\n".join(["", f"name: {name}", "checkpoint_root: {root}/ck", "nodes:", *nodes]) + "\n"


def _ts(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)


def _bad(bootstrap: str, topic: str, key: bytes, partition: int | None = None) -> None:
    produce_table({"bootstrap.servers": bootstrap}, topic, pa.table({"key": [key], "value": [b"{not json"]}))


def _e(i: int, k: str, t: int, v: int) -> dict:
    return {"id": i, "k": k, "t": t, "v": v}


def _rows(*events: dict) -> list[dict]:
    return [{"id": e["id"], "k": e["k"], "ts": _ts(e["t"]), "v": e["v"]} for e in events]


def _window(k: str, start: int, n: int, s: int) -> dict:
    return {"k": k, "window": {"start": _ts(start), "end": _ts(start + 60)}, "n": n, "s": s}


PIPELINE = _pipeline(
    "kafka-state",
    _node("dedup", [WM, "{{func_name: drop_duplicates, func_kwargs: {{subset: [id]}}}}"]),
    _node("win", [WM, f"expr: {WINDOW}"], extra="  output_mode: append"),
)


def test_stateful_nodes_on_a_kafka_topic(engine, tmp_path, kafka_bootstrap, make_topic):
    """Two runs over a two-partition topic (keys a and b), one bad record per run.

    run 1: id1 a@60, id2 a@90, id3 b@130, id1 a@60 again -> watermark 130 - 60 = 70
    run 2: id4 a@30 (late: 30 < 70), id5 b@200, id2 a@90 again (not late) -> watermark 140
    dedup (ids, append): id1 id2 id3 | id5; late rows: 1 (id4).
    win (append, 1-minute windows, emitted once the watermark passes their end): run 2's
    watermark 140 closes a[60,120) (n=4: id1 twice, id2 twice); b[120,180) and b[180,240)
    stay in state."""
    topic = make_topic(partitions=2)
    root = tmp_path / engine.name
    pipe = pipeline_for(PIPELINE, root, bootstrap=kafka_bootstrap, topic=topic)
    runs = [
        [_e(1, "a", 60, 1), _e(2, "a", 90, 2), _e(3, "b", 130, 3), _e(1, "a", 60, 1)],
        [_e(4, "a", 30, 4), _e(5, "b", 200, 5), _e(2, "a", 90, 2)],
    ]
    summaries = []
    for i, events in enumerate(runs):
        produce(kafka_bootstrap, topic, events, key="k")
        _bad(kafka_bootstrap, topic, f"bad{i}".encode())
        summaries.append(engine.run(pipe))
        dedup_rows = _rows(*runs[0][:3], *[e for r in runs[1:i + 1] for e in r if e["id"] == 5])
        assert_delta(root / "dedup", dedup_rows)
    assert_delta(root / "win", [_window("a", 60, 4, 6)])
    for node in ("dedup", "win"):
        assert_delta(root / f"ck/kafka-state/{node}/dead_letters",
                     [{"topic": topic, "key": f"bad{i}".encode(), "value": b"{not json"} for i in range(2)],
                     drop=("partition", "offset", "failed_at", "error"))
    late = [[s.node("dedup").late_rows for s in summaries], [s.node("win").late_rows for s in summaries]]
    assert late == [[0, 1], [0, 1]]
    assert [s.node("dedup").dead_letter_rows for s in summaries] == [1, 1]
    assert [s.node("win").dead_letter_rows for s in summaries] == [1, 1]
    assert [s.node("win").state_rows for s in summaries] == [2, 2]  # a[60,120) b[120,180) | b[120,180) b[180,240)


def test_batch_cuts_of_max_offsets_per_trigger_decide_lateness(engine, tmp_path, kafka_bootstrap, make_topic):
    """One partition, two records per batch: the cuts are [id0@100, id1@200] [id2@150, id3@160]
    [id4@130, bad] [id0@300]. A batch drops the rows older than the watermark of the batch
    before it (Spark 3.4+): batch 1 judges by batch 0's (none yet), batch 2 by batch 1's
    (200 - 60 = 140): id4 is late. id0 again is a duplicate. Read in one batch, nothing would be
    late."""
    topic = make_topic(partitions=1)
    root = tmp_path / engine.name
    pipe = pipeline_for(_pipeline("kafka-cuts", _node("dedup", [WM, "{{func_name: drop_duplicates, func_kwargs: {{subset: [id]}}}}"], limit=2)),
                        root, bootstrap=kafka_bootstrap, topic=topic)
    events = [_e(0, "a", 100, 0), _e(1, "a", 200, 1), _e(2, "a", 150, 2), _e(3, "a", 160, 3), _e(4, "a", 130, 4)]
    produce(kafka_bootstrap, topic, events)
    _bad(kafka_bootstrap, topic, b"bad")
    produce(kafka_bootstrap, topic, [_e(0, "a", 300, 9)])
    summary = engine.run(pipe)
    assert_delta(root / "dedup", _rows(*events[:4]))
    ns = summary.node("dedup")
    # in: what the stateful steps emit to the checks (README: Counting); late and dead rows apart
    assert (ns.input_rows, ns.output_rows, ns.late_rows, ns.dead_letter_rows) == (4, 4, 1, 1)
