"""Compile a CDC replication config into an ordinary pipeline: one node per Debezium topic.

Each matched topic becomes a node ``<topic with . as _>`` whose source is the topic read with
``value_format: debezium`` and whose single sink is a Delta table in merge mode. Everything
then runs on the normal machinery (plans, checkpoints under
``<checkpoint_root>/<name>/<node>/``, dead letters, run summaries, both engines).

Topics. ``source.topics`` is taken as given; ``source.topic_pattern`` is matched (full match)
against ``topics_available`` or, when that is None, the broker's topic list (Kafka's internal
``__*`` topics never match).

Keys and sequence. A CdcMerge needs its keys and sequence when the node is built, so the
compiler peeks at the start of each topic: it decodes up to :data:`PEEK_RECORDS` records per
partition from the earliest offset with :func:`kappa.cdc.debezium.decode_debezium` and hands
the batch to :func:`kappa.cdc.defaults.merge_options_for` together with the config's
``defaults`` and ``tables`` overrides. The same records tell the connector kind and the
envelope's ``source.db`` / ``schema`` / ``table``. A topic whose first records hold no
decodable change event (empty, only tombstones or bad records) cannot be compiled yet unless
both ``keys`` and ``sequence_by`` are configured for it: it is reported in
:attr:`ReplicationPlan.skipped` and picked up by a later run.

Target paths. ``{topic}``; ``{prefix}``, ``{schema}`` / ``{db}`` and ``{table}`` come from the
topic name ``<prefix>.<schema>.<table>`` (Postgres) or ``<prefix>.<db>.<table>`` (MySQL; MySQL
has no schemas, so ``{schema}`` is the database); what the name does not tell (Postgres'
``{db}``, topics renamed by a router) comes from the envelope's ``source`` block.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kappa.errors import ConfigError, ConfigIssue, KappaError

if TYPE_CHECKING:  # pragma: no cover
    from kappa.cdc.debezium import DebeziumBatch
    from kappa.models import Pipeline
    from kappa.models.cdc import CdcMerge
    from kappa.models.replication import CdcReplication

#: Records read per partition at compile time to learn keys, sequence and source names.
PEEK_RECORDS = 100


@dataclass(frozen=True)
class TopicInfo:
    """What the first records of a topic tell: names for the path template and the batch."""

    topic: str
    names: dict[str, str | None]
    connector: str | None = None
    batch: "DebeziumBatch | None" = None


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


def client_conf(config: "CdcReplication") -> dict:
    """confluent-kafka settings of the config's source (secret references resolved)."""
    from kappa.plan_kinds import resolve_secrets
    from kappa.kafka.client import client_config

    return client_config(config.source.bootstrap_servers, resolve_secrets(config.source.options))


def match_topics(config: "CdcReplication", topics_available: list[str] | None = None) -> list[str]:
    """The topics to replicate, sorted (see the module doc)."""
    src = config.source
    if src.topics is not None:
        return list(dict.fromkeys(src.topics))
    if topics_available is None:
        from confluent_kafka.admin import AdminClient

        meta = AdminClient(client_conf(config)).list_topics(timeout=30)
        topics_available = list(meta.topics)
    pattern = re.compile(src.topic_pattern or "")
    return sorted(t for t in topics_available if not t.startswith("__") and pattern.fullmatch(t))


def peek_topic(config: "CdcReplication", topic: str, records: int = PEEK_RECORDS) -> TopicInfo:
    """Decode the first ``records`` records of each partition of ``topic`` (see the module doc)."""
    return peek_conf(client_conf(config), topic, records)


def peek_conf(conf: dict, topic: str, records: int = PEEK_RECORDS) -> TopicInfo:
    """:func:`peek_topic` with confluent-kafka settings ``conf`` (also used by pipelines' merge
    sinks on Debezium sources, :mod:`kappa.cdc.sink_defaults`). Raises
    :class:`~kappa.kafka.offsets.OffsetError` when the topic does not exist."""
    from kappa.cdc.debezium import decode_debezium
    from kappa.kafka.offsets import earliest_offsets, end_offsets, list_partitions
    from kappa.kafka.reader import read_range

    tps = list_partitions(conf, [topic])
    lows, highs = earliest_offsets(conf, tps), end_offsets(conf, tps)
    ranges = {tp: (lows[tp], min(highs[tp], lows[tp] + records)) for tp in tps}
    raw = read_range(conf, ranges)
    source: dict = {}
    for value in raw.column("value").to_pylist():
        source = _source_block(value)
        if source:
            break
    batch = decode_debezium(raw) if raw.num_rows else None
    connector = source.get("connector")
    return TopicInfo(topic, path_names(topic, connector, source), connector, batch)


def _source_block(value: bytes | None) -> dict:
    if value is None:
        return {}
    try:
        doc = json.loads(value)
    except (ValueError, TypeError):
        return {}
    if isinstance(doc, dict) and "payload" in doc and "schema" in doc:
        doc = doc["payload"]
    src = doc.get("source") if isinstance(doc, dict) else None
    return src if isinstance(src, dict) else {}


