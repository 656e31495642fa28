"""End to end on S3 (issue 13's "done when"): the example pipeline (examples/stock_prices) and
the shipped CDC replication (connectors/cdc/inventory-replication-s3.yaml) with every Delta
table on ``s3://`` of a real SeaweedFS bucket, on the Polars replay and on Spark (python
profile); the two engines' tables are identical row for row.

The Polars replay keeps its checkpoints on the bucket too (``POLARS_CHECKPOINTS_ON_S3``);
Spark's stay in a local folder (its own streaming checkpoint needs Hadoop's S3A connector).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kappa.config.loader import load_pipeline_file
from kappa.replication.compiler import plan_replication
from kappa.replication.load import load_replication
from tests.helpers.debezium import CUSTOMERS_ROUND_1, ORDERS_ROUND_1, inventory, snapshot_and_changes  # noqa: F401
from tests.helpers.engines import run_polars, run_spark
from tests.helpers.examples import EXAMPLE, TABLES, expected_silver, sorted_rows, summary_counts, variables
from tests.helpers.tables import row_key

pytestmark = pytest.mark.kafka

#: The one switch: the Polars replay's checkpoint_root on the bucket (``s3://.../checkpoints``)
#: instead of a local folder. Spark's checkpoints stay local either way.
POLARS_CHECKPOINTS_ON_S3 = True

N, SEED = 600, 5
CDC_CONFIG = Path(__file__).resolve().parents[2] / "connectors" / "cdc" / "inventory-replication-s3.yaml"


def s3_rows(uri: str, options: dict, drop: tuple[str, ...] = ()) -> tuple[object, list[dict]]:
    """(Arrow schema, rows in canonical order) of the Delta table at ``uri``."""
    from kappa.delta.read import read_delta

    table = read_delta(uri, storage_options=options)
    table = table.drop_columns([c for c in drop if c in table.column_names])
    return table.schema, sorted(table.to_pylist(), key=row_key)


def example_on_s3(path: Path, endpoint, checkpoint_root: str) -> Path:
    """The example pipeline unchanged but for a pipeline-level ``storage_options`` naming the
    bucket's endpoint and the given ``checkpoint_root`` (its tables follow ``data_root``)."""
    text = (EXAMPLE / "pipeline.yaml").read_text()
    line = "checkpoint_root: ${vars.data_root}/checkpoints\n"
    assert line in text
    options = "".join(f"  {k}: '{v}'\n" for k, v in endpoint.storage_options.items())
    path.write_text(text.replace(line, f"checkpoint_root: {checkpoint_root}\nstorage_options:\n{options}"))
    return path


@pytest.fixture(scope="module")
def polars_example(s3_server, kafka_bootstrap, gen, tmp_path_factory):
    """The example replayed once on Polars with its tables on S3: (topic, endpoint, data_root,
    the run summary), shared by this module's example tests."""
    from kappa.kafka.writer import create_topic
    from kappa.testing.kafka import conf_for, unique_topic

    topic = unique_topic("s3-example")
    create_topic(conf_for(kafka_bootstrap), topic, 2)
    gen.produce_kafka(kafka_bootstrap, topic, N, SEED)
    endpoint, work = s3_server.bucket("example"), tmp_path_factory.mktemp("s3-example")
    ck = endpoint.uri("polars/checkpoints") if POLARS_CHECKPOINTS_ON_S3 else str(work / "ck-polars")
    pipeline = example_on_s3(work / "pipeline-polars.yaml", endpoint, ck)
    root = endpoint.uri("polars")
    summary = run_polars(load_pipeline_file(pipeline, variables=variables(kafka_bootstrap, topic, root)))
    assert summary.ok, summary.render()
    return topic, endpoint, root, summary, work


