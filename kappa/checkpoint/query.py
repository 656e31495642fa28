"""The description of one node's query: what ``kappa explain`` prints and the fingerprints store.

Design. Both engines describe a node the same way (see :mod:`kappa.checkpoint.verdicts`): the
Spark engine its compiled query (:func:`kappa.engines.spark.compiler.describe_query`), the Polars
engine its replay (:func:`kappa.checkpoint.describe.describe_query`). Each builds one frozen
:class:`QueryDescription`; :meth:`QueryDescription.as_dict` is the JSON document kappa has always
stored and printed (same keys, same order), so existing fingerprints keep their digests and
checkpoints their verdicts. The parts both engines describe identically (steps, expectations,
trigger, a merge sink's options) are built here once.

>>> from types import SimpleNamespace as NS
>>> q = QueryDescription(node="n", engine="polars", source={"kind": "none"}, steps=(),
...                      expectations=(), sinks=(), trigger={"kind": "once"}, checkpoint="/ck/n/replay")
>>> list(q.as_dict())
['node', 'engine', 'source', 'steps', 'expectations', 'sinks', 'trigger', 'checkpoint']
>>> trigger_description(NS(kind="processing_time", interval="5 seconds"))
{'kind': 'processing_time', 'interval': '5 seconds'}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class QueryDescription:
    """One node's query as an engine runs it (secrets redacted); ``engine`` (Polars) or
    ``profile`` (Spark) names who runs it."""

    node: str
    source: Mapping[str, Any]
    steps: tuple[Mapping[str, Any], ...]
    expectations: tuple[Mapping[str, Any], ...]
    sinks: tuple[Mapping[str, Any], ...]
    trigger: Mapping[str, Any]
    checkpoint: str
    engine: str | None = None
    profile: str | None = None
    #: the node's state (:mod:`kappa.checkpoint.state`): a dict for a stateful streaming node, the
    #: text ``materialized view (full recompute)`` for a non-streaming aggregate, else None (no entry)
    state: Any = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON-serialisable document (the fingerprint's ``description``)."""
        out: dict[str, Any] = {"node": self.node}
        if self.engine is not None:
            out["engine"] = self.engine
        if self.profile is not None:
            out["profile"] = self.profile
        out.update(
            source=dict(self.source),
            steps=[dict(s) for s in self.steps],
        )
        if self.state is not None:
            out["state"] = self.state
        out.update(
            expectations=[dict(e) for e in self.expectations],
            sinks=[dict(s) for s in self.sinks],
            trigger=dict(self.trigger),
            checkpoint=self.checkpoint,
        )
        return out


def step_description(step: Any) -> dict[str, Any]:
    """A transformer step (:class:`kappa.plan.StepPlan`)."""
    if step.kind == "sql":
        return {"index": step.index, "kind": "sql", "sql": step.sql, "refs": list(step.refs)}
    return {"index": step.index, "kind": "method", "func_name": step.func_name, "func_args": list(step.func_args), "func_kwargs": dict(step.func_kwargs)}


def expectation_description(expectation: Any) -> dict[str, Any]:
    return {"name": expectation.name, "expr": expectation.expr, "action": expectation.action}


def trigger_description(trigger: Any) -> dict[str, Any]:
    out = {"kind": trigger.kind}
    if trigger.interval:
        out["interval"] = trigger.interval
    return out


def node_parts(node: Any) -> dict[str, Any]:
    """The steps, state, expectations and trigger of a node plan, as both engines describe them."""
    from kappa.checkpoint.state import node_state

    return {
        "steps": tuple(step_description(s) for s in node.steps),
        "state": node_state(node),
        "expectations": tuple(expectation_description(e) for e in node.expectations),
        "trigger": trigger_description(node.trigger),
    }
