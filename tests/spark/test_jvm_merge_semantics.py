"""The jvm CDC MERGE plan's SQL, run on a real local Spark against the AUTO CDC oracle.

delta-spark is not available here, so the Delta parts cannot run: the state/log table is a
temp view of the rows the plan appended before, and the MERGE is applied by the test (SCD1:
delete/update/insert by key from the source's ``__kappa_action``; SCD2: the touched keys'
rows are replaced by the history). Everything that decides *what* is written -- the events
view, the SCD1 source (winners against the state), the SCD2 history -- is the plan's own SQL
executed by Spark. Every statement of the plan is also parsed by Spark's SQL parser.
"""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from tests.helpers import cdc_oracle as oracle
from tests.helpers.cdc_events import SCHEMA, scd2_expected, sort_rows, to_table
from kappa.engines.spark import jvm_merge as jm
from kappa.models.cdc import CdcMerge

pytestmark = [pytest.mark.spark, pytest.mark.slow]  # the builder is not wired into the engine yet

TWO_SEQ = pa.schema([("id", pa.int64()), ("s1", pa.int32()), ("s2", pa.string()),
                     ("op", pa.string()), ("a", pa.int64()), ("b", pa.string())])


def stream(rng: random.Random, two_seq: bool, n: int = 16) -> tuple[list[dict], list[int]]:
    """Duplicates, out-of-order arrival, same-sequence ties, deletes of unknown keys."""
    events = []
    for _ in range(n):
        e = {"id": rng.randint(0, 3), "op": rng.choice(["upsert", "upsert", "upsert", "delete"]),
             "a": rng.choice([None, 0, 1, 2]), "b": rng.choice([None, "x", "y"])}
        if two_seq:
            e["s1"], e["s2"] = rng.randint(0, 2), rng.choice(["a", "b", "c"])
        else:
            e["seq"] = rng.randint(0, 5)
        events.append(e)
    for _ in range(2):
        src = rng.randrange(len(events))
        events.insert(rng.randint(src, len(events)), dict(events[src]))
    return events, sorted({rng.randint(1, len(events) - 1) for _ in range(3)})


def batches(events, cuts):
    bounds = [0, *cuts, len(events)]
    return [events[lo:hi] for lo, hi in zip(bounds, bounds[1:]) if hi > lo]


def view(spark, name: str, table: pa.Table) -> None:
    spark.createDataFrame(table).createOrReplaceTempView(name)


def grow(spark, old: pa.Table | None, new_sql: str) -> pa.Table:
    """The rows of ``old`` plus what ``new_sql`` selects (an append to the state/log table)."""
    new = spark.sql(new_sql).toArrow()
    return new if old is None else pa.concat_tables([old, new.cast(old.schema)])


def run_scd1(spark, spec: CdcMerge, events: list[dict], cuts: list[int], schema: pa.Schema) -> list[dict]:
    target: dict[tuple, dict] = {}
    state = None
    for version, batch in enumerate(batches(events, cuts), start=1):
        table = to_table(batch, schema)
        view(spark, "jm_batch", table)
        select, data = jm.events_sql(spec, "jm_batch", table.column_names, version)
        spark.sql(f"CREATE OR REPLACE TEMP VIEW jm_events AS {select}")
        spark.sql("CACHE TABLE jm_events")
        assert spark.sql(jm.checks_sql(spec, "jm_events")).first() == (0, 0)
        if state is not None:
            view(spark, "jm_state", state)
        source = jm.scd1_source_sql(spec, "jm_events", data, "jm_state" if state is not None else None)
        spark.sql(f"CREATE OR REPLACE TEMP VIEW jm_source AS {source}")
        for row in spark.sql("SELECT * FROM jm_source").collect():
            r = row.asDict()
            key = tuple(r[k] for k in spec.keys)
            if r["__kappa_action"] == "delete":
                target.pop(key, None)
            else:
                target[key] = {c: r[c] for c in data}
        state = grow(spark, state, jm.scd1_state_sql(spec, "jm_source", version))
        spark.sql("UNCACHE TABLE jm_events")
    return sort_rows(list(target.values()))


