"""Realistic Debezium Postgres records on a real broker (the CDC replication tests' data).

Two tables (``customers``, ``orders``) of a Postgres database ``inventory`` on two topics
``<prefix>.public.customers`` / ``<prefix>.public.orders`` (a fresh prefix per test). Records
are what Debezium's Postgres connector with the JSON converter writes: snapshot ``r``, then
``c``/``u``/``d`` each with its own LSN, a tombstone (null value) after each delete; the
customers topic with the ``{"schema", "payload"}`` wrapper, the orders topic without.
The ``inventory`` fixture is registered for the whole suite by tests/conftest.py;
:func:`write_config` builds the replication config of its topics.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

CUSTOMER_FIELDS = [("id", "int32"), ("first_name", "string"), ("last_name", "string"), ("email", "string")]


def _schema(name: str, fields: list[tuple[str, str]]) -> dict:
    return {"type": "struct", "optional": True, "name": name,
            "fields": [{"type": t, "optional": f != "id", "field": f} for f, t in fields]}


def pg_source(table: str, lsn: int, ts_ms: int, snapshot: bool) -> dict:
    return {"version": "3.0.8.Final", "connector": "postgresql", "name": "inventory",
            "ts_ms": ts_ms - 5, "snapshot": "true" if snapshot else "false", "db": "inventory",
            "sequence": json.dumps([None, str(lsn)]), "schema": "public", "table": table,
            "txId": 700 + lsn // 10, "lsn": lsn, "xmin": None}


class DebeziumTopic:
    """Builds and produces one table's Debezium records."""

    def __init__(self, bootstrap: str, topic: str, table: str, with_schema: bool, fields=None):
        self.bootstrap, self.topic, self.table = bootstrap, topic, table
        self.with_schema, self.fields = with_schema, fields or CUSTOMER_FIELDS
        self.pending: list[tuple[bytes | None, bytes | None]] = []

    def _wrap(self, doc: dict, schema: dict) -> bytes:
        return json.dumps({"schema": schema, "payload": doc} if self.with_schema else doc).encode()

    def key(self, row_id: int) -> bytes:
        return self._wrap({"id": row_id}, _schema(f"{self.topic}.Key", [("id", "int32")]))

    def event(self, op: str, before: dict | None, after: dict | None, lsn: int, ts_ms: int) -> "DebeziumTopic":
        row = after if after is not None else before
        payload = {"before": before, "after": after, "op": op, "ts_ms": ts_ms, "transaction": None,
                   "source": pg_source(self.table, lsn, ts_ms, op == "r")}
        value_schema = {"type": "struct", "name": f"{self.topic}.Envelope", "optional": False, "fields": [
            dict(_schema(f"{self.topic}.Value", self.fields), field="before"),
            dict(_schema(f"{self.topic}.Value", self.fields), field="after"),
            {"type": "struct", "fields": [], "optional": False, "field": "source"},
            {"type": "string", "optional": False, "field": "op"},
            {"type": "int64", "optional": True, "field": "ts_ms"}]}
        self.pending.append((self.key(row["id"]), self._wrap(payload, value_schema)))
        if op == "d":
            self.pending.append((self.key(row["id"]), None))  # tombstone
        return self

    def raw(self, key: bytes | None, value: bytes | None) -> "DebeziumTopic":
        self.pending.append((key, value))
        return self

    def send(self) -> int:
        """Produce the pending records in order (one partition); returns how many."""
        from confluent_kafka import Producer

        from kappa.testing.kafka import conf_for

        producer = Producer({**conf_for(self.bootstrap), "enable.idempotence": True, "acks": "all"})
        for key, value in self.pending:
            producer.produce(self.topic, key=key, value=value)
        assert producer.flush(30) == 0
        n, self.pending = len(self.pending), []
        return n


@pytest.fixture
def inventory(kafka_bootstrap):
    """``(prefix, customers, orders)``: two fresh Debezium topics of one Postgres database."""
    from kappa.kafka.writer import create_topic
    from kappa.testing.kafka import conf_for

    prefix = f"inv{uuid.uuid4().hex[:10]}"
    customers = DebeziumTopic(kafka_bootstrap, f"{prefix}.public.customers", "customers", True)
    orders = DebeziumTopic(kafka_bootstrap, f"{prefix}.public.orders", "orders", False,
                           [("id", "int32"), ("customer_id", "int32"), ("amount", "string"), ("status", "string")])
    for t in (customers, orders):
        create_topic(conf_for(kafka_bootstrap), t.topic, 1)
    return prefix, customers, orders


