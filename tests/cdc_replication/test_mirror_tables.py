"""A replication gives the same exact mirror tables on every engine (Polars replay, Spark
trigger-once, and ``kappa cdc start`` streaming on Spark): one expected table per round,
spelled out (the replay test's round 1, tests/cdc_replication/test_replay.py); ``kappa cdc start
--until-idle`` (Spark only) streams the same round-1 tables."""

from __future__ import annotations

import pytest

from kappa.replication.compiler import plan_replication
from kappa.replication.load import load_replication
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

pytestmark = pytest.mark.kafka


def _mirror(tmp_path, name: str) -> dict[str, list[dict]]:
    root = tmp_path / name / "mirror" / "public"
    return {"customers": read_table(root / "customers", ["id", "__START_AT"]),
            "orders": read_table(root / "orders", ["id"])}


def test_mirror_tables_are_exact_on_each_engine(engine, inventory, kafka_bootstrap, tmp_path):
    prefix, customers, orders = inventory
    snapshot_and_changes(customers, orders)
    (tmp_path / engine.name).mkdir()
    config = write_config(tmp_path / engine.name, kafka_bootstrap, prefix)

    def run() -> None:
        summary = engine.run(plan_replication(load_replication(str(config))).pipeline)
        assert summary.ok

    run()
    first = _mirror(tmp_path, engine.name)
    assert first == {"customers": CUSTOMERS_ROUND_1, "orders": ORDERS_ROUND_1}
    assert len(first["customers"]) == 5 and len(first["orders"]) == 3

    customers.event("u", customer(1003, "Edward", "Walker", "ed@example.com"),
                    customer(1003, "Edward", "Walker", "edward@example.com"), 300, 3000)
    orders.event("c", None, order(2, 1002, "5.00", "new"), 340, 3400)
    customers.send()
    orders.send()
    run()
    second = _mirror(tmp_path, engine.name)
    expected_c = [dict(r) for r in CUSTOMERS_ROUND_1]
    expected_c[3]["__END_AT"] = seq(300, 3000, 7)  # Edward's first version closed by the update
    expected_c.insert(4, dict(customer(1003, "Edward", "Walker", "edward@example.com"),
                              __START_AT=seq(300, 3000, 7), __END_AT=None))
    assert second == {"customers": expected_c, "orders": sorted([*ORDERS_ROUND_1, order(2, 1002, "5.00", "new")],
                                                                key=lambda o: o["id"])}
    assert len(second["customers"]) == 6 and [o["id"] for o in second["orders"]] == [1, 2, 3, 4]


@pytest.mark.spark
def test_cdc_start_until_idle_streams_the_mirror_tables(inventory, kafka_bootstrap, tmp_path, spark):
    from typer.testing import CliRunner

    from kappa.cli.app import app

    prefix, customers, orders = inventory
    snapshot_and_changes(customers, orders)
    (tmp_path / "spark").mkdir()
    write_config(tmp_path / "spark", kafka_bootstrap, prefix)
    result = CliRunner().invoke(app, ["cdc", "start", str(tmp_path / "spark" / "replication.yaml"),
                                      "--until-idle", "--profile", "python", "--refresh", "0.5"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "stopped: " in result.output
    assert _mirror(tmp_path, "spark") == {"customers": CUSTOMERS_ROUND_1, "orders": ORDERS_ROUND_1}
