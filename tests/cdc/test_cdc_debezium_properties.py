"""Property tests over Debezium feeds: decoded batch by batch, merged, equal to the oracle.

What found the defects of the JSON-typed feeds, generated on purpose: Debezium envelopes with
and without the JSON converter's schema wrapper, deletes whose before-image is null but for the
key (Postgres's default replica identity) or complete, a tombstone after most deletes (so a
batch may hold tombstones only, or deletes only), value columns null throughout a batch, and
no declared schema anywhere: every type comes from the JSON values. Sequences go backwards and
repeat (the Kafka offset breaks ties, as in replication configs).

A column that never had a value has no type and is not in the target (kappa.cdc.nulls): the
comparison reads it as null. On a failure hypothesis prints the example and its seed blob.
"""

from __future__ import annotations

import tempfile

import pyarrow as pa
from hypothesis import HealthCheck
from hypothesis import strategies as st

from tests.helpers import cdc_oracle as oracle
from tests.helpers.properties import check, depths
from tests.helpers.cdc_events import COLUMNS, SEQ, changes, read_rows, render, sort_rows
from kappa.kafka.debezium import decode_debezium
from kappa.cdc.defaults import merge_options
from kappa.cdc.merge import apply_changes

KAFKA = pa.schema([("key", pa.binary()), ("value", pa.binary()), ("topic", pa.string()),
                   ("partition", pa.int32()), ("offset", pa.int64()),
                   ("timestamp", pa.timestamp("us", tz="UTC")), ("timestampType", pa.int32())])
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)


@st.composite
def feeds(draw, max_events: int = 14):
    """(records, events, cuts): Kafka records of one partition, the oracle's events, batch cuts."""
    records, events = render(draw(changes(max_events)), with_schema=draw(st.booleans()),
                             full_before=draw(st.booleans()))
    cuts = draw(st.lists(st.integers(1, max(len(records), 1)), max_size=6))
    return records, events, cuts


def _batches(records: list, cuts: list[int]) -> list[pa.Table]:
    bounds = [0, *sorted(set(c for c in cuts if 0 < c < len(records))), len(records)]
    out = []
    for lo, hi in zip(bounds, bounds[1:]):
        rows = [{"key": k, "value": v, "topic": "pg.public.items", "partition": 0, "offset": lo + j,
                 "timestamp": None, "timestampType": 0} for j, (k, v) in enumerate(records[lo:hi])]
        out.append(pa.Table.from_pylist(rows, schema=KAFKA))
    return out


def _replicate(uri: str, records: list, cuts: list[int], scd: int) -> None:
    spec = merge_options(["id"], SEQ, ["_op", *SEQ], {"scd_type": scd})
    for version, kafka in enumerate(_batches(records, cuts), start=1):
        decoded = decode_debezium(kafka)
        assert decoded.dead == 0
        apply_changes(uri, decoded.changes, spec, app_id="dbz", version=version)


def _table(uri: str, extra: list[str]) -> list[dict]:
    """The target's rows with a never-typed (absent) column read as null."""
    return sort_rows([{c: r.get(c) for c in COLUMNS + extra} for r in read_rows(uri)])


@depths(25, 120)
def test_debezium_scd1_any_batching_matches_oracle(examples):
    check(_debezium_scd1_any_batching_matches_oracle, examples, SETTINGS, feed=feeds())


def _debezium_scd1_any_batching_matches_oracle(feed):
    records, events, cuts = feed
    with tempfile.TemporaryDirectory() as d:
        _replicate(f"{d}/t", records, cuts, 1)
        expected = oracle.scd1(events, keys=["id"], seq=SEQ, columns=COLUMNS, ignore_null=False)
        assert _table(f"{d}/t", []) == sort_rows(expected)


@depths(25, 120)
def test_debezium_scd2_any_batching_matches_oracle(examples):
    check(_debezium_scd2_any_batching_matches_oracle, examples, SETTINGS, feed=feeds())


def _debezium_scd2_any_batching_matches_oracle(feed):
    records, events, cuts = feed
    with tempfile.TemporaryDirectory() as d:
        _replicate(f"{d}/t", records, cuts, 2)
        expected = oracle.scd2(events, keys=["id"], seq=SEQ, columns=COLUMNS, tracked=["a", "b"],
                               ignore_null=False)
        assert _table(f"{d}/t", ["__START_AT", "__END_AT"]) == sort_rows(expected)
