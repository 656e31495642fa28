"""Helpers of the CDC-on-Spark tests: a change-feed pipeline with several MERGE sinks, the
oracle's tables for the same events, and Delta tables read back for comparison.

Events are the dicts of ``tests/cdc`` (``op`` is ``upsert`` / ``delete``); on the wire they
become a plain change feed: ``id, seq, op, a, b`` with ``op`` in ``I`` / ``U`` / ``D``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers import cdc_oracle as oracle
from tests.helpers.cdc_events import scd2_expected, sort_rows
from tests.helpers.pipelines import pipeline_for
from tests.helpers.tables import delta_rows

#: Spark DDL of the change feed's records.
SCHEMA = "id BIGINT, seq BIGINT, op STRING, a BIGINT, b STRING"
COLUMNS = ["id", "seq", "a", "b"]  # the target's columns: the feed without ``op``
BASE = "keys: [id], sequence_by: seq, apply_as_deletes: \"op = 'D'\", except_column_list: [op]"


def _up(i: int, seq: int, a, b) -> dict:
    return {"id": i, "seq": seq, "op": "upsert", "a": a, "b": b}


def _del(i: int, seq: int) -> dict:
    return {"id": i, "seq": seq, "op": "delete", "a": None, "b": None}


#: Two parts of a change feed with every awkward case AUTO CDC has to get right.
PART1 = [
    _up(1, 1, 10, "x"),
    _up(2, 1, 20, "y"),
    _up(1, 3, 11, "x"),
    _up(1, 2, 99, "z"),   # out of order: older than the update before it
    _del(3, 5),           # delete of a key never seen
    _up(3, 4, 30, "w"),   # ... whose older insert arrives after the delete
    _up(2, 1, 20, "y"),   # exact duplicate
    _up(4, 1, 40, "v"),
]
PART2 = [
    _up(4, 2, None, "u"),  # null update
    _del(2, 2),
    _up(2, 3, 21, "y2"),   # re-insert after the delete
    _up(5, 7, 50, "t"),
    _up(5, 7, 51, "t"),    # same-sequence tie: the later arrival wins
    _up(1, 3, 11, "x"),    # duplicate re-delivered in a later run
    _up(4, 3, 41, None),
]
EVENTS = PART1 + PART2


@dataclass(frozen=True)
class SinkCase:
    """One MERGE sink of the pipeline: its ``merge`` options and the oracle's table for it."""

    name: str
    options: str
    expected: Callable[[list[dict]], list[dict]]

    @property
    def schema(self):
        """The target's Arrow schema on every engine: the feed's columns without ``op`` (all
        BIGINT but ``b``), and on SCD2 the ``__START_AT`` / ``__END_AT`` of the one sequence."""
        import pyarrow as pa

        fields = [("id", pa.int64()), ("seq", pa.int64()), ("a", pa.int64()), ("b", pa.string())]
        if "stored_as_scd_type: 2" in self.options:
            fields += [("__START_AT", pa.int64()), ("__END_AT", pa.int64())]
        return pa.schema(fields)


def _scd1(ignore_null: bool) -> Callable[[list[dict]], list[dict]]:
    def expected(events: list[dict]) -> list[dict]:
        return sort_rows(oracle.scd1(events, keys=["id"], seq=["seq"], columns=COLUMNS,
                                     ignore_null=ignore_null))
    return expected


def _scd2(tracked: list[str], ignore_null: bool) -> Callable[[list[dict]], list[dict]]:
    def expected(events: list[dict]) -> list[dict]:
        rows = oracle.scd2(events, keys=["id"], seq=["seq"], columns=COLUMNS, tracked=tracked,
                           ignore_null=ignore_null)
        return scd2_expected(rows, single_seq=True)
    return expected


SCD1 = SinkCase("scd1", BASE, _scd1(False))
SCD2 = SinkCase("scd2", BASE + ", stored_as_scd_type: 2", _scd2(["a", "b"], False))
SCD1_NULLS = SinkCase("scd1_nulls", BASE + ", ignore_null_updates: true", _scd1(True))
SCD2_TRACK_A = SinkCase(
    "scd2_track_a",
    BASE + ", stored_as_scd_type: 2, track_history_column_list: [a], ignore_null_updates: true",
    _scd2(["a"], True),
)
ALL_SINKS = (SCD1, SCD2, SCD1_NULLS, SCD2_TRACK_A)

