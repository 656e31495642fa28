"""Polars replay from a real broker into real Delta tables: exact rows, incremental runs."""

from __future__ import annotations

import polars as pl
import pytest
from deltalake import DeltaTable

from kappa.config.loader import load_pipeline_file
from kappa.delta.read import read_delta
from kappa.runner import execute_pipeline
from kappa.testing.kafka import produce

from tests.helpers.records import price_expected as expected
from tests.helpers.records import price_records as records

pytestmark = pytest.mark.kafka


def table(path) -> pl.DataFrame:
    return pl.from_arrow(read_delta(str(path)))


def test_replay_is_incremental_and_exact(replay_pipeline):
    path, topic, root = replay_pipeline
    produce_to = lambda recs: produce(load_pipeline_file(path).variables["bootstrap"], topic, recs, key="symbol")  # noqa: E731
    produce_to(records(0, 100))

    s1 = execute_pipeline(load_pipeline_file(path), engine="polars")
    exp = expected(100)
    assert s1.node("brz").output_rows == 100
    assert s1.node("slv").input_rows == 100
    assert s1.node("slv").output_rows == exp["slv"]
    assert s1.node("slv").dropped_rows == exp["dropped"]
    assert s1.node("slv").quarantined_rows == exp["quarantine"]
    assert s1.node("slv").failures == {"has_symbol": exp["dropped"], "positive_price": exp["quarantine"]}

    brz = table(root / "brz")
    assert sorted(brz["id"].to_list()) == list(range(100))
    assert brz.select(pl.struct("partition", "offset").n_unique()).item() == 100
    slv = table(root / "slv")
    assert sorted(slv["id"].to_list()) == [i for i in range(100) if i % 10 not in (3, 7)]
    assert slv.filter(pl.col("id") == 1)["symbol"].item() == "S1"
    q = table(root / "slv_quarantine")
    assert sorted(q["id"].to_list()) == [i for i in range(100) if i % 10 == 7]
    assert q["_kappa_failed"].to_list()[0] == ["positive_price"]

    # nothing new: nothing runs, nothing is written
    versions = {n: DeltaTable(str(root / n)).version() for n in ("brz", "slv")}
    s2 = execute_pipeline(load_pipeline_file(path), engine="polars")
    assert s2.node("brz").batches == 0 and s2.node("brz").skipped == "no new data"
    assert s2.node("slv").batches == 0
    assert {n: DeltaTable(str(root / n)).version() for n in ("brz", "slv")} == versions

    # new records: only they are processed
    produce_to(records(100, 130))
    s3 = execute_pipeline(load_pipeline_file(path), engine="polars")
    assert s3.node("brz").output_rows == 30
    assert s3.node("slv").input_rows == 30
    assert sorted(table(root / "brz")["id"].to_list()) == list(range(130))
    assert table(root / "slv").height == expected(130)["slv"]


def test_select_and_full_refresh(replay_pipeline):
    path, topic, root = replay_pipeline
    produce(load_pipeline_file(path).variables["bootstrap"], topic, records(0, 20))
    s = execute_pipeline(load_pipeline_file(path), engine="polars", select=["brz"])
    assert [n.node for n in s.nodes] == ["brz"]
    assert not (root / "slv").exists()
    s = execute_pipeline(load_pipeline_file(path), engine="polars", select=["brz+"], full_refresh=["brz"])
    assert [n.node for n in s.nodes] == ["brz", "slv"]
    assert table(root / "brz").height == 20  # refreshed, not doubled
    assert table(root / "slv").height == expected(20)["slv"]


def test_max_offsets_per_trigger_splits_batches(replay_pipeline):
    path, topic, root = replay_pipeline
    text = path.read_text().replace('    value_format: json\n', '    value_format: json\n    max_offsets_per_trigger: 7\n', 1)
    path.write_text(text)
    produce(load_pipeline_file(path).variables["bootstrap"], topic, records(0, 30))
    s = execute_pipeline(load_pipeline_file(path), engine="polars", select=["brz"])
    assert s.node("brz").batches == 5  # 7+7+7+7+2
    assert sorted(table(root / "brz")["id"].to_list()) == list(range(30))


def test_bad_records_go_to_dead_letters(replay_pipeline):
    import pyarrow as pa

    from kappa.kafka.writer import produce_table

    path, topic, root = replay_pipeline
    bootstrap = load_pipeline_file(path).variables["bootstrap"]
    produce(bootstrap, topic, records(0, 5))
    bad = pa.table({"key": [b"k"], "value": [b"{not json"]})
    produce_table({"bootstrap.servers": bootstrap}, topic, bad)
    s = execute_pipeline(load_pipeline_file(path), engine="polars", select=["brz"])
    assert s.node("brz").output_rows == 5
    assert s.node("brz").dead_letter_rows == 1
    dead = table(root / "checkpoints" / "replay-test" / "brz" / "dead_letters")
    assert dead.height == 1
    assert dead["topic"].item() == topic
    assert dead["value"].item() == b"{not json"
    assert dead["offset"].item() >= 0
