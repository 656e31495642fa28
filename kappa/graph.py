"""The pipeline DAG: edges from node sources and ``{nodes.x}`` references.

Edges run upstream -> downstream. Selection follows dbt: ``name`` (the node), ``+name`` (with
everything upstream), ``name+`` (with everything downstream), ``+name+`` (both); several
selectors may be given separated by spaces or commas.

>>> g = PipelineGraph(nodes=("a", "b", "c"), edges=(Edge("a", "b", "source"), Edge("b", "c", "sql")))
>>> g.topological_order()
['a', 'b', 'c']
>>> g.select(["b+"])
['b', 'c']
>>> g.select(["+b"])
['a', 'b']
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Literal

from kappa.errors import ConfigError, ConfigIssue

if TYPE_CHECKING:  # pragma: no cover
    from kappa.models import Pipeline


@dataclass(frozen=True)
class Edge:
    """``upstream`` feeds ``downstream``, as its source or through a SQL ``{nodes.x}`` reference."""

    upstream: str
    downstream: str
    kind: Literal["source", "sql"]


@dataclass(frozen=True)
class PipelineGraph:
    """Nodes (in declaration order) and edges of a pipeline."""

    nodes: tuple[str, ...]
    edges: tuple[Edge, ...]

    def upstream_of(self, name: str) -> list[str]:
        return [e.upstream for e in self.edges if e.downstream == name]

    def downstream_of(self, name: str) -> list[str]:
        return [e.downstream for e in self.edges if e.upstream == name]

    def find_cycle(self) -> list[str] | None:
        """A cycle as a list of names (first == last), or None."""
        state: dict[str, int] = {}
        stack: list[str] = []

        def visit(n: str) -> list[str] | None:
            state[n] = 1
            stack.append(n)
            for d in self.downstream_of(n):
                if state.get(d) == 1:
                    return stack[stack.index(d):] + [d]
                if d not in state:
                    found = visit(d)
                    if found:
                        return found
            stack.pop()
            state[n] = 2
            return None

        for n in self.nodes:
            if n not in state:
                found = visit(n)
                if found:
                    return found
        return None

    def topological_order(self) -> list[str]:
        """Nodes in an order where every node comes after its upstreams (stable: declaration order)."""
        indeg = {n: 0 for n in self.nodes}
        for e in self.edges:
            indeg[e.downstream] += 1
        order: list[str] = []
        ready = [n for n in self.nodes if indeg[n] == 0]
        while ready:
            n = ready.pop(0)
            order.append(n)
            for d in self.downstream_of(n):
                indeg[d] -= 1
                if indeg[d] == 0:
                    ready.append(d)
            ready.sort(key=self.nodes.index)
        if len(order) != len(self.nodes):
            raise ConfigError(f"the pipeline has a cycle: {' -> '.join(self.find_cycle() or [])}")
        return order

    def _closure(self, start: str, step) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            n = todo.pop()
            for m in step(n):
                if m not in seen:
                    seen.add(m)
                    todo.append(m)
        return seen

    def select(self, selectors: Iterable[str] | None) -> list[str]:
        """Nodes matching dbt-style selectors, in topological order (all nodes when empty)."""
        items = [s for sel in (selectors or []) for s in sel.replace(",", " ").split()]
        if not items:
            return self.topological_order()
        chosen: set[str] = set()
        for item in items:
            up, down = item.startswith("+"), item.endswith("+")
            name = item[1 if up else 0 : -1 if down else None]
            if not name or "+" in name:
                raise ConfigError(f"--select {item}: not a selector; use node, +node, node+ or +node+")
            if name not in self.nodes:
                close = difflib.get_close_matches(name, list(self.nodes), n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else f"nodes: {', '.join(self.nodes)}"
                raise ConfigError(f"--select {item}: no node named {name!r} ({hint})")
            chosen.add(name)
            if up:
                chosen |= self._closure(name, self.upstream_of)
            if down:
                chosen |= self._closure(name, self.downstream_of)
        return [n for n in self.topological_order() if n in chosen]

    def to_text(self) -> str:
        """Indented text: each node with the nodes it reads from."""
        lines = []
        for n in self.topological_order():
            ups = [f"{e.upstream}{' (sql)' if e.kind == 'sql' else ''}" for e in self.edges if e.downstream == n]
            lines.append(f"{n}" + (f"  <- {', '.join(ups)}" if ups else ""))
        return "\n".join(lines)

    def to_mermaid(self) -> str:
        """A Mermaid flowchart (``graph LR``); SQL references are dotted edges."""
        ids: dict[str, str] = {}
        for n in self.nodes:  # `a-b` and `a_b` are different nodes: keep their ids apart
            mid, k = _mid(n), 1
            while mid in ids.values():
                mid, k = f"{_mid(n)}_{k}", k + 1
            ids[n] = mid
        lines = ["graph LR"]
        for n in self.nodes:
            lines.append(f"    {ids[n]}[\"{n}\"]")
        for e in self.edges:
            arrow = "-.->" if e.kind == "sql" else "-->"
            lines.append(f"    {ids[e.upstream]} {arrow} {ids[e.downstream]}")
        return "\n".join(lines)


def _mid(name: str) -> str:
    return "n_" + "".join(c if c.isalnum() else "_" for c in name)


def _sql_refs(node) -> list[tuple[int, str]]:
    from kappa.sql.refs import node_refs

    out = []
    for i, step in enumerate(node.steps):
        expr = getattr(step, "expr", None)
        if expr:
            out.extend((i, r) for r in node_refs(expr))
    return out


def build_graph(pipeline: "Pipeline") -> PipelineGraph:
    """The graph of a pipeline whose references were checked by :func:`check_pipeline`."""
    names = tuple(n.name for n in pipeline.nodes)
    edges: list[Edge] = []
    for node in pipeline.nodes:
        src = node.source
        if src is not None and src.type == "node":
            edges.append(Edge(src.node_name, node.name, "source"))
        for _, ref in _sql_refs(node):
            e = Edge(ref, node.name, "sql")
            if e not in edges and Edge(ref, node.name, "source") not in edges:
                edges.append(e)
    return PipelineGraph(nodes=names, edges=tuple(edges))


def check_pipeline(pipeline: "Pipeline") -> list[ConfigIssue]:
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
        for step_i, ref in _sql_refs(node):
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
    from kappa.cdc.sink_defaults import check_merge_sinks

    issues += check_merge_sinks(pipeline)
    if not issues:
        cycle = build_graph(pipeline).find_cycle()
        if cycle:
            idx = seen[cycle[0]]
            issues.append(ConfigIssue(f"cycle: {' -> '.join(cycle)}", path=f"nodes[{idx}]"))
    return issues


def _known(seen: dict[str, int]) -> str:
    return "nodes: " + ", ".join(seen)


def _hint(name: str, seen: dict[str, int]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(seen), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
