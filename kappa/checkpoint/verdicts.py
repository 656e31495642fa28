"""Fingerprints of a node and the verdict on a changed pipeline, for both engines.

An engine resumes a node from its checkpoint only when the node reads the same source from
the same starting point and keeps the same stateful operators. Next to each node's checkpoint
kappa stores the node's description (secrets redacted): ``<node checkpoint>/spark_fingerprint.json``
for Spark (the compiled query, :func:`kappa.engines.spark.compiler.describe_node`),
``<node checkpoint>/replay_fingerprint.json`` for Polars (:func:`kappa.checkpoint.describe.describe_node`).
Both descriptions use the same vocabulary (source ``kind``/``read``/``format``/``path``/
``upstream``, Spark's option names for what is read and from where: ``subscribe``,
``kafka.bootstrap.servers``, ``startingOffsets``, ``startingVersion``; ``steps``; ``sinks``), so one
set of rules decides for both. Before ``kappa replay``, ``kappa run`` and ``kappa stream start``
run anything, and in ``kappa plan``, the description about to run is compared with the stored one:

- ``new``: no checkpoint of this engine yet;
- ``unchanged``: same description;
- ``safe``: a change the checkpoint resumes from (a stateless column or SQL change, a new
  trigger, rate limits, sink options, a recorded checkpoint without fingerprint, any step
  change of a node that re-reads its whole source on each run, ...);
- ``full_refresh``: a change the checkpoint cannot resume from (another source kind, format,
  topic, path or starting point; a stateful step added, removed or changed on a streaming
  node; a merge sink's keys). kappa refuses to start (:class:`StreamRefused`, exit 2) until
  the node is reset with ``--full-refresh NODE``; ``kappa plan`` exits 3;
- ``orphan``: the checkpoint of a node that no longer exists (renamed or removed). Reported,
  not blocking; ``--full-refresh NAME`` deletes it and the sinks its fingerprint recorded.

Everything here except the fingerprint files is a pure function over description dicts.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from kappa.checkpoint import CheckpointRefused
from kappa.plan_layout import FINGERPRINT_FILES, CheckpointLayout

if TYPE_CHECKING:  # pragma: no cover
    from kappa.plan import PipelinePlan

FINGERPRINT_FILE = FINGERPRINT_FILES["spark"]
FINGERPRINT_VERSION = 1

NEW, UNCHANGED, SAFE, FULL_REFRESH, ORPHAN = "new", "unchanged", "safe", "full_refresh", "orphan"
LABELS = {NEW: "new", UNCHANGED: "unchanged", SAFE: "safe change", FULL_REFRESH: "needs full refresh", ORPHAN: "orphaned checkpoint"}

# Source options that name what is read and from where: changing one invalidates the offsets.
_KAFKA_IDENTITY = ("subscribe", "subscribePattern", "assign", "kafka.bootstrap.servers")
_STARTING = ("startingOffsets", "startingVersion", "startingTimestamp", "startingOffsetsByTimestamp")
# Formats whose checkpointed offsets are interchangeable (Spark's Kafka source and kappa's).
_SAME_OFFSETS = ({"kafka", "kappa_kafka"},)
# Method steps that keep rows across a stream in Spark's model (dedup, limits, row numbers).
STATEFUL_METHODS = frozenset({"unique", "drop_duplicates", "head", "limit", "with_row_index"})


class StreamRefused(CheckpointRefused):
    """A node's checkpoint cannot be resumed (see the verdicts) and no reset was asked for."""


@dataclass(frozen=True)
class Verdict:
    """What starting a node means for its checkpoint: ``status`` and the reasons."""

    node: str
    status: str
    reasons: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return LABELS[self.status]

    @property
    def blocks_start(self) -> bool:
        return self.status == FULL_REFRESH

    def render(self) -> str:
        """One line: ``node: verdict (reason; reason)``."""
        why = f" ({'; '.join(self.reasons)})" if self.reasons else ""
        return f"{self.node}: {self.label}{why}"


