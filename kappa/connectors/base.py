"""The two small types a connector kind provides: :class:`SourceKind` and :class:`SinkKind`.

Design. A kind is a frozen row of hooks, not a class hierarchy: each hook is a plain function
of the kind's module, and a kind leaves out what does not apply to it (the defaults below).
Plans are the frozen dataclasses of :mod:`kappa.plan_kinds`; ``plan_classes`` names the ones a
kind builds, so code holding a plan finds its kind by the plan's class
(:func:`kappa.connectors.registry.sink_kind_of`). The plan builder hands each ``plan`` hook a
context (:class:`SourceContext`, :class:`SinkContext`) holding what a kind may not decide
alone: the pipeline root (paths), the node, the sink's index and app id, and, for node
sources, what reading another node gives.

>>> schema_text({"b": "int", "a": "string"}), schema_text("a INT"), schema_text(None)
('{"a": "string", "b": "int"}', 'a INT', None)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

#: ``options -> {key: text}``: option values as descriptions show them, secrets redacted
#: (:func:`kappa.checkpoint.describe.describe_source` passes its own)
Redact = Callable[[Mapping[str, Any]], dict[str, str]]


def schema_text(schema: Any) -> str | None:
    """A declared schema as a description shows it (DDL as is, a mapping as sorted JSON)."""
    if schema is None:
        return None
    return schema if isinstance(schema, str) else json.dumps(schema, sort_keys=True, default=str)


@dataclass(frozen=True)
class AppTable:
    """A Delta table a node writes with app transactions: a sink or its dead-letter table."""

    label: str  # "sink 0" | "dead letters"
    path: str
    suffix: str  # app id suffix: "sink0" | "dead_letters"
    storage_options: dict | None = None


@dataclass(frozen=True)
class SourceContext:
    """What a source kind's ``plan`` hook is given besides the model."""

    #: the node whose source is planned (error messages)
    node: str
    #: a configured path made absolute against the pipeline root (URIs unchanged)
    resolve: Callable[[str], str]
    #: ``(upstream node, streaming) ->`` the plan of reading that node's readable sink, or None
    #: when it has none (its output is handed over in memory)
    read_node: Callable[[str, bool], Any] | None = None

    def path(self, path: str | None) -> str | None:
        return self.resolve(path) if path else None


@dataclass(frozen=True)
class SinkContext:
    """What a sink kind's ``plan`` hook is given besides the model."""

    node: str
    index: int
    #: whether the node's source is read incrementally (the default mode depends on it)
    streaming: bool
    #: the engine-less app id ``kappa:<pipeline>:<node>:sink<i>`` (see PipelinePlan.for_engine)
    app_id: str
    resolve: Callable[[str], str]

    def path(self, path: str | None) -> str | None:
        return self.resolve(path) if path else None


def _nothing(*_: Any) -> tuple:
    return ()


def _no_upstream(_: Any) -> None:
    return None


def _sink_path(plan: Any) -> tuple[str, ...]:
    return (plan.path,) if plan.path else ()


@dataclass(frozen=True)
class SourceKind:
    """One kind of source: its model, plan and everything the neutral code asks of it."""

    #: the registry key and the model's ``type`` tag
    name: str
    #: the pydantic model (``type: <name>``)
    model: type
    #: the plan dataclasses ``plan`` builds (a plan's kind is found by its class)
    plan_classes: tuple[type, ...]
    #: ``(model, SourceContext) -> plan``
    plan: Callable[[Any, SourceContext], Any]
    #: ``(plan, redact) ->`` the kind's part of the description (``format``, ``options``, ...)
    describe: Callable[[Any, Redact], dict[str, Any]]
    #: ``raw config mapping -> bool``: is a source written without ``type`` of this kind?
    recognise: Callable[[Mapping[str, Any]], bool] | None = None
    #: the order the ``recognise`` rules are tried in (lowest first)
    precedence: int = 50
    #: model fields holding client options whose ``${env.X}`` references stay unresolved
    secret_fields: tuple[str, ...] = ()
    #: ``model ->`` the node it reads (a graph edge), or None
    upstream: Callable[[Any], str | None] = _no_upstream
    #: ``(plan, CheckpointLayout) ->`` paths besides the node's checkpoint folder that are the
    #: node's own (deleted by ``--full-refresh``), e.g. a configured dead-letter table
    owned_paths: Callable[[Any, Any], tuple[str, ...]] = _nothing
    #: ``(plan, CheckpointLayout) ->`` Delta tables the node writes with app transactions
    app_tables: Callable[[Any, Any], tuple[AppTable, ...]] = _nothing
    #: ``stored batch JSON ->`` the typed description of one replay batch (:mod:`kappa.checkpoint.batches`)
    batch_from_json: Callable[[Mapping[str, Any]], Any] | None = None


@dataclass(frozen=True)
class SinkKind:
    """One kind of sink: its model, plan and everything the neutral code asks of it."""

    name: str
    #: the pydantic model; a kind may share another kind's model (``tag`` None)
    model: type
    plan_classes: tuple[type, ...]
    #: ``(model, SinkContext) -> plan`` (the kind decides the mode and validates it)
    plan: Callable[[Any, SinkContext], Any]
    #: ``plan ->`` the kind's part of the description (``path``, ``topic``, ...)
    describe: Callable[[Any], dict[str, Any]]
    #: the ``type`` value of the model in the sink union (None: not a union member of its own)
    tag: str | None = None
    #: ``model -> bool``: whether this kind plans the model (kinds sharing a model split it)
    claims: Callable[[Any], bool] = field(default=lambda model: True)
    recognise: Callable[[Mapping[str, Any]], bool] | None = None
    precedence: int = 50
    secret_fields: tuple[str, ...] = ()
    #: whether a downstream node can read what this kind wrote (lower: preferred), None: no
    read_rank: int | None = None
    #: ``(model, upstream node, streaming, resolve) ->`` the source plan of reading it
    upstream_source: Callable[[Any, str, bool, Callable[[str], str]], Any] | None = None
    #: ``plan ->`` paths that are the sink's own (deleted by ``--full-refresh`` when local)
    owned_paths: Callable[[Any], tuple[str, ...]] = _sink_path
    #: ``plan ->`` Delta tables written with app transactions (ownership checks)
    app_tables: Callable[[Any], tuple[AppTable, ...]] = _nothing
