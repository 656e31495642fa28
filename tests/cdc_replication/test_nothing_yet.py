"""A replication whose only topic has no decodable record yet skips it instead of failing."""

from __future__ import annotations

import pytest
from tests.helpers.debezium import order, read_table, write_config
from typer.testing import CliRunner

from kappa.cli.app import app

pytestmark = pytest.mark.kafka


def test_only_topic_without_a_decodable_record_is_skipped_then_replicated(inventory, kafka_bootstrap, tmp_path):
    prefix, _customers, orders = inventory
    config = write_config(tmp_path, kafka_bootstrap, prefix,
                          tables="tables:\n  customers:\n    enabled: false\n")
    orders.raw(b'{"id": 1}', b"{not json").send()  # a dead letter only: nothing to learn keys from
    result = CliRunner().invoke(app, ["cdc", "replay", str(config)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["replication inv: nothing to replicate yet (every topic skipped)"]
    assert f"skipped {orders.topic}: no decodable Debezium record yet" in result.stderr
    result = CliRunner().invoke(app, ["cdc", "status", str(config)])
    assert result.exit_code == 0, result.output
    assert f"{orders.topic}: skipped (no decodable Debezium record yet" in result.output

    orders.event("r", None, order(1, 1001, "19.99", "new"), 100, 1000).send()
    result = CliRunner().invoke(app, ["cdc", "replay", str(config)])
    assert result.exit_code == 0, result.output
    assert read_table(tmp_path / "mirror" / "public" / "orders", ["id"]) == [order(1, 1001, "19.99", "new")]