def run_scd2(spark, spec: CdcMerge, events: list[dict], cuts: list[int], schema: pa.Schema) -> list[dict]:
    rows: list[dict] = []
    log = None
    for version, batch in enumerate(batches(events, cuts), start=1):
        table = to_table(batch, schema)
        view(spark, "jm_batch", table)
        select, data = jm.events_sql(spec, "jm_batch", table.column_names, version)
        spark.sql(f"CREATE OR REPLACE TEMP VIEW jm_events AS {select}")
        spark.sql("CACHE TABLE jm_events")
        if log is not None:
            view(spark, "jm_log", log)
        history = jm.scd2_history_sql(spec, "jm_events", data, "jm_log" if log is not None else None,
                                      data, log.column_names if log is not None else None)
        spark.sql(f"CREATE OR REPLACE TEMP VIEW jm_history AS {history}")
        touched = {tuple(r) for r in spark.sql("SELECT DISTINCT id FROM jm_events").collect()}
        rows = [r for r in rows if (r["id"],) not in touched]
        for row in spark.sql("SELECT * FROM jm_history").collect():
            r = row.asDict(recursive=True)
            rows.append({k: (tuple(v.values()) if isinstance(v, dict) else v) for k, v in r.items()})
        log = grow(spark, log, "SELECT * FROM jm_events")
        spark.sql("UNCACHE TABLE jm_events")
    return sort_rows(rows)


@pytest.mark.parametrize("two_seq", [False, True])
def test_scd1_plan_matches_the_oracle(spark, two_seq):
    rng = random.Random(20261202 + two_seq)
    seq = ["s1", "s2"] if two_seq else ["seq"]
    spec = CdcMerge(keys=["id"], sequence_by=seq if two_seq else "seq",
                    apply_as_deletes="op = 'd'", except_column_list=["op"])
    for _ in range(4):
        events, cuts = stream(rng, two_seq)
        got = run_scd1(spark, spec, events, cuts, TWO_SEQ if two_seq else SCHEMA)
        expected = oracle.scd1(events, keys=["id"], seq=seq, columns=["id", *seq, "a", "b"], ignore_null=False)
        assert got == sort_rows(expected), (events, cuts)


TRACKING = {
    "default": ({}, ["a", "b"]),
    "list": ({"track_history_column_list": ["a"]}, ["a"]),
    "except": ({"track_history_except_column_list": ["a"]}, ["b"]),
}


@pytest.mark.parametrize("tracking,two_seq", [
    ("default", False),
    pytest.param("list", False, marks=pytest.mark.slow),  # ~40 s each on 2 busy cores
    pytest.param("except", True, marks=pytest.mark.slow),
])
def test_scd2_plan_matches_the_oracle(spark, tracking, two_seq):
    rng = random.Random(7 + len(tracking) + two_seq)
    options, tracked = TRACKING[tracking]
    seq = ["s1", "s2"] if two_seq else ["seq"]
    spec = CdcMerge(keys=["id"], sequence_by=seq if two_seq else "seq", apply_as_deletes="op = 'd'",
                    except_column_list=["op"], stored_as_scd_type=2, **options)
    for _ in range(3):
        events, cuts = stream(rng, two_seq)
        got = run_scd2(spark, spec, events, cuts, TWO_SEQ if two_seq else SCHEMA)
        expected = oracle.scd2(events, keys=["id"], seq=seq, columns=["id", *seq, "a", "b"],
                               tracked=tracked, ignore_null=False)
        assert got == scd2_expected(expected, single_seq=not two_seq), (events, cuts)


def test_every_statement_parses(spark):
    parser = spark._jsparkSession.sessionState().sqlParser()
    for scd in (1, 2):
        spec = CdcMerge(keys=["id", "region"], sequence_by=["lsn", "ts"], apply_as_deletes="op = 'd'",
                        except_column_list=["op"], stored_as_scd_type=scd)
        steps = jm.merge_plan(spec, changes_view="batch", columns=["id", "region", "a", "lsn", "ts", "op"],
                              target="/t/x", state="/t/x__kappa_cdc_state", app_id="a", version=2,
                              target_exists=False, state_exists=True, state_version=4,
                              log_columns=["id", "region", "a", "lsn", "ts", "old"])
        statements = [s.sql for s in steps if s.kind != "append"]
        assert len(statements) == (8 if scd == 1 else 8)
        for sql in statements:
            parser.parsePlan(sql)
