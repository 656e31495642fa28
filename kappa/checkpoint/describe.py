"""The engine-neutral description of a node, which the replay (Polars) engine fingerprints.

Same shape and vocabulary as the Spark engine's compiled-query description (see
:mod:`kappa.checkpoint.verdicts`): what is read and from where uses Spark's option names
(``subscribe``, ``kafka.bootstrap.servers``, ``startingOffsets``, ``startingVersion``), so one set
of verdict rules judges both engines. Secret-looking option values are redacted.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping

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
    spec = source.spec
    out: dict[str, Any] = {"kind": source.kind, "read": "stream" if source.streaming else "per_run", "path": source.path, "schema": None}
    if source.kind == "kafka":
        start = spec.starting_offsets
        opts = {
            "kafka.bootstrap.servers": spec.bootstrap_servers,
            "subscribe": ",".join(spec.topics),
            "startingOffsets": start if isinstance(start, str) else json.dumps(start, separators=(",", ":"), sort_keys=True),
        }
        if spec.max_offsets_per_trigger:
            opts["maxOffsetsPerTrigger"] = str(spec.max_offsets_per_trigger)
        if spec.include_headers:
            opts["includeHeaders"] = "true"
        opts.update(_options({f"kafka.{k}" if not k.startswith("kafka.") else k: v for k, v in spec.options.items()}))
        out.update(format="kafka", options=opts, schema=_schema(spec.schema_), value_format=spec.value_format)
    elif source.kind == "delta":
        opts = {}
        if source.streaming and spec.starting_version is not None:
            opts["startingVersion"] = str(spec.starting_version)
        if source.streaming and spec.skip_change_commits:
            opts["skipChangeCommits"] = "true"
        if not source.streaming and spec.version is not None:
            opts["versionAsOf"] = str(spec.version)
        opts.update(_options({f"storage.{k}": v for k, v in (spec.storage_options or {}).items()}))
        out.update(format="delta", options=opts)
    elif source.kind == "file":
        out.update(format=str(spec.format).lower(), options=_options(spec.read_options), schema=_schema(spec.schema_))
    else:
        out.update(format="memory", options={})
    if source.upstream:
        out["upstream"] = source.upstream
    return out


def describe_sink(sink: "SinkPlan") -> dict[str, Any]:
    spec = sink.spec
    out: dict[str, Any] = {"index": sink.index, "kind": sink.kind, "mode": sink.mode, "quarantine": sink.quarantine}
    if sink.kind == "delta":
        out.update(path=sink.path, app_id=sink.app_id, schema_mode=spec.schema_mode)
        if sink.mode == "merge":
            out["merge"] = spec.merge.model_dump(exclude_defaults=True)
        if spec.partition_by:
            out["partition_by"] = list(spec.partition_by)
    elif sink.kind == "file":
        out.update(path=sink.path, format=spec.format)
    else:
        out.update(topic=spec.topic, bootstrap_servers=spec.bootstrap_servers)
        if spec.key:
            out["key"] = spec.key
        if spec.value:
            out["value"] = spec.value
    return out


def _step(step: Any) -> dict[str, Any]:
    if step.kind == "sql":
        return {"index": step.index, "kind": "sql", "sql": step.sql, "refs": list(step.refs)}
    return {"index": step.index, "kind": "method", "func_name": step.func_name, "func_args": list(step.func_args), "func_kwargs": dict(step.func_kwargs)}


def describe_node(node: "NodePlan") -> dict[str, Any]:
    """The JSON-serialisable description of a node as the replay engine runs it."""
    trigger = {"kind": node.trigger.kind}
    if node.trigger.interval:
        trigger["interval"] = node.trigger.interval
    return {
        "node": node.name,
        "engine": "polars",
        "source": describe_source(node.source),
        "steps": [_step(s) for s in node.steps],
        "expectations": [{"name": e.name, "expr": e.expr, "action": e.action} for e in node.expectations],
        "sinks": [describe_sink(s) for s in node.sinks],
        "trigger": trigger,
        "checkpoint": f"{node.checkpoint.rstrip('/')}/replay",
    }
