"""Idempotency, crash repair, commit conflicts and schema evolution of ``apply_changes``."""

from __future__ import annotations

import shutil
import tempfile
import threading

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from hypothesis import HealthCheck
from hypothesis import strategies as st

from tests.helpers import cdc_oracle as oracle
from tests.helpers.properties import check, depths
from tests.helpers.cdc_events import read_rows, scd2_expected, sort_rows, to_table
from kappa.cdc.merge import apply_changes
from kappa.cdc.state import state_uri
from kappa.delta import txn
from kappa.errors import KappaError
from kappa.models.cdc import CdcMerge
from tests.helpers.cdc_events import streams

SPEC1 = CdcMerge(keys=["id"], sequence_by="seq", apply_as_deletes="op = 'd'",
                 except_column_list=["op"])
SPEC2 = SPEC1.model_copy(update={"stored_as_scd_type": 2})


def ev(i, seq, op="upsert", a=None, b=None):
    return {"id": i, "seq": seq, "op": op, "a": a, "b": b}


def versions(uri: str) -> int:
    return DeltaTable(uri).version()


@pytest.mark.parametrize("spec", [SPEC1, SPEC2], ids=["scd1", "scd2"])
def test_same_batch_twice_changes_nothing(tmp_path, spec):
    uri = str(tmp_path / "t")
    batch = to_table([ev(1, 1, a=1), ev(2, 1, a=2), ev(1, 2, "delete"), ev(3, 5, "delete")])
    first = apply_changes(uri, batch, spec, app_id="job", version=7)
    rows, tv, sv = read_rows(uri), versions(uri), versions(state_uri(uri))
    again = apply_changes(uri, batch, spec, app_id="job", version=7)
    older = apply_changes(uri, to_table([ev(9, 9, a=9)]), spec, app_id="job", version=3)
    assert not first.skipped_duplicate_batch
    assert again.skipped_duplicate_batch and older.skipped_duplicate_batch
    assert (again.inserted, again.updated, again.deleted) == (0, 0, 0)
    assert read_rows(uri) == rows
    assert (versions(uri), versions(state_uri(uri))) == (tv, sv)
    assert DeltaTable(uri).transaction_version("job") == 7
    assert DeltaTable(state_uri(uri)).transaction_version("job") == 7


def test_scd1_stats_count_rows_and_stale_events(tmp_path):
    uri = str(tmp_path / "t")
    s1 = apply_changes(uri, to_table([ev(1, 5, a=1), ev(2, 5, a=2), ev(3, 5, "delete")]), SPEC1,
                       app_id="j", version=1)
    s2 = apply_changes(uri, to_table([ev(1, 4, a=0), ev(1, 6, a=7), ev(2, 6, "delete"),
                                      ev(3, 4, a=3)]), SPEC1, app_id="j", version=2)
    assert (s1.inserted, s1.updated, s1.deleted, s1.skipped_stale) == (2, 0, 0, 0)
    assert (s2.inserted, s2.updated, s2.deleted, s2.skipped_stale) == (0, 1, 1, 2)
    assert read_rows(uri) == [{"id": 1, "seq": 6, "a": 7, "b": None}]


def _apply_crashing(uri: str, tables: list[pa.Table], spec, crash_at: int, lost: str) -> None:
    """Apply batches; batch ``crash_at`` commits only one of its two commits, then is retried."""
    for version, table in enumerate(tables, start=1):
        if version == crash_at:
            with tempfile.TemporaryDirectory() as scratch:
                if lost == "state":  # target committed, state commit lost
                    shutil.copytree(state_uri(uri), f"{scratch}/s") if _exists(state_uri(uri)) else None
                    apply_changes(uri, table, spec, app_id="job", version=version,
                                  state_uri=f"{scratch}/s")
                else:  # state committed, target commit lost
                    shutil.copytree(uri, f"{scratch}/t") if _exists(uri) else None
                    apply_changes(f"{scratch}/t", table, spec, app_id="job", version=version,
                                  state_uri=state_uri(uri))
        stats = apply_changes(uri, table, spec, app_id="job", version=version)
        if version == crash_at:
            assert stats.state_repaired == (lost == "state")
            assert stats.target_repaired == (lost == "target")


def _exists(uri: str) -> bool:
    return txn.open_table(uri, None) is not None


SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@depths(10, 40)
def test_crash_between_commits_then_retry_gives_exact_table(examples):
    check(_crash_between_commits_then_retry_gives_exact_table, examples, SETTINGS, stream=streams(max_events=14), crash=st.integers(1, 4), lost=st.sampled_from(["state", "target"]), scd=st.sampled_from([1, 2]))


