"""The example's Kafka medallion pipeline on a real broker and real Delta tables: exact rows,
exact quarantine, and a second run that reads only the new events."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import polars as pl
import pytest
from deltalake import DeltaTable

from kappa.config.loader import load_pipeline_file
from kappa.delta.read import read_delta
from kappa.runner import execute_pipeline

from tests.helpers.examples import EXAMPLE, expected_silver, sorted_rows

pytestmark = pytest.mark.kafka

SEED = 11
FIRST, MORE = 3000, 2000


def table(root, name) -> pl.DataFrame:
    return pl.from_arrow(read_delta(str(root / name)))


def variables(bootstrap, topic, root) -> dict:
    return {"bootstrap": bootstrap, "topic": topic, "data_root": str(root)}


def gold_oracle(silver: pl.DataFrame) -> pl.DataFrame:
    return silver.group_by("symbol", pl.col("created_at").dt.date().alias("day")).agg(
        pl.len().cast(pl.Int64).alias("events"),
        pl.col("low").min().alias("low"),
        pl.col("high").max().alias("high"),
        pl.col("volume").sum().alias("volume"),
    )


def hourly_oracle(silver: pl.DataFrame) -> pl.DataFrame:
    """The hourly OHLC table after reading ``silver``: every hour whose end the watermark
    (latest created_at - 10 minutes) has passed, per symbol."""
    watermark = silver["created_at"].max() - dt.timedelta(minutes=10)
    hours = silver.with_columns(pl.col("created_at").dt.truncate("1h").alias("hour"))
    return hours.group_by("symbol", "hour").agg(
        pl.col("open").sort_by("created_at").first(),
        pl.col("high").max(),
        pl.col("low").min(),
        pl.col("close").sort_by("created_at").last(),
        pl.col("volume").sum(),
        pl.len().cast(pl.Int64).alias("events"),
    ).filter(pl.col("hour") + dt.timedelta(hours=1) <= watermark)


def assert_gold(root) -> None:
    """The incremental gold tables equal their batch recompute over the whole silver table."""
    silver = table(root, "slv_stock_prices")
    gold = table(root, "gld_stock_performances")
    assert sorted_rows(gold.drop("avg_close")).equals(sorted_rows(gold_oracle(silver).select(gold.drop("avg_close").columns)))
    hourly = table(root, "gld_stock_prices_hourly")
    assert hourly.height > 0
    assert sorted_rows(hourly).equals(sorted_rows(hourly_oracle(silver).select(hourly.columns)))


def test_bronze_silver_gold_exact_and_incremental(gen, kafka_bootstrap, make_topic, tmp_path):
    topic = make_topic(partitions=2)
    gen.produce_kafka(kafka_bootstrap, topic, FIRST, SEED)
    vars_ = variables(kafka_bootstrap, topic, tmp_path)

    s1 = execute_pipeline(load_pipeline_file(EXAMPLE / "pipeline.yaml", variables=vars_), engine="polars")
    c1 = gen.expected_counts(FIRST, SEED)
    assert s1.node("brz_stock_prices").output_rows == FIRST
    slv = s1.node("slv_stock_prices")
    assert (slv.input_rows, slv.output_rows, slv.dropped_rows, slv.quarantined_rows) == (
        c1.silver_input, c1.silver, c1.dropped, c1.quarantined)
    assert slv.failures == {"has_symbol": c1.null_symbols, "positive_prices": c1.negative_prices}

    brz = table(tmp_path, "brz_stock_prices")
    assert brz.height == FIRST
    assert brz.select(pl.struct("partition", "offset").n_unique()).item() == FIRST
    assert set(brz["topic"].unique()) == {topic}
    keyed = brz.filter(pl.col("key").is_not_null())
    assert (keyed["key"] == keyed["data"].struct.field("symbol")).all()
    assert brz["key"].null_count() == c1.null_symbols

    silver = table(tmp_path, "slv_stock_prices")
    assert sorted_rows(silver).equals(sorted_rows(expected_silver(gen, FIRST, SEED)))
    quarantine = table(tmp_path, "slv_stock_prices_quarantine")
    assert quarantine.height == c1.quarantined
    assert quarantine["_kappa_failed"].to_list() == [["positive_prices"]] * c1.quarantined
    assert (quarantine["low"] < 0).all()

    gold = table(tmp_path, "gld_stock_performances")
    assert gold.height == c1.gold_rows
    assert sorted_rows(gold.drop("avg_close")).equals(sorted_rows(gold_oracle(silver).select(gold.drop("avg_close").columns)))
    assert_gold(tmp_path)

    # second run through the command line: only the new events are read
    gen.produce_kafka(kafka_bootstrap, topic, MORE, SEED, start=FIRST)
    cmd = [sys.executable, "-m", "kappa.cli", "replay", str(EXAMPLE / "pipeline.yaml")]
    cmd += [f"--var={k}={v}" for k, v in vars_.items()]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ}, timeout=300)
    assert done.returncode == 0, done.stderr
    c2 = gen.expected_counts(MORE, SEED, start=FIRST)
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("slv_stock_prices "))
    batches, read, removed, *rest = line.split()[1:8]  # read - removed: what the steps handed the expectations
    assert [batches, str(int(read) - int(removed)), *rest] == ["1", str(c2.silver_input), str(c2.silver), str(c2.dropped), str(c2.quarantined), "0"]
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("brz_stock_prices "))
    parts = line.split()
    assert parts[1:3] + parts[4:5] == ["1", str(MORE), str(MORE)]

    total = gen.expected_counts(FIRST + MORE, SEED)
    assert table(tmp_path, "brz_stock_prices").height == FIRST + MORE
    silver = table(tmp_path, "slv_stock_prices")
    assert sorted_rows(silver).equals(sorted_rows(expected_silver(gen, FIRST + MORE, SEED)))
    assert table(tmp_path, "slv_stock_prices_quarantine").height == total.quarantined
    assert table(tmp_path, "gld_stock_performances").height == total.gold_rows
    assert DeltaTable(str(tmp_path / "gld_stock_performances")).version() == 1  # one upsert (MERGE) per run
    assert_gold(tmp_path)

    # a third run with nothing new writes nothing
    versions = {n: DeltaTable(str(tmp_path / n)).version() for n in ("brz_stock_prices", "slv_stock_prices")}
    s3 = execute_pipeline(load_pipeline_file(EXAMPLE / "pipeline.yaml", variables=vars_), engine="polars")
    assert s3.node("brz_stock_prices").batches == 0 and s3.node("slv_stock_prices").batches == 0
    assert {n: DeltaTable(str(tmp_path / n)).version() for n in versions} == versions
