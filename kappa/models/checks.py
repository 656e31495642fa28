"""Checks of a whole pipeline spec that no single field can make: node names, references,
cycles, quarantine sinks, merge sinks without keys.

Design note: this runs inside :class:`~kappa.models.Pipeline`'s validator, so it belongs to the
spec and imports only what the models may (pydantic models, :mod:`kappa.errors`, the SQL
reference parser :mod:`kappa.sql.refs` and the connector registry, whose kinds tell the node a
source reads). :mod:`kappa.graph` builds the DAG from the same edges
(:func:`pipeline_edges`) and finds cycles with the same :func:`find_cycle`; the Debezium merge
defaults (:mod:`kappa.cdc.sink_defaults`) use :func:`debezium_defaults_apply`.
"""

from __future__ import annotations

import difflib
from typing import Any, Iterable, Literal

from kappa.connectors.registry import upstream_of
from kappa.errors import ConfigIssue
from kappa.sql.refs import node_refs

# The arguments are a kappa.models Pipeline / PipelineNode / CdcMerge; not imported even for
# typing, since kappa.models.pipeline imports this module (no import cycle, lazy or typed).
_Pipeline = _Node = _Merge = Any

EdgeKind = Literal["source", "sql"]


def sql_refs(node: _Node) -> list[tuple[int, str]]:
    """``(step index, node name)`` of every ``{nodes.x}`` reference in the node's SQL steps."""
    out = []
    for i, step in enumerate(node.steps):
        expr = getattr(step, "expr", None)
        if expr:
            out.extend((i, r) for r in node_refs(expr))
    return out


def pipeline_edges(pipeline: _Pipeline) -> list[tuple[str, str, EdgeKind]]:
    """``(upstream, downstream, kind)`` per edge: a node source, or a SQL reference that is not
    also the node's source; in declaration order, without duplicates."""
    edges: list[tuple[str, str, EdgeKind]] = []
    for node in pipeline.nodes:
        upstream = upstream_of(node.source) if node.source is not None else None
        if upstream is not None:
            edges.append((upstream, node.name, "source"))
        for _, ref in sql_refs(node):
            e = (ref, node.name, "sql")
            if e not in edges and (ref, node.name, "source") not in edges:
                edges.append(e)
    return edges


def find_cycle(nodes: Iterable[str], edges: Iterable[tuple[str, str, Any]]) -> list[str] | None:
    """A cycle as a list of names (first == last), or None.

    >>> find_cycle(["a", "b"], [("a", "b", "sql"), ("b", "a", "source")])
    ['a', 'b', 'a']
    """
    down: dict[str, list[str]] = {}
    for up, d, _ in edges:
        down.setdefault(up, []).append(d)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for d in down.get(n, []):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in nodes:
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def debezium_defaults_apply(node: _Node) -> bool:
    """Whether ``node``'s merge sinks get the Debezium defaults (:mod:`kappa.cdc.sink_defaults`):
    it reads a Kafka source with ``value_format: debezium`` and has no transformer steps."""
    src = node.source
    return (src is not None and src.type == "kafka" and src.value_format == "debezium"
            and not node.steps)


def merge_of(sink: Any) -> "_Merge | None":
    """A Delta sink's ``merge`` options, or None."""
    return getattr(sink, "merge", None) if getattr(sink, "type", None) == "delta" else None


def check_merge_sinks(pipeline: _Pipeline) -> list[ConfigIssue]:
    """Merge sinks without ``keys`` / ``sequence_by`` where no default can fill them."""
    issues = []
    for i, node in enumerate(pipeline.nodes):
        if debezium_defaults_apply(node):
            continue
        for j, sink in enumerate(node.sinks):
            merge = merge_of(sink)
            if merge is None:
                continue
            missing = [f for f in ("keys", "sequence_by") if getattr(merge, f) is None]
            if not missing:
                continue
            what = " and ".join(missing) + (" are" if len(missing) > 1 else " is")
            src = node.source
            if src is not None and src.type == "kafka" and src.value_format == "debezium":
                why = (": the Debezium defaults apply only to a node without transformer steps "
                       "(steps may rename the decoded columns)")
            else:
                why = " unless the node's source is value_format: debezium"
            issues.append(ConfigIssue(f"{what} required{why}", path=f"nodes[{i}].sinks[{j}].merge"))
    return issues


