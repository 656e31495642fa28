"""Decode a Kafka micro-batch on the executors, with kappa's own decoders (one decoder, two engines).

:func:`decode_kafka_frame` keeps the batch in Spark's plan: ``batch_df.mapInArrow`` runs
:func:`kappa.kafka.decode.decode_json_values` (``value_format: json``) or
:func:`kappa.kafka.debezium.decode_debezium` (``debezium``) on each Spark partition (all of its
Arrow batches together) and emits rows and dead letters in one frame told apart by a flag column
(the dead-letter columns are null on good rows and the other way round). That frame is
persisted on the executors and split into ``rows`` and ``dead``; :meth:`Decoded.release`
unpersists it. The driver only plans, collects tiny metadata rows and saves the kinds file.

``mapInArrow`` needs the output schema before it runs, so where the schema depends on the data
the work is done in two phases (the raw batch is persisted in between, so Kafka is read once):

- JSON with a declared ``schema``: one phase, the struct of the schema.
- JSON with an inferred schema: a field's type is fixed by its first non-null value in record
  order (the Polars engine's order: topic, partition, offset -- the order of the
  ``kappa_kafka`` source's Spark partitions), starting from the kinds saved in the node's
  checkpoint. Phase 1 returns, per Spark partition, the kinds Arrow's decoder finds when the
  partition has no kind conflict of its own (it folds like its records as long as it merges
  with the running kinds), else -- and for every partition again when a summary conflicts --
  the distinct kinds of its records in order of first occurrence (a record whose kind was seen
  before in that partition cannot change the running kinds: kinds only grow, and a record that
  conflicted once conflicts again). The
  driver folds them with the very rule of :mod:`kappa.kafka.json_checks` (a value of the same
  kind stands in for each record), which gives the running kinds at the start of every
  partition and the batch's final kinds; those are saved (as the driver path does) and phase 2
  decodes each partition starting from its own start kinds (soft ints included, so widening
  and dead-letter reasons are those of the whole-batch fold) and conforms its struct to the
  final type (fields added as nulls, bigint widened to double).
- Debezium: phase 1 returns each partition's change-table schema (before Connect-declared
  types fill all-null columns) and the Connect types of its first live record; the driver
  unifies the schemas in partition order (null gives way to any type, bigint and double give
  double, structs merge field by field, other conflicts give string, as Polars' inference
  does), types the columns still null from the first live record's Connect schema (as
  :mod:`kappa.cdc.nulls` describes), and phase 2 casts each partition's changes to that schema.
  Columns null everywhere stay ``NullType`` columns, as on the driver path.

**Decoding in the reader (python profile, JSON with a declared schema).** The output schema is
then known before any data is read and every record decodes on its own, so the ``kappa_kafka``
reader decodes each Arrow batch it fetches, in the same Python worker (option
:data:`DECODE_OPTION`, :func:`decode_option`; :class:`~.decode_tasks.ReaderDecode`): the combined frame comes
straight out of the source, one Python pass instead of a Kafka read, a ``mapInArrow`` and a
cache (measured: half the CPU of the ``mapInArrow`` path on the benchmark's bronze node). That
frame is not cached: the rows are read once by the writes, which observe the dead-letter count
on the way (:meth:`Decoded.dead_to_write`); only a batch that had dead letters reads its offset
range again to write them (the Kafka records of a planned range do not change). Under Spark
Connect (no completion check for an observation) the frame is cached as before. The jvm profile
reads with Spark's own Kafka source and decodes with ``mapInArrow``, the same function.

``dead`` is a frame for every decoding format (possibly empty: its size is known only once a
job runs; count it with an observation). Known limits: the Debezium column order is the union of the partitions' orders (the driver
path orders after-columns before before-only columns over the whole batch) and nested struct
fields whose sets differ between partitions are ordered by the union, not by Polars' own
order (types and values agree); a batch mixing
Postgres (``lsn``) and MySQL (``file``/``pos``) sequence columns keeps both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kappa.engines.spark.decode_tasks import (
    DECODE_OPTION,
    DL as _DL,
    FLAG,
    _DebeziumDecode,
    _DebeziumSchema,
    _JsonDecode,
    _JsonKinds,
    _out_schemas,
    _spark_type,
)
from kappa.kafka.batch_types import KindConflict, fold_kinds, unify_changes

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from kappa.plan_kinds import KafkaSourcePlan


@dataclass
class Decoded:
    """The decoded rows, the dead letters (None for ``raw``), and what to unpersist after.

    ``dead_observation`` (a frame decoded in the reader) counts the dead letters while the rows
    are read: see :meth:`dead_to_write`."""

    rows: "DataFrame"
    dead: "DataFrame | None"
    persisted: list = field(default_factory=list)
    dead_observation: Any = None

    def dead_to_write(self) -> "DataFrame | None":
        """The dead letters to write, or None when there are none to write: the frame is
        returned unless the observation made while the rows were read counted zero (if no
        job read the rows, the count is unknown and the frame is returned)."""
        obs = self.dead_observation
        if self.dead is None or obs is None:
            return self.dead
        from kappa.quality.spark_eval import observation_done

        if observation_done(obs) and not int(obs.get.get("dead") or 0):
            return None
        return self.dead

    def release(self) -> None:
        """Unpersist the frames this decode persisted."""
        while self.persisted:
            self.persisted.pop().unpersist()


def decode_option(source: "KafkaSourcePlan") -> dict[str, str]:
    """The ``kappa_kafka`` option that decodes in the reader, for a JSON source with a declared
    schema (empty otherwise: an inferred schema or Debezium needs the whole batch first)."""
    if source.value_format != "json" or not source.schema:
        return {}
    payload = {"format": "json", "schema": source.schema, "max_record_bytes": source.max_record_bytes}
    return {DECODE_OPTION: json.dumps(payload, sort_keys=True)}


# --------------------------------------------------------------------------- driver side


def _phase1_kinds(source: "DataFrame", known, limit: int):
    """Phase 1 (see the module doc): the start kinds per partition and the final kinds."""
    ddl = "topic string, partition int, offset bigint, kinds string, summary boolean"
    for per_record in (False, True):
        meta = source.mapInArrow(_JsonKinds(limit, per_record), ddl).collect()
        meta = sorted(meta, key=lambda r: (r["topic"], r["partition"], r["offset"]))
        try:
            befores, final = fold_kinds(known, [[json.loads(s) for s in json.loads(r["kinds"])] for r in meta],
                                        [r["summary"] for r in meta])
        except KindConflict:
            continue
        starts = {json.dumps([r["topic"], r["partition"], r["offset"]]): k for r, k in zip(meta, befores)}
        return starts, final
    raise AssertionError("unreachable: a record-by-record fold never conflicts")


def _dead_letters(combined: "DataFrame") -> "DataFrame":
    """The dead-letter rows of a combined frame, with the dead-letter table's columns."""
    from pyspark.sql import functions as F

    from kappa.kafka.dead_letters import dead_letter_schema

    return combined.filter(F.col(FLAG)).select(*[F.col(_DL + f.name).alias(f.name) for f in dead_letter_schema()])


