"""Kafka sources and sinks of the Polars engine: end offsets taken when the batch is planned.

Offsets are stored as Spark stores them: ``{topic: {"partition": offset}}``; ``start`` is
inclusive and ``end`` exclusive. A batch read returns the columns of Spark's Kafka source, then
decodes ``value`` (JSON to a struct, raw bytes kept, or a Debezium envelope); undecodable
records come back separately as dead letters. A sink produces one record per row, at least
once (a re-run after a crash between produce and commit produces again).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kappa.engines.polars.connectors.base import ReadResult, RunBound, SinkWriter, SourceReader, wrong_batch
from kappa.kafka.client import kafka_conf

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

    from kappa.checkpoint.batches import BatchDescription, KafkaRange
    from kappa.plan_kinds import KafkaSinkPlan, KafkaSourcePlan


def _to_json(offsets: dict[tuple[str, int], int]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (topic, part), off in sorted(offsets.items()):
        out.setdefault(topic, {})[str(part)] = int(off)
    return out


def _from_json(data: dict[str, dict[str, int]]) -> dict[tuple[str, int], int]:
    return {(t, int(p)): int(o) for t, parts in data.items() for p, o in parts.items()}


def plan_kafka_range(spec: "KafkaSourcePlan", previous: Any, streaming: bool, bound: "RunBound | None" = None) -> "KafkaRange | None":
    """The next batch's ``start``/``end`` offsets (None when a stream has nothing new).

    The partitions' ``(earliest, end)`` offsets are read once per run (``bound``) and every
    batch of the run ends there. A stream continues from the previous batch's end, checked
    against the log (:mod:`kappa.kafka.data_loss`: out of range stops the node unless
    ``fail_on_data_loss`` is false); its very first start is resolved from
    ``starting_offsets`` -- kept in the checkpoint when it involves ``latest``, so a first run
    that found nothing makes the next run continue from there, not from a later "latest".
    """
    from kappa.checkpoint.batches import KafkaRange
    from kappa.kafka.data_loss import resume_offsets
    from kappa.kafka.offsets import list_partitions, log_bounds, rate_limit

    bound = bound or RunBound()
    conf = kafka_conf(spec)
    bounds = bound.capture(lambda: log_bounds(conf, list_partitions(conf, spec.topics)))
    if streaming and isinstance(previous, KafkaRange):
        given, what = _from_json(previous.end), "committed offset"
    else:
        given, what = _initial_starts(spec, bounds, bound if streaming else None), "starting offset"
    resumed = resume_offsets(given, bounds, fail_on_data_loss=spec.fail_on_data_loss, node=bound.node, what=what)
    if resumed.gaps and bound.summary is not None:
        bound.summary.skipped_offsets += resumed.skipped
        bound.summary.data_loss.extend(g.describe() for g in resumed.gaps)
    # partitions new since the last batch start at their earliest offset
    starts = {tp: resumed.offsets.get(tp, low) for tp, (low, _end) in bounds.items()}
    ends = {tp: max(end, starts[tp]) for tp, (_low, end) in bounds.items()}
    if spec.max_offsets_per_trigger:
        ends = rate_limit(starts, ends, spec.max_offsets_per_trigger)
    if streaming and all(ends[tp] <= starts[tp] for tp in bounds):
        return None
    return KafkaRange(_to_json(starts), _to_json(ends))


def _initial_starts(spec: "KafkaSourcePlan", bounds: dict, bound: "RunBound | None") -> dict[tuple[str, int], int]:
    """``starting_offsets`` resolved over ``bounds``; a stream's "latest" is decided once and
    kept in ``<checkpoint>/replay/initial_offsets.json``."""
    from kappa.kafka.offsets import mentions_latest, starting_from_bounds

    def resolve() -> dict:
        return _to_json(starting_from_bounds(spec.starting_offsets, bounds))

    if bound is None or bound.layout is None or not mentions_latest(spec.starting_offsets):
        return _from_json(resolve())
    from kappa.initial import decide_once

    return _from_json(decide_once(bound.layout.replay_initial_offsets, resolve))


def read_kafka_range(spec: "KafkaSourcePlan", batch: "KafkaRange", state_dir: str | None = None) -> "ReadResult":
    """The records of ``batch``, decoded; ``state_dir`` (the node's checkpoint folder) keeps
    the types inferred for a JSON value without a declared schema."""
    import polars as pl

    from kappa.kafka.reader import read_range

    starts, ends = _from_json(batch.start), _from_json(batch.end)
    ranges = {tp: (starts[tp], ends[tp]) for tp in ends if ends[tp] > starts[tp]}
    records = read_range(kafka_conf(spec), ranges, include_headers=spec.include_headers)
    dead = None
    if spec.value_format == "json":
        from kappa.kafka.decode import decode_json_source

        records, dead = decode_json_source(records, spec, state_dir)
    elif spec.value_format == "debezium":
        from kappa.kafka.debezium import decode_debezium

        decoded = decode_debezium(records)
        records, dead = decoded.changes, decoded.dead_letters
    if dead is not None and dead.num_rows == 0:
        dead = None
    return ReadResult(pl.from_arrow(records).lazy(), dead)


class KafkaReader(SourceReader):
    def plan_range(self, source: "KafkaSourcePlan", previous: "BatchDescription | None", bound: RunBound) -> "BatchDescription | None":
        return plan_kafka_range(source, previous, source.streaming, bound)

    def read_range(self, source: "KafkaSourcePlan", batch: "BatchDescription", memory: dict[str, "pl.LazyFrame"], state_dir: str | None) -> ReadResult:
        from kappa.checkpoint.batches import KafkaRange

        if not isinstance(batch, KafkaRange):
            raise wrong_batch(batch)
        return read_kafka_range(source, batch, state_dir)


class KafkaWriter(SinkWriter):
    def write(self, sink: "KafkaSinkPlan", df: "pl.DataFrame", batch_id: int) -> int:
        from kappa.kafka.writer import produce_rows

        return produce_rows(kafka_conf(sink), sink.topic, df.to_arrow(), key_column=sink.key, value_column=sink.value)
