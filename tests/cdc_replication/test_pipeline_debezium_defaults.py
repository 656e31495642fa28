"""Pipeline merge sinks on a ``value_format: debezium`` source get the replication defaults.

``merge: {}`` / ``merge: {stored_as_scd_type: 2}`` on a Debezium node without transformer steps
must give exactly the mirror tables of the equivalent replication config, on both engines; an
empty topic skips the node with the reason until data arrives; elsewhere a merge without keys is
a located config error (``kappa validate`` exits 2).
"""

from __future__ import annotations

import pytest
from tests.helpers.debezium import customer, order, read_table, snapshot_and_changes, write_config

from kappa.replication.compiler import plan_replication
from kappa.replication.load import load_replication
from kappa.api import Pipeline
from kappa.plan import build_plan
from kappa.connectors.cdc_merge import merge_options

pytestmark = pytest.mark.kafka

SKIP_REASON = ("no decodable Debezium record yet to learn keys and sequence from; set keys and "
               "sequence_by to run before data arrives")


def pipeline_yaml(tmp_path, bootstrap: str, prefix: str, name: str = "invp") -> Pipeline:
    def node(table: str, merge: str) -> str:
        return (f"- name: {table}\n"
                f"  source:\n"
                f"    bootstrap_servers: {bootstrap}\n"
                f"    topic: {prefix}.public.{table}\n"
                f"    value_format: debezium\n"
                f"    starting_offsets: earliest\n"
                f"    as_stream: true\n"
                f"  sinks:\n"
                f"  - path: {tmp_path}/pmirror/{table}\n"
                f"    merge: {merge}\n")

    text = (f"name: {name}\ncheckpoint_root: {tmp_path}/pcheckpoints\nnodes:\n"
            + node("customers", "{stored_as_scd_type: 2}") + node("orders", "{}"))
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return Pipeline.model_validate_yaml(path.read_text(), path=str(path))


def run(engine, pipeline):
    summary = engine.run(pipeline)
    assert summary.ok
    return summary


def mirrors(tmp_path) -> tuple[dict, dict]:
    def tables(customers, orders) -> dict:
        return {"customers": read_table(customers, ["id", "__START_AT"]), "orders": read_table(orders, ["id"])}

    repl = tables(tmp_path / "mirror" / "public" / "customers", tmp_path / "mirror" / "public" / "orders")
    pipe = tables(tmp_path / "pmirror" / "customers", tmp_path / "pmirror" / "orders")
    return pipe, repl


def test_merge_sinks_without_options_mirror_like_a_replication_config(engine, inventory, kafka_bootstrap, tmp_path):
    prefix, customers, orders = inventory
    snapshot_and_changes(customers, orders)
    pipeline = pipeline_yaml(tmp_path, kafka_bootstrap, prefix)
    config = write_config(tmp_path, kafka_bootstrap, prefix)  # customers SCD2, orders SCD1

    # the plan carries the resolved options: exactly the replication config's
    rplan = plan_replication(load_replication(str(config)))
    plan = build_plan(pipeline)
    by_table = {t.topic.rsplit(".", 1)[1]: t.merge for t in rplan.tables}
    for table in ("customers", "orders"):
        assert plan.node(table).skipped is None
        assert plan.node(table).sinks[0].merge == merge_options(by_table[table])
    assert by_table["orders"].keys == ["id"]
    assert by_table["orders"].sequence_by == ["_seq_lsn", "_seq_ts_ms", "_seq_offset"]
    assert by_table["orders"].apply_as_deletes == "_op = 'delete'"
    assert by_table["orders"].except_column_list == ["_op", "_seq_lsn", "_seq_ts_ms", "_seq_offset"]
    assert by_table["customers"].stored_as_scd_type == 2

    run(engine, pipeline)
    run(engine, rplan.pipeline)
    pipe, repl = mirrors(tmp_path)
    assert pipe == repl
    assert len(pipe["customers"]) == 5 and [o["id"] for o in pipe["orders"]] == [1, 3, 4]
    assert "_op" not in pipe["orders"][0] and "_seq_lsn" not in pipe["orders"][0]

    # a second round, incrementally: still row for row the same
    customers.event("u", customer(1003, "Edward", "Walker", "ed@example.com"),
                    customer(1003, "Edward", "Walker", "edward@example.com"), 300, 3000)
    orders.event("d", order(4, 1004, "7.25", "new"), None, 330, 3300)
    orders.event("c", None, order(2, 1002, "5.00", "new"), 340, 3400)
    customers.send()
    orders.send()
    run(engine, pipeline_yaml(tmp_path, kafka_bootstrap, prefix))
    run(engine, plan_replication(load_replication(str(config))).pipeline)
    pipe, repl = mirrors(tmp_path)
    assert pipe == repl
    assert len(pipe["customers"]) == 6 and [o["id"] for o in pipe["orders"]] == [1, 2, 3]


