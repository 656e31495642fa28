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
