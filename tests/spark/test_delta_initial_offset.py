"""The ``kappa_delta`` stream reader decides its initial offset once per checkpoint.

PySpark 4.2 calls ``initialOffset()`` again when it runs batch 0 (and on a restart before
batch 0 commits), in a fresh Python process. An initial offset computed from the table's
*current* version then moves while records arrive: versions committed in between are skipped
(2 or more) or read twice (exactly 1). The reader persists the first answer next to the query's
checkpoint and returns it on every later call. No Spark session: the reader is plain Python.
"""

from __future__ import annotations

import json
import threading

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from kappa.engines.spark.datasources.delta_source import (
    DeltaDataSource,
    DeltaStreamReader,
)
from kappa.engines.spark.datasources.initial import initial_offset_path
from kappa.initial import InitialOffsetError


def _append(uri: str, ids: list[int]) -> None:
    write_deltalake(uri, pa.table({"id": pa.array(ids, pa.int64())}), mode="append")


def _reader(uri: str, **options) -> DeltaStreamReader:
    """A stream reader as Spark builds one in its driver-side Python process."""
    source = DeltaDataSource({"path": uri, **options})
    return source.streamReader(None)


@pytest.mark.parametrize(
    ("starting", "expected"),
    [
        (None, {"version": 0, "index": 0, "snapshot": True}),
        ("latest", {"version": 1, "index": 0, "snapshot": False}),
    ],
)
def test_initial_offset_is_decided_once_per_checkpoint(tmp_path, starting, expected):
    uri, state = str(tmp_path / "src"), tmp_path / "ck" / "spark"
    _append(uri, [1])
    options = {"kappaCheckpointLocation": str(state)}
    if starting is not None:
        options["startingVersion"] = starting
    first = _reader(uri, **options).initialOffset()
    assert first == expected
    _append(uri, [2])
    _append(uri, [3])
    # a second process (batch 0 run, or a restart before batch 0 committed) gets the same answer
    assert _reader(uri, **options).initialOffset() == expected
    assert json.loads(initial_offset_path(str(state), "kappa_delta").read_text()) == expected
    # another checkpoint decides its own
    other = {**options, "kappaCheckpointLocation": str(tmp_path / "other")}
    assert _reader(uri, **other).initialOffset()["version"] == expected["version"] + 2


def test_without_a_checkpoint_the_offset_follows_the_table(tmp_path):
    """What went wrong before (and what a reader with no checkpoint folder still does)."""
    uri = str(tmp_path / "src")
    _append(uri, [1])
    assert _reader(uri).initialOffset() == {"version": 0, "index": 0, "snapshot": True}
    _append(uri, [2])
    assert _reader(uri).initialOffset() == {"version": 1, "index": 0, "snapshot": True}


def test_concurrent_first_calls_agree(tmp_path):
    """Readers racing to decide the initial offset all return the one that was persisted."""
    uri, state = str(tmp_path / "src"), str(tmp_path / "ck")
    _append(uri, [0])
    answers: list[dict] = []
    stop = threading.Event()

    def writer() -> None:
        i = 1
        while not stop.is_set() and i < 30:
            _append(uri, [i])
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(8):
            answers.append(_reader(uri, kappaCheckpointLocation=state).initialOffset())
    finally:
        stop.set()
        thread.join()
    assert len({json.dumps(a, sort_keys=True) for a in answers}) == 1
    assert _reader(uri, kappaCheckpointLocation=state).initialOffset() == answers[0]


def test_a_corrupt_state_file_is_a_clear_error(tmp_path):
    uri, state = str(tmp_path / "src"), tmp_path / "ck"
    _append(uri, [1])
    path = initial_offset_path(str(state), "kappa_delta")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(InitialOffsetError, match=r"initial_offset_kappa_delta\.json: .*unreadable"):
        _reader(uri, kappaCheckpointLocation=str(state)).initialOffset()
