"""Deterministic generator of stock-price events in laktory's ``pl-stock-prices`` shape.

Every event is a pure function of ``(seed, index)``, so ``generate(1000, seed)`` followed by
``generate(500, seed, start=1000)`` gives exactly the events of ``generate(1500, seed)``::

    {"name": "stock_price",
     "producer": {"name": "yahoo-finance", "party": "external"},
     "data": {"created_at": "2023-01-02T09:30:00", "symbol": "AMZN",
              "open": 103.18, "close": 103.13, "high": 103.42, "low": 103.07,
              "volume": 3998703.0}}

Event ``i`` is for symbol ``SYMBOLS[i % 5]`` at ``BASE_TIME + (i // 5)`` hours, so the key
``(symbol, created_at)`` of every event is unique, except for three kinds of events, chosen by a
hash of ``(seed, i)``:

* **duplicate** (about 3 %): an exact copy of event ``i - 1`` (same symbol, created_at and prices),
  only when event ``i - 1`` is a normal event and ``i`` is not a multiple of :data:`BLOCK`. Runs
  that split the stream at multiples of ``BLOCK`` therefore never see a duplicate whose original
  was in an earlier run;
* **null symbol** (about 0.4 %): ``data.symbol`` is null (only for ``i % 5 == 0``, so no two such
  events share a created_at);
* **negative prices** (about 0.5 %): open, close, high and low are negated.

:func:`expected_counts` gives the exact row counts each table of the example pipeline must hold.

CLI::

    python generator.py --events 100000 --jsonl ./data/stock_prices/
    python generator.py --events 100000 --kafka 127.0.0.1:9092 --topic stock-prices
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import polars as pl

SYMBOLS: tuple[str, ...] = ("AAPL", "AMZN", "GOOGL", "MSFT", "NVDA")
BASE_PRICES: tuple[float, ...] = (165.0, 102.0, 105.0, 285.0, 270.0)
BASE_TIME = "2023-01-02T09:30:00"
#: Duplicates never straddle a multiple of BLOCK: split incremental runs there.
BLOCK = 1000
DEFAULT_SEED = 42

NORMAL, DUPLICATE, NULL_SYMBOL, NEGATIVE = 0, 1, 2, 3
_KIND_NAMES = {NORMAL: "normal", DUPLICATE: "duplicate", NULL_SYMBOL: "null_symbol", NEGATIVE: "negative"}
# thresholds on the category draw u in [0, 1)
_NULL_BELOW, _NEG_BELOW, _DUP_BELOW = 0.02, 0.025, 0.055
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class ExpectedCounts:
    """Exact row counts of the example pipeline's tables for events ``[start, start + n)``."""

    events: int
    duplicates: int
    null_symbols: int
    negative_prices: int
    gold_rows: int

    @property
    def bronze(self) -> int:
        """Bronze keeps every event."""
        return self.events

    @property
    def silver_input(self) -> int:
        """Rows after the silver SQL and ``unique`` (expectations see these)."""
        return self.events - self.duplicates

    @property
    def silver(self) -> int:
        """Rows written to silver: deduplicated, without null symbols and negative prices."""
        return self.silver_input - self.null_symbols - self.negative_prices

    @property
    def dropped(self) -> int:
        """Rows dropped by the ``has_symbol`` expectation."""
        return self.null_symbols

    @property
    def quarantined(self) -> int:
        """Rows sent to the quarantine table by the ``positive_prices`` expectation."""
        return self.negative_prices


# ------------------------------------------------------------------------------ hashing
def _mix(seed: int, index: "np.ndarray", stream: int) -> "np.ndarray":
    """splitmix64 of ``(seed, index, stream)``: uniform uint64 draws, one per index."""
    import numpy as np

    salt = np.uint64((seed * 0x9E3779B97F4A7C15 + stream * 0xD1B54A32D192ED03) & _MASK64)
    with np.errstate(over="ignore"):
        z = index.astype(np.uint64) * np.uint64(4) + salt
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return z


