"""``kappa stream status``: a node's progress from its Spark checkpoint alone.

A Structured Streaming checkpoint keeps a write-ahead log of micro-batches:

- ``offsets/<batch id>``: written before the batch runs. Line 1 is the log version (``v1``),
  line 2 the batch metadata (``batchTimestampMs``, ``batchWatermarkMs``, ``conf``), then one
  line per source: the offset the batch reads up to (JSON; ``-`` when a source has none);
- ``commits/<batch id>``: written once the batch's sink work (kappa's ``foreachBatch``) is done;
  its line 2 holds ``nextBatchWatermarkMs``, the watermark after that batch;
- ``state/``: a stateful query's state store (its size on disk is shown; the rows in state and
  the late rows come from the running query's progress, :mod:`kappa.engines.spark.metrics`).

The last committed batch's offsets are what the node has consumed; a batch with offsets but no
commit was interrupted and is re-run (same id, same offsets) on the next start. For Kafka
sources the lag is the topic's end offsets minus the committed offsets; for kappa's Delta
source (offsets ``{"version", "index", "snapshot"}``), the table versions not yet consumed.
Nothing here needs Spark.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from kappa.plan import NodePlan

from kappa.engines.spark.lag import TopicPartition, kafka_offsets


@dataclass(frozen=True)
class OffsetEntry:
    """One ``offsets/<id>`` file: batch metadata and one offset per source."""

    batch_id: int
    version: str
    metadata: dict[str, Any]
    sources: tuple[Any, ...]

    @property
    def batch_timestamp_ms(self) -> int | None:
        value = self.metadata.get("batchTimestampMs")
        return int(value) if value is not None else None


@dataclass(frozen=True)
class CheckpointState:
    """What a Spark checkpoint says: the last committed batch, its offsets, a pending batch."""

    path: str
    exists: bool
    last_committed: OffsetEntry | None = None
    pending_batch_id: int | None = None
    #: the watermark after the last committed batch (epoch ms; None: no watermark, or 0)
    watermark_ms: int | None = None
    #: bytes of the checkpoint's ``state/`` folder (None: a stateless query)
    state_disk_bytes: int | None = None

    @property
    def last_batch_id(self) -> int | None:
        return self.last_committed.batch_id if self.last_committed else None

    @property
    def committed_offsets(self) -> tuple[Any, ...]:
        return self.last_committed.sources if self.last_committed else ()


def _batch_ids(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())


def parse_offset_file(text: str, batch_id: int) -> OffsetEntry:
    """Parse the text of ``offsets/<batch_id>``."""
    lines = text.splitlines()
    if len(lines) < 2:
        raise ValueError(f"offset log entry {batch_id} is truncated")
    version = lines[0].strip()
    metadata = json.loads(lines[1]) if lines[1].strip() else {}
    sources = []
    for line in lines[2:]:
        line = line.strip()
        if not line:
            continue
        sources.append(None if line == "-" else json.loads(line))
    return OffsetEntry(batch_id, version, metadata, tuple(sources))


def read_checkpoint(spark_checkpoint: str) -> CheckpointState:
    """Read a Spark checkpoint folder (``<node checkpoint>/spark``)."""
    root = Path(spark_checkpoint)
    if not root.is_dir():
        return CheckpointState(str(root), False)
    offsets = _batch_ids(root / "offsets")
    commits = _batch_ids(root / "commits")
    committed = [b for b in commits if b in set(offsets)]
    last = None
    if committed:
        bid = committed[-1]
        last = parse_offset_file((root / "offsets" / str(bid)).read_text(), bid)
    pending = offsets[-1] if offsets and (not commits or offsets[-1] > commits[-1]) else None
    mark = _next_watermark(root / "commits" / str(committed[-1])) if committed else None
    return CheckpointState(str(root), True, last, pending, mark, _folder_bytes(root / "state"))


def _next_watermark(commit_file: Path) -> int | None:
    """``nextBatchWatermarkMs`` of a commit log entry (None when absent or 0)."""
    try:
        lines = commit_file.read_text().splitlines()
        value = json.loads(lines[1]).get("nextBatchWatermarkMs") if len(lines) > 1 and lines[1].strip() else None
    except (OSError, ValueError):
        return None
    return int(value) if value else None


def _folder_bytes(folder: Path) -> int | None:
    if not folder.is_dir():
        return None
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# ---------------------------------------------------------------- lag
@dataclass(frozen=True)
class NodeStatus:
    """A node's checkpoint state and, where it can be measured, its lag."""

    node: str
    source_kind: str
    checkpoint: CheckpointState
    end_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    lag: dict[TopicPartition, int] | None = None
    delta_latest: int | None = None
    delta_lag: int | None = None
    error: str | None = None
    #: committed offsets outside the topic's log (kappa.kafka.data_loss): the next start fails
    data_loss: tuple[str, ...] = ()

    @property
    def total_lag(self) -> int | None:
        return None if self.lag is None else sum(self.lag.values())

    @property
    def backlog(self) -> int | None:
        """What is left to read: Kafka records (all partitions) or Delta versions (None: unknown)."""
        return self.total_lag if self.lag is not None else self.delta_lag


