"""``kappa cdc replay`` end to end: a real broker, real Delta tables, exact mirror tables."""

from __future__ import annotations

import pytest
from tests.helpers.debezium import (
    CUSTOMERS_ROUND_1,
    ORDERS_ROUND_1,
    customer,
    order,
    read_table,
    seq,
    snapshot_and_changes,
    write_config,
)
from typer.testing import CliRunner

from kappa.replication.compiler import plan_replication
from kappa.replication.load import load_replication
from kappa.cli.app import app
from kappa.errors import KappaError
from kappa.runner import execute_pipeline

pytestmark = pytest.mark.kafka


def replay(config) -> str:
    result = CliRunner().invoke(app, ["cdc", "replay", str(config)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_replay_mirrors_both_tables_then_runs_incrementally(inventory, kafka_bootstrap, tmp_path):
    prefix, customers, orders = inventory
    snapshot_and_changes(customers, orders)
    config = write_config(tmp_path, kafka_bootstrap, prefix)
    out = replay(config)
    node_c, node_o = f"{prefix}_public_customers", f"{prefix}_public_orders"
    assert f"{node_c}       1          6          6" in out and f"{node_o}        1          6          6" in out
    mirror = tmp_path / "mirror" / "public"
    assert read_table(mirror / "customers", ["id", "__START_AT"]) == CUSTOMERS_ROUND_1
    assert read_table(mirror / "orders", ["id"]) == ORDERS_ROUND_1
    assert sorted(p.name for p in (tmp_path / "checkpoints" / "inv").iterdir()) == [".kappa.lock", ".kappa_event_log", node_c, node_o]

    # round 2: more changes, incl. a re-insert of a deleted key and an update arriving twice
    customers.event("u", customer(1003, "Edward", "Walker", "ed@example.com"),
                    customer(1003, "Edward", "Walker", "edward@example.com"), 300, 3000)
    customers.event("c", None, customer(1002, "George", "Bailey", "george@example.com"), 310, 3100)
    orders.event("u", order(3, 1001, "120.50", "new"), order(3, 1001, "120.50", "shipped"), 320, 3200)
    orders.event("d", order(4, 1004, "7.25", "new"), None, 330, 3300)
    orders.event("c", None, order(2, 1002, "5.00", "new"), 340, 3400)
    customers.send()
    orders.send()
    summary = execute_pipeline(plan_replication(load_replication(str(config))).pipeline, engine="polars")
    assert [(n.node, n.batches, n.input_rows) for n in summary.nodes] == [(node_c, 1, 2), (node_o, 1, 3)]
    expected_c = [dict(r) for r in CUSTOMERS_ROUND_1]
    expected_c[3]["__END_AT"] = seq(300, 3000, 7)
    expected_c.insert(3, dict(customer(1002, "George", "Bailey", "george@example.com"), __START_AT=seq(310, 3100, 8), __END_AT=None))
    expected_c.insert(5, dict(customer(1003, "Edward", "Walker", "edward@example.com"), __START_AT=seq(300, 3000, 7), __END_AT=None))
    assert read_table(mirror / "customers", ["id", "__START_AT"]) == expected_c
    assert read_table(mirror / "orders", ["id"]) == [
        order(1, 1001, "19.99", "shipped"), order(2, 1002, "5.00", "new"), order(3, 1001, "120.50", "shipped")]

    # round 3: nothing new
    summary = execute_pipeline(plan_replication(load_replication(str(config))).pipeline, engine="polars")
    assert [(n.batches, n.skipped) for n in summary.nodes] == [(0, "no new data"), (0, "no new data")]


def test_bad_and_keyless_records_land_in_the_dead_letter_table(inventory, kafka_bootstrap, tmp_path):
    prefix, customers, orders = inventory
    snapshot_and_changes(customers, orders)  # orders offsets 0..6 (a tombstone at 6)
    orders.raw(orders.key(9), b"{not json")
    orders.event("c", None, order(5, 1001, "1.00", "new"), 400, 4000)
    _key5, value5 = orders.pending.pop()
    orders.raw(None, value5)  # a change event without a message key
    orders.event("c", None, order(6, 1001, "2.00", "new"), 410, 4100)
    orders.send()
    config = write_config(tmp_path, kafka_bootstrap, prefix)
    summary = execute_pipeline(plan_replication(load_replication(str(config))).pipeline, engine="polars")
    assert summary.node(f"{prefix}_public_orders").dead_letter_rows == 2
    assert summary.node(f"{prefix}_public_orders").input_rows == 7
    dead = read_table(tmp_path / "mirror" / "_dead_letters", ["offset"])
    topic = orders.topic
    assert [(d["topic"], d["partition"], d["offset"], d["key"], d["value"], d["error"]) for d in dead] == [
        (topic, 0, 7, orders.key(9), b"{not json",
         f"{topic}[0]@7: value is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (topic, 0, 8, None, value5, f"{topic}[0]@8: record has no key (null Kafka message key)"),
    ]
    assert read_table(tmp_path / "mirror" / "public" / "orders", ["id"]) == ORDERS_ROUND_1 + [order(6, 1001, "2.00", "new")]


CUSTOMERS_SCD1 = [customer(1001, "Sally", "Thomas", "sally.t@example.com"),
                  customer(1003, "Edward", "Walker", "ed@example.com"),
                  customer(1004, "Anne", "Kretchmar", "annek@example.com")]


def _add_columns(customers, orders) -> None:
    """ALTER TABLE ... ADD COLUMN: later events carry the new column."""
    orders.event("u", order(3, 1001, "120.50", "new"), dict(order(3, 1001, "120.50", "packed"), note="gift"), 500, 5000)
    customers.event("u", customer(1004, "Anne", "Kretchmar", "annek@example.com"),
                    dict(customer(1004, "Anne", "Kretchmar", "annek@example.com"), phone="555-0100"), 510, 5100)
    orders.send()
    customers.send()


def test_a_new_source_column_evolves_the_target_or_fails_per_config(inventory, kafka_bootstrap, tmp_path):
    prefix, customers, orders = inventory
    snapshot_and_changes(customers, orders)
    tables = "tables:\n  public.customers:\n    schema_evolution: fail\n"
    config = write_config(tmp_path, kafka_bootstrap, prefix, tables=tables)
    execute_pipeline(plan_replication(load_replication(str(config))).pipeline, engine="polars")
    _add_columns(customers, orders)
    pipeline = plan_replication(load_replication(str(config))).pipeline
    with pytest.raises(KappaError) as info:
        execute_pipeline(pipeline, engine="polars")
    assert str(info.value) == (
        f"CDC changes for {tmp_path}/mirror/public/customers carry new column(s) ['phone'] not in "
        "the target, and schema_evolution is 'fail'")
    summary = execute_pipeline(pipeline, select=[f"{prefix}_public_orders"], engine="polars")
    assert summary.nodes[0].batches == 1
    assert read_table(tmp_path / "mirror" / "public" / "orders", ["id"]) == [
        dict(order(1, 1001, "19.99", "shipped"), note=None), dict(order(3, 1001, "120.50", "packed"), note="gift"),
        dict(order(4, 1004, "7.25", "new"), note=None)]
    assert read_table(tmp_path / "mirror" / "public" / "customers", ["id"]) == CUSTOMERS_SCD1


def test_a_new_source_column_evolves_an_scd2_target(inventory, kafka_bootstrap, tmp_path):
    prefix, customers, orders = inventory
    snapshot_and_changes(customers, orders)
    config = write_config(tmp_path, kafka_bootstrap, prefix)
    execute_pipeline(plan_replication(load_replication(str(config))).pipeline, engine="polars")
    _add_columns(customers, orders)
    execute_pipeline(plan_replication(load_replication(str(config))).pipeline, engine="polars")
    rows = read_table(tmp_path / "mirror" / "public" / "customers", ["id", "__START_AT"])
    assert [r.get("phone") for r in rows] == [None, None, None, None, None, "555-0100"]


def test_disabled_tables_and_per_table_paths(inventory, kafka_bootstrap, tmp_path):
    prefix, customers, orders = inventory
    snapshot_and_changes(customers, orders)
    tables = (f"tables:\n  {prefix}.public.customers:\n    enabled: false\n"
              f"  orders:\n    path: {tmp_path}/custom/{{db}}_{{table}}\n    sequence_by: _seq_lsn\n"
              "  nowhere:\n    scd_type: 2\n")
    config = write_config(tmp_path, kafka_bootstrap, prefix, tables=tables)
    rplan = plan_replication(load_replication(str(config)))
    assert rplan.skipped == {f"{prefix}.public.customers": "disabled in `tables`"}
    assert rplan.unmatched_entries == ["nowhere"]
    assert [(t.topic, t.path, t.merge.sequence_by) for t in rplan.tables] == [
        (orders.topic, f"{tmp_path}/custom/inventory_orders", "_seq_lsn")]
    execute_pipeline(rplan.pipeline, engine="polars")
    assert read_table(tmp_path / "custom" / "inventory_orders", ["id"]) == ORDERS_ROUND_1


def test_an_empty_topic_waits_for_data_unless_keys_are_configured(inventory, kafka_bootstrap, tmp_path):
    prefix, customers, orders = inventory
    orders.event("r", None, order(1, 1001, "19.99", "new"), 100, 1000).send()
    config = write_config(tmp_path, kafka_bootstrap, prefix, tables="")
    rplan = plan_replication(load_replication(str(config)))
    assert rplan.skipped == {customers.topic: (
        "no decodable Debezium record yet to learn keys and sequence from; set `keys` and "
        "`sequence_by` to replicate it before data arrives")}
    tables = "tables:\n  customers:\n    keys: [id]\n    sequence_by: [_seq_lsn, _seq_ts_ms, _seq_offset]\n"
    config = write_config(tmp_path, kafka_bootstrap, prefix, tables=tables)
    rplan = plan_replication(load_replication(str(config)))
    assert [t.topic for t in rplan.tables] == [customers.topic, orders.topic]
    merge = rplan.tables[0].merge
    assert (merge.keys, merge.except_column_list) == (["id"], ["_op", "_seq_lsn", "_seq_file", "_seq_pos", "_seq_ts_ms", "_seq_offset"])


def test_cli_status_and_validate_resolve(inventory, kafka_bootstrap, tmp_path):
    prefix, customers, orders = inventory
    snapshot_and_changes(customers, orders)
    config = write_config(tmp_path, kafka_bootstrap, prefix)
    replay(config)
    customers.event("c", None, customer(1005, "Ann", "Lee", "al@example.com"), 600, 6000).send()
    result = CliRunner().invoke(app, ["cdc", "status", str(config)])
    assert result.exit_code == 0, result.output
    lines = result.output.replace(str(tmp_path), "T").replace(prefix, "P").splitlines()
    assert lines[:9] == [
        "replication inv",
        "P.public.customers -> T/mirror/public/customers",
        "node P_public_customers  (source: kafka)",
        "  checkpoint: T/checkpoints/inv/P_public_customers/spark",
        "  not started: no checkpoint",
        "  end offsets: P.public.customers[0]=8",
        "  lag: 8 (P.public.customers[0]=8)",
        "  replay (Polars) last batch: 0, offsets P.public.customers[0]=7",
        "  replay lag: 1",
    ]
    assert lines[-1] == "  replay lag: 0"
    result = CliRunner().invoke(app, ["cdc", "validate", "--resolve", str(config)])
    assert result.exit_code == 0, result.output
    assert result.output.replace(str(tmp_path), "T").replace(prefix, "P").splitlines()[1:] == [
        "replication inv: 2 table(s)",
        "  P.public.customers -> T/mirror/public/customers  [node P_public_customers, SCD2, keys id, "
        "sequence _seq_lsn, _seq_ts_ms, _seq_offset]",
        "  P.public.orders -> T/mirror/public/orders  [node P_public_orders, SCD1, keys id, "
        "sequence _seq_lsn, _seq_ts_ms, _seq_offset]",
    ]


def test_a_listed_topic_that_does_not_exist_yet_is_skipped(inventory, kafka_bootstrap, tmp_path):
    prefix, customers, orders = inventory
    snapshot_and_changes(customers, orders)
    config = tmp_path / "list.yaml"
    config.write_text(
        "kind: cdc_replication\nname: inv\nsource:\n"
        f"  bootstrap_servers: {kafka_bootstrap}\n  topics: [{orders.topic}, {prefix}.public.missing]\n"
        f"target:\n  path: {tmp_path}/mirror/{{table}}\ncheckpoint_root: {tmp_path}/ck\n")
    rplan = plan_replication(load_replication(str(config)))
    assert rplan.skipped == {f"{prefix}.public.missing": f"topic '{prefix}.public.missing' does not exist on {kafka_bootstrap}"}
    execute_pipeline(rplan.pipeline, engine="polars")
    assert read_table(tmp_path / "mirror" / "orders", ["id"]) == ORDERS_ROUND_1