def _uniform(seed: int, index: "np.ndarray", stream: int) -> "np.ndarray":
    """Floats in [0, 1) from the top 53 bits of the hash."""
    import numpy as np

    return (_mix(seed, index, stream) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _base_kind(seed: int, index: "np.ndarray") -> "np.ndarray":
    """Category before the duplicate rule looks at the previous event."""
    import numpy as np

    u = _uniform(seed, index, 0)
    kind = np.full(index.shape, NORMAL, dtype=np.int8)
    kind[(u < _NULL_BELOW) & (index % 5 == 0)] = NULL_SYMBOL
    kind[(u >= _NULL_BELOW) & (u < _NEG_BELOW)] = NEGATIVE
    kind[(u >= _NEG_BELOW) & (u < _DUP_BELOW)] = DUPLICATE
    return kind


def kinds(n: int, seed: int = DEFAULT_SEED, start: int = 0) -> "np.ndarray":
    """The category of each event ``start .. start + n - 1`` (NORMAL, DUPLICATE, NULL_SYMBOL, NEGATIVE)."""
    import numpy as np

    index = np.arange(start, start + n, dtype=np.int64)
    kind = _base_kind(seed, index)
    prev = _base_kind(seed, np.maximum(index - 1, 0))
    dup_ok = (kind == DUPLICATE) & (index % BLOCK != 0) & (prev == NORMAL) & (index > 0)
    kind[(kind == DUPLICATE) & ~dup_ok] = NORMAL
    return kind


# ------------------------------------------------------------------------------ frames
def frame(n: int, seed: int = DEFAULT_SEED, start: int = 0, with_meta: bool = False) -> "pl.DataFrame":
    """Events ``start .. start + n - 1`` as a Polars DataFrame with struct columns
    ``name, producer, data`` (plus ``_index`` and ``_kind`` with ``with_meta``)."""
    import numpy as np
    import polars as pl

    index = np.arange(start, start + n, dtype=np.int64)
    kind = kinds(n, seed, start)
    src = np.where(kind == DUPLICATE, index - 1, index)  # a duplicate copies its predecessor
    src_kind = np.where(kind == DUPLICATE, NORMAL, kind)
    sym = src % len(SYMBOLS)
    hour = src // len(SYMBOLS)
    base = np.asarray(BASE_PRICES)[sym]
    trend = 1.0 + 0.25 * np.sin(hour / 700.0 + sym)
    open_ = np.round(base * trend * (1.0 + 0.01 * (_uniform(seed, src, 1) - 0.5)), 2)
    close = np.round(open_ * (1.0 + 0.01 * (_uniform(seed, src, 2) - 0.5)), 2)
    high = np.round(np.maximum(open_, close) * (1.0 + 0.004 * _uniform(seed, src, 3)), 2)
    low = np.round(np.minimum(open_, close) * (1.0 - 0.004 * _uniform(seed, src, 4)), 2)
    volume = np.floor(1_000_000 + 7_000_000 * _uniform(seed, src, 5))
    sign = np.where(src_kind == NEGATIVE, -1.0, 1.0)
    created = (np.datetime64(BASE_TIME, "s") + hour.astype("timedelta64[h]")).astype("datetime64[ms]")
    symbols = pl.Series("symbol", np.asarray(SYMBOLS, dtype=object)[sym], dtype=pl.String)
    symbols = symbols.scatter(np.flatnonzero(src_kind == NULL_SYMBOL), None)
    data = pl.DataFrame(
        {
            "created_at": pl.Series(created).dt.strftime("%Y-%m-%dT%H:%M:%S"),
            "symbol": symbols,
            "open": open_ * sign,
            "close": close * sign,
            "high": high * sign,
            "low": low * sign,
            "volume": volume,
        }
    )
    out = pl.DataFrame(
        {
            "name": pl.repeat("stock_price", n, eager=True, dtype=pl.String),
            "producer": pl.DataFrame(
                {
                    "name": pl.repeat("yahoo-finance", n, eager=True, dtype=pl.String),
                    "party": pl.repeat("external", n, eager=True, dtype=pl.String),
                }
            ).to_struct("producer"),
            "data": data.to_struct("data"),
        }
    )
    if with_meta:
        out = out.with_columns(
            pl.Series("_index", index), pl.Series("_kind", kind).replace_strict(_KIND_NAMES, return_dtype=pl.String)
        )
    return out


def generate(n: int, seed: int = DEFAULT_SEED, start: int = 0) -> list[dict]:
    """Events ``start .. start + n - 1`` as plain dicts (JSON-ready)."""
    return frame(n, seed, start).to_dicts()


def iter_events(n: int, seed: int = DEFAULT_SEED, start: int = 0, chunk: int = 100_000) -> Iterator[dict]:
    """Like :func:`generate`, chunk by chunk (bounded memory for large ``n``)."""
    for lo in range(start, start + n, chunk):
        yield from generate(min(chunk, start + n - lo), seed, lo)


def expected_counts(n: int, seed: int = DEFAULT_SEED, start: int = 0) -> ExpectedCounts:
    """Exact counts for events ``[start, start + n)`` (split runs at multiples of :data:`BLOCK`)."""
    import numpy as np

    kind = kinds(n, seed, start)
    index = np.arange(start, start + n, dtype=np.int64)
    valid = index[kind == NORMAL]
    hour0 = int(np.datetime64(BASE_TIME, "h").astype(np.int64))
    day = (hour0 + valid // len(SYMBOLS)) // 24
    gold = np.unique(day * len(SYMBOLS) + valid % len(SYMBOLS)).size
    return ExpectedCounts(
        events=n,
        duplicates=int((kind == DUPLICATE).sum()),
        null_symbols=int((kind == NULL_SYMBOL).sum()),
        negative_prices=int((kind == NEGATIVE).sum()),
        gold_rows=int(gold),
    )


# ------------------------------------------------------------------------------ writers
def write_jsonl(folder: str | Path, n: int, seed: int = DEFAULT_SEED, start: int = 0, files: int = 1) -> list[Path]:
    """Write events as ``files`` JSONL files ``stock_prices-<first index>.jsonl`` under ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = max(1, min(files, n)) if n else 1
    bounds = [start + (n * k) // files for k in range(files + 1)]
    out = []
    for lo, hi in zip(bounds, bounds[1:]):
        path = folder / f"stock_prices-{lo:010d}.jsonl"
        frame(hi - lo, seed, lo).write_ndjson(path)
        out.append(path)
    return out


def produce_kafka(bootstrap: str, topic: str, n: int, seed: int = DEFAULT_SEED, start: int = 0, partitions: int = 1) -> int:
    """Create ``topic`` if needed and produce the events as JSON, key = symbol; returns records delivered."""
    from kappa.kafka.client import client_config
    from kappa.kafka.writer import create_topic, produce_json

    conf = client_config(bootstrap)
    create_topic(conf, topic, partitions)
    return produce_json(conf, topic, iter_events(n, seed, start), key=lambda r: r["data"]["symbol"])


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=10_000, help="number of events")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--start", type=int, default=0, help="index of the first event (continue a stream)")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--jsonl", metavar="DIR", help="write JSONL files into DIR")
    target.add_argument("--kafka", metavar="BOOTSTRAP", help="produce to a Kafka broker")
    p.add_argument("--topic", default="stock-prices", help="Kafka topic (with --kafka)")
    p.add_argument("--partitions", type=int, default=1, help="partitions of a new topic")
    p.add_argument("--files", type=int, default=1, help="number of JSONL files (with --jsonl)")
    args = p.parse_args(argv)
    if args.jsonl:
        paths = write_jsonl(args.jsonl, args.events, args.seed, args.start, args.files)
        print(f"wrote {args.events} events to {len(paths)} file(s) under {args.jsonl}")
    else:
        sent = produce_kafka(args.kafka, args.topic, args.events, args.seed, args.start, args.partitions)
        print(f"produced {sent} events to {args.topic} on {args.kafka}")
    counts = expected_counts(args.events, args.seed, args.start)
    print(
        f"duplicates={counts.duplicates} null_symbols={counts.null_symbols} "
        f"negative_prices={counts.negative_prices}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