def check_state(pipeline: _Pipeline) -> list[ConfigIssue]:
    """Streaming state (:mod:`kappa.stateful.analyze`): Spark's output-mode and stateful-step rules,
    and upsert sinks without ``keys`` where the node has no streaming aggregate to take them from."""
    from kappa.stateful.analyze import default_upsert_keys, node_issues

    issues: list[ConfigIssue] = []
    for i, node in enumerate(pipeline.nodes):
        found = node_issues(node, f"nodes[{i}]")
        issues += found
        for j, sink in enumerate(node.sinks):
            upsert = getattr(sink, "type", None) == "delta" and getattr(sink, "mode", None) == "upsert"
            if upsert and not sink.keys and not found and not default_upsert_keys(node):
                issues.append(ConfigIssue(
                    f"node {node.name!r}: mode `upsert` needs `keys`: only a streaming aggregate node "
                    "defaults them (to its grouping keys, window included)", path=f"nodes[{i}].sinks[{j}].mode"))
    return issues


def check_pipeline(pipeline: _Pipeline) -> list[ConfigIssue]:
    """Semantic checks that a single field cannot make: names, references, cycles, quarantine."""
    issues: list[ConfigIssue] = []
    seen: dict[str, int] = {}
    for i, node in enumerate(pipeline.nodes):
        if node.name in seen:
            issues.append(ConfigIssue(f"duplicate node name {node.name!r} (also nodes[{seen[node.name]}])", path=f"nodes[{i}].name"))
        else:
            seen[node.name] = i
    for i, node in enumerate(pipeline.nodes):
        src = node.source
        if src is not None and src.type == "node":
            if src.node_name not in seen:
                issues.append(ConfigIssue(f"node source {src.node_name!r} is not a node of this pipeline{_hint(src.node_name, seen)} ({_known(seen)})", path=f"nodes[{i}].source.node_name"))
            elif src.node_name == node.name:
                issues.append(ConfigIssue("a node cannot read itself", path=f"nodes[{i}].source.node_name"))
        for step_i, ref in sql_refs(node):
            if ref not in seen:
                issues.append(ConfigIssue(f"{{nodes.{ref}}} is not a node of this pipeline{_hint(ref, seen)} ({_known(seen)})", path=f"nodes[{i}].transformer.nodes[{step_i}].expr"))
        names = [e.name for e in node.expectations]
        for j, name in enumerate(names):
            if name in names[:j]:
                issues.append(ConfigIssue(f"duplicate expectation name {name!r}", path=f"nodes[{i}].expectations[{j}].name"))
        has_quarantine = any(e.action == "quarantine" for e in node.expectations)
        if node.quarantine_sinks and not has_quarantine:
            j = next(k for k, s in enumerate(node.sinks) if s.is_quarantine)
            issues.append(ConfigIssue("a quarantine sink needs at least one expectation with action `quarantine`", path=f"nodes[{i}].sinks[{j}].is_quarantine"))
        if has_quarantine and node.output_sinks and not node.quarantine_sinks:
            j = next(k for k, e in enumerate(node.expectations) if e.action == "quarantine")
            issues.append(ConfigIssue("quarantine expectations need a sink with `is_quarantine: true`, or quarantined rows would be lost", path=f"nodes[{i}].expectations[{j}].action"))
        if node.source is None and not any(getattr(s, "expr", None) for s in node.steps):
            issues.append(ConfigIssue("a node needs a `source` or a SQL step that reads `{nodes.x}`", path=f"nodes[{i}]"))
    issues += check_merge_sinks(pipeline)
    issues += check_state(pipeline)
    if not issues:
        cycle = find_cycle([n.name for n in pipeline.nodes], pipeline_edges(pipeline))
        if cycle:
            issues.append(ConfigIssue(f"cycle: {' -> '.join(cycle)}", path=f"nodes[{seen[cycle[0]]}]"))
    return issues


def _known(seen: dict[str, int]) -> str:
    return "nodes: " + ", ".join(seen)


def _hint(name: str, seen: dict[str, int]) -> str:
    close = difflib.get_close_matches(name, list(seen), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
