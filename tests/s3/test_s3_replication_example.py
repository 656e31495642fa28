"""The shipped ``connectors/cdc/inventory-replication-s3.yaml`` run for real: Debezium topics on
the embedded broker -> SCD2 / SCD1 mirror tables on S3 (a real SeaweedFS server, no mocks),
the endpoint and keys from the environment as the compose stack's ``kappa`` service sets them."""

from __future__ import annotations

from pathlib import Path

import pytest
from deltalake import DeltaTable
from tests.helpers.debezium import CUSTOMERS_ROUND_1, ORDERS_ROUND_1, inventory, snapshot_and_changes  # noqa: F401
from typer.testing import CliRunner

from kappa.cli.app import app

pytestmark = pytest.mark.kafka

CONFIG = Path(__file__).resolve().parents[2] / "connectors" / "cdc" / "inventory-replication-s3.yaml"


def _rows(uri: str, options: dict, sort: list[str]) -> list[dict]:
    import polars as pl

    frame = pl.from_arrow(DeltaTable(uri, storage_options=options).to_pyarrow_table())
    return frame.sort(sort).to_dicts()


def test_the_s3_replication_example_mirrors_onto_s3(inventory, kafka_bootstrap, s3_endpoint, monkeypatch, tmp_path):  # noqa: F811
    prefix, customers, orders = inventory
    snapshot_and_changes(customers, orders)
    s3_endpoint.set_env(monkeypatch=monkeypatch)
    monkeypatch.setenv("KAPPA_CHECKPOINT_ROOT", str(tmp_path / "checkpoints"))
    lake = s3_endpoint.uri("mirror")
    args = ["cdc", "replay", str(CONFIG), "--var", f"bootstrap={kafka_bootstrap}", "--var", f"prefix={prefix}",
            "--var", f"lake={lake}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    options = s3_endpoint.storage_options
    assert _rows(f"{lake}/public/customers", options, ["id", "__START_AT"]) == CUSTOMERS_ROUND_1
    assert _rows(f"{lake}/public/orders", options, ["id"]) == ORDERS_ROUND_1
    assert (tmp_path / "checkpoints" / "inventory_s3").is_dir()  # checkpoints stay local
    assert not (CONFIG.parent / "checkpoints").exists()
    assert "kappa-secret" not in result.output and s3_endpoint.storage_options["AWS_SECRET_ACCESS_KEY"] not in result.output
