"""Run requests ("ticks") of nodes that re-read their whole source on every run.

A node whose source is not streamed (``as_stream: false``, a node without sinks, no source at
all) re-reads everything on each run, as the Polars engine does. It still runs as one
Structured Streaming query, over a tiny text-file stream of run requests under
``<checkpoint>/spark_ticks``: each run appends one tick file, the query's micro-batch reads the
whole source, and Spark's checkpoint gives the batch its id, so a run that crashes is
re-run with the same batch id and the idempotent sinks write it once.

A tick is only added when the input changed since the last one (file list and sizes, Delta
table versions, Kafka end offsets, of the source and of ``{nodes.x}`` lookups), so a second
run with no new input writes nothing. Inputs without a cheap fingerprint (in-memory outputs of
other nodes, no source) always get a tick.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from kappa.plan import NodePlan, SourcePlan


def ticks_dir(node: "NodePlan") -> str:
    """Folder of a node's tick files (inside its checkpoint, so ``--full-refresh`` clears it)."""
    return node.layout.spark_ticks


def _source_state(source: "SourcePlan") -> Any:
    """Something that changes whenever the source's content may have changed (None: unknown)."""
    from kappa.engines.spark.connectors import source_reader

    return source_reader(source).state(source)


def fingerprint(node: "NodePlan") -> str | None:
    """A digest of the node's inputs, or None when they cannot be fingerprinted."""
    if node.source is None:
        return None
    states = []
    for src in [node.source, *node.ref_sources.values()]:
        state = _source_state(src)
        if state is None:
            return None
        states.append(state)
    text = json.dumps(states, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _ticks(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("tick-*.txt"))


def request_run(node: "NodePlan") -> bool:
    """Add a tick unless the input is unchanged since the last one; True when one was added."""
    folder = Path(ticks_dir(node))
    folder.mkdir(parents=True, exist_ok=True)
    fp = fingerprint(node)
    existing = _ticks(folder)
    if fp is not None and existing:
        try:
            last = json.loads(existing[-1].read_text())
        except (OSError, ValueError):
            last = {}
        if last.get("fingerprint") == fp:
            return False
    n = int(existing[-1].stem.split("-")[1]) + 1 if existing else 0
    payload = json.dumps({"fingerprint": fp, "requested_at": time.time()})
    from kappa.atomic import write_text

    write_text(folder / f"tick-{n:08d}.txt", payload + "\n")
    return True


def tick_stream(spark: "SparkSession", node: "NodePlan") -> "DataFrame":
    """The streaming DataFrame of a node's run requests."""
    folder = ticks_dir(node)
    Path(folder).mkdir(parents=True, exist_ok=True)
    return spark.readStream.format("text").option("pathGlobFilter", "tick-*.txt").load(folder)
