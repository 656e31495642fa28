"""``kappa stream status``: exact output for known checkpoints."""

from __future__ import annotations

import json

import pytest

from kappa.cli import main
from kappa.engines.spark import status as st
from kappa.engines.spark import lag
from tests.helpers.checkpoints import write_checkpoint
from tests.helpers.pipelines import downstream, kafka_bronze

PIPELINE = kafka_bronze("st", downstream=downstream("slv", "brz") + downstream("gold", "slv"))


def test_status_of_known_checkpoints_without_lag(tmp_path, write_pipeline, capsys):
    path = write_pipeline(PIPELINE, bootstrap="127.0.0.1:1", topic="ev")
    write_checkpoint(tmp_path / "ck/st/brz/spark", [
        (0, {"ev": {"0": 4, "1": 6}}, 1795442069631),
        (1, {"ev": {"0": 9, "1": 6}}, 1795442070005),
        (2, {"ev": {"0": 12, "1": 8}}, 1795442071000),
    ], committed=1)
    write_checkpoint(tmp_path / "ck/st/slv/spark", [(0, {"version": 1, "index": 0, "snapshot": False}, 1795442072000)], committed=0)
    (tmp_path / "ck/st/old_node/spark").mkdir(parents=True)

    main(["stream", "status", path, "--no-lag"])
    ck = tmp_path / "ck/st"
    assert capsys.readouterr().out == (
        "pipeline st\n"
        "node brz  (source: kafka)\n"
        f"  checkpoint: {ck}/brz/spark\n"
        "  last batch: 1 at 2026-11-23T13:54:30.005Z\n"
        "  committed offsets: ev[0]=9 ev[1]=6\n"
        "  pending batch: 2 (offsets logged, not committed: re-run on restart)\n"
        "node slv  (source: delta)\n"
        f"  checkpoint: {ck}/slv/spark\n"
        "  last batch: 0 at 2026-11-23T13:54:32.000Z\n"
        '  committed offsets: {"index": 0, "snapshot": false, "version": 1}\n'
        "node gold  (source: delta)\n"
        f"  checkpoint: {ck}/gold/spark\n"
        "  not started: no checkpoint\n"
        "checkpoint old_node: no such node in the pipeline (renamed or removed?)\n"
    )

    main(["stream", "status", path, "--no-lag", "--json", "--select", "brz"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["orphan_checkpoints"] == ["old_node"]
    assert doc["nodes"] == [{
        "node": "brz", "source": "kafka", "checkpoint": f"{ck}/brz/spark", "exists": True,
        "last_batch_id": 1, "last_batch_time": "2026-11-23T13:54:30.005Z",
        "committed_offsets": [{"ev": {"0": 9, "1": 6}}], "pending_batch_id": 2,
        "watermark": None, "state_disk_bytes": None,
        "end_offsets": {}, "lag": None, "total_lag": None,
        "delta_latest_version": None, "delta_lag_versions": None, "error": None, "data_loss": [],
    }]


def test_checkpoint_parsing_edge_cases(tmp_path):
    assert st.read_checkpoint(str(tmp_path / "missing")) == st.CheckpointState(str(tmp_path / "missing"), False)
    empty = tmp_path / "empty"
    (empty / "offsets").mkdir(parents=True)
    state = st.read_checkpoint(str(empty))
    assert state.exists and state.last_batch_id is None and state.pending_batch_id is None
    entry = st.parse_offset_file('v1\n{"batchTimestampMs": 5}\n{"t": {"0": 1}}\n-\n', 3)
    assert entry == st.OffsetEntry(3, "v1", {"batchTimestampMs": 5}, ({"t": {"0": 1}}, None))
    with pytest.raises(ValueError, match="truncated"):
        st.parse_offset_file("v1", 0)
    assert lag.kafka_lag({("t", 0): 5}, {("t", 0): 9, ("t", 1): 4}, {("t", 1): 1}) == {("t", 0): 4, ("t", 1): 3}
    assert lag.delta_lag({"version": 3, "index": 0, "snapshot": False}, 2) == 0
    assert lag.delta_lag({"version": 3, "index": 2, "snapshot": False}, 4) == 2
    assert lag.delta_lag({"version": 0, "index": 1, "snapshot": True}, 0) == 1
    assert st.format_ms(0) == "1970-01-01T00:00:00.000Z"


@pytest.mark.kafka
def test_status_lag_against_the_broker(tmp_path, write_pipeline, kafka_bootstrap, make_topic, capsys):
    from confluent_kafka import Producer

    from kappa.testing.kafka import conf_for

    topic = make_topic(partitions=2)
    producer = Producer(conf_for(kafka_bootstrap))
    for i in range(10):
        producer.produce(topic, value=json.dumps({"id": i}).encode(), partition=0 if i < 7 else 1)
    producer.flush()
    path = write_pipeline(PIPELINE, bootstrap=kafka_bootstrap, topic=topic)
    write_checkpoint(tmp_path / "ck/st/brz/spark", [(0, {topic: {"0": 5, "1": 3}}, 1795442069631)], committed=0)

    main(["stream", "status", path, "--select", "brz"])
    assert capsys.readouterr().out == (
        "pipeline st\n"
        "node brz  (source: kafka)\n"
        f"  checkpoint: {tmp_path}/ck/st/brz/spark\n"
        "  last batch: 0 at 2026-11-23T13:54:29.631Z\n"
        f"  committed offsets: {topic}[0]=5 {topic}[1]=3\n"
        f"  end offsets: {topic}[0]=7 {topic}[1]=3\n"
        f"  lag: 2 ({topic}[0]=2 {topic}[1]=0)\n"
    )
