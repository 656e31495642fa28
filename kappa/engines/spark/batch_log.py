"""Per-batch records in the checkpoint: how counts and errors come back under Spark Connect.

Design. Under Spark Connect the ``foreachBatch`` function is pickled to a Python worker the
*server* spawns, so counters it updates in memory (:class:`~kappa.engines.spark.metrics.NodeMetrics`)
never reach the client, nor does a kappa error it raises (the client sees Spark's wrapped text).
The batch function therefore writes one small JSON record per batch into the node's Spark
checkpoint folder, ``<node checkpoint>/spark/kappa_batches/<batch_id>.json``:

- on success: the batch's QualityCounts fields, dead-letter and sink rows, written atomically
  (:mod:`kappa.atomic`) *before* the function returns, so the record exists whenever Spark has
  committed the batch (``commits/<batch_id>``); a replayed batch overwrites its own record;
- on failure: the kappa error text (and its exit code), for the client's error message.

The client (:class:`BatchLog`) remembers the last committed batch when the query starts and, on
each refresh, adds the records of the batches committed since into the node's NodeMetrics, so
the run summary and ``kappa stream start``'s live status read the same counters as in local
mode. This works wherever the checkpoint folder is shared between the server's workers and the
client (the same host, or a shared file system), the same condition
:mod:`kappa.engines.spark.status` already needs. In local (non-Connect) mode nothing is written:
the batch function updates NodeMetrics in the driver process directly.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kappa.errors import KappaError
from kappa.plan_layout import BATCH_RECORDS as FOLDER

if TYPE_CHECKING:  # pragma: no cover
    from kappa.engines.spark.metrics import NodeMetrics



def record_path(checkpoint_location: str, batch_id: int) -> Path:
    """The record file of batch ``batch_id`` of a node's Spark checkpoint."""
    return Path(checkpoint_location) / FOLDER / f"{int(batch_id)}.json"


def write_record(checkpoint_location: str, batch_id: int, counts: Any = None, dead_letters: int = 0,
                 sink_rows: dict[str, int] | None = None, error: BaseException | None = None, started: float | None = None) -> None:
    """Write batch ``batch_id``'s record (its counts, or the error that failed it) atomically
    (``started``: when the batch began, for the event log)."""
    from kappa.atomic import write_json

    payload: dict[str, Any] = {"batch_id": int(batch_id)}
    if started is not None:
        payload["started"] = float(started)
    if error is not None:
        payload["error"] = str(error)
        payload["error_type"] = type(error).__name__
        payload["exit_code"] = int(getattr(error, "exit_code", 1) or 1)
        payload["kappa_error"] = _is_kappa_error(error)
    else:
        payload.update(
            input_rows=int(counts.input_rows), output_rows=int(counts.output_rows),
            dropped_rows=int(counts.dropped_rows), quarantined_rows=int(counts.quarantined_rows),
            failures={k: int(v) for k, v in counts.failures.items()},
            dead_letter_rows=int(dead_letters), sink_rows={k: int(v) for k, v in (sink_rows or {}).items()},
        )
    write_json(record_path(checkpoint_location, batch_id), payload)


def read_record(checkpoint_location: str, batch_id: int) -> dict[str, Any] | None:
    """Batch ``batch_id``'s record, or None when there is none (or it cannot be read)."""
    try:
        return json.loads(record_path(checkpoint_location, batch_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class ConnectRefused(KappaError):
    """A pipeline asks for what Spark Connect cannot do (refused before anything starts)."""

    exit_code = 2


def is_connect(spark: Any) -> bool:
    """True for a Spark Connect session (``sc://...``): no SparkContext, batches run on the server."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def _is_kappa_error(exc: BaseException) -> bool:
    from kappa.errors import KappaError

    return isinstance(exc, KappaError)


class RecordedError(Exception):
    """The error a batch function recorded on the server (its text and exit code)."""

    def __init__(self, text: str, exit_code: int = 1):
        super().__init__(text)
        self.exit_code = exit_code


def recorded_error(record: dict[str, Any]) -> BaseException:
    """The recorded error as an exception for the client (a KappaError when it was one)."""
    from kappa.errors import KappaError

    text, code = str(record.get("error", "")), int(record.get("exit_code", 1))
    if record.get("kappa_error"):
        err = KappaError(text)
        err.exit_code = code
        return err
    return RecordedError(text, code)


class BatchLog:
    """The client's reader of a node's batch records (see the module doc)."""

    def __init__(self, checkpoint_location: str, metrics: "NodeMetrics"):
        from kappa.engines.spark.status import read_checkpoint

        self.checkpoint_location = checkpoint_location
        self.metrics = metrics
        self.seen = read_checkpoint(checkpoint_location).last_batch_id  # committed before this run
        self.started = time.time() - 1.0  # an error record older than this run is not this run's

    def refresh(self) -> None:
        """Add the records of the batches committed since the last refresh to the metrics."""
        from kappa.engines.spark.status import read_checkpoint
        from kappa.quality.result import QualityCounts

        last = read_checkpoint(self.checkpoint_location).last_batch_id
        if last is None:
            return
        first = 0 if self.seen is None else self.seen + 1
        for batch_id in range(first, last + 1):
            rec = read_record(self.checkpoint_location, batch_id)
            if rec is None or "error" in rec:
                continue
            counts = QualityCounts(rec["input_rows"], rec["output_rows"], rec["dropped_rows"], rec["quarantined_rows"], rec.get("failures", {}))
            self.metrics.record_batch(batch_id, counts, rec.get("dead_letter_rows", 0), rec.get("sink_rows", {}), rec.get("started"))
        self.seen = last if self.seen is None else max(self.seen, last)

    def load_error(self) -> BaseException | None:
        """The error recorded for the uncommitted batch (if any); also recorded on the metrics."""
        from kappa.engines.spark.status import read_checkpoint

        pending = read_checkpoint(self.checkpoint_location).pending_batch_id
        if pending is None:
            return None
        rec = read_record(self.checkpoint_location, pending)
        if rec is None or "error" not in rec:
            return None
        try:
            if record_path(self.checkpoint_location, pending).stat().st_mtime < self.started:
                return None
        except OSError:
            return None
        exc = recorded_error(rec)
        self.metrics.record_error(pending, exc)
        return exc
