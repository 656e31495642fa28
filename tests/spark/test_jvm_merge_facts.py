"""The jvm CDC MERGE wiring (kappa.engines.spark.jvm_merge_sink): the opt-in and the facts the
driver reads from real Delta logs (tables written by kappa's own apply_changes) before planning.

The delta-spark statements themselves cannot run here (no jars); see jvm_merge_sink's doc."""

from __future__ import annotations

import pyarrow as pa
import pytest

from kappa.cdc.merge import apply_changes
from kappa.cdc.state import state_uri
from kappa.engines.spark import jvm_merge_sink
from kappa.engines.spark.jvm_merge_sink import MergeFacts, merge_facts
from kappa.models.cdc import CdcMerge

SPEC1 = CdcMerge(keys=["id"], sequence_by="seq", apply_as_deletes="op = 'd'", except_column_list=["op"])
SPEC2 = SPEC1.model_copy(update={"stored_as_scd_type": 2})


def _batch() -> pa.Table:
    return pa.table({"id": pa.array([1, 2], pa.int64()), "seq": pa.array([1, 1], pa.int64()),
                     "op": ["u", "u"], "a": pa.array([10, 20], pa.int64())})


def test_no_tables_yet(tmp_path):
    uri = str(tmp_path / "t")
    assert merge_facts(uri, state_uri(uri), "job", 0, None) == MergeFacts(False, False, False, False, None, None)


@pytest.mark.parametrize("spec", [SPEC1, SPEC2], ids=["scd1", "scd2"])
def test_committed_batch_and_the_next(tmp_path, spec):
    uri = str(tmp_path / "t")
    apply_changes(uri, _batch(), spec, app_id="job", version=3)
    done = merge_facts(uri, state_uri(uri), "job", 3, None)
    assert (done.target_exists, done.state_exists, done.target_done, done.state_done, done.state_version) == (True, True, True, True, None)
    nxt = merge_facts(uri, state_uri(uri), "job", 4, None)
    assert (nxt.target_done, nxt.state_done, nxt.state_version) == (False, False, None)
    assert set(nxt.log_columns) >= {"id", "__kappa_seq_0"} and nxt.log_columns == done.log_columns
    assert merge_facts(uri, state_uri(uri), "other", 3, None).target_done is False


@pytest.mark.spark
def test_opt_in_only_on_the_jvm_profile(spark):
    assert not jvm_merge_sink.enabled(spark, "jvm")
    spark.conf.set(jvm_merge_sink.CONF, "true")
    try:
        assert jvm_merge_sink.enabled(spark, "jvm")
        assert not jvm_merge_sink.enabled(spark, "python")
    finally:
        spark.conf.unset(jvm_merge_sink.CONF)
