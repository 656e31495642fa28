"""The run lease and the conditional batch commits on an ``s3://`` checkpoint root, in one process
(a real SeaweedFS server): a second holder is refused naming the first, an expired lease is taken
over, a lease taken over while held stops the next commit, a batch is committed once."""

from __future__ import annotations

import json
import threading
import time

import pytest

from kappa.checkpoint import objects
from kappa.checkpoint.lock import PipelineBusy, pipeline_lock


@pytest.fixture
def root(s3_endpoint, monkeypatch):
    monkeypatch.delenv("KAPPA_S3_LEASE_SECONDS", raising=False)
    uri = s3_endpoint.uri("ck")
    objects.register(uri, s3_endpoint.storage_options)
    return uri


def _in_thread(root: str, inside: threading.Event, leave: threading.Event) -> threading.Thread:
    def hold() -> None:
        with pipeline_lock(root, "p", "kappa replay"):
            inside.set()
            leave.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    assert inside.wait(30)
    return thread


def test_a_second_holder_is_refused_naming_the_first_then_gets_it_after_release(root):
    inside, leave = threading.Event(), threading.Event()
    thread = _in_thread(root, inside, leave)
    try:
        with pytest.raises(PipelineBusy) as err:
            with pipeline_lock(root, "p"):
                pass
        text = str(err.value)
        assert text.startswith("pipeline 'p' is already running (pid "), text
        assert f", kappa replay); wait for it to finish or stop it (lease {root}/p/.kappa.lock, valid until " in text
    finally:
        leave.set()
        thread.join()
    with pipeline_lock(root, "p") as uri:  # released: free again
        assert uri == f"{root}/p/.kappa.lock"
        with pipeline_lock(root, "p"):  # re-entrant in one thread
            pass
    assert json.loads(objects.get(f"{root}/p/.kappa.lock"))["expires_at"] == 0


def test_an_expired_lease_is_taken_over(root):
    lease = f"{root}/p/.kappa.lock"
    objects.put(lease, json.dumps({"pid": 1, "host": "gone", "expires_at": time.time() - 1}).encode())
    with pipeline_lock(root, "p", "kappa replay"):
        held = json.loads(objects.get(lease))
        assert (held["pid"], held["command"]) != (1, None) and held["command"] == "kappa replay"
        assert held["expires_at"] > time.time()


def test_a_lease_taken_over_while_held_stops_the_next_commit(root, monkeypatch):
    from kappa.engines.polars.state import ReplayCheckpoint
    from kappa.plan_layout import CheckpointLayout

    monkeypatch.setenv("KAPPA_S3_LEASE_SECONDS", "1")
    lease = f"{root}/p/.kappa.lock"
    ck = ReplayCheckpoint(CheckpointLayout(f"{root}/p/n"))
    with pytest.raises(PipelineBusy) as err:
        with pipeline_lock(root, "p"):
            ck.plan(0, {"kind": "none"})
            objects.put(lease, b'{"pid": 2, "expires_at": 1e12}')  # another run took it over (this one stalled)
            time.sleep(0.8)  # the next renewal finds out
            ck.commit(0, {"batch_id": 0})
    assert str(err.value) == (f"the run lease {lease} was taken over by another run (this run stalled longer than the "
                              "lease time, 1 s, KAPPA_S3_LEASE_SECONDS); stopping before committing")
    assert objects.names(f"{root}/p/n/replay/commits") == []
    assert objects.get(lease) == b'{"pid": 2, "expires_at": 1e12}'  # the new holder's lease is left alone


def test_a_batch_is_planned_and_committed_once(root):
    from kappa.engines.polars.state import CheckpointInconsistent, ReplayCheckpoint
    from kappa.plan_layout import CheckpointLayout

    ck = ReplayCheckpoint(CheckpointLayout(f"{root}/p/n"))
    assert (ck.pending(), ck.last_committed(), ck.next_batch_id()) == (None, None, 0)
    ck.plan(0, {"kind": "none"})
    assert ck.pending().batch_id == 0
    ck.commit(0, {"batch_id": 0})
    assert (ck.pending(), ck.last_committed().batch_id, ck.next_batch_id()) == (None, 0, 1)
    with pytest.raises(CheckpointInconsistent) as err:
        ck.commit(0, {"batch_id": 0, "second": True})
    assert str(err.value) == (f"replay checkpoint {root}/p/n/replay: commits/0.json exists already: was batch 0 "
                              "written by two runs at once? Run the pipeline again")
    assert json.loads(objects.get(f"{root}/p/n/replay/commits/0.json")) == {"batch_id": 0}
    ck.reset()
    assert not objects.exists(f"{root}/p/n/replay")
