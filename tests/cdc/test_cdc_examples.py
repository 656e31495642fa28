"""The AUTO CDC documentation's example (users with INSERT/UPDATE/DELETE/TRUNCATE), exact tables,
plus the CdcMerge model's validation."""

from __future__ import annotations

import doctest

import pyarrow as pa
import pytest
from pydantic import ValidationError

import kappa.models.cdc as cdc_model
from tests.helpers.cdc_events import read_rows, sort_rows
from kappa.cdc.merge import apply_changes
from kappa.errors import KappaError
from kappa.models.cdc import CdcMerge

USERS = [  # userId, name, city, operation, sequenceNum
    (124, "Raul", "Oaxaca", "INSERT", 1),
    (123, "Isabel", "Monterrey", "INSERT", 1),
    (125, "Mercedes", "Tijuana", "INSERT", 2),
    (126, "Lily", "Cancun", "INSERT", 2),
    (123, None, None, "DELETE", 6),
    (125, "Mercedes", "Guadalajara", "UPDATE", 6),
    (125, "Mercedes", "Mexicali", "UPDATE", 5),
    (123, "Isabel", "Chihuahua", "UPDATE", 5),
]
SCHEMA = pa.schema([("userId", pa.int32()), ("name", pa.string()), ("city", pa.string()),
                    ("operation", pa.string()), ("sequenceNum", pa.int64())])
BASE = dict(keys=["userId"], sequence_by="sequenceNum", apply_as_deletes="operation = 'DELETE'",
            except_column_list=["operation", "sequenceNum"])


def table(rows) -> pa.Table:
    return pa.Table.from_pylist([dict(zip(SCHEMA.names, r)) for r in rows], schema=SCHEMA)


def apply_all(uri: str, rows, spec, *, one_by_one: bool) -> None:
    batches = [[r] for r in reversed(rows)] if one_by_one else [rows]
    for v, batch in enumerate(batches, start=1):
        apply_changes(uri, table(batch), spec, app_id="users", version=v)


def user(i, name, city, start=None, end=None, scd2=False):
    row = {"userId": i, "name": name, "city": city}
    return {**row, "__START_AT": start, "__END_AT": end} if scd2 else row


@pytest.mark.parametrize("one_by_one", [False, True], ids=["one-batch", "reversed-singletons"])
def test_scd1_users(tmp_path, one_by_one):
    apply_all(str(tmp_path / "t"), USERS, CdcMerge(**BASE), one_by_one=one_by_one)
    assert read_rows(str(tmp_path / "t")) == sort_rows([
        user(124, "Raul", "Oaxaca"), user(125, "Mercedes", "Guadalajara"), user(126, "Lily", "Cancun")])


@pytest.mark.parametrize("one_by_one", [False, True], ids=["one-batch", "reversed-singletons"])
def test_scd1_users_with_truncate(tmp_path, one_by_one):
    rows = USERS + [(None, None, None, "TRUNCATE", 3)]
    spec = CdcMerge(**BASE, apply_as_truncates="operation = 'TRUNCATE'")
    apply_all(str(tmp_path / "t"), rows, spec, one_by_one=one_by_one)
    assert read_rows(str(tmp_path / "t")) == [user(125, "Mercedes", "Guadalajara")]


@pytest.mark.parametrize("one_by_one", [False, True], ids=["one-batch", "reversed-singletons"])
def test_scd2_users(tmp_path, one_by_one):
    apply_all(str(tmp_path / "t"), USERS, CdcMerge(**BASE, stored_as_scd_type=2),
              one_by_one=one_by_one)
    assert read_rows(str(tmp_path / "t")) == sort_rows([
        user(123, "Isabel", "Monterrey", 1, 5, True), user(123, "Isabel", "Chihuahua", 5, 6, True),
        user(124, "Raul", "Oaxaca", 1, None, True), user(125, "Mercedes", "Tijuana", 2, 5, True),
        user(125, "Mercedes", "Mexicali", 5, 6, True),
        user(125, "Mercedes", "Guadalajara", 6, None, True),
        user(126, "Lily", "Cancun", 2, None, True)])


@pytest.mark.parametrize("one_by_one", [False, True], ids=["one-batch", "reversed-singletons"])
def test_scd2_users_tracking_all_but_city(tmp_path, one_by_one):
    spec = CdcMerge(**BASE, stored_as_scd_type=2, track_history_except_column_list=["city"])
    apply_all(str(tmp_path / "t"), USERS, spec, one_by_one=one_by_one)
    assert read_rows(str(tmp_path / "t")) == sort_rows([
        user(123, "Isabel", "Chihuahua", 1, 6, True), user(124, "Raul", "Oaxaca", 1, None, True),
        user(125, "Mercedes", "Guadalajara", 2, None, True),
        user(126, "Lily", "Cancun", 2, None, True)])


