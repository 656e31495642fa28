"""The executor side of :mod:`kappa.engines.spark.decode`: the functions ``mapInArrow`` and the
decoding ``kappa_kafka`` reader run on each Spark partition, and the combined schema they emit.

Each function wraps one of kappa's own decoders (:func:`kappa.kafka.decode.decode_json_values`,
:func:`kappa.kafka.debezium.decode_debezium`: the Polars engine's) and emits good rows and dead
letters in one Arrow batch told apart by the :data:`FLAG` column (the dead-letter columns,
prefixed :data:`DL`, are null on good rows and the other way round). Everything here is plain
data and picklable; nothing imports pyspark at module import.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

FLAG = "__kappa_dead"
DL = "__kappa_dl_"  # prefix of the dead-letter columns in the combined frame
DECODE_OPTION = "kappa.decode"  # the kappa_kafka option that makes the reader decode


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
        elif f.name.startswith(DL):
            tail = dead.column(f.name[len(DL):]).combine_chunks().cast(f.type) if m else pa.nulls(0, f.type)
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

        from kappa.kafka.debezium import _connect_types, decode_debezium

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
        from kappa.kafka.debezium import decode_debezium

        table = _partition_table(batches)
        if table is None:
            return
        decoded = decode_debezium(table)
        yield _combined(decoded.changes, decoded.dead_letters, self.out)


class ReaderDecode:
    """Executor side of the decoding reader: the combined schema, and each fetched Arrow batch
    decoded into good rows and dead letters (the very :class:`_JsonDecode` of ``mapInArrow``)."""

    def __init__(self, option: str, include_headers: bool):
        import pyarrow as pa

        from kappa.engines.spark.arrow_schema import spark_schema_of_arrow
        from kappa.kafka.reader import kafka_schema
        from kappa.types import parse_schema

        cfg = json.loads(option)
        schema = parse_schema(cfg["schema"])
        if not isinstance(schema, pa.Schema):
            schema = pa.schema(list(schema))
        value_type = pa.struct(list(schema))
        kafka = spark_schema_of_arrow(kafka_schema(include_headers))
        self.data = [(f.name, _spark_type(value_type) if f.name == "value" else f.dataType) for f in kafka]
        self.spark_schema, arrow_schema = _out_schemas(self.data)
        self.fn = _JsonDecode(schema, None, None, value_type, int(cfg["max_record_bytes"]), arrow_schema)

    def __call__(self, batches):
        for batch in batches:
            yield from self.fn([batch])


def _spark_type(dtype: "pa.DataType"):
    """Spark type of an Arrow type as the driver path's ``arrow_frame`` gives it."""
    import pyarrow as pa
    from pyspark.sql.types import NullType

    from kappa.engines.spark.arrow_schema import spark_schema_of_arrow

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
    fields += [StructField(DL + f.name, _spark_type(f.type), True) for f in dead_letter_schema()]
    fields.append(StructField(FLAG, BooleanType(), True))
    spark_schema = StructType(fields)
    arrow = pa.schema([pa.field(f.name, to_arrow_type(f.dataType, timezone="UTC", prefers_large_types=False)) for f in fields])
    return spark_schema, arrow