_KAFKA_SOURCE = """\
    bootstrap_servers: {bootstrap}
    topic: {topic}
    schema: "{schema}"{limit}"""
_FILE_SOURCE = """\
    path: {feed}
    format: JSONL
    schema: "{schema}"
    as_stream: true"""
_PIPELINE = """\
name: {name}
checkpoint_root: {root}/checkpoints
nodes:
- name: changes
  source:
{source}
  transformer:
  - expr: {select}
  sinks:
{sinks}
"""


def merge_pipeline(root: Path, sinks: tuple[SinkCase, ...], *, bootstrap: str | None = None,
                   topic: str | None = None, feed: Path | None = None,
                   max_offsets: int | None = None, name: str = "cdc-spark"):
    """A one-node pipeline rooted at ``root``: the change feed (a Kafka topic, or JSONL files
    under ``feed``) into one Delta MERGE sink per ``sinks`` entry (tables ``root/<name>``)."""
    if topic is not None:
        limit = f"\n    max_offsets_per_trigger: {max_offsets}" if max_offsets else ""
        source = _KAFKA_SOURCE.format(bootstrap=bootstrap, topic=topic, schema=SCHEMA, limit=limit)
        select = "SELECT value.id AS id, value.seq AS seq, value.op AS op, value.a AS a, value.b AS b FROM {{df}}"
    else:
        source = _FILE_SOURCE.format(feed=feed, schema=SCHEMA)
        select = "SELECT id, seq, op, a, b FROM {{df}}"
    sink_text = "\n".join(
        f"  - format: DELTA\n    path: {{root}}/{s.name}\n    merge: {{{{{s.options}}}}}" for s in sinks
    )
    text = _PIPELINE.format(name=name, root="{root}", source=source, select=select, sinks=sink_text)
    return pipeline_for(text, root)


def feed_records(events: list[dict]) -> list[dict[str, Any]]:
    """Events as change-feed records: ``I`` for a key's first upsert, ``U`` after, ``D``."""
    seen: set = set()
    out = []
    for e in events:
        if e["op"] == "delete":
            op = "D"
        else:
            op = "U" if e["id"] in seen else "I"
            seen.add(e["id"])
        out.append({"id": e["id"], "seq": e["seq"], "op": op, "a": e["a"], "b": e["b"]})
    return out


def write_jsonl(path: Path, records: list[dict]) -> None:
    """One JSONL file of change-feed records."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def table_rows(root: Path, name: str) -> tuple[Any, list[dict]]:
    """(Arrow schema, rows in the oracle's canonical order) of the Delta table ``root/name``;
    (None, []) when the table was never created."""
    if not (root / name / "_delta_log").exists():
        return None, []
    schema, rows = delta_rows(root / name)
    return schema, sort_rows(rows)


def assert_tables(events: list[dict], roots: dict[str, Path], sinks: tuple[SinkCase, ...],
                  context: str = "", *, exact_schema: bool = False) -> None:
    """Every sink's table is the oracle's table under every root, and the schemas agree (with
    ``exact_schema``: each is the sink's :attr:`SinkCase.schema`)."""
    for sink in sinks:
        want = sink.expected(events)
        schemas = {}
        for engine, root in roots.items():
            schema, rows = table_rows(root, sink.name)
            schemas[engine] = schema
            assert rows == want, (
                f"{context}{sink.name} on {engine}: table differs from the oracle\n"
                f"events={events!r}\nexpected={want!r}\ngot=     {rows!r}")
        first = next(iter(schemas.values()))
        for engine, schema in schemas.items():
            if want:
                assert schema == first, f"{context}{sink.name}: schema on {engine} differs:\n{schema}\nvs\n{first}"
                if exact_schema:
                    assert schema == sink.schema, f"{context}{sink.name}: schema on {engine}:\n{schema}\nexpected:\n{sink.schema}"
