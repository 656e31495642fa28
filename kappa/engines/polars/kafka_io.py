"""Kafka ranges for the Polars engine: end offsets taken when the batch is planned.

Offsets are stored as Spark stores them: ``{topic: {"partition": offset}}``; ``start`` is
inclusive and ``end`` exclusive. A batch read returns the columns of Spark's Kafka source, then
decodes ``value`` (JSON to a struct, raw bytes kept, or a Debezium envelope); undecodable
records come back separately as dead letters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from kappa.engines.polars.readers import ReadResult
    from kappa.models import KafkaDataSource


def kafka_conf(spec: "KafkaDataSource") -> dict:
    from kappa.config.variables import resolve_secret_refs
    from kappa.kafka.client import client_config

    return client_config(spec.bootstrap_servers, resolve_secret_refs(spec.options))


def _to_json(offsets: dict[tuple[str, int], int]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (topic, part), off in sorted(offsets.items()):
        out.setdefault(topic, {})[str(part)] = int(off)
    return out


def _from_json(data: dict[str, dict[str, int]]) -> dict[tuple[str, int], int]:
    return {(t, int(p)): int(o) for t, parts in data.items() for p, o in parts.items()}


def plan_kafka_range(spec: "KafkaDataSource", previous: dict[str, Any] | None, streaming: bool) -> dict[str, Any] | None:
    """The next batch's ``start``/``end`` offsets (None when a stream has nothing new)."""
    from kappa.kafka.offsets import end_offsets, list_partitions, rate_limit, resolve_starting_offsets

    conf = kafka_conf(spec)
    tps = list_partitions(conf, spec.topics)
    ends = end_offsets(conf, tps)
    starts = resolve_starting_offsets(conf, tps, spec.starting_offsets)
    if streaming and previous:
        prev_end = _from_json(previous["end"])
        # partitions new since the last batch start at their earliest offset
        starts = {tp: prev_end.get(tp, starts[tp]) for tp in tps}
    ends = {tp: max(ends[tp], starts[tp]) for tp in tps}
    if spec.max_offsets_per_trigger:
        ends = rate_limit(starts, ends, spec.max_offsets_per_trigger)
    if streaming and all(ends[tp] <= starts[tp] for tp in tps):
        return None
    return {"kind": "kafka", "start": _to_json(starts), "end": _to_json(ends)}


def read_kafka_range(spec: "KafkaDataSource", offsets: dict[str, Any], state_dir: str | None = None) -> "ReadResult":
    """The records of ``offsets``, decoded; ``state_dir`` (the node's checkpoint folder) keeps
    the types inferred for a JSON value without a declared schema."""
    import polars as pl

    from kappa.engines.polars.readers import ReadResult
    from kappa.kafka.reader import read_range

    starts, ends = _from_json(offsets["start"]), _from_json(offsets["end"])
    ranges = {tp: (starts[tp], ends[tp]) for tp in ends if ends[tp] > starts[tp]}
    records = read_range(kafka_conf(spec), ranges, include_headers=spec.include_headers)
    dead = None
    if spec.value_format == "json":
        from kappa.kafka.decode import decode_json_source

        records, dead = decode_json_source(records, spec, state_dir)
    elif spec.value_format == "debezium":
        from kappa.cdc.debezium import decode_debezium

        decoded = decode_debezium(records)
        records, dead = decoded.changes, decoded.dead_letters
    if dead is not None and dead.num_rows == 0:
        dead = None
    return ReadResult(pl.from_arrow(records).lazy(), dead)