def _crash_between_commits_then_retry_gives_exact_table(stream, crash, lost, scd):
    events, cuts = stream
    bounds = [0, *sorted(set(c for c in cuts if 0 < c < len(events))), len(events)]
    tables = [to_table(events[lo:hi]) for lo, hi in zip(bounds, bounds[1:])]
    spec = SPEC1 if scd == 1 else SPEC2
    with tempfile.TemporaryDirectory() as d:
        uri = f"{d}/t"
        _apply_crashing(uri, tables, spec, min(crash, len(tables)), lost)
        cols = ["id", "seq", "a", "b"]
        if scd == 1:
            expected = sort_rows(oracle.scd1(events, keys=["id"], seq=["seq"], columns=cols,
                                             ignore_null=False))
        else:
            expected = scd2_expected(oracle.scd2(events, keys=["id"], seq=["seq"], columns=cols,
                                                 tracked=["a", "b"], ignore_null=False), True)
        assert read_rows(uri) == expected


def test_new_column_evolves_the_target_schema(tmp_path):
    uri = str(tmp_path / "t")
    apply_changes(uri, to_table([ev(1, 1, a=1)]), SPEC1, app_id="j", version=1)
    wider = pa.table({"id": [2], "seq": [2], "op": ["u"], "a": [2], "b": ["x"], "c": [3.5]})
    apply_changes(uri, wider, SPEC1, app_id="j", version=2)
    assert read_rows(uri) == [{"id": 1, "seq": 1, "a": 1, "b": None, "c": None},
                              {"id": 2, "seq": 2, "a": 2, "b": "x", "c": 3.5}]


@pytest.mark.parametrize("spec", [SPEC1, SPEC2], ids=["scd1", "scd2"])
def test_new_column_with_schema_evolution_fail_raises_and_commits_nothing(tmp_path, spec):
    spec = spec.model_copy(update={"schema_evolution": "fail"})
    uri = str(tmp_path / "t")
    apply_changes(uri, to_table([ev(1, 1, a=1)]), spec, app_id="j", version=1)
    wider = pa.table({"id": [2], "seq": [2], "op": ["u"], "a": [2], "b": ["x"], "c": [3.5],
                      "d": [1]})
    tv, sv = versions(uri), versions(state_uri(uri))
    with pytest.raises(KappaError, match=r"new column\(s\) \['c', 'd'\]"):
        apply_changes(uri, wider, spec, app_id="j", version=2)
    assert (versions(uri), versions(state_uri(uri))) == (tv, sv)


def test_conflicting_commit_is_retried_then_gives_up_with_kappa_error(tmp_path):
    uri = str(tmp_path / "c")
    write_deltalake(uri, pa.table({"k": [1, 2], "v": [1, 1]}))
    attempts = []

    def merge_with_stale_snapshot():
        table = DeltaTable(uri)
        attempts.append(1)
        if len(attempts) <= 2:  # someone else commits in between: a real conflict
            DeltaTable(uri).merge(pa.table({"k": [1], "v": [5]}), "t.k = s.k", source_alias="s",
                                  target_alias="t").when_matched_update_all().execute()
        return table.merge(pa.table({"k": [2], "v": [7]}), "t.k = s.k", source_alias="s",
                           target_alias="t").when_matched_update_all().execute()

    metrics = txn.with_retries(merge_with_stale_snapshot, retries=3, what="t", base_delay=0.001)
    assert len(attempts) == 3 and metrics["num_target_rows_updated"] == 1
    attempts.clear()
    with pytest.raises(KappaError, match="still conflicting with concurrent writers after 1 retries"):
        txn.with_retries(merge_with_stale_snapshot, retries=1, what="t", base_delay=0.001)


def test_concurrent_sinks_on_one_target_all_land(tmp_path):
    uri = str(tmp_path / "t")
    apply_changes(uri, to_table([ev(0, 0, a=0)]), SPEC1, app_id="init", version=1)
    spec = SPEC1.model_copy(update={"max_commit_retries": 30})
    errors = []

    def sink(n: int) -> None:
        try:
            for v in range(1, 4):
                apply_changes(uri, to_table([ev(n * 10 + v, v, a=n)]), spec, app_id=f"s{n}",
                              version=v, state_uri=str(tmp_path / f"state{n}"))
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=sink, args=(n,)) for n in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ids = sorted(r["id"] for r in read_rows(uri))
    assert ids == [0, 11, 12, 13, 21, 22, 23, 31, 32, 33]


