"""The engine-neutral description of a node, which the replay (Polars) engine fingerprints.

Same shape and vocabulary as the Spark engine's compiled-query description (see
:mod:`kappa.checkpoint.verdicts`): what is read and from where uses Spark's option names
(``subscribe``, ``kafka.bootstrap.servers``, ``startingOffsets``, ``startingVersion``), so one set
of verdict rules judges both engines. Secret-looking option values are redacted. What each
kind of source and sink adds is its kind's ``describe`` hook (:mod:`kappa.connectors`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping

from kappa.checkpoint.query import QueryDescription, node_parts
from kappa.connectors.registry import sink_kind_of, source_kind_of

if TYPE_CHECKING:  # pragma: no cover
    from kappa.plan import NodePlan, SinkPlan, SourcePlan

REDACTED = "***"


def _options(options: Mapping[str, Any]) -> dict[str, str]:
    from kappa.kafka.client import is_secret_key

    out = {}
    for key, value in options.items():
        lowered = str(key).lower()
        secret = is_secret_key(str(key)) or any(m in lowered for m in ("access_key", "account_key", "sas_token", "session_token", "secret", "password"))
        out[str(key)] = REDACTED if secret else (value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str))
    return dict(sorted(out.items()))


def describe_source(source: "SourcePlan | None") -> dict[str, Any]:
    if source is None:
        return {"kind": "none", "read": "per_run", "format": None, "options": {}, "schema": None, "path": None}
    out: dict[str, Any] = {"kind": source.kind, "read": "stream" if source.streaming else "per_run", "path": source.path, "schema": None}
    out.update(source_kind_of(source).describe(source, _options))
    if source.upstream:
        out["upstream"] = source.upstream
    return out


def describe_sink(sink: "SinkPlan") -> dict[str, Any]:
    out: dict[str, Any] = {"index": sink.index, "kind": sink.kind, "mode": sink.mode, "quarantine": sink.quarantine}
    out.update(sink_kind_of(sink).describe(sink))
    return out


def describe_query(node: "NodePlan") -> QueryDescription:
    """The description of a node as the replay engine runs it."""
    return QueryDescription(
        node=node.name,
        engine="polars",
        source=describe_source(node.source),
        sinks=tuple(describe_sink(s) for s in node.sinks),
        checkpoint=node.layout.replay,
        **node_parts(node),
    )


def describe_node(node: "NodePlan") -> dict[str, Any]:
    """The JSON-serialisable description of a node as the replay engine runs it."""
    return describe_query(node).as_dict()
