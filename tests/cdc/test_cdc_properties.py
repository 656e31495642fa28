"""Property tests: any event stream, cut into any batches, gives exactly the oracle's table.

Streams have duplicates, out-of-order arrival, early deletes, same-sequence ties, deletes of
unknown keys and null updates; they are applied with ``apply_changes`` to a real Delta table.
"""

from __future__ import annotations

import contextlib
import tempfile

import pyarrow as pa
from hypothesis import HealthCheck
from hypothesis import strategies as st

from tests.helpers import cdc_oracle as oracle
from tests.helpers.properties import check, depths
from tests.helpers.cdc_events import SCHEMA, apply_batches, read_rows, scd2_expected, sort_rows, streams
from kappa.cdc import state as state_mod
from kappa.models.cdc import CdcMerge

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow],
                derandomize=False, print_blob=True)
TWO_SEQ = pa.schema([("id", pa.int64()), ("s1", pa.int32()), ("s2", pa.string()),
                     ("op", pa.string()), ("a", pa.int64()), ("b", pa.string())])


@contextlib.contextmanager
def compaction_every(files: int | None):
    """Compact the SCD1 state once it has more than ``files`` files (None: default)."""
    saved = state_mod.COMPACT_FILES
    state_mod.COMPACT_FILES = files if files is not None else saved
    try:
        yield
    finally:
        state_mod.COMPACT_FILES = saved





@depths(30, 150)
def test_scd1_any_batching_matches_oracle(examples):
    check(_scd1_any_batching_matches_oracle, examples, SETTINGS, stream=streams(), ignore_null=st.booleans(), compact=st.booleans())


def _scd1_any_batching_matches_oracle(stream, ignore_null, compact):
    events, cuts = stream
    spec = CdcMerge(keys=["id"], sequence_by="seq", apply_as_deletes="op = 'd'",
                    except_column_list=["op"], ignore_null_updates=ignore_null)
    with tempfile.TemporaryDirectory() as d, compaction_every(2 if compact else None):
        apply_batches(f"{d}/t", events, cuts, spec)
        expected = oracle.scd1(events, keys=["id"], seq=["seq"], columns=["id", "seq", "a", "b"],
                               ignore_null=ignore_null)
        assert read_rows(f"{d}/t") == sort_rows(expected)


@depths(15, 60)
def test_scd1_with_truncates_matches_oracle(examples):
    check(_scd1_with_truncates_matches_oracle, examples, SETTINGS, stream=streams(truncates=True), ignore_null=st.booleans(), compact=st.booleans())


def _scd1_with_truncates_matches_oracle(stream, ignore_null, compact):
    events, cuts = stream
    spec = CdcMerge(keys=["id"], sequence_by="seq", apply_as_deletes="op = 'd'",
                    apply_as_truncates="op = 't'", column_list=["a", "b"],
                    ignore_null_updates=ignore_null)
    with tempfile.TemporaryDirectory() as d, compaction_every(2 if compact else None):
        apply_batches(f"{d}/t", events, cuts, spec)
        expected = oracle.scd1(events, keys=["id"], seq=["seq"], columns=["id", "a", "b"],
                               ignore_null=ignore_null)
        assert read_rows(f"{d}/t") == sort_rows(expected)


@depths(12, 50)
def test_scd1_two_sequence_columns_matches_oracle(examples):
    check(_scd1_two_sequence_columns_matches_oracle, examples, SETTINGS, stream=streams(two_seq=True), ignore_null=st.booleans())


def _scd1_two_sequence_columns_matches_oracle(stream, ignore_null):
    events, cuts = stream
    spec = CdcMerge(keys=["id"], sequence_by=["s1", "s2"], apply_as_deletes="op = 'd'",
                    except_column_list=["op"], ignore_null_updates=ignore_null)
    with tempfile.TemporaryDirectory() as d:
        apply_batches(f"{d}/t", events, cuts, spec, schema=TWO_SEQ)
        expected = oracle.scd1(events, keys=["id"], seq=["s1", "s2"],
                               columns=["id", "s1", "s2", "a", "b"], ignore_null=ignore_null)
        assert read_rows(f"{d}/t") == sort_rows(expected)


TRACKING = {
    "default": ({}, ["a", "b"]),
    "list": ({"track_history_column_list": ["a"]}, ["a"]),
    "except": ({"track_history_except_column_list": ["a"]}, ["b"]),
}


@depths(30, 150)
def test_scd2_any_batching_matches_oracle(examples):
    check(_scd2_any_batching_matches_oracle, examples, SETTINGS, stream=streams(), ignore_null=st.booleans(), tracking=st.sampled_from(sorted(TRACKING)), new_column=st.none() | st.none() | st.integers(0, 30))


def _scd2_any_batching_matches_oracle(stream, ignore_null, tracking, new_column):
    events, cuts = stream
    options, tracked = TRACKING[tracking]
    spec = CdcMerge(keys=["id"], sequence_by="seq", apply_as_deletes="op = 'd'",
                    except_column_list=["op"], stored_as_scd_type=2,
                    ignore_null_updates=ignore_null, **options)
    columns = ["id", "seq", "a", "b"]
    schemas = None
    if new_column is not None and events:
        # column `c` appears from event `new_column` on (schema evolution mid-stream)
        start = new_column % len(events)
        events = [{**e, "c": (e["a"] if i >= start else None)} for i, e in enumerate(events)]
        cuts = [*cuts, start]
        schemas = (SCHEMA, SCHEMA.append(pa.field("c", pa.int64())), start)
        columns = [*columns, "c"]
        tracked = [*tracked, "c"] if tracking != "list" else tracked
    with tempfile.TemporaryDirectory() as d:
        apply_batches(f"{d}/t", events, cuts, spec, schema=schemas or SCHEMA)
        expected = oracle.scd2(events, keys=["id"], seq=["seq"], columns=columns,
                               tracked=tracked, ignore_null=ignore_null)
        assert read_rows(f"{d}/t") == scd2_expected(expected, single_seq=True)


@depths(12, 50)
def test_scd2_two_sequence_columns_matches_oracle(examples):
    check(_scd2_two_sequence_columns_matches_oracle, examples, SETTINGS, stream=streams(two_seq=True), ignore_null=st.booleans())


def _scd2_two_sequence_columns_matches_oracle(stream, ignore_null):
    events, cuts = stream
    spec = CdcMerge(keys=["id"], sequence_by=["s1", "s2"], apply_as_deletes="op = 'd'",
                    column_list=["a", "b"], stored_as_scd_type=2, ignore_null_updates=ignore_null)
    with tempfile.TemporaryDirectory() as d:
        apply_batches(f"{d}/t", events, cuts, spec, schema=TWO_SEQ)
        expected = oracle.scd2(events, keys=["id"], seq=["s1", "s2"], columns=["id", "a", "b"],
                               tracked=["a", "b"], ignore_null=ignore_null)
        assert read_rows(f"{d}/t") == scd2_expected(expected, single_seq=False)