def test_example_on_s3_polars_replay(polars_example, gen):
    _, endpoint, root, summary, _ = polars_example
    opts, expected = endpoint.storage_options, gen.expected_counts(N, SEED)
    counts = {name: len(s3_rows(f"{root}/{name}", opts)[1]) for name in TABLES}
    assert counts == {"brz_stock_prices": N, "slv_stock_prices": expected.silver,
                      "slv_stock_prices_quarantine": expected.quarantined,
                      "gld_stock_prices_hourly": counts["gld_stock_prices_hourly"],
                      "gld_stock_performances": expected.gold_rows}
    assert counts["gld_stock_prices_hourly"] > 0
    import polars as pl

    from kappa.delta.read import read_delta

    silver = pl.from_arrow(read_delta(f"{root}/slv_stock_prices", storage_options=opts))
    assert sorted_rows(silver).equals(sorted_rows(expected_silver(gen, N, SEED)))
    assert summary.node("brz_stock_prices").output_rows == N


@pytest.mark.spark
# ~45 s idle: five streaming nodes on the shared local Spark
def test_example_on_s3_spark_equals_polars(polars_example, spark, kafka_bootstrap):
    topic, endpoint, p_root, p_summary, work = polars_example
    pipeline = example_on_s3(work / "pipeline-spark.yaml", endpoint, str(work / "ck-spark"))
    s_root = endpoint.uri("spark")
    summary = run_spark(spark, load_pipeline_file(pipeline, variables=variables(kafka_bootstrap, topic, s_root)))
    assert summary.ok, summary.render()
    opts = endpoint.storage_options
    for name in TABLES:
        p_schema, p_rows = s3_rows(f"{p_root}/{name}", opts)
        s_schema, s_rows = s3_rows(f"{s_root}/{name}", opts)
        assert s_schema == p_schema, f"{name}: schemas differ\npolars: {p_schema}\nspark:  {s_schema}"
        assert s_rows == p_rows, f"{name}: rows differ ({len(p_rows)} polars, {len(s_rows)} spark)"
    s_counts, p_counts = summary_counts(summary), summary_counts(p_summary)
    assert {n: c[1:] for n, c in s_counts.items()} == {n: c[1:] for n, c in p_counts.items()}  # batches may differ


def _replicate(run, lake: str, prefix: str, bootstrap: str) -> None:
    config = load_replication(str(CDC_CONFIG), variables={"bootstrap": bootstrap, "prefix": prefix, "lake": lake})
    summary = run(plan_replication(config).pipeline)
    assert summary.ok, summary.render()


def _mirror(lake: str, opts: dict) -> dict[str, list[dict]]:
    import polars as pl

    from kappa.delta.read import read_delta

    def rows(table: str, sort: list[str]) -> list[dict]:
        return pl.from_arrow(read_delta(f"{lake}/public/{table}", storage_options=opts)).sort(sort).to_dicts()

    return {"customers": rows("customers", ["id", "__START_AT"]), "orders": rows("orders", ["id"])}


@pytest.mark.spark
def test_cdc_replication_on_s3_same_mirror_tables_on_both_engines(inventory, kafka_bootstrap, s3_endpoint, spark,  # noqa: F811
                                                                  monkeypatch, tmp_path):
    prefix, customers, orders = inventory
    snapshot_and_changes(customers, orders)
    s3_endpoint.set_env(monkeypatch=monkeypatch)  # the shipped config's ${env.AWS_*} references
    opts = s3_endpoint.storage_options
    polars_ck = s3_endpoint.uri("checkpoints") if POLARS_CHECKPOINTS_ON_S3 else str(tmp_path / "ck-polars")
    monkeypatch.setenv("KAPPA_CHECKPOINT_ROOT", polars_ck)
    _replicate(run_polars, s3_endpoint.uri("polars"), prefix, kafka_bootstrap)
    monkeypatch.setenv("KAPPA_CHECKPOINT_ROOT", str(tmp_path / "ck-spark"))
    _replicate(lambda p: run_spark(spark, p), s3_endpoint.uri("spark"), prefix, kafka_bootstrap)
    polars, spark_ = _mirror(s3_endpoint.uri("polars"), opts), _mirror(s3_endpoint.uri("spark"), opts)
    assert polars == {"customers": CUSTOMERS_ROUND_1, "orders": ORDERS_ROUND_1}
    assert spark_ == polars
    assert (tmp_path / "ck-spark" / "inventory_s3").is_dir()