def test_scd2_struct_sequence_and_ignore_null_updates(tmp_path):
    schema = pa.schema([("id", pa.int64()), ("v", pa.string()), ("w", pa.int64()),
                        ("epoch", pa.int32()), ("n", pa.int64())])
    rows = [(1, "a", 1, 1, 5), (1, None, 2, 1, 9), (1, "b", None, 2, 0)]
    spec = CdcMerge(keys=["id"], sequence_by=["epoch", "n"], stored_as_scd_type=2,
                    column_list=["v", "w"], ignore_null_updates=True)
    uri = str(tmp_path / "t")
    apply_changes(uri, pa.Table.from_pylist([dict(zip(schema.names, r)) for r in rows],
                                            schema=schema), spec, app_id="x", version=1)
    assert read_rows(uri) == sort_rows([
        {"id": 1, "v": "a", "w": 1, "__START_AT": (1, 5), "__END_AT": (1, 9)},
        {"id": 1, "v": "a", "w": 2, "__START_AT": (1, 9), "__END_AT": (2, 0)},
        {"id": 1, "v": "b", "w": 2, "__START_AT": (2, 0), "__END_AT": None},
    ])


def test_null_sequence_or_key_is_an_error(tmp_path):
    bad = table([(1, "a", "b", "INSERT", None)])
    with pytest.raises(KappaError, match="null sequence_by"):
        apply_changes(str(tmp_path / "t"), bad, CdcMerge(**BASE), app_id="x", version=1)
    with pytest.raises(KappaError, match="null key"):
        apply_changes(str(tmp_path / "t"), table([(None, "a", "b", "INSERT", 1)]),
                      CdcMerge(**BASE), app_id="x", version=1)


def test_bad_predicate_and_missing_columns_are_clear_errors(tmp_path):
    with pytest.raises(KappaError, match="apply_as_deletes predicate"):
        apply_changes(str(tmp_path / "t"), table(USERS),
                      CdcMerge(**{**BASE, "apply_as_deletes": "nope = = 1"}), app_id="x", version=1)
    with pytest.raises(KappaError, match=r"lack key/sequence column\(s\) \['id'\]"):
        apply_changes(str(tmp_path / "t"), table(USERS),
                      CdcMerge(keys=["id"], sequence_by="sequenceNum"), app_id="x", version=1)


def test_model_doctest():
    assert doctest.testmod(cdc_model).failed == 0


@pytest.mark.parametrize("kwargs, message", [
    (dict(keys=[], sequence_by="s"), "at least 1 item"),
    (dict(keys=["k"], sequence_by=[]), "sequence_by needs at least one column"),
    (dict(keys=["k"], sequence_by="k"), "also keys"),
    (dict(keys=["k", "k"], sequence_by="s"), "listed twice"),
    (dict(keys=["k"], sequence_by="s", column_list=["a"], except_column_list=["b"]),
     "mutually exclusive"),
    (dict(keys=["k"], sequence_by="s", except_column_list=["k"]), "may not remove key"),
    (dict(keys=["k"], sequence_by="s", track_history_column_list=["a"]),
     "need stored_as_scd_type: 2"),
    (dict(keys=["k"], sequence_by="s", stored_as_scd_type=2, track_history_column_list=["a"],
          track_history_except_column_list=["b"]), "mutually exclusive"),
    (dict(keys=["k"], sequence_by="s", stored_as_scd_type=2, apply_as_truncates="op = 't'"),
     "only with stored_as_scd_type: 1"),
    (dict(keys=["__kappa_x"], sequence_by="s"), "reserved"),
    (dict(keys=["k"], sequence_by="s", unknown=1), "Extra inputs are not permitted"),
    (dict(keys=["k"], sequence_by="s", max_commit_retries=-1), "greater than or equal to 0"),
])
def test_model_validation_messages(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        CdcMerge(**kwargs)


def test_every_model_field_has_a_description():
    assert all(f.description for f in CdcMerge.model_fields.values())


def test_track_history_of_an_unknown_column_is_an_error(tmp_path):
    spec = CdcMerge(**BASE, stored_as_scd_type=2, track_history_column_list=["town"])
    with pytest.raises(KappaError, match=r"not in the target: \['town'\]"):
        apply_changes(str(tmp_path / "t"), table(USERS), spec, app_id="x", version=1)
