"""The pipeline DAG: edges from node sources and ``{nodes.x}`` references.

Edges run upstream -> downstream. Selection follows dbt: ``name`` (the node), ``+name`` (with
everything upstream), ``name+`` (with everything downstream), ``+name+`` (both); several
selectors may be given separated by spaces or commas. The edges and the spec checks
(:func:`check_pipeline`: names, references, cycles) are the models' own (:mod:`kappa.models.checks`).

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

from kappa.errors import ConfigError
from kappa.models.checks import check_pipeline, find_cycle, pipeline_edges

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
        return find_cycle(self.nodes, ((e.upstream, e.downstream, e.kind) for e in self.edges))

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


def build_graph(pipeline: "Pipeline") -> PipelineGraph:
    """The graph of a pipeline whose references were checked by :func:`check_pipeline`."""
    names = tuple(n.name for n in pipeline.nodes)
    return PipelineGraph(nodes=names, edges=tuple(Edge(*e) for e in pipeline_edges(pipeline)))


__all__ = ["Edge", "PipelineGraph", "build_graph", "check_pipeline"]