def _good_rows(combined: "DataFrame", data_names: list[str]) -> "DataFrame":
    from pyspark.sql import functions as F

    return combined.filter(~F.col(FLAG)).select(*[F.col(f"`{n}`") for n in data_names])


def _split(combined: "DataFrame", data_names: list[str], persisted: list) -> Decoded:
    combined = combined.persist()
    persisted.append(combined)
    return Decoded(_good_rows(combined, data_names), _dead_letters(combined), persisted)


def decode_kafka_frame(spark: "SparkSession", batch_df: "DataFrame", spec: Any, state_dir: str | None) -> Decoded:
    """Decode ``batch_df`` (Spark's Kafka source columns) on the executors; identical to
    :func:`kappa.engines.spark.batch.decode_kafka` (module doc)."""
    if spec.value_format == "raw":
        return Decoded(batch_df, None)
    if FLAG in batch_df.columns:  # decoded in the reader (decode_option)
        return _split_decoded(batch_df)
    if spec.value_format == "json":
        return _decode_json(batch_df, spec, state_dir)
    return _decode_debezium(batch_df)


def _split_decoded(combined: "DataFrame") -> Decoded:
    """Rows and dead letters of a frame the reader decoded (module doc): not cached; the dead
    letters are counted while the rows are read. Under Spark Connect: cached (:func:`_split`)."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    names = [c for c in combined.columns if c != FLAG and not c.startswith(_DL)]
    if getattr(combined, "_jdf", None) is None:
        return _split(combined, names, [])
    obs = Observation()
    observed = combined.observe(obs, F.count_if(F.col(FLAG)).alias("dead"))
    return Decoded(_good_rows(observed, names), _dead_letters(combined), [], obs)


def _decode_json(batch_df: "DataFrame", spec: Any, state_dir: str | None) -> Decoded:
    import pyarrow as pa

    from kappa.kafka.json_checks import DEFAULT_MAX_RECORD_BYTES, fix_kinds, kind_to_arrow, load_kinds, save_kinds
    from kappa.types import parse_schema

    limit = getattr(spec, "max_record_bytes", None) or DEFAULT_MAX_RECORD_BYTES
    schema = parse_schema(spec.schema) if getattr(spec, "schema", None) else None
    persisted: list = []
    source, starts, default = batch_df, None, None
    if schema is not None:
        if not isinstance(schema, pa.Schema):
            schema = pa.schema(list(schema))
        value_type = pa.struct(list(schema))
    else:
        known = load_kinds(state_dir)
        source = batch_df.persist()
        persisted.append(source)
        starts, final = _phase1_kinds(source, known, limit)
        default = known
        final = fix_kinds(final)
        value_type = kind_to_arrow(final) if final else pa.struct([])
        save_kinds(state_dir, value_type, known)
    data = [(f.name, _spark_type(value_type) if f.name == "value" else f.dataType) for f in batch_df.schema]
    spark_schema, arrow_schema = _out_schemas(data)
    fn = _JsonDecode(schema, starts, default, value_type, limit, arrow_schema)
    return _split(source.mapInArrow(fn, spark_schema), [n for n, _ in data], persisted)


def _decode_debezium(batch_df: "DataFrame") -> Decoded:
    source = batch_df.persist()
    persisted = [source]
    meta = source.mapInArrow(
        _DebeziumSchema(),
        "topic string, partition int, offset bigint, schema string, live boolean, connect string",
    ).collect()
    meta = sorted(meta, key=lambda r: (r["topic"], r["partition"], r["offset"]))
    changes = unify_changes([r.asDict() for r in meta])
    data = [(f.name, _spark_type(f.type)) for f in changes]
    spark_schema, arrow_schema = _out_schemas(data)
    return _split(source.mapInArrow(_DebeziumDecode(changes, arrow_schema), spark_schema), [n for n, _ in data], persisted)