# ---------------------------------------------------------------- digest
def canonical(description: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a description that define the query: the checkpoint path and the sinks'
    app ids (derived from the names, and tagged with the engine since issue 7) are left out, and
    so is the ``materialized view`` text of a non-streaming aggregate (it keeps no state)."""
    out = {k: v for k, v in description.items() if k != "checkpoint" and not (k == "state" and isinstance(v, str))}
    if isinstance(out.get("sinks"), list):
        out["sinks"] = [{k: v for k, v in s.items() if k != "app_id"} if isinstance(s, dict) else s for s in out["sinks"]]
    return out


def digest(description: Mapping[str, Any]) -> str:
    """A stable SHA-256 of a description's canonical form."""
    text = json.dumps(canonical(description), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint_record(description: Mapping[str, Any], now: float | None = None) -> dict[str, Any]:
    """The JSON document stored next to a checkpoint."""
    return {
        "version": FINGERPRINT_VERSION,
        "digest": digest(description),
        "recorded_at": time.time() if now is None else now,
        "description": dict(description),
    }


# ---------------------------------------------------------------- stateful steps
def _render_sql(sql: str) -> str:
    from kappa.sql.refs import node_refs, render

    return render(sql, "__kappa_df", {ref: f"__kappa_node_{ref}" for ref in node_refs(sql)})


def sql_stateful_operators(sql: str) -> tuple[str, ...]:
    """Stateful streaming operators a SQL step uses: aggregation, DISTINCT, window, LIMIT."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(_render_sql(sql), read="spark")
    except Exception:  # noqa: BLE001 - unparsable SQL: assume it may keep state
        return ("unparsed SQL",)
    found: list[str] = []

    def add(name: str) -> None:
        if name not in found:
            found.append(name)

    for node in tree.walk():
        if isinstance(node, exp.Group):
            add("GROUP BY")
        elif isinstance(node, exp.Window):
            add("window function")
        elif isinstance(node, exp.AggFunc) and node.find_ancestor(exp.Window) is None:
            add("aggregate")
        elif isinstance(node, exp.Distinct):
            add("DISTINCT")
        elif isinstance(node, exp.Limit):
            add("LIMIT")
    return tuple(found)


def step_stateful_operators(step: Mapping[str, Any]) -> tuple[str, ...]:
    """Stateful operators of one described step (SQL or method)."""
    if step.get("kind") == "sql":
        return sql_stateful_operators(step.get("sql") or "")
    name = step.get("func_name")
    return (f"{name}()",) if name in STATEFUL_METHODS else ()


def _stateful_steps(desc: Mapping[str, Any], judged: frozenset = frozenset()) -> list[tuple[int, tuple[str, ...], Any]]:
    """The steps that may keep state, but ``judged``: those both descriptions' ``state`` entries
    name, judged by them (:func:`kappa.checkpoint.state.state_changes`), not by their text."""
    out = []
    for step in desc.get("steps", []):
        if step.get("index") in judged:
            continue
        ops = step_stateful_operators(step)
        if ops:
            body = step.get("sql") if step.get("kind") == "sql" else [step.get("func_name"), step.get("func_args"), step.get("func_kwargs")]
            out.append((step.get("index"), ops, body))
    return out


# ---------------------------------------------------------------- comparisons
def _same_format(a: Any, b: Any) -> bool:
    return a == b or any(a in group and b in group for group in _SAME_OFFSETS)


def source_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(unsafe, safe) differences between two described sources."""
    unsafe: list[str] = []
    safe: list[str] = []
    if old.get("kind") != new.get("kind"):
        return [f"source changed from {old.get('kind')} to {new.get('kind')}"], safe
    if old.get("read") != new.get("read"):
        unsafe.append(f"source read changed from {old.get('read')} to {new.get('read')}")
    if not _same_format(old.get("format"), new.get("format")):
        unsafe.append(f"source format changed from {old.get('format')} to {new.get('format')}")
    elif old.get("format") != new.get("format"):
        safe.append(f"source format {old.get('format')} -> {new.get('format')} (same offsets)")
    if old.get("path") != new.get("path"):
        unsafe.append(f"source path changed from {old.get('path')} to {new.get('path')}")
    if old.get("upstream") != new.get("upstream"):
        unsafe.append(f"upstream node changed from {old.get('upstream')} to {new.get('upstream')}")
    o_opts, n_opts = old.get("options") or {}, new.get("options") or {}
    for key in _KAFKA_IDENTITY:
        if o_opts.get(key) != n_opts.get(key):
            what = "topics" if key in ("subscribe", "subscribePattern", "assign") else key
            unsafe.append(f"source {what} changed from {o_opts.get(key)} to {n_opts.get(key)}")
    for key in _STARTING:
        if o_opts.get(key) != n_opts.get(key):
            unsafe.append(f"starting point {key} changed from {o_opts.get(key)} to {n_opts.get(key)}")
    # Files appearing in a folder add glob/recursive options: they do not change what is read.
    ignored = set(_KAFKA_IDENTITY) | set(_STARTING) | {"pathGlobFilter", "recursiveFileLookup"}
    other = sorted(k for k in set(o_opts) | set(n_opts) if k not in ignored and o_opts.get(k) != n_opts.get(k))
    if other:
        safe.append("source options changed: " + ", ".join(other))
    if old.get("schema") != new.get("schema"):
        safe.append("source schema changed")
    if old.get("value_format") != new.get("value_format"):
        safe.append(f"value format changed from {old.get('value_format')} to {new.get('value_format')}")
    return unsafe, safe


def _per_run(desc: Mapping[str, Any]) -> bool:
    return (desc.get("source") or {}).get("read") == "per_run"


def step_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(unsafe, safe) differences between the steps of two descriptions.

    A node that re-reads its whole source on each run (``read: per_run``, a batch node) keeps
    no state between runs: any step change, stateful or not, is safe there."""
    unsafe: list[str] = []
    if _per_run(old) and _per_run(new):
        if old.get("steps") == new.get("steps"):
            return [], []
        stateful = bool(_stateful_steps(old) or _stateful_steps(new))
        what = "steps changed (stateful ones too)" if stateful else "stateless steps changed"
        return [], [f"{what}; the node re-reads its whole source on each run: no state to lose"]
    from kappa.checkpoint.state import operator_steps, state_changes

    both = isinstance(old.get("state"), Mapping) and isinstance(new.get("state"), Mapping)
    before = _stateful_steps(old, frozenset(operator_steps(old)) if both else frozenset())
    after = _stateful_steps(new, frozenset(operator_steps(new)) if both else frozenset())
    if [(ops, body) for _, ops, body in before] != [(ops, body) for _, ops, body in after]:
        before_set = {(ops, json.dumps(body, sort_keys=True, default=str)) for _, ops, body in before}
        for index, ops, body in after:
            if (ops, json.dumps(body, sort_keys=True, default=str)) not in before_set:
                unsafe.append(f"step {index} adds or changes a stateful operator ({', '.join(ops)})")
        after_set = {(ops, json.dumps(body, sort_keys=True, default=str)) for _, ops, body in after}
        for index, ops, body in before:
            if (ops, json.dumps(body, sort_keys=True, default=str)) not in after_set:
                unsafe.append(f"stateful step {index} ({', '.join(ops)}) removed or changed")
        if not unsafe:
            unsafe.append("stateful steps reordered")
    state_unsafe, safe = state_changes(old.get("state"), new.get("state"))
    if old.get("steps") != new.get("steps") and not unsafe and not state_unsafe:
        safe.append("stateless steps changed")
    return unsafe + state_unsafe, safe


def sink_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(unsafe, safe) differences between the sinks of two descriptions."""
    unsafe: list[str] = []
    safe: list[str] = []
    o_sinks = {s.get("index"): s for s in old.get("sinks", [])}
    n_sinks = {s.get("index"): s for s in new.get("sinks", [])}
    for index in sorted(set(o_sinks) | set(n_sinks), key=lambda i: (i is None, i)):
        a, b = o_sinks.get(index), n_sinks.get(index)
        if a == b:
            continue
        if a is None:
            safe.append(f"sink {index} added (receives new data only)")
        elif b is None:
            safe.append(f"sink {index} removed")
        elif a.get("merge") != b.get("merge") and (a.get("merge") or b.get("merge")):
            unsafe.append(f"sink {index} merge settings changed (its table state was built with the old ones)")
        elif a.get("keys") != b.get("keys") and "upsert" in (a.get("mode"), b.get("mode")):
            unsafe.append(f"sink {index} upsert keys changed from {a.get('keys')} to {b.get('keys')} (its rows were matched on the old ones)")
        elif a.get("path") != b.get("path") or a.get("topic") != b.get("topic"):
            safe.append(f"sink {index} target changed (receives new data only)")
        else:
            safe.append(f"sink {index} settings changed")
    return unsafe, safe


def compare(old: Mapping[str, Any] | None, new: Mapping[str, Any], checkpoint_exists: bool = True) -> Verdict:
    """The verdict of starting ``new`` over a checkpoint recorded with ``old``.

    ``old`` is the stored description (None: none stored); ``checkpoint_exists`` tells whether
    the node has a checkpoint of the engine that runs it (without one, everything starts
    fresh: ``new``).
    """
    name = new.get("node", "?")
    if not checkpoint_exists:
        return Verdict(name, NEW)
    if old is None:
        return Verdict(name, SAFE, ("checkpoint has no fingerprint yet; recorded on start",))
    if digest(old) == digest(new):
        return Verdict(name, UNCHANGED)
    unsafe: list[str] = []
    safe: list[str] = []
    for check in (source_changes, step_changes, sink_changes):
        part = (old.get("source") or {}, new.get("source") or {}) if check is source_changes else (old, new)
        u, s = check(*part)
        if check is source_changes and _per_run(old) and _per_run(new):
            s, u = u + s, []  # no offsets to lose: the whole source is re-read on each run
        unsafe += u
        safe += s
    if old.get("expectations") != new.get("expectations"):
        safe.append("expectations changed")
    if old.get("trigger") != new.get("trigger"):
        safe.append("trigger changed")
    if old.get("profile") != new.get("profile"):
        safe.append(f"connector profile {old.get('profile')} -> {new.get('profile')}")
    if unsafe:
        return Verdict(name, FULL_REFRESH, tuple(unsafe))
    return Verdict(name, SAFE, tuple(safe) or ("description changed",))


def orphan_verdict(name: str) -> Verdict:
    """The verdict of a checkpoint whose node is not in the pipeline any more: reported, not
    blocking (nothing runs it); ``--full-refresh NAME`` deletes it and the sinks it recorded."""
    return Verdict(
        name, ORPHAN,
        (f"checkpoint of node {name!r}, which no longer exists (renamed or removed?); not run, not blocking; "
         f"delete it and its sinks with --full-refresh {name}",),
    )


# ---------------------------------------------------------------- files
def _layout(node_checkpoint: "str | CheckpointLayout") -> CheckpointLayout:
    return node_checkpoint if isinstance(node_checkpoint, CheckpointLayout) else CheckpointLayout(str(node_checkpoint))


def fingerprint_path(node_checkpoint: "str | CheckpointLayout", engine: str = "spark") -> Path:
    """Where a node's fingerprint of ``engine`` lives: next to that engine's checkpoint."""
    layout = node_checkpoint if isinstance(node_checkpoint, CheckpointLayout) else CheckpointLayout(node_checkpoint)
    return Path(layout.fingerprint(engine))


def read_fingerprint(node_checkpoint: str, engine: str = "spark") -> dict[str, Any] | None:
    """The stored description of a node, or None when there is none (or it is unreadable)."""
    from kappa.checkpoint.objects import is_remote

    try:
        if is_remote(node_checkpoint):
            from kappa.checkpoint import objects

            record = json.loads(objects.get(_layout(node_checkpoint).fingerprint(engine)) or b"null")
        else:
            record = json.loads(fingerprint_path(node_checkpoint, engine).read_text())
    except (OSError, ValueError):
        return None
    desc = record.get("description") if isinstance(record, dict) else None
    return desc if isinstance(desc, dict) else None


def write_fingerprint(node_checkpoint: str, description: Mapping[str, Any], engine: str = "spark") -> Path:
    """Store ``description`` as the node's fingerprint (atomically, a tmp name per process);
    a fingerprint already stored with the same description is left as it is (one synced write
    less per node and run)."""
    from kappa.atomic import write_json
    from kappa.checkpoint.objects import is_remote

    record = fingerprint_record(description)
    if is_remote(node_checkpoint):  # one PUT: atomic on an object store
        from kappa.checkpoint import objects

        uri = _layout(node_checkpoint).fingerprint(engine)
        objects.put(uri, (json.dumps(record, sort_keys=True, indent=2, default=str) + "\n").encode())
        return uri  # type: ignore[return-value]
    path = fingerprint_path(node_checkpoint, engine)
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = None
    same = isinstance(old, dict) and all(old.get(k) == json.loads(json.dumps(record[k], default=str))
                                         for k in ("version", "digest", "description"))
    return path if same else write_json(path, record, indent=2)


def checkpoint_exists(node_checkpoint: str, engine: str = "spark") -> bool:
    """True when the node's checkpoint of ``engine`` has recorded at least one batch."""
    from kappa.checkpoint.ownership import has_progress

    return has_progress(node_checkpoint, engine)


# ---------------------------------------------------------------- plan checks
def orphan_checkpoints(plan: "PipelinePlan") -> list[str]:
    """Names of checkpoint folders under ``<root>/<pipeline>/`` with no node of that name."""
    from kappa.checkpoint.objects import is_remote

    if is_remote(plan.folder):
        from kappa.checkpoint import objects

        return sorted(n for n in objects.folders(plan.folder) if not n.startswith(".") and n not in plan.all_nodes)
    folder = Path(plan.folder)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name not in plan.all_nodes)


def plan_verdicts(plan: "PipelinePlan", descriptions: dict[str, dict[str, Any]], engine: str = "spark") -> list[Verdict]:
    """Verdicts of the selected nodes (``descriptions`` by node name) on ``engine``, then one
    (non-blocking) per orphaned checkpoint."""
    out = []
    for node in plan.nodes:
        old = read_fingerprint(node.checkpoint, engine)
        out.append(compare(old, descriptions[node.name], checkpoint_exists(node.checkpoint, engine)))
    out.extend(orphan_verdict(name) for name in orphan_checkpoints(plan))
    return out
