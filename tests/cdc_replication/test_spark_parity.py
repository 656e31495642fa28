"""The same replication on Spark (trigger-once) and Polars gives identical mirror tables."""

from __future__ import annotations

import pytest
from repl_util import customer, order, read_table, snapshot_and_changes, write_config

from kappa.cdc.replication import load_replication, plan_replication
from kappa.plan import build_plan
from kappa.runner import execute_pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.spark]


def _mirror(tmp_path, name: str) -> dict[str, list[dict]]:
    root = tmp_path / name / "mirror" / "public"
    return {"customers": read_table(root / "customers", ["id", "__START_AT"]),
            "orders": read_table(root / "orders", ["id"])}


def test_spark_and_polars_mirror_tables_are_identical(inventory, kafka_bootstrap, tmp_path, spark):
    from kappa.engines.spark.engine import SparkEngine

    prefix, customers, orders = inventory
    snapshot_and_changes(customers, orders)
    configs = {}
    for name in ("polars", "spark"):
        (tmp_path / name).mkdir()
        configs[name] = write_config(tmp_path / name, kafka_bootstrap, prefix)

    def run_both() -> None:
        execute_pipeline(plan_replication(load_replication(str(configs["polars"]))).pipeline, engine="polars")
        pipeline = plan_replication(load_replication(str(configs["spark"]))).pipeline
        summary = SparkEngine(spark=spark, profile="python").run(pipeline, build_plan(pipeline))
        assert summary.ok

    run_both()
    first = _mirror(tmp_path, "spark")
    assert first == _mirror(tmp_path, "polars")
    assert len(first["customers"]) == 5 and len(first["orders"]) == 3

    customers.event("u", customer(1003, "Edward", "Walker", "ed@example.com"),
                    customer(1003, "Edward", "Walker", "edward@example.com"), 300, 3000)
    orders.event("c", None, order(2, 1002, "5.00", "new"), 340, 3400)
    customers.send()
    orders.send()
    run_both()
    second = _mirror(tmp_path, "spark")
    assert second == _mirror(tmp_path, "polars")
    assert len(second["customers"]) == 6 and [o["id"] for o in second["orders"]] == [1, 2, 3, 4]


def test_cdc_start_until_idle_streams_the_mirror_tables(inventory, kafka_bootstrap, tmp_path, spark):
    from typer.testing import CliRunner

    from kappa.cli.app import app

    prefix, customers, orders = inventory
    snapshot_and_changes(customers, orders)
    for name in ("polars", "spark"):
        (tmp_path / name).mkdir()
        write_config(tmp_path / name, kafka_bootstrap, prefix)
    execute_pipeline(plan_replication(load_replication(str(tmp_path / "polars" / "replication.yaml"))).pipeline,
                     engine="polars")
    result = CliRunner().invoke(app, ["cdc", "start", str(tmp_path / "spark" / "replication.yaml"),
                                      "--until-idle", "--profile", "python", "--refresh", "0.5"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "stopped: " in result.output
    assert _mirror(tmp_path, "spark") == _mirror(tmp_path, "polars")