def path_names(topic: str, connector: str | None, source: dict | None = None) -> dict[str, str | None]:
    """Values of the path placeholders for ``topic`` (see the module doc).

    >>> path_names("inventory.public.customers", "postgresql", {"db": "shop"})
    {'topic': 'inventory.public.customers', 'prefix': 'inventory', 'db': 'shop', 'schema': 'public', 'table': 'customers'}
    >>> path_names("shop.sales.orders", "mysql")
    {'topic': 'shop.sales.orders', 'prefix': 'shop', 'db': 'sales', 'schema': 'sales', 'table': 'orders'}
    """
    source = source or {}
    names: dict[str, str | None] = {"topic": topic, "prefix": None, "db": None, "schema": None, "table": None}
    parts = topic.split(".")
    if len(parts) >= 3:
        names["prefix"], middle, names["table"] = ".".join(parts[:-2]), parts[-2], parts[-1]
        if connector != "mysql":
            names["schema"] = middle
        if connector != "postgresql":
            names["db"] = middle
    for key in ("db", "schema", "table"):
        if names[key] is None and source.get(key):
            names[key] = str(source[key])
    if connector == "mysql" and names["schema"] is None:
        names["schema"] = names["db"]
    return names


def render_path(template: str, names: dict[str, str | None], what: str) -> str:
    """Fill a path template; raises naming the topic when a placeholder has no value."""
    import string

    used = [f for _, f, _, _ in string.Formatter().parse(template) if f]
    missing = [f for f in used if not names.get(f)]
    if missing:
        raise KappaError(
            f"topic {names['topic']!r}: cannot fill {{{missing[0]}}} of {what} {template!r} (the topic "
            "name is not <prefix>.<schema|db>.<table> and its records do not tell); give the table "
            "a `path` in `tables`"
        )
    return template.format(**{k: v or "" for k, v in names.items()})


def node_name(topic: str, taken: set[str]) -> str:
    """A node name for ``topic``: non-name characters become ``_``; unique within ``taken``.

    >>> node_name("inventory.public.customers", set()), node_name("9.x", {"t_9_x"})
    ('inventory_public_customers', 't_9_x_2')
    """
    name = re.sub(r"[^A-Za-z0-9_\-]", "_", topic)
    if not re.match(r"[A-Za-z_]", name):
        name = f"t_{name}"
    base, i = name, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


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
    )
    pipeline._base_dir = config._base_dir  # relative paths resolve against the config file's folder
    return ReplicationPlan(config.name, pipeline, tables, skipped, unmatched)


def entry_keys(names: dict[str, str | None]) -> list[str]:
    """The ``tables`` keys that address a topic, most specific first.

    >>> entry_keys(path_names("inventory.public.customers", "postgresql", {"db": "shop"}))
    ['inventory.public.customers', 'public.customers', 'shop.customers', 'customers']
    """
    table = names["table"]
    keys = [names["topic"]]
    if table:
        keys += [f"{names[p]}.{table}" for p in ("schema", "db") if names[p]] + [table]
    return [k for k in dict.fromkeys(keys) if k]


def compile_replication(config: "CdcReplication", topics_available: list[str] | None = None) -> "Pipeline":
    """The pipeline replicating ``config``'s topics (one node per topic; see the module doc).

    Raises :class:`KappaError` when every topic was skipped (see :class:`ReplicationPlan`)."""
    rplan = plan_replication(config, topics_available)
    if rplan.pipeline is None:
        why = "; ".join(f"{t}: {r}" for t, r in rplan.skipped.items())
        raise KappaError(f"replication {config.name!r}: nothing to replicate yet ({why})")
    return rplan.pipeline


def load_replication(path: str, variables: dict[str, Any] | None = None) -> "CdcReplication":
    """Load a replication YAML file; errors name file, line and field."""
    from kappa.config.loader import load_model_file
    from kappa.models.replication import CdcReplication

    try:
        return load_model_file(CdcReplication, path, variables=variables)
    except ConfigError as err:
        raise ConfigError([_relocate(issue, path) for issue in err.issues]) from None


def _relocate(issue: ConfigIssue, path: str) -> ConfigIssue:
    """Point an issue under ``tables.<key with dots>`` at its own line (the loader's path
    parser splits keys at dots and falls back to the ``tables:`` line)."""
    from pathlib import Path

    from kappa.config.yaml_lines import load_with_lines

    if not issue.path.startswith("tables."):
        return issue
    try:
        data, lines = load_with_lines(Path(path).read_text(encoding="utf-8"), file=str(path))
    except Exception:  # noqa: BLE001 - keep the issue as it is
        return issue
    rest = issue.path[len("tables."):]
    entries = data.get("tables") if isinstance(data, dict) else None
    keys = sorted((k for k in (entries or {}) if rest == k or rest.startswith(f"{k}.")), key=len)
    if not keys:
        return issue
    key = keys[-1]
    tail = tuple(p for p in rest[len(key):].split(".") if p)
    line = lines.line_of(("tables", key, *tail))
    return ConfigIssue(issue.message, file=issue.file, line=line, path=issue.path)
