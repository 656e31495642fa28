"""Shared builders of the Spark state tests: a Delta source fed one commit per run, and a
pipeline whose nodes read it as a stream (``build_plan`` fills ``NodePlan.state``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
MIN_US = 60_000_000


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def commit(path: Path, rows: list[tuple[str, int, int]]) -> None:
    """Append ``(k, minute, v)`` rows to the Delta table at ``path`` as one commit."""
    import pyarrow as pa
    from deltalake import write_deltalake

    table = pa.table({
        "k": pa.array([r[0] for r in rows], pa.string()),
        "ts": pa.array([at(r[1]) for r in rows], pa.timestamp("us", "UTC")),
        "v": pa.array([r[2] for r in rows], pa.int64()),
    })
    write_deltalake(str(path), table, mode="append")


def node_yaml(name: str, steps: list[str], sink_mode: str = "append", output_mode: str | None = None) -> str:
    lines = [f"- name: {name}", "  source:", "    path: {root}/src", "    format: DELTA", "    as_stream: true"]
    lines += [f"  output_mode: {output_mode}"] if output_mode else []
    lines += ["  transformer:"]
    lines += [f"  - {step}" for step in steps]
    lines += ["  sinks:", "  - format: DELTA", f"    path: {{root}}/{name}", f"    mode: {sink_mode}"]
    return "\n".join(lines)


def pipeline(root: Path, nodes: list[str], name: str = "state"):
    from tests.helpers.pipelines import pipeline_for

    text = f"name: {name}\ncheckpoint_root: {{root}}/ck\nnodes:\n" + "\n".join(nodes) + "\n"
    return pipeline_for(text, root)


def rows(path: Path, *columns: str) -> list[tuple]:
    """The Delta table's rows (``columns``; a struct column as ``(start minute, end minute)``), sorted."""
    from deltalake import DeltaTable

    out = []
    for row in DeltaTable(str(path)).to_pyarrow_table().to_pylist():
        item = []
        for c in columns:
            value = row[c]
            if isinstance(value, dict):
                value = (_minute(value["start"]), _minute(value["end"]))
            elif isinstance(value, datetime):
                value = _minute(value)
            item.append(value)
        out.append(tuple(item))
    return sorted(out)


def _minute(ts: datetime) -> int:
    return int((ts - T0).total_seconds() // 60)
