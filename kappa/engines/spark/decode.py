"""Decode a Kafka micro-batch on the executors, with kappa's own decoders (one decoder, two engines).

:func:`decode_kafka_frame` keeps the batch in Spark's plan: ``batch_df.mapInArrow`` runs
:func:`kappa.kafka.decode.decode_json_values` (``value_format: json``) or
:func:`kappa.cdc.debezium.decode_debezium` (``debezium``) on each Spark partition (all of its
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

``dead`` is a frame for every decoding format (possibly empty: its size is known only once a
job runs; count it with an observation). Known limits: the Debezium column order is the union of the partitions' orders (the driver
path orders after-columns before before-only columns over the whole batch) and nested struct
fields whose sets differ between partitions are ordered by the union, not by Polars' own
order (types and values agree); a batch mixing
Postgres (``lsn``) and MySQL (``file``/``pos``) sequence columns keeps both.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

from kappa.kafka.batch_types import KindConflict, fold_kinds, unify_changes, unify_types  # noqa: F401

FLAG = "__kappa_dead"
_DL = "__kappa_dl_"  # prefix of the dead-letter columns in the combined frame


@dataclass
class Decoded:
    """The decoded rows, the dead letters (None for ``raw``), and what to unpersist after."""

    rows: "DataFrame"
    dead: "DataFrame | None"
    persisted: list = field(default_factory=list)

    def release(self) -> None:
        """Unpersist the frames this decode persisted."""
        while self.persisted:
            self.persisted.pop().unpersist()


# --------------------------------------------------------------------------- executor side


def _partition_table(batches) -> "pa.Table | None":
    import pyarrow as pa

    batches = [b for b in batches if b.num_rows]
    return pa.Table.from_batches(batches).combine_chunks() if batches else None


def _first_key(table: "pa.Table") -> tuple:
    return (table.column("topic")[0].as_py(), table.column("partition")[0].as_py(), table.column("offset")[0].as_py())


def conform(array: "pa.Array", target: "pa.DataType") -> "pa.Array":
    """``array`` cast to ``target`` by field name (missing struct fields become nulls)."""
    import pyarrow as pa

    if array.type == target:
        return array
    if pa.types.is_null(target):
        return pa.nulls(len(array))
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), target)
    if pa.types.is_struct(target) and pa.types.is_struct(array.type):
        names = {array.type.field(i).name for i in range(array.type.num_fields)}
        children = [conform(array.field(f.name), f.type) if f.name in names else pa.nulls(len(array), f.type) for f in target]
        mask = array.is_null() if array.null_count else None
        return pa.StructArray.from_arrays(children, fields=list(target), mask=mask)
    if pa.types.is_list(target) and (pa.types.is_list(array.type) or pa.types.is_large_list(array.type)):
        if pa.types.is_large_list(array.type):
            array = array.cast(pa.list_(array.type.value_field))
        values = conform(array.values, target.value_type)
        mask = array.is_null() if array.null_count else None
        return pa.ListArray.from_arrays(array.offsets, values, type=target, mask=mask)
    return array.cast(target)


def _combined(data: "pa.Table", dead: "pa.Table | None", schema: "pa.Schema") -> "pa.RecordBatch":
    """Good rows then dead letters in one batch of ``schema`` (the other side's columns null)."""
    import pyarrow as pa

    n, m = data.num_rows, dead.num_rows if dead is not None else 0
    columns = []
    for f in schema:
        if f.name == FLAG:
            columns.append(pa.array([False] * n + [True] * m, pa.bool_()))
        elif f.name.startswith(_DL):
            tail = dead.column(f.name[len(_DL):]).combine_chunks().cast(f.type) if m else pa.nulls(0, f.type)
            columns.append(pa.concat_arrays([pa.nulls(n, f.type), tail]))
        else:
            if f.name in data.column_names:
                head = conform(data.column(f.name).combine_chunks(), f.type)
            else:  # a column only other partitions have
                head = pa.nulls(n, f.type)
            columns.append(pa.concat_arrays([head, pa.nulls(m, f.type)]))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


#: dead-letter reasons that do not depend on the kinds seen before (the record is dead anyway)
_KIND_FREE = ("null value (tombstone)", "record is ", "value is not UTF-8", "invalid JSON", "JSON value is", "JSON nested")


class _JsonKinds:
    """Phase 1 of an inferred JSON schema: per partition, the distinct record kinds in order of
    first occurrence; or, when the partition decodes with no kind conflict (``summary``), its
    kinds as one (the driver asks again record by record if that one conflicts, see
    :func:`fold_kinds`)."""

    def __init__(self, limit: int, per_record: bool):
        self.limit, self.per_record = limit, per_record

    def __call__(self, batches):
        import pyarrow as pa

        from kappa.kafka.decode import decode_json_values
        from kappa.kafka.json_checks import arrow_to_kind

        table = _partition_table(batches)
        if table is None:
            return
        sigs, summary = None, False
        if not self.per_record:
            decoded, dead = decode_json_values(table, None, known=None, max_record_bytes=self.limit)
            if all(r.startswith(_KIND_FREE) for r in dead.column("error").to_pylist()):
                sigs, summary = [json.dumps(arrow_to_kind(decoded.schema.field("value").type), sort_keys=True)], True
        if sigs is None:
            sigs = self._record_kinds(table)
        topic, part, offset = _first_key(table)
        yield pa.RecordBatch.from_pylist(
            [{"topic": topic, "partition": part, "offset": offset, "kinds": json.dumps(sigs), "summary": summary}],
            schema=pa.schema([("topic", pa.string()), ("partition", pa.int32()), ("offset", pa.int64()),
                              ("kinds", pa.string()), ("summary", pa.bool_())]),
        )

    def _record_kinds(self, table) -> list:
        import pyarrow as pa

        from kappa.kafka.json_checks import MAX_JSON_DEPTH, Mismatch, check_record, merge_value

        keys = table.column("key").to_pylist() if "key" in table.column_names else [None] * table.num_rows
        seen: dict[str, None] = {}
        for key, value in zip(keys, table.column("value").cast(pa.binary()).to_pylist()):
            if value is None or len(value) + len(key or b"") > self.limit:
                continue
            err, obj = check_record(value, MAX_JSON_DEPTH)
            if err is not None:
                continue
            try:
                kind = merge_value(None, obj, "")
            except Mismatch:  # conflicts with itself: a dead letter whatever came before
                continue
            seen.setdefault(json.dumps(kind, sort_keys=True), None)
        return list(seen)


class _JsonDecode:
    """Phase 2 (or the only phase): decode each partition with kappa's JSON decoder."""

    def __init__(self, schema, starts: dict | None, default: Any, value_type, limit: int, out: "pa.Schema"):
        self.schema, self.starts, self.default = schema, starts, default
        self.value_type, self.limit, self.out = value_type, limit, out

    def __call__(self, batches):
        from kappa.kafka.decode import decode_json_values

        table = _partition_table(batches)
        if table is None:
            return
        known = None
        if self.schema is None:
            known = (self.starts or {}).get(json.dumps(list(_first_key(table))), self.default)
        decoded, dead = decode_json_values(table, self.schema, known=known, max_record_bytes=self.limit)
        yield _combined(decoded, dead, self.out)


class _DebeziumSchema:
    """Phase 1 of Debezium: each partition's change-table schema and first Connect types."""

    def __call__(self, batches):
        import pyarrow as pa

        from kappa.cdc.debezium import _connect_types, decode_debezium

        table = _partition_table(batches)
        if table is None:
            return
        changes = decode_debezium(table, declared_nulls=False).changes
        values = table.column("value").drop_null()
        topic, part, offset = _first_key(table)
        row = {"topic": topic, "partition": part, "offset": offset,
               "schema": base64.b64encode(changes.schema.serialize().to_pybytes()).decode(),
               "live": len(values) > 0,
               "connect": json.dumps(_connect_types(values[0].as_py()) if len(values) else {})}
        yield pa.RecordBatch.from_pylist([row], schema=pa.schema(
            [("topic", pa.string()), ("partition", pa.int32()), ("offset", pa.int64()),
             ("schema", pa.string()), ("live", pa.bool_()), ("connect", pa.string())]))


class _DebeziumDecode:
    def __init__(self, changes: "pa.Schema", out: "pa.Schema"):
        self.changes, self.out = changes, out

    def __call__(self, batches):
        from kappa.cdc.debezium import decode_debezium

        table = _partition_table(batches)
        if table is None:
            return
        decoded = decode_debezium(table)
        yield _combined(decoded.changes, decoded.dead_letters, self.out)


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


def _spark_type(dtype: "pa.DataType"):
    """Spark type of an Arrow type as the driver path's ``arrow_frame`` gives it."""
    import pyarrow as pa
    from pyspark.sql.types import NullType

    from kappa.engines.spark.sources import spark_schema_of_arrow

    if pa.types.is_null(dtype):
        return NullType()
    return spark_schema_of_arrow(pa.schema([pa.field("c", dtype)]))["c"].dataType


def _out_schemas(data: list[tuple[str, Any]]):
    """(Spark schema, Arrow schema) of the combined frame: data columns, dead letters, flag."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_type
    from pyspark.sql.types import BooleanType, StructField, StructType

    from kappa.kafka.dead_letters import dead_letter_schema

    fields = [StructField(name, st, True) for name, st in data]
    fields += [StructField(_DL + f.name, _spark_type(f.type), True) for f in dead_letter_schema()]
    fields.append(StructField(FLAG, BooleanType(), True))
    spark_schema = StructType(fields)
    arrow = pa.schema([pa.field(f.name, to_arrow_type(f.dataType, timezone="UTC", prefers_large_types=False)) for f in fields])
    return spark_schema, arrow


def _split(combined: "DataFrame", data_names: list[str], persisted: list) -> Decoded:
    from pyspark.sql import functions as F

    from kappa.kafka.dead_letters import dead_letter_schema

    combined = combined.persist()
    persisted.append(combined)
    rows = combined.filter(~F.col(FLAG)).select(*[F.col(f"`{n}`") for n in data_names])
    dead = combined.filter(F.col(FLAG)).select(*[F.col(_DL + f.name).alias(f.name) for f in dead_letter_schema()])
    return Decoded(rows, dead, persisted)


def decode_kafka_frame(spark: "SparkSession", batch_df: "DataFrame", spec: Any, state_dir: str | None) -> Decoded:
    """Decode ``batch_df`` (Spark's Kafka source columns) on the executors; identical to
    :func:`kappa.engines.spark.batch.decode_kafka` (module doc)."""
    if spec.value_format == "raw":
        return Decoded(batch_df, None)
    if spec.value_format == "json":
        return _decode_json(batch_df, spec, state_dir)
    return _decode_debezium(batch_df)


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
