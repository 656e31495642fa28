"""kappa.delta.tables: a local Delta table opened once per process and thread while current."""

from __future__ import annotations

import shutil
import threading

import pyarrow as pa
from deltalake import write_deltalake

from kappa.delta import tables


def test_latest_is_reused_while_current_and_follows_new_commits(tmp_path):
    path = str(tmp_path / "t")
    assert tables.latest(path) is None
    write_deltalake(path, pa.table({"a": [1]}))
    first = tables.latest(path)
    assert first.version() == 0 and tables.latest(path) is first  # no second log replay
    write_deltalake(path, pa.table({"a": [2]}), mode="append")  # another writer
    again = tables.latest(path)
    assert again is first and again.version() == 1 and len(again.file_uris()) == 2
    held = []
    worker = threading.Thread(target=lambda: held.append(tables.latest(path)))
    worker.start()
    worker.join()
    assert held[0] is not first and held[0].version() == 1  # one object per thread


def test_a_table_written_again_from_scratch_is_opened_again(tmp_path):
    path = str(tmp_path / "t")
    write_deltalake(path, pa.table({"a": [1]}))
    write_deltalake(path, pa.table({"a": [2]}), mode="append")
    old = tables.latest(path)
    assert tables.files_at(path, 1) == frozenset(old.file_uris())
    shutil.rmtree(path)
    write_deltalake(path, pa.table({"a": [7]}))
    write_deltalake(path, pa.table({"a": [8]}), mode="append")
    new = tables.latest(path)
    assert new.version() == 1 and new is not old
    assert tables.files_at(path, 1) == frozenset(new.file_uris()) != frozenset(old.file_uris())
