"""Compile a CDC replication config into an ordinary pipeline: one node per Debezium topic.

Design note. Each matched topic (:func:`kappa.replication.discovery.match_topics`) becomes a
node ``<topic with . as _>`` (:func:`kappa.replication.naming.node_name`) whose source is the
topic read with ``value_format: debezium`` and whose single sink is a Delta table in merge mode.
Everything then runs on the normal machinery (plans, checkpoints under
``<checkpoint_root>/<name>/<node>/``, dead letters, run summaries, both engines): this module
only produces the pipeline spec.

Keys and sequence come from the topic's first records (:func:`~kappa.replication.discovery.
peek_topic`) through :func:`kappa.cdc.defaults.debezium_merge`, together with the config's
``defaults`` and ``tables`` overrides. A topic whose first records hold no decodable change
event (empty, only tombstones or bad records) cannot be compiled yet unless both ``keys`` and
``sequence_by`` are configured for it: it is reported in :attr:`ReplicationPlan.skipped` and
picked up by a later run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kappa.errors import ConfigError, ConfigIssue, KappaError
from kappa.replication.discovery import match_topics, peek_topic
from kappa.replication.naming import entry_keys, node_name, render_path

if TYPE_CHECKING:  # pragma: no cover
    from kappa.models import Pipeline
    from kappa.models.cdc import CdcMerge
    from kappa.models.replication import CdcReplication


@dataclass(frozen=True)
class ReplicatedTable:
    """One compiled topic: its node, target table and MERGE options."""

    topic: str
    node: str
    path: str
    merge: "CdcMerge"
    connector: str | None


@dataclass(frozen=True)
class ReplicationPlan:
    """The compiled pipeline plus what was left out, and why.

    ``pipeline`` is None when every matching topic was skipped (nothing to replicate yet: e.g.
    no decodable record to learn keys from); ``skipped`` says why for each.
    """

    name: str
    pipeline: "Pipeline | None"
    tables: list[ReplicatedTable]
    skipped: dict[str, str] = field(default_factory=dict)
    unmatched_entries: list[str] = field(default_factory=list)

    def render(self) -> str:
        """One line per table, then the skipped topics."""
        lines = [f"replication {self.name}: {len(self.tables)} table(s)"]
        for t in self.tables:
            m = t.merge
            seq = ", ".join(m.sequence_columns)
            lines.append(f"  {t.topic} -> {t.path}  [node {t.node}, SCD{m.stored_as_scd_type}, "
                         f"keys {', '.join(m.keys)}, sequence {seq}]")
        for topic, reason in self.skipped.items():
            lines.append(f"  {topic}: skipped ({reason})")
        for name in self.unmatched_entries:
            lines.append(f"  tables.{name}: matches no replicated topic")
        return "\n".join(lines)


def plan_replication(config: "CdcReplication", topics_available: list[str] | None = None) -> ReplicationPlan:
    """Compile ``config``; also returns the skipped topics and unused ``tables`` entries."""
    from pydantic import ValidationError

    from kappa.cdc.defaults import NO_RECORD_YET, debezium_merge
    from kappa.kafka.offsets import OffsetError
    from kappa.models import DeltaDataSink, KafkaDataSource, Pipeline, PipelineNode

    topics = match_topics(config, topics_available)
    nodes, tables, skipped, used, taken = [], [], {}, set(), set()
    for topic in topics:
        try:
            info = peek_topic(config, topic)
        except OffsetError as err:  # e.g. a listed topic Debezium has not created yet
            skipped[topic] = str(err)
            continue
        n = info.names
        keys = entry_keys(n)
        entry, overrides = config.options_for(*keys)
        used.update(k for k in keys if k in config.tables)
        if entry is not None and not entry.enabled:
            skipped[topic] = "disabled in `tables`"
            continue
        try:
            merge = debezium_merge(info.batch, overrides)
            if merge is None:
                skipped[topic] = f"{NO_RECORD_YET}; set `keys` and `sequence_by` to replicate it before data arrives"
                continue
        except ValidationError as err:
            raise ConfigError(ConfigIssue(f"topic {topic!r}: invalid MERGE options: "
                                          f"{err.errors()[0]['msg']}", path="tables")) from None
        name = node_name(topic, taken)
        path = render_path(entry.path if entry is not None and entry.path else config.target.path, n, "path")
        dead = render_path(config.dead_letter_path, n, "dead_letter_path") if config.dead_letter_path else None
        src = KafkaDataSource(
            bootstrap_servers=config.source.bootstrap_servers, topics=[topic], value_format="debezium",
            starting_offsets=config.source.starting_offsets, options=dict(config.source.options),
            max_offsets_per_trigger=config.source.max_offsets_per_trigger, dead_letter_path=dead,
        )
        sink = DeltaDataSink(path=path, merge=merge, storage_options=dict(config.target.storage_options))
        nodes.append(PipelineNode(name=name, source=src, sinks=[sink], comment=f"CDC replication of {topic}"))
        tables.append(ReplicatedTable(topic, name, path, merge, info.connector))
    unmatched = [k for k in config.tables if k not in used]
    if not nodes:
        if not skipped:
            raise KappaError(f"replication {config.name!r} has no table to replicate (no topic matches the source)")
        return ReplicationPlan(config.name, None, [], skipped, unmatched)  # every topic skipped, for now
    pipeline = Pipeline(
        name=config.name, nodes=nodes, checkpoint_root=config.checkpoint_root, root_path=config.root_path,
        trigger=config.trigger, spark=config.spark,
        storage_options=dict(config.target.storage_options),  # also the dead-letter tables'
    )
    pipeline._base_dir = config._base_dir  # relative paths resolve against the config file's folder
    return ReplicationPlan(config.name, pipeline, tables, skipped, unmatched)


def compile_replication(config: "CdcReplication", topics_available: list[str] | None = None) -> "Pipeline":
    """The pipeline replicating ``config``'s topics (one node per topic; see the module doc).

    Raises :class:`KappaError` when every topic was skipped (see :class:`ReplicationPlan`)."""
    rplan = plan_replication(config, topics_available)
    if rplan.pipeline is None:
        why = "; ".join(f"{t}: {r}" for t, r in rplan.skipped.items())
        raise KappaError(f"replication {config.name!r}: nothing to replicate yet ({why})")
    return rplan.pipeline
