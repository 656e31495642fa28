"""Debezium defaults for the merge sinks of pipeline nodes: the same as replication configs.

A Delta ``merge:`` sink of a node that **reads a Kafka source with ``value_format: debezium``
and has no transformer steps** may leave out ``keys``, ``sequence_by``, ``apply_as_deletes``
and ``except_column_list`` -- ``merge: {}`` and ``merge: {stored_as_scd_type: 2}`` are
complete. What it sets overrides the defaults of :mod:`kappa.cdc.defaults`; what it leaves out
is filled exactly as a replication config fills it (:func:`kappa.cdc.defaults.debezium_merge`):

- ``keys`` and ``sequence_by`` both set: nothing is read from the broker; the other defaults
  (deletes, truncates for SCD 1, ``_op`` / ``_seq_*`` left out of the target) are added;
- otherwise the first records of the source's topics are decoded
  (:func:`kappa.kafka.debezium_peek.peek_debezium`); the first topic, in the order the source lists
  them, with a decodable change event gives the keys (the message key's fields) and the
  sequence (the source position, then ``_seq_ts_ms``, ``_seq_offset``);
- no decodable record yet (an empty topic, only tombstones, a topic not created yet): the node
  is skipped for this run with the reason (:attr:`kappa.plan.NodePlan.skipped`) and picked up
  by a later run once data has arrived.

Why only nodes without transformer steps: steps may rename, drop or compute the decoded
columns, and then the message key's fields or the ``_seq_*`` columns are no longer what the
merge would see. Such a node (and any node whose source is not Debezium) must set ``keys``
and ``sequence_by``; :func:`kappa.models.checks.check_merge_sinks` makes that a located config error. Expectations
do not change columns and do not matter here.

The resolution happens in :func:`kappa.plan.build_plan`, so both engines, ``kappa plan`` /
``explain`` and every CLI command see the same resolved merge options (a
:class:`~kappa.plan.MergeSinkPlan`'s ``merge``); :func:`kappa.cdc.merge.apply_changes` never sees
an unresolved one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kappa.errors import ConfigError, ConfigIssue
from kappa.models.checks import debezium_defaults_apply, merge_of

if TYPE_CHECKING:  # pragma: no cover
    from kappa.kafka.debezium import DebeziumBatch
    from kappa.models import PipelineNode
    from kappa.models.cdc import CdcMerge


def overrides_of(merge: "CdcMerge") -> dict[str, Any]:
    """The options the config sets itself (they win over the defaults)."""
    return {k: getattr(merge, k) for k in merge.model_fields_set if getattr(merge, k) is not None}


def peek_source(src: Any) -> "DebeziumBatch | None":
    """The first decodable batch of ``src``'s topics in their listed order, or None."""
    from kappa.kafka.client import kafka_conf
    from kappa.kafka.debezium_peek import peek_debezium
    from kappa.kafka.offsets import OffsetError

    conf = kafka_conf(src)
    for topic in src.topics:
        try:
            batch = peek_debezium(conf, topic).batch
        except OffsetError:  # the topic does not exist yet
            continue
        if batch is not None and batch.decoded:
            return batch
    return None


def resolve_sinks(node: "PipelineNode", index: int | None = None) -> tuple[list[Any], str | None]:
    """``node``'s sinks with every Debezium merge resolved, and the reason to skip the node
    (None when it can run). ``index`` (the node's position) only locates errors."""
    from pydantic import ValidationError

    from kappa.cdc.defaults import NO_RECORD_YET, debezium_merge

    sinks = list(node.sinks)
    if not debezium_defaults_apply(node):
        return sinks, None
    peeked: list["DebeziumBatch | None"] = []
    out = []
    for j, sink in enumerate(sinks):
        merge = merge_of(sink)
        if merge is None:
            out.append(sink)
            continue
        overrides = overrides_of(merge)
        where = f"nodes[{index}].sinks[{j}].merge" if index is not None else f"sinks[{j}].merge"
        try:
            if not (overrides.get("keys") and overrides.get("sequence_by")) and not peeked:
                peeked.append(peek_source(node.source))
            resolved = debezium_merge(peeked[0] if peeked else None, overrides)
        except ValidationError as err:
            raise ConfigError(ConfigIssue(f"node {node.name!r}: invalid MERGE options with the Debezium "
                                          f"defaults: {err.errors()[0]['msg']}", path=where)) from None
        if resolved is None:
            return sinks, (f"{NO_RECORD_YET}; set keys and sequence_by to run before data arrives")
        out.append(sink.model_copy(update={"merge": resolved}))
    return out, None
