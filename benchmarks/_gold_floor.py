"""The hand-written floor of the incremental gold (benchmarks/incremental_state.py, part a).

What a competent engineer would write by hand with the same libraries for one incremental
batch of ``GROUP BY symbol, CAST(created_at AS DATE)`` kept as a Delta upsert table, with the
same durability as kappa's replay (every file fsynced before the batch counts as done):

1. the new silver commit's add actions, read from its ``_delta_log`` JSON (no table open);
2. the offsets written and fsynced (the batch is planned);
3. those files scanned and aggregated; the touched groups merged with the state kept in memory
   (count and sum added, min and max of both);
4. the touched groups' new values written as a state changelog file (fsynced);
5. the gold table upserted by rewriting only the files that hold the touched keys (kappa's
   :mod:`kappa.delta.upsert_files`, the cheapest correct upsert of delta-rs tables here) in one
   commit;
6. the commit marker written and fsynced.

No plan, no validation, no event log, no expectations, no exactly-once transaction: only the
work the result needs. Its time per batch bounds what any engine can reach on this machine.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

KEYS = ("symbol", "day")


def _aggregate(lf):
    import polars as pl

    return (lf.with_columns(pl.col("created_at").dt.date().alias("day")).group_by(list(KEYS))
            .agg(pl.len().cast(pl.Int64).alias("events"), pl.col("price").min().alias("low"),
                 pl.col("price").max().alias("high"), pl.col("volume").sum().alias("volume")))


def _durable(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


class GoldFloor:
    """The floor's gold table ``out`` over ``silver``, its state in memory and files in ``ck``."""

    def __init__(self, silver: Path, out: Path, ck: Path):
        import polars as pl
        from deltalake import DeltaTable, Schema
        from deltalake.transaction import create_table_with_add_actions

        from kappa.delta import upsert_files
        from kappa.delta.arrow import normalize_arrow_table

        self.silver, self.out, self.ck = silver, out, ck
        ck.mkdir(parents=True, exist_ok=True)
        table = DeltaTable(str(silver))
        self.version = table.version()
        self.state = _aggregate(pl.scan_delta(table)).collect()
        data = normalize_arrow_table(self.state.to_arrow())
        out.mkdir(parents=True, exist_ok=True)
        create_table_with_add_actions(str(out), Schema.from_arrow(data.schema), upsert_files.create(str(out), data, KEYS), mode="append")
        self.gold = DeltaTable(str(out))

    def step(self) -> float:
        """Process every silver commit since the last step; returns the seconds it took."""
        import polars as pl

        from kappa.delta import upsert_files
        from kappa.delta.arrow import normalize_arrow_table

        started = time.perf_counter()
        files, version = [], self.version
        while (log := self.silver / "_delta_log" / f"{version + 1:020d}.json").exists():
            version += 1
            for line in log.read_text().splitlines():
                add = json.loads(line).get("add")
                if add:
                    files.append(str(self.silver / add["path"]))
        if not files:
            return time.perf_counter() - started
        _durable(self.ck / f"offsets_{version}", json.dumps({"start": self.version + 1, "end": version}).encode())
        batch = _aggregate(pl.scan_parquet(files)).collect()
        merged = batch.join(self.state, on=list(KEYS), how="left", suffix="_s").select(
            *KEYS, (pl.col("events") + pl.col("events_s").fill_null(0)).alias("events"),
            pl.min_horizontal("low", "low_s").alias("low"), pl.max_horizontal("high", "high_s").alias("high"),
            (pl.col("volume") + pl.col("volume_s").fill_null(0)).alias("volume"))
        self.state = pl.concat([self.state.join(merged.select(list(KEYS)), on=list(KEYS), how="anti"), merged])
        changes = self.ck / f"state_{version}.parquet"
        merged.write_parquet(changes, compression="lz4")
        with open(changes, "rb") as fh:
            os.fsync(fh.fileno())
        data = normalize_arrow_table(merged.to_arrow())
        if upsert_files.applies(self.gold, data, KEYS):
            upsert_files.rewrite(self.gold, data, KEYS, None)
        else:  # not expected here: the gold table is plain and the keys unique
            raise SystemExit("the floor's gold table does not take the file-rewriting upsert")
        self.gold.update_incremental()
        _durable(self.ck / f"commit_{version}", b"{}")
        self.version = version
        return time.perf_counter() - started
