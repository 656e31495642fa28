"""The example's event generator: deterministic, splittable, and its counts match its events."""

from __future__ import annotations

import json

import polars as pl


def test_same_seed_same_events_and_split_runs_concatenate(gen):
    whole = gen.frame(3000, seed=7)
    assert whole.equals(gen.frame(3000, seed=7))
    assert not whole.equals(gen.frame(3000, seed=8))
    assert whole.equals(pl.concat([gen.frame(1000, 7), gen.frame(2000, 7, start=1000)]))


def test_event_shape_is_laktorys(gen):
    event = gen.generate(1)[0]
    assert event == {
        "name": "stock_price",
        "producer": {"name": "yahoo-finance", "party": "external"},
        "data": {
            "created_at": "2023-01-02T09:30:00",
            "symbol": "AAPL",
            "open": event["data"]["open"],
            "close": event["data"]["close"],
            "high": event["data"]["high"],
            "low": event["data"]["low"],
            "volume": event["data"]["volume"],
        },
    }
    d = event["data"]
    assert d["low"] <= min(d["open"], d["close"]) <= max(d["open"], d["close"]) <= d["high"]


def test_counts_match_the_events(gen):
    n = 20_000
    f = gen.frame(n, with_meta=True).unnest("data")
    c = gen.expected_counts(n)
    assert f.height == c.events == n
    dups = f.filter(pl.col("_kind") == "duplicate")
    assert dups.height == c.duplicates > 0
    # a duplicate is an exact copy of the event just before it
    prev = f.with_columns(pl.all().exclude("_index", "_kind").shift(1).name.suffix("_prev"))
    cols = ["created_at", "symbol", "open", "close", "high", "low", "volume"]
    same = prev.filter(pl.col("_kind") == "duplicate").select(
        pl.all_horizontal([pl.col(c).eq_missing(pl.col(f"{c}_prev")) for c in cols]).all()
    )
    assert same.item()
    assert f["symbol"].null_count() == c.null_symbols > 0
    assert f.filter(pl.col("low") < 0).height == c.negative_prices > 0
    # keys are unique once duplicates are gone, null symbols included
    rest = f.filter(pl.col("_kind") != "duplicate")
    assert rest.select(pl.struct("symbol", "created_at").n_unique()).item() == c.silver_input == rest.height
    assert c.silver == f.filter(pl.col("_kind") == "normal").height
    daily = f.filter(pl.col("_kind") == "normal").select("symbol", pl.col("created_at").str.slice(0, 10)).unique()
    assert daily.height == c.gold_rows


def test_duplicates_never_straddle_a_block(gen):
    kinds = gen.kinds(5 * gen.BLOCK, seed=3)
    assert all(kinds[k * gen.BLOCK] != gen.DUPLICATE for k in range(5))


def test_jsonl_files_hold_the_events(gen, tmp_path):
    paths = gen.write_jsonl(tmp_path, 2500, seed=5, files=3)
    assert [p.name for p in paths] == [
        "stock_prices-0000000000.jsonl", "stock_prices-0000000833.jsonl", "stock_prices-0000001666.jsonl"
    ]
    lines = [json.loads(line) for p in paths for line in p.read_text().splitlines()]
    assert lines == gen.generate(2500, seed=5)


def test_cli_writes_jsonl(gen, tmp_path, capsys):
    assert gen.main(["--events", "1000", "--jsonl", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    c = gen.expected_counts(1000)
    assert f"duplicates={c.duplicates} null_symbols={c.null_symbols} negative_prices={c.negative_prices}" in out
    assert sum(1 for _ in open(tmp_path / "out" / "stock_prices-0000000000.jsonl")) == 1000
