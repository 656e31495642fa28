"""The registry: one row per source kind (``SOURCES``) and per sink kind (``SINKS``).

Design. Every place that used to test a kind by name asks here: the spec unions and their
discriminators (:func:`source_kind_tag`, :func:`sink_kind_tag`), the plan builder
(:func:`source_plan`, :func:`sink_plan`), the config messages (:func:`source_tags`), the
secret-bearing option names (:func:`secret_fields`), and code holding a plan
(:func:`source_kind_of`, :func:`sink_kind_of`: by the plan's class). Rows are in the order
messages list them; ``precedence`` orders the rules that recognise a kind written without
``type``. An unknown name is a :class:`UnknownKind` error naming the known ones.

>>> list(SOURCES), list(SINKS)
(['file', 'delta', 'kafka', 'node'], ['file', 'delta', 'kafka', 'cdc_merge'])
>>> source_kind_tag({"topic": "t"}), sink_kind_tag({"path": "x", "merge": {}})
('kafka', 'delta')
>>> sink_kind("parquet")
Traceback (most recent call last):
    ...
kappa.connectors.registry.UnknownKind: unknown sink kind 'parquet'; known: file, delta, kafka, cdc_merge
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from kappa.connectors import cdc_merge, delta, files, kafka, node
from kappa.connectors.base import SinkContext, SinkKind, SourceContext, SourceKind
from kappa.errors import KappaError
from kappa.models.base import KappaModel

SOURCES: dict[str, SourceKind] = {k.name: k for k in (files.SOURCE, delta.SOURCE, kafka.SOURCE, node.SOURCE)}
SINKS: dict[str, SinkKind] = {k.name: k for k in (files.SINK, delta.SINK, kafka.SINK, cdc_merge.SINK)}


class UnknownKind(KappaError):
    """A source or sink kind no registry row has."""


def _lookup(rows: Mapping[str, Any], name: str, what: str) -> Any:
    try:
        return rows[name]
    except KeyError:
        raise UnknownKind(f"unknown {what} kind {name!r}; known: {', '.join(rows)}") from None


def source_kind(name: str) -> SourceKind:
    return _lookup(SOURCES, name, "source")


def sink_kind(name: str) -> SinkKind:
    return _lookup(SINKS, name, "sink")


def _of_plan(rows: Mapping[str, Any], plan: Any, what: str) -> Any:
    for cls in type(plan).__mro__:
        for row in rows.values():
            if cls in row.plan_classes:
                return row
    raise UnknownKind(f"no {what} kind plans a {type(plan).__name__}")


def source_kind_of(plan: Any) -> SourceKind:
    """The kind of a source plan (by its class)."""
    return _of_plan(SOURCES, plan, "source")


def sink_kind_of(plan: Any) -> SinkKind:
    """The kind of a sink plan (by its class: a MergeSinkPlan is ``cdc_merge``)."""
    return _of_plan(SINKS, plan, "sink")


def sink_kind_for(model: Any) -> SinkKind:
    """The kind that plans a sink model (kinds sharing a model split it with ``claims``)."""
    for row in SINKS.values():
        if isinstance(model, row.model) and row.claims(model):
            return row
    raise UnknownKind(f"no sink kind plans a {type(model).__name__}")


# ---------------------------------------------------------------- the spec's unions
def source_tags() -> tuple[str, ...]:
    """The ``type`` values of the source union, in message order."""
    return tuple(SOURCES)


def sink_tags() -> tuple[str, ...]:
    """The ``type`` values of the sink union (kinds with a model of their own)."""
    return tuple(k.tag for k in SINKS.values() if k.tag is not None)


def _tagger(rows: list[Any]) -> Callable[[Any], str | None]:
    rules = sorted((k for k in rows if k.recognise is not None), key=lambda k: k.precedence)

    def tag(value: Any) -> str | None:
        if isinstance(value, KappaModel):
            return getattr(value, "type", None)
        if not isinstance(value, dict):
            return None
        if "type" in value:
            return str(value["type"]).lower()
        return next((k.name for k in rules if k.recognise(value)), None)

    return tag


#: the discriminators: the ``type`` of a source / sink as written, or the kind recognised
source_kind_tag = _tagger(list(SOURCES.values()))
sink_kind_tag = _tagger([k for k in SINKS.values() if k.tag is not None])


def secret_fields() -> frozenset[str]:
    """Every model field holding client options whose ``${env.X}`` references stay unresolved."""
    return frozenset(f for rows in (SOURCES, SINKS) for k in rows.values() for f in k.secret_fields)


# ---------------------------------------------------------------- the plan builder's lookups
def readable_sink(node_model: Any) -> Any | None:
    """The sink model a downstream node reads: the output sink of the lowest ``read_rank``
    (the first Delta one, else the first file one), None when it has none."""
    ranked = [(sink_kind_for(s).read_rank, i, s) for i, s in enumerate(node_model.output_sinks)]
    ranked = [r for r in ranked if r[0] is not None]
    return min(ranked, key=lambda r: r[:2])[2] if ranked else None


def readable(sink: Any) -> bool:
    """Whether downstream nodes can read what a sink plan wrote (Delta and file sinks)."""
    return sink_kind_of(sink).read_rank is not None


def source_plan(model: Any, *, node: str, nodes: Mapping[str, Any], resolve: Callable[[str], str]) -> Any:
    """The plan of a node's source model (a node source reads its upstream's readable sink)."""

    def read_node(upstream: str, streaming: bool) -> Any:
        sink = readable_sink(nodes[upstream])
        if sink is None:
            return None
        return sink_kind_for(sink).upstream_source(sink, upstream, streaming, resolve)

    return source_kind(model.type).plan(model, SourceContext(node=node, resolve=resolve, read_node=read_node))


def sink_plan(model: Any, ctx: SinkContext) -> Any:
    """The plan of a sink model; its kind decides the mode."""
    return sink_kind_for(model).plan(model, ctx)


def upstream_of(model: Any) -> str | None:
    """The node a source model reads, or None."""
    return source_kind(model.type).upstream(model)


def batch_kind(kind: str) -> SourceKind | None:
    """The source kind whose plans carry ``kind`` (a replay batch records it), or None."""
    for row in SOURCES.values():
        if any(cls.kind == kind for cls in row.plan_classes):
            return row
    return None
