"""Pure parts of the checkpoint safety: verdict rules shared by both engines, the replay
checkpoint's one-writer invariant, its private tmp files."""

from __future__ import annotations

import json
import threading

import pytest

from kappa.checkpoint import verdicts as fp
from kappa.engines.polars.state import CheckpointInconsistent, ReplayCheckpoint, _atomic_write


def desc(read="stream", topic="ev", sql="SELECT count(*) AS n FROM {df}", app_id="kappa:p:brz:sink0") -> dict:
    return {
        "node": "brz",
        "source": {"kind": "kafka", "read": read, "format": "kafka", "path": None, "options": {"subscribe": topic, "kafka.bootstrap.servers": "b:9092", "startingOffsets": "earliest"}},
        "steps": [{"index": 0, "kind": "sql", "sql": sql, "refs": []}],
        "expectations": [],
        "sinks": [{"index": 0, "kind": "delta", "mode": "append", "quarantine": False, "path": "/t", "app_id": app_id}],
        "trigger": {"kind": "available_now"},
    }


def test_engine_tagged_app_ids_do_not_change_the_verdict():
    assert fp.compare(desc(), desc(app_id="kappa:spark:p:brz:sink0")) == fp.Verdict("brz", fp.UNCHANGED)


def test_a_node_that_rereads_its_source_has_no_state_to_lose():
    old, new = desc(read="per_run"), desc(read="per_run", topic="other", sql="SELECT max(id) AS m FROM {df}")
    v = fp.compare(old, new)
    assert v.status == fp.SAFE and not v.blocks_start
    assert v.reasons == (
        "source topics changed from ev to other",
        "steps changed (stateful ones too); the node re-reads its whole source on each run: no state to lose",
    )
    streaming = fp.compare(desc(), desc(sql="SELECT max(id) AS m FROM {df}"))
    assert streaming.status == fp.FULL_REFRESH


def test_next_batch_id_checks_the_one_writer_invariant(tmp_path):
    ck = ReplayCheckpoint(str(tmp_path))
    assert ck.next_batch_id() == 0
    ck.plan(0, {"kind": "none"})
    ck.commit(0, {})
    assert ck.next_batch_id() == 1
    ck.plan(1, {"kind": "none"})  # planned by another writer meanwhile
    with pytest.raises(CheckpointInconsistent) as info:
        ck.next_batch_id()
    assert str(info.value) == (
        f"replay checkpoint {tmp_path / 'replay'}: newest planned batch is 1 but newest committed is 0; was it written "
        "by two runs at once? Run the pipeline again to re-run the planned batch"
    )


def test_checkpoint_files_use_private_tmp_names(tmp_path):
    target = tmp_path / "offsets" / "0.json"
    errors = []

    def write(i: int) -> None:
        try:
            for j in range(30):
                _atomic_write(target, {"writer": i, "n": j})
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert json.loads(target.read_text())["n"] == 29
    assert [p.name for p in target.parent.iterdir()] == ["0.json"]
