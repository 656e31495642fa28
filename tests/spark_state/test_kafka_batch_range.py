"""The offset range of a stateful Kafka node's micro-batch, read back from Spark's offset log
(kappa.engines.spark.stateful_kafka.batch_range): no Spark needed, the files are written here
in Spark's format (``v1``, the batch metadata, one line per source)."""

from __future__ import annotations

import json

import pytest

from kappa.engines.spark.stateful_kafka import batch_range
from kappa.errors import KappaError


def _offsets(ck, batch_id: int, offset: dict) -> None:
    (ck / "offsets").mkdir(parents=True, exist_ok=True)
    meta = {"batchWatermarkMs": 0, "batchTimestampMs": 1, "conf": {}}
    (ck / "offsets" / str(batch_id)).write_text(f"v1\n{json.dumps(meta)}\n{json.dumps(offset)}")


def test_batch_zero_starts_at_the_kept_initial_offset_python(tmp_path):
    (tmp_path / "kappa").mkdir()
    (tmp_path / "kappa" / "initial_offset_kappa_kafka.json").write_text(json.dumps({"t": {"0": 3}}))
    _offsets(tmp_path, 0, {"t": {"0": 5, "1": 2}})
    assert batch_range(str(tmp_path), 0, "python") == ({"t": {"0": 3, "1": -2}}, {"t": {"0": 5, "1": 2}})


def test_batch_zero_starts_at_the_sources_log_jvm(tmp_path):
    (tmp_path / "sources" / "0").mkdir(parents=True)
    (tmp_path / "sources" / "0" / "0").write_text('v1\n{"t":{"0":0,"1":4}}')
    _offsets(tmp_path, 0, {"t": {"0": 5, "1": 6}})
    assert batch_range(str(tmp_path), 0, "jvm") == ({"t": {"0": 0, "1": 4}}, {"t": {"0": 5, "1": 6}})


def test_a_later_batch_starts_where_the_previous_ended(tmp_path):
    _offsets(tmp_path, 6, {"t": {"0": 5}})
    _offsets(tmp_path, 7, {"t": {"0": 9}, "u": {"0": 1}})
    assert batch_range(str(tmp_path), 7, "python") == ({"t": {"0": 5}, "u": {"0": -2}}, {"t": {"0": 9}, "u": {"0": 1}})


def test_a_missing_entry_stops_loudly(tmp_path):
    _offsets(tmp_path, 7, {"t": {"0": 9}})
    with pytest.raises(KappaError, match=r"has no entry for batch 7 or 6: cannot read the batch's dead letters"):
        batch_range(str(tmp_path), 7, "python")


def test_batch_zero_without_its_initial_offset_stops_loudly(tmp_path):
    _offsets(tmp_path, 0, {"t": {"0": 5}})
    with pytest.raises(KappaError, match=r"has no entry for batch 0 or the query's initial offset: cannot read"):
        batch_range(str(tmp_path), 0, "python")


@pytest.mark.spark
def test_jvm_profile_decodes_the_kafka_columns_in_the_plan(spark):
    """The jvm profile's stream has Spark's Kafka columns (no decoding reader): the same decoder
    runs through ``mapInArrow`` and the undecodable records are filtered out (shown on a static
    frame of those columns; Spark's Kafka jar is not available here)."""
    from kappa.engines.spark.decode_tasks import FLAG
    from kappa.engines.spark.stateful_kafka import _combined, good_rows
    from kappa.plan_kinds import KafkaSourcePlan

    source = KafkaSourcePlan(bootstrap_servers="b:9092", topics=("t",), schema="id BIGINT, k STRING")
    frame = spark.createDataFrame(
        [(b"k1", b'{"id": 1, "k": "a"}', "t", 0, 0), (b"k2", b"{not json", "t", 0, 1), (b"k3", b'{"id": 2}', "t", 1, 0)],
        "key binary, value binary, topic string, partition int, offset bigint")
    assert FLAG in _combined(frame, source).columns
    rows = sorted((r["key"], r["value"]["id"], r["value"]["k"]) for r in good_rows(frame, source).collect())
    assert rows == [(b"k1", 1, "a"), (b"k3", 2, None)]
    dead = _combined(frame, source).filter(FLAG).count()
    assert dead == 1