def node_status(node: "NodePlan", with_lag: bool = True) -> NodeStatus:
    """The status of one node from its checkpoint (lag asks the broker / Delta table)."""
    ck = read_checkpoint(node.layout.spark)
    kind = node.source.kind if node.source is not None else "none"
    if not node.streaming:
        kind = f"{kind}, re-read per run"
    if not with_lag or node.source is None or not node.streaming:
        return NodeStatus(node.name, kind, ck)
    from kappa.engines.spark.connectors import source_reader

    committed = ck.committed_offsets[0] if ck.committed_offsets else None
    try:
        measured = source_reader(node.source).lag(node.source, committed)
    except Exception as exc:  # noqa: BLE001 - status still shows the checkpoint
        return NodeStatus(node.name, kind, ck, error=f"lag unavailable: {exc}")
    return NodeStatus(node.name, kind, ck, **(measured or {}))


def node_statuses(nodes: Sequence["NodePlan"], with_lag: bool = True) -> list[NodeStatus]:
    return [node_status(n, with_lag) for n in nodes]


# ---------------------------------------------------------------- rendering
def format_ms(ms: int | None) -> str:
    """Epoch milliseconds as ISO-8601 UTC (``2026-11-23T13:54:29.631Z``)."""
    if ms is None:
        return "-"
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def format_offsets(offsets: dict[TopicPartition, int]) -> str:
    return " ".join(f"{t}[{p}]={o}" for (t, p), o in sorted(offsets.items())) or "-"


def _source_offset_text(offset: Any) -> str:
    parts = kafka_offsets(offset)
    if parts and all(isinstance(v, dict) for v in offset.values()):
        return format_offsets(parts)
    return json.dumps(offset, sort_keys=True)


def render_node_status(st: NodeStatus) -> list[str]:
    """The lines of one node's status."""
    ck = st.checkpoint
    lines = [f"node {st.node}  (source: {st.source_kind})", f"  checkpoint: {ck.path}"]
    if not ck.exists:
        lines.append("  not started: no checkpoint")
    elif ck.last_committed is None:
        lines.append("  no batch committed yet")
    else:
        last = ck.last_committed
        lines.append(f"  last batch: {last.batch_id} at {format_ms(last.batch_timestamp_ms)}")
        for i, offset in enumerate(last.sources):
            label = "committed offsets" if len(last.sources) == 1 else f"committed offsets (source {i})"
            lines.append(f"  {label}: {_source_offset_text(offset)}")
    if ck.watermark_ms is not None:
        lines.append(f"  watermark: {format_ms(ck.watermark_ms)}")
    if ck.state_disk_bytes is not None:
        lines.append(f"  state on disk: {ck.state_disk_bytes} bytes")
    if ck.pending_batch_id is not None:
        lines.append(f"  pending batch: {ck.pending_batch_id} (offsets logged, not committed: re-run on restart)")
    if st.lag is not None:
        lines.append(f"  end offsets: {format_offsets(st.end_offsets)}")
        lines.append(f"  lag: {st.total_lag} ({format_offsets(st.lag)})")
    if st.delta_latest is not None or st.delta_lag is not None:
        lines.append(f"  source table version: {st.delta_latest if st.delta_latest is not None else '-'}")
        lines.append(f"  lag: {st.delta_lag if st.delta_lag is not None else '-'} version(s)")
    for text in st.data_loss:
        lines.append(f"  data loss: {text}; the next start fails (fail_on_data_loss: true) or continues from the earliest offset")
    if st.error:
        lines.append(f"  {st.error}")
    return lines


def render_status(pipeline: str, statuses: Sequence[NodeStatus]) -> str:
    """``kappa stream status`` text."""
    lines = [f"pipeline {pipeline}"]
    for st in statuses:
        lines.extend(render_node_status(st))
    return "\n".join(lines)


def status_json(st: NodeStatus) -> dict[str, Any]:
    """A JSON-serialisable status."""
    ck = st.checkpoint
    last = ck.last_committed
    return {
        "node": st.node,
        "source": st.source_kind,
        "checkpoint": ck.path,
        "exists": ck.exists,
        "last_batch_id": ck.last_batch_id,
        "last_batch_time": format_ms(last.batch_timestamp_ms) if last else None,
        "committed_offsets": list(last.sources) if last else [],
        "pending_batch_id": ck.pending_batch_id,
        "watermark": format_ms(ck.watermark_ms) if ck.watermark_ms is not None else None,
        "state_disk_bytes": ck.state_disk_bytes,
        "end_offsets": {f"{t}[{p}]": o for (t, p), o in sorted(st.end_offsets.items())},
        "lag": None if st.lag is None else {f"{t}[{p}]": o for (t, p), o in st.lag.items()},
        "total_lag": st.total_lag,
        "delta_latest_version": st.delta_latest,
        "delta_lag_versions": st.delta_lag,
        "error": st.error,
        "data_loss": list(st.data_loss),
    }
