"""Hand-made Spark checkpoints for the ``kappa stream`` tests."""

from __future__ import annotations

import json
from pathlib import Path


def write_checkpoint(folder: Path, batches: list[tuple[int, dict, int]], committed: int) -> None:
    """A Spark checkpoint: ``batches`` of (batch id, source offset, batchTimestampMs); batches up
    to ``committed`` have a commit."""
    (folder / "offsets").mkdir(parents=True, exist_ok=True)
    (folder / "commits").mkdir(parents=True, exist_ok=True)
    (folder / "metadata").write_text('{"id":"00000000-0000-0000-0000-000000000000"}\n')
    for batch_id, offset, ts in batches:
        meta = {"batchWatermarkMs": 0, "batchTimestampMs": ts, "conf": {"spark.sql.shuffle.partitions": "4"}}
        (folder / "offsets" / str(batch_id)).write_text("v1\n" + json.dumps(meta) + "\n" + json.dumps(offset))
        (folder / "offsets" / f".{batch_id}.crc").write_text("")
        if batch_id <= committed:
            (folder / "commits" / str(batch_id)).write_text('v1\n{"nextBatchWatermarkMs":0}')