def customer(i: int, first: str, last: str, email: str) -> dict:
    return {"id": i, "first_name": first, "last_name": last, "email": email}


def order(i: int, cust: int, amount: str, status: str) -> dict:
    return {"id": i, "customer_id": cust, "amount": amount, "status": status}


def snapshot_and_changes(customers: DebeziumTopic, orders: DebeziumTopic) -> None:
    """The first round: a snapshot of both tables (LSN 100), then live changes."""
    sally, george = customer(1001, "Sally", "Thomas", "sally@example.com"), customer(1002, "George", "Bailey", "gb@example.com")
    edward = customer(1003, "Edward", "Walker", "ed@example.com")
    for i, c in enumerate((sally, george, edward)):
        customers.event("r", None, c, 100, 1000 + i)
    for i, o in enumerate((order(1, 1001, "19.99", "new"), order(2, 1002, "5.00", "new"), order(3, 1001, "120.50", "new"))):
        orders.event("r", None, o, 100, 1000 + i)
    customers.event("u", sally, dict(sally, email="sally.t@example.com"), 200, 2000)
    orders.event("u", order(1, 1001, "19.99", "new"), order(1, 1001, "19.99", "shipped"), 210, 2100)
    customers.event("c", None, customer(1004, "Anne", "Kretchmar", "annek@example.com"), 220, 2200)
    orders.event("c", None, order(4, 1004, "7.25", "new"), 230, 2300)
    customers.event("d", george, None, 240, 2400)
    orders.event("d", order(2, 1002, "5.00", "new"), None, 250, 2500)
    customers.send()
    orders.send()


def seq(lsn: int, ts: int, offset: int) -> dict:
    """A mirror row's sequence struct (``__START_AT`` / ``__END_AT`` of an SCD2 table)."""
    return {"_seq_lsn": lsn, "_seq_ts_ms": ts, "_seq_offset": offset}


#: The mirror tables after :func:`snapshot_and_changes` (customers SCD2, orders SCD1), sorted
#: like ``read_table(customers, ["id", "__START_AT"])`` / ``read_table(orders, ["id"])``.
CUSTOMERS_ROUND_1 = [
    dict(customer(1001, "Sally", "Thomas", "sally@example.com"), __START_AT=seq(100, 1000, 0), __END_AT=seq(200, 2000, 3)),
    dict(customer(1001, "Sally", "Thomas", "sally.t@example.com"), __START_AT=seq(200, 2000, 3), __END_AT=None),
    dict(customer(1002, "George", "Bailey", "gb@example.com"), __START_AT=seq(100, 1001, 1), __END_AT=seq(240, 2400, 5)),
    dict(customer(1003, "Edward", "Walker", "ed@example.com"), __START_AT=seq(100, 1002, 2), __END_AT=None),
    dict(customer(1004, "Anne", "Kretchmar", "annek@example.com"), __START_AT=seq(220, 2200, 4), __END_AT=None),
]
ORDERS_ROUND_1 = [order(1, 1001, "19.99", "shipped"), order(3, 1001, "120.50", "new"), order(4, 1004, "7.25", "new")]


def write_config(tmp_path: Path, bootstrap: str, prefix: str, extra: str = "", tables: str | None = None) -> Path:
    """A replication YAML for the ``inventory`` fixture's topics, mirror tables under tmp_path."""
    tables = tables if tables is not None else (
        "tables:\n  public.customers:\n    scd_type: 2\n  orders:\n    scd_type: 1\n")
    text = (
        "kind: cdc_replication\n"
        "name: inv\n"
        "source:\n"
        f"  bootstrap_servers: {bootstrap}\n"
        f"  topic_pattern: {prefix}\\.public\\..*\n"
        "target:\n"
        f"  path: {tmp_path}/mirror/{{schema}}/{{table}}\n"
        f"dead_letter_path: {tmp_path}/mirror/_dead_letters\n"
        f"checkpoint_root: {tmp_path}/checkpoints\n"
        f"{tables}{extra}"
    )
    path = tmp_path / "replication.yaml"
    path.write_text(text)
    return path


def read_table(path: str | Path, sort: list[str] | None = None) -> list[dict]:
    """A Delta table's rows as dicts, sorted."""
    import polars as pl
    from deltalake import DeltaTable

    frame = pl.from_arrow(DeltaTable(str(path)).to_pyarrow_table())
    return frame.sort(sort or [frame.columns[0]]).to_dicts()
