"""The engine-neutral description of a node, which the replay (Polars) engine fingerprints.

Same shape and vocabulary as the Spark engine's compiled-query description (see
:mod:`kappa.checkpoint.verdicts`): what is read and from where uses Spark's option names
(``subscribe``, ``kafka.bootstrap.servers``, ``startingOffsets``, ``startingVersion``), so one set
of verdict rules judges both engines. Secret-looking option values are redacted.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping

from kappa.checkpoint.query import QueryDescription, node_parts

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


def _schema(schema: Any) -> str | None:
    if schema is None:
        return None
    return schema if isinstance(schema, str) else json.dumps(schema, sort_keys=True, default=str)


def describe_source(source: "SourcePlan | None") -> dict[str, Any]:
    if source is None:
        return {"kind": "none", "read": "per_run", "format": None, "options": {}, "schema": None, "path": None}
    out: dict[str, Any] = {"kind": source.kind, "read": "stream" if source.streaming else "per_run", "path": source.path, "schema": None}
    if source.kind == "kafka":
        start = source.starting_offsets
        opts = {
            "kafka.bootstrap.servers": source.bootstrap_servers,
            "subscribe": ",".join(source.topics),
            "startingOffsets": start if isinstance(start, str) else json.dumps(start, separators=(",", ":"), sort_keys=True),
        }
        if source.max_offsets_per_trigger:
            opts["maxOffsetsPerTrigger"] = str(source.max_offsets_per_trigger)
        if source.include_headers:
            opts["includeHeaders"] = "true"
        opts.update(_options({f"kafka.{k}" if not k.startswith("kafka.") else k: v for k, v in source.options.items()}))
        out.update(format="kafka", options=opts, schema=_schema(source.schema), value_format=source.value_format)
    elif source.kind == "delta":
        opts = {}
        if source.streaming and source.starting_version is not None:
            opts["startingVersion"] = str(source.starting_version)
        if source.streaming and source.skip_change_commits:
            opts["skipChangeCommits"] = "true"
        if not source.streaming and source.version is not None:
            opts["versionAsOf"] = str(source.version)
        opts.update(_options({f"storage.{k}": v for k, v in (source.storage_options or {}).items()}))
        out.update(format="delta", options=opts)
    elif source.kind == "file":
        out.update(format=str(source.format).lower(), options=_options(source.read_options), schema=_schema(source.schema))
    else:
        out.update(format="memory", options={})
    if source.upstream:
        out["upstream"] = source.upstream
    return out


def describe_sink(sink: "SinkPlan") -> dict[str, Any]:
    out: dict[str, Any] = {"index": sink.index, "kind": sink.kind, "mode": sink.mode, "quarantine": sink.quarantine}
    if sink.kind == "delta":
        out.update(path=sink.path, app_id=sink.app_id, schema_mode=sink.schema_mode)
        if sink.mode == "merge":
            out["merge"] = sink.merge.as_dict()
        if sink.partition_by:
            out["partition_by"] = list(sink.partition_by)
    elif sink.kind == "file":
        out.update(path=sink.path, format=sink.format)
    else:
        out.update(topic=sink.topic, bootstrap_servers=sink.bootstrap_servers)
        if sink.key:
            out["key"] = sink.key
        if sink.value:
            out["value"] = sink.value
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