def test_empty_topic_skips_the_node_with_the_reason_then_data_is_merged(engine, inventory, kafka_bootstrap, tmp_path):
    prefix, customers, orders = inventory
    customers.raw(customers.key(7), None).send()  # only a tombstone: nothing decodable yet
    pipeline = pipeline_yaml(tmp_path, kafka_bootstrap, prefix)
    plan = build_plan(pipeline)
    assert plan.node("customers").skipped == SKIP_REASON
    assert plan.node("orders").skipped == SKIP_REASON  # empty topic
    summary = run(engine, pipeline)
    assert [(n.node, n.batches, n.skipped) for n in summary.nodes] == [
        ("customers", 0, SKIP_REASON), ("orders", 0, SKIP_REASON)]
    assert not (tmp_path / "pmirror").exists()
    assert SKIP_REASON in summary.render()

    orders.event("r", None, order(1, 1001, "19.99", "new"), 100, 1000)
    orders.event("u", order(1, 1001, "19.99", "new"), order(1, 1001, "19.99", "shipped"), 110, 1100)
    orders.event("c", None, order(2, 1002, "5.00", "new"), 120, 1200)
    orders.event("d", order(2, 1002, "5.00", "new"), None, 130, 1300)
    orders.send()
    summary = run(engine, pipeline_yaml(tmp_path, kafka_bootstrap, prefix))
    assert [(n.node, n.skipped) for n in summary.nodes] == [("customers", SKIP_REASON), ("orders", None)]
    assert summary.node("orders").batches == 1
    assert read_table(tmp_path / "pmirror" / "orders", ["id"]) == [order(1, 1001, "19.99", "shipped")]


def test_keys_and_sequence_given_run_before_any_record(inventory, kafka_bootstrap, tmp_path):
    prefix, _customers, _orders = inventory
    pipeline = pipeline_yaml(tmp_path, kafka_bootstrap, prefix)
    text = (tmp_path / "pipeline.yaml").read_text().replace(
        "merge: {}", "merge: {keys: [id], sequence_by: [_seq_lsn, _seq_ts_ms, _seq_offset]}")
    pipeline = Pipeline.model_validate_yaml(text)
    merge = build_plan(pipeline).node("orders").sinks[0].merge
    assert (merge.keys, merge.sequence_by, merge.apply_as_deletes, merge.apply_as_truncates) == (
        ["id"], ["_seq_lsn", "_seq_ts_ms", "_seq_offset"], "_op = 'delete'", "_op = 'truncate'")
    assert merge.except_column_list == ["_op", "_seq_lsn", "_seq_file", "_seq_pos", "_seq_ts_ms", "_seq_offset"]
    assert build_plan(pipeline).node("orders").skipped is None


def test_merge_without_keys_on_another_source_is_a_located_config_error(tmp_path, capsys):
    from kappa.cli import main

    path = tmp_path / "p.yaml"
    path.write_text("name: p\nnodes:\n- name: slv\n  source: {path: ./in/, format: JSONL}\n"
                    "  sinks:\n  - path: ./t\n    merge: {keys: [id]}\n")
    with pytest.raises(SystemExit) as exc:
        main(["validate", str(path)])
    assert exc.value.code == 2
    assert capsys.readouterr().err == (
        f"{path}:7: nodes[0].sinks[0].merge: sequence_by is required unless the node's source is "
        "value_format: debezium\n")


@pytest.mark.spark
def test_stream_start_merges_with_the_defaults_and_reports_the_skipped_node(inventory, kafka_bootstrap, tmp_path, spark):
    from typer.testing import CliRunner

    from kappa.cli.app import app

    prefix, _customers, orders = inventory
    orders.event("r", None, order(1, 1001, "19.99", "new"), 100, 1000)
    orders.event("d", order(1, 1001, "19.99", "new"), None, 110, 1100)
    orders.event("c", None, order(2, 1002, "5.00", "new"), 120, 1200)
    orders.send()
    pipeline_yaml(tmp_path, kafka_bootstrap, prefix)
    result = CliRunner().invoke(app, ["stream", "start", str(tmp_path / "pipeline.yaml"), "--until-idle",
                                      "--profile", "python", "--refresh", "0.5"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    line = next(x for x in result.output.splitlines() if x.startswith("customers "))
    assert line.endswith(SKIP_REASON)
    assert read_table(tmp_path / "pmirror" / "orders", ["id"]) == [order(2, 1002, "5.00", "new")]


def test_explain_shows_the_resolved_merge(inventory, kafka_bootstrap, tmp_path):
    from typer.testing import CliRunner

    from kappa.cli.app import app

    prefix, _customers, orders = inventory
    orders.event("c", None, order(2, 1002, "5.00", "new"), 120, 1200).send()
    pipeline_yaml(tmp_path, kafka_bootstrap, prefix)
    result = CliRunner().invoke(app, ["explain", str(tmp_path / "pipeline.yaml"), "--profile", "python",
                                      "--select", "orders"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    merge = next(x for x in result.output.splitlines() if x.strip().startswith("merge: "))
    assert merge.strip() == (
        'merge: {"apply_as_deletes": "_op = \'delete\'", "apply_as_truncates": "_op = \'truncate\'", '
        '"except_column_list": ["_op", "_seq_lsn", "_seq_ts_ms", "_seq_offset"], "keys": ["id"], '
        '"sequence_by": ["_seq_lsn", "_seq_ts_ms", "_seq_offset"]}')


def test_apply_changes_refuses_unresolved_options(tmp_path):
    import pyarrow as pa

    from kappa.cdc.merge import apply_changes
    from kappa.errors import KappaError
    from kappa.models.cdc import CdcMerge

    with pytest.raises(KappaError, match=r"^CDC merge into .*/t: keys and sequence_by are not resolved$"):
        apply_changes(str(tmp_path / "t"), pa.table({"id": [1]}), CdcMerge(stored_as_scd_type=2), app_id="a", version=0)
    assert not (tmp_path / "t").exists()