def test_state_compaction_keeps_exact_results(tmp_path, monkeypatch):
    from kappa.cdc import state as state_mod

    monkeypatch.setattr(state_mod, "COMPACT_FILES", 3)
    events = [ev(i % 4, (i * 7) % 5, "delete" if i % 6 == 5 else "upsert", a=i) for i in range(30)]
    uri = str(tmp_path / "t")
    for v, e in enumerate(events, start=1):
        apply_changes(uri, to_table([e]), SPEC1, app_id="job", version=v)
    expected = oracle.scd1(events, keys=["id"], seq=["seq"], columns=["id", "seq", "a", "b"],
                           ignore_null=False)
    assert read_rows(uri) == sort_rows(expected)
    state_table = DeltaTable(state_uri(uri))
    assert len(state_table.file_uris()) <= 4
    assert state_table.transaction_version("job") == 30
    compactions = [h for h in state_table.history() if h.get("kappa.cdc.compaction") == "1"]
    assert len(compactions) >= 2


def test_new_column_evolves_an_scd2_target_for_logged_keys(tmp_path):
    uri = str(tmp_path / "t")
    apply_changes(uri, to_table([ev(1, 1, a=1), ev(2, 1, a=2)]), SPEC2, app_id="j", version=1)
    # key 1 is in the state log (logged without `c`); key 3 is new
    wider = pa.table({"id": [1, 3], "seq": [2, 2], "op": ["u", "u"], "a": [1, 3], "b": ["x", None],
                      "c": [3.5, None]})
    stats = apply_changes(uri, wider, SPEC2, app_id="j", version=2)
    assert (stats.inserted, stats.updated, stats.deleted) == (2, 1, 0)
    assert read_rows(uri) == sort_rows([
        {"id": 1, "seq": 1, "a": 1, "b": None, "c": None, "__START_AT": 1, "__END_AT": 2},
        {"id": 1, "seq": 2, "a": 1, "b": "x", "c": 3.5, "__START_AT": 2, "__END_AT": None},
        {"id": 2, "seq": 1, "a": 2, "b": None, "c": None, "__START_AT": 1, "__END_AT": None},
        {"id": 3, "seq": 2, "a": 3, "b": None, "c": None, "__START_AT": 2, "__END_AT": None},
    ])
    # a later batch without `c`: the logged values of `c` stay in the recomputed history
    apply_changes(uri, to_table([ev(1, 0, a=0)]), SPEC2, app_id="j", version=3)
    assert sorted((r["__START_AT"], r["a"], r["c"]) for r in read_rows(uri) if r["id"] == 1) == [
        (0, 0, None), (1, 1, None), (2, 1, 3.5)]


def test_new_column_in_scd2_with_schema_evolution_fail_names_the_columns(tmp_path):
    spec = SPEC2.model_copy(update={"schema_evolution": "fail"})
    uri = str(tmp_path / "t")
    apply_changes(uri, to_table([ev(1, 1, a=1)]), spec, app_id="j", version=1)
    wider = pa.table({"id": [1], "seq": [2], "op": ["u"], "a": [2], "b": ["x"], "phone": ["555"]})
    tv, sv = versions(uri), versions(state_uri(uri))
    with pytest.raises(KappaError, match=r"new column\(s\) \['phone'\].*schema_evolution is 'fail'"):
        apply_changes(uri, wider, spec, app_id="j", version=2)
    assert (versions(uri), versions(state_uri(uri))) == (tv, sv)


def test_new_column_with_ignore_null_updates(tmp_path):
    uri = str(tmp_path / "t")
    spec = CdcMerge(keys=["id"], sequence_by="seq", ignore_null_updates=True)
    apply_changes(uri, pa.table({"id": [1], "seq": [1], "a": [1]}), spec, app_id="j", version=1)
    apply_changes(uri, pa.table({"id": [1, 2], "seq": [2, 2], "a": [None, 2], "c": ["z", None]}),
                  spec, app_id="j", version=2)
    assert read_rows(uri) == [{"id": 1, "seq": 2, "a": 1, "c": "z"},
                              {"id": 2, "seq": 2, "a": 2, "c": None}]


@pytest.mark.parametrize("spec", [SPEC1, SPEC2], ids=["scd1", "scd2"])
def test_empty_batch_records_the_transaction(tmp_path, spec):
    uri = str(tmp_path / "t")
    stats = apply_changes(uri, to_table([]), spec, app_id="j", version=1)
    assert stats.events == 0 and not stats.skipped_duplicate_batch
    assert DeltaTable(uri).transaction_version("j") == 1
    assert DeltaTable(state_uri(uri)).transaction_version("j") == 1
    assert apply_changes(uri, to_table([]), spec, app_id="j", version=1).skipped_duplicate_batch
    assert read_rows(uri) == []
