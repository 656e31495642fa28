"""Replication configs without a broker: loading, exact located errors, Debezium defaults."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pyarrow as pa
import pytest
from pydantic import BaseModel

from kappa.cdc.defaults import merge_options_for
from kappa.errors import ConfigError, KappaError
from kappa.kafka.debezium import DebeziumBatch
from kappa.models import replication as models
from kappa.replication.discovery import match_topics
from kappa.replication.load import load_replication
from kappa.replication.naming import path_names, render_path

REPO = Path(__file__).resolve().parents[2]
HEAD = "kind: cdc_replication\nname: inv\n"
SOURCE = "source:\n  bootstrap_servers: localhost:9092\n  topics: [inventory.public.orders]\n"
TARGET = "target:\n  path: ./mirror/{schema}/{table}\n"


def errors_of(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_replication(str(path))
    return str(info.value).replace(str(path), "bad.yaml")


@pytest.mark.parametrize("module", ["kappa.models.replication", "kappa.cdc.defaults", "kappa.replication.naming"])
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_every_field_has_a_description():
    for model in (models.CdcReplication, models.ReplicationSource, models.ReplicationTarget,
                  models.MergeOptions, models.TableReplication):
        assert issubclass(model, BaseModel)
        missing = [n for n, f in model.model_fields.items() if not (f.description or "").strip()]
        assert missing == [], model.__name__


def test_shipped_inventory_config_loads():
    cfg = load_replication(str(REPO / "connectors/cdc/inventory-replication.yaml"))
    assert cfg.source.topics == ["inventory.public.customers", "inventory.public.orders"]
    assert cfg.target.path == "./mirror/{schema}/{table}"
    entry, opts = cfg.options_for("inventory.public.customers", "public.customers", "inventory.customers", "customers")
    assert entry is not None and opts == {"scd_type": 2, "schema_evolution": "merge"}
    assert cfg.options_for("inventory.public.orders", "public.orders", "orders")[1] == {"scd_type": 1, "schema_evolution": "merge"}
    assert cfg.trigger.kind == "processing_time" and cfg.trigger.interval == "5 seconds"
    names = path_names("inventory.public.orders", "postgresql", {"db": "inventory"})
    assert render_path(cfg.target.path, names, "path") == "./mirror/public/orders"


def test_cli_validate_the_shipped_config():
    from typer.testing import CliRunner

    from kappa.cli.app import app

    result = CliRunner().invoke(app, ["cdc", "validate", str(REPO / "connectors/cdc/inventory-replication.yaml")])
    assert result.exit_code == 0, result.output
    assert result.output == ("ok: replication inventory: topics inventory.public.customers, "
                             "inventory.public.orders -> ./mirror/{schema}/{table}\n")


def test_source_and_target_errors(tmp_path):
    text = HEAD + SOURCE + "  topic_pattern: inventory\\..*\n" + "target:\n  path: ./m/{tabel}\n"
    assert errors_of(tmp_path, text) == (
        "bad.yaml:5: source.topics: give either `topics` or `topic_pattern`, not both\n"
        "bad.yaml:8: target.path: path uses unknown placeholder(s) ['tabel']; allowed: "
        "{topic}, {prefix}, {db}, {schema}, {table}"
    )


def test_missing_topics_and_bad_regex(tmp_path):
    text = HEAD + "source:\n  bootstrap_servers: b:9092\n" + TARGET
    assert errors_of(tmp_path, text) == "bad.yaml:3: source: give `topics` (a list) or `topic_pattern` (a regex)"
    text = HEAD + "source:\n  bootstrap_servers: b:9092\n  topic_pattern: 'a\\.(('\n" + TARGET
    assert errors_of(tmp_path, text) == (
        "bad.yaml:5: source.topic_pattern: not a valid regular expression: missing ), "
        "unterminated subpattern at position 4"
    )


def test_table_entry_errors_point_at_their_lines(tmp_path):
    text = HEAD + SOURCE + TARGET + (
        "tables:\n"
        "  public.customers:\n"
        "    scd_typ: 2\n"
        "  inventory.public.orders:\n"
        "    enabled: maybe\n"
    )
    assert errors_of(tmp_path, text) == (
        "bad.yaml:10: tables.public.customers.scd_typ: unknown field 'scd_typ'; did you mean 'scd_type'?\n"
        "bad.yaml:12: tables.inventory.public.orders.enabled: expected true or false (got 'maybe')"
    )


def test_scd_combinations_are_checked_against_the_defaults(tmp_path):
    text = HEAD + SOURCE + TARGET + (
        "defaults:\n"
        "  scd_type: 2\n"
        "tables:\n"
        "  inventory.public.orders:\n"
        "    apply_as_truncates: \"_op = 'truncate'\"\n"
        "  customers:\n"
        "    scd_type: 1\n"
        "    track_history_column_list: [email]\n"
    )
    assert errors_of(tmp_path, text) == (
        "bad.yaml:12: tables.inventory.public.orders.apply_as_truncates: apply_as_truncates is "
        "supported only with scd_type: 1\n"
        "bad.yaml:15: tables.customers.track_history_column_list: track_history_column_list needs scd_type: 2"
    )


def test_column_lists_are_exclusive_and_kind_is_checked(tmp_path):
    text = HEAD + SOURCE + TARGET + "defaults:\n  column_list: [a]\n  except_column_list: [b]\n"
    assert errors_of(tmp_path, text) == (
        "bad.yaml:9: defaults.column_list: `column_list` and `except_column_list` are mutually exclusive"
    )
    text = "kind: pipeline\n" + "name: inv\n" + SOURCE + TARGET
    assert errors_of(tmp_path, text) == "bad.yaml:1: kind: expected 'cdc_replication' (got 'pipeline')"


def _batch(columns: dict, keys: list[str], seq: list[str]) -> DebeziumBatch:
    return DebeziumBatch(changes=pa.table(columns), dead_letters=pa.table({}), decoded=1, tombstones=0,
                         dead=0, key_columns=keys, sequence_columns=seq)


MYSQL = {"id": [1], "v": ["a"], "_op": ["upsert"], "_seq_file": ["bin.1"], "_seq_pos": [4],
         "_seq_ts_ms": [1], "_seq_offset": [0]}
MYSQL_SEQ = ["_seq_file", "_seq_pos", "_seq_ts_ms", "_seq_offset"]


def test_debezium_defaults_for_a_mysql_batch():
    spec = merge_options_for(_batch(MYSQL, ["id"], MYSQL_SEQ), {})
    assert spec.model_dump(exclude_defaults=True) == {
        "keys": ["id"], "sequence_by": MYSQL_SEQ, "apply_as_deletes": "_op = 'delete'",
        "apply_as_truncates": "_op = 'truncate'",
        "except_column_list": ["_op", "_seq_file", "_seq_pos", "_seq_ts_ms", "_seq_offset"],
    }


def test_overrides_win_and_keep_cdc_columns():
    batch = _batch(MYSQL, ["id"], MYSQL_SEQ)
    spec = merge_options_for(batch, {"keys": ["v"], "sequence_by": ["_seq_ts_ms"], "scd_type": 2,
                                     "track_history_column_list": ["id"], "ignore_null_updates": True,
                                     "schema_evolution": "fail", "keep_cdc_columns": True})
    assert spec.model_dump(exclude_defaults=True) == {
        "keys": ["v"], "sequence_by": ["_seq_ts_ms"], "apply_as_deletes": "_op = 'delete'",
        "stored_as_scd_type": 2, "track_history_column_list": ["id"], "ignore_null_updates": True,
        "schema_evolution": "fail",
    }
    spec = merge_options_for(batch, {"column_list": ["v", "_seq_pos"]})
    assert spec.column_list == ["v", "_seq_pos"] and spec.except_column_list is None


def test_no_key_is_an_error():
    with pytest.raises(KappaError, match=r"no key columns: .*set `keys`"):
        merge_options_for(_batch({"v": [1], "_op": ["upsert"]}, [], ["_seq_offset"]), {})
    with pytest.raises(KappaError, match=r"unknown CDC merge option\(s\) \['kees'\]"):
        merge_options_for(_batch(MYSQL, ["id"], MYSQL_SEQ), {"kees": ["id"]})


def test_topic_pattern_is_a_full_match_and_skips_internal_topics(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(HEAD + "source:\n  bootstrap_servers: b:9092\n  topic_pattern: 'inv\\.public\\..*'\n" + TARGET)
    cfg = load_replication(str(path))
    available = ["inv.public.b", "inv.public.a", "xinv.public.c", "inv.other.d", "__consumer_offsets"]
    assert match_topics(cfg, available) == ["inv.public.a", "inv.public.b"]


def test_path_names_from_the_envelope_when_the_topic_does_not_tell():
    names = path_names("customers_routed", "postgresql", {"db": "shop", "schema": "sales", "table": "customers"})
    assert names == {"topic": "customers_routed", "prefix": None, "db": "shop", "schema": "sales", "table": "customers"}
    with pytest.raises(KappaError) as info:
        render_path("./m/{table}", path_names("flat", None, {}), "path")
    assert str(info.value) == (
        "topic 'flat': cannot fill {table} of path './m/{table}' (the topic name is not "
        "<prefix>.<schema|db>.<table> and its records do not tell); give the table a `path` in `tables`"
    )
