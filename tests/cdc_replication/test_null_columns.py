"""Debezium batches that used to corrupt or wedge mirror tables, on both engines.

- a batch holding only a tombstone (its delete came in the batch before) is a no-op, and the
  node goes on with later records;
- a value column null in every record of a batch is a null value, not a missing column
  (SCD1 sets it to null; SCD2 keeps every version);
- a delete alone in a batch whose before-image has nulls (Postgres's default replica identity)
  closes the current version;
- a column null in every record of the first batch: with Debezium's schema wrapper it exists
  in the target from the start with its declared type; without one it is added (with the type
  of its first value) by the first batch that has a value -- every row before has it null --
  and a ``track_history_except_column_list`` naming it works either way.

Each scenario runs ``kappa cdc`` replication on the Polars replay and on Spark (python
profile, trigger-once), batch by batch, and asserts the exact mirror tables.
"""

from __future__ import annotations

import pytest
from tests.helpers.debezium import customer, order, read_table, write_config

from kappa.replication.compiler import plan_replication
from kappa.replication.load import load_replication

pytestmark = pytest.mark.kafka


def seq(lsn: int, ts: int, offset: int) -> dict:
    return {"_seq_lsn": lsn, "_seq_ts_ms": ts, "_seq_offset": offset}


def _run(engine, config) -> None:
    summary = engine.run(plan_replication(load_replication(str(config))).pipeline)
    assert summary.ok, summary.render()


def _send_without_tombstone(topic) -> None:
    """Send the pending records, leaving out the tombstone that ``event('d', ...)`` queued."""
    assert topic.pending[-1][1] is None
    tombstone = topic.pending.pop()
    topic.send()
    topic.pending.append(tombstone)


def test_tombstone_only_batch_does_not_wedge_the_node(engine, inventory, kafka_bootstrap, tmp_path):
    prefix, _customers, orders = inventory
    config = write_config(tmp_path, kafka_bootstrap, prefix, tables="tables:\n  orders:\n    scd_type: 1\n"
                          "  customers:\n    enabled: false\n")
    orders.event("c", None, order(2, 1002, "5.00", "new"), 3900, 3900)
    orders.event("d", order(2, 1002, "5.00", "new"), None, 3970, 3970)
    _send_without_tombstone(orders)
    _run(engine, config)
    orders.send()  # batch 1: the tombstone alone
    _run(engine, config)
    orders.event("c", None, order(3, 1003, "9.00", "new"), 4000, 4000).send()
    _run(engine, config)
    assert read_table(tmp_path / "mirror" / "public" / "orders", ["id"]) == [order(3, 1003, "9.00", "new")]


def test_a_column_null_throughout_a_batch_is_a_null_value(engine, inventory, kafka_bootstrap, tmp_path):
    prefix, customers, orders = inventory
    config = write_config(tmp_path, kafka_bootstrap, prefix)  # customers SCD2, orders SCD1
    ann2, ann3 = customer(1, "Ann", "Lee", "a2@x"), customer(1, "Ann", "Lee", "a3@x")
    cy = customer(1, "Cy", "Lee", None)
    bob = customer(2, "Bob", "Ray", "b@x")
    customers.event("c", None, ann2, 100, 100).event("u", ann2, ann3, 110, 110)
    customers.event("r", None, customer(2, "Bo", "Ray", "b0@x"), 105, 105).event("u", None, bob, 115, 115)
    orders.event("c", None, order(7, 1, "5.00", "new"), 100, 100)
    customers.send()
    orders.send()
    _run(engine, config)
    # next batches: every record has email / status null; a delete whose before-image is null
    customers.event("u", None, cy, 120, 120)  # replica identity default: no before-image
    customers.event("d", {"id": 2, "first_name": None, "last_name": None, "email": None}, None, 125, 125)
    _send_without_tombstone(customers)
    orders.event("u", None, order(7, 1, "5.00", None), 110, 110).send()
    _run(engine, config)
    mirror = tmp_path / "mirror" / "public"
    assert read_table(mirror / "orders", ["id"]) == [order(7, 1, "5.00", None)]
    assert read_table(mirror / "customers", ["id", "__START_AT"]) == [
        dict(ann2, __START_AT=seq(100, 100, 0), __END_AT=seq(110, 110, 1)),
        dict(ann3, __START_AT=seq(110, 110, 1), __END_AT=seq(120, 120, 4)),
        dict(cy, __START_AT=seq(120, 120, 4), __END_AT=None),
        dict(customer(2, "Bo", "Ray", "b0@x"), __START_AT=seq(105, 105, 2), __END_AT=seq(115, 115, 3)),
        dict(bob, __START_AT=seq(115, 115, 3), __END_AT=seq(125, 125, 5)),
    ]


def test_a_column_null_in_the_first_batch_exists_in_the_target(engine, inventory, kafka_bootstrap, tmp_path):
    prefix, customers, orders = inventory
    tables = ("tables:\n  customers:\n    scd_type: 2\n    track_history_except_column_list: [email]\n"
              "  orders:\n    scd_type: 1\n")
    config = write_config(tmp_path, kafka_bootstrap, prefix, tables=tables)
    customers.event("c", None, customer(1, "Ann", "Lee", None), 100, 100).send()
    orders.event("c", None, {"id": 5, "customer_id": None, "amount": "1.00", "status": "new"}, 100, 100).send()
    _run(engine, config)
    mirror = tmp_path / "mirror" / "public"
    # orders has no schema wrapper: customer_id has no type yet, so it is not in the table yet
    assert read_table(mirror / "orders", ["id"]) == [{"id": 5, "amount": "1.00", "status": "new"}]
    # customers declares its types: email is a string column from the first batch on
    assert read_table(mirror / "customers", ["id"]) == [
        dict(customer(1, "Ann", "Lee", None), __START_AT=seq(100, 100, 0), __END_AT=None)]
    customers.event("u", customer(1, "Ann", "Lee", None), customer(1, "Ann", "Lee", "ann@x"), 110, 110).send()
    orders.event("c", None, order(6, 1001, "2.00", "new"), 110, 110).send()
    _run(engine, config)
    assert read_table(mirror / "orders", ["id"]) == [
        {"id": 5, "amount": "1.00", "status": "new", "customer_id": None},
        {"id": 6, "amount": "2.00", "status": "new", "customer_id": 1001},
    ]
    # email is excluded from history tracking: its change updates the current version in place
    assert read_table(mirror / "customers", ["id", "__START_AT"]) == [
        dict(customer(1, "Ann", "Lee", "ann@x"), __START_AT=seq(100, 100, 0), __END_AT=None),
    ]
