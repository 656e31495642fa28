"""Reading the event log back: ``kappa log pipeline.yaml [--node N] [--since 1h|ISO] [--json]``.

Design note: the table is read with kappa's own Delta reader (:func:`kappa.delta.read.read_delta`,
pyarrow's Parquet dataset over the table's files) into Polars, filtered there, and ordered by
``ended_at`` then ``seq`` (the order rows were recorded in their run). Any other Delta reader
reads the same table (its columns: :mod:`kappa.eventlog.schema`).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    from kappa.models import Pipeline

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class LogOptionError(KappaError):
    """``--since`` is neither a duration nor an ISO-8601 time, or ``--node`` names no node."""

    exit_code = 2


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """The UTC time ``--since`` names: a duration back from now (``90s``, ``15m``, ``1h``, ``2d``,
    ``1w``) or an ISO-8601 date/time (UTC unless it says otherwise).

    >>> parse_since("2h", datetime(2024, 1, 1, 12, tzinfo=timezone.utc)).isoformat()
    '2024-01-01T10:00:00+00:00'
    >>> parse_since("2024-01-01T08:30").isoformat()
    '2024-01-01T08:30:00+00:00'
    """
    value = text.strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw])", value.lower())
    if match:
        delta = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
        return (now or datetime.now(timezone.utc)) - delta
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise LogOptionError(f"--since {text!r}: expected a duration like 30m, 1h, 2d or an ISO-8601 time like 2024-01-01T08:00") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def check_node(pipeline: "Pipeline", node: str | None, rows: list[dict[str, Any]]) -> None:
    """Refuse ``--node`` naming neither a node of the pipeline nor one in the log (a removed one)."""
    import difflib

    names = [n.name for n in pipeline.nodes]
    if node is None or node in names or rows:
        return
    close = difflib.get_close_matches(node, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise LogOptionError(f"--node {node!r} is not a node of pipeline {pipeline.name} (nodes: {', '.join(names)}){hint}")


def event_log_of(pipeline: "Pipeline") -> str:
    """The event log table of a pipeline (under its checkpoint root)."""
    from kappa.plan import checkpoint_root_of, pipeline_root
    from kappa.plan_layout import event_log_path

    return event_log_path(f"{checkpoint_root_of(pipeline, pipeline_root(pipeline)).rstrip('/')}/{pipeline.name}")


def event_log_storage(pipeline: "Pipeline", path: str) -> dict[str, Any] | None:
    """The storage options of the event log at ``path`` (the pipeline's, on an object store)."""
    from kappa.delta.storage import table_options
    from kappa.plan_kinds import resolve_secrets

    return resolve_secrets(table_options(path, None, pipeline.storage_options, writes=False)) or None


def read_events(path: str, node: str | None = None, since: datetime | None = None,
                storage_options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The event log's rows (oldest first), of ``node`` only and ended at/after ``since`` when
    given; [] when there is no event log yet (``storage_options``: of a table on an object store)."""
    import polars as pl

    from kappa.checkpoint.objects import is_remote
    from kappa.delta.read import read_delta

    if is_remote(path):
        from kappa.checkpoint import objects

        objects.register(path, storage_options)
        if not objects.exists(f"{path}/_delta_log"):
            return []
    elif not (Path(path) / "_delta_log").is_dir():
        return []
    frame = pl.from_arrow(read_delta(path, storage_options=storage_options))
    if node is not None:
        frame = frame.filter(pl.col("node") == node)
    if since is not None:
        frame = frame.filter(pl.col("ended_at") >= since)
    rows = frame.sort(["ended_at", "seq"]).to_dicts()
    for row in rows:
        failures = row.get("expectation_failures")
        row["expectation_failures"] = None if failures is None else {f["expectation"]: f["failing_rows"] for f in failures}
    return rows


def _time(value: Any) -> str:
    return "-" if value is None else value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _n(value: Any) -> str:
    return "-" if value is None else str(value)


def _details(row: dict[str, Any]) -> str:
    parts = [f"{name}: {count} failing" for name, count in (row.get("expectation_failures") or {}).items()]
    if row.get("watermark"):
        parts.append(f"watermark {row['watermark']}")
    if row.get("error"):
        parts.append(f"error: {row['error'].splitlines()[0]}")
    return "; ".join(parts)


HEAD = (f"{'ended (UTC)':<19}  {'run':<8}  {'event':<5}  {'node':<20} {'batch':>5} {'secs':>7} {'in':>8} {'out':>8} "
        f"{'dropped':>7} {'quar.':>6} {'dead':>5} {'late':>5} {'lag':>6} {'state':>6}  details")


def render(path: str, rows: list[dict[str, Any]]) -> str:
    """The rows as a plain-text table (one line per row)."""
    if not rows:
        return f"event log {path}: no rows"
    lines = [f"event log {path}: {len(rows)} row(s)", HEAD]
    for r in rows:
        secs = "-" if r.get("duration_seconds") is None else f"{r['duration_seconds']:.2f}"
        line = (f"{_time(r.get('ended_at')):<19}  {r['run_id'][:8]:<8}  {r['event']:<5}  {(r.get('node') or '-'):<20} "
                f"{_n(r.get('batch_id')):>5} {secs:>7} {_n(r.get('rows_in')):>8} {_n(r.get('rows_out')):>8} "
                f"{_n(r.get('rows_dropped')):>7} {_n(r.get('rows_quarantined')):>6} {_n(r.get('rows_dead')):>5} "
                f"{_n(r.get('late_rows')):>5} {_n(r.get('lag')):>6} {_n(r.get('state_rows')):>6}  {_details(r)}")
        lines.append(line.rstrip())
    return "\n".join(lines)


def to_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows JSON-ready (timestamps as ISO-8601 UTC)."""
    out = []
    for r in rows:
        item = dict(r)
        for key in ("started_at", "ended_at"):
            if item.get(key) is not None:
                item[key] = item[key].astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        out.append(item)
    return out
