"""Decoding JSON Kafka values into a struct column; records that cannot become a row are dead letters.

Semantics follow Spark's ``from_json`` for well-formed records: fields missing from a record
are null, fields absent from the schema are ignored. Unlike ``from_json`` nothing is silently
nulled or skipped: every record that cannot become a row goes to the dead letters (topic,
partition, offset, raw key and value bytes, reason) and the batch goes on. The reasons:

- ``null value (tombstone)``: a record without a value (Debezium sources handle tombstones
  themselves, see :mod:`kappa.kafka.debezium`);
- ``record is N bytes (key + value), above max_record_bytes M``: the source option
  ``max_record_bytes``, default 8 MiB (:data:`~kappa.kafka.json_checks.DEFAULT_MAX_RECORD_BYTES`);
- ``value is not UTF-8: ...``, ``invalid JSON: ...``, ``JSON value is an array, not an object``;
- ``JSON nested deeper than 64 levels`` (:data:`~kappa.kafka.json_checks.MAX_JSON_DEPTH`;
  checked on the raw bytes before any parser sees them);
- declared ``schema``: ``does not match the schema: <parser message>`` for a field that does
  not convert to its declared type (``"abc"`` or ``1.5`` for a bigint);
- inferred schema (no ``schema``): ``field 'amount': "abc" is not a double``. A field's type is
  fixed by its first non-null value, in offset order, starting from the types recorded for the
  node in earlier batches (``known``, kept by the caller in the node's checkpoint folder with
  :func:`~kappa.kafka.json_checks.save_kinds`), so the type of a column never changes from one
  batch to the next. Numbers widen to double only within the batch that first sees the field.
  Strings stay strings (no date/timestamp guessing). See :mod:`kappa.kafka.json_checks`.

The key is never decoded (Spark's binary ``key`` column), so a key of any bytes does not stop a
record; a dead letter keeps its key bytes as they were.

Fast path (no row-by-row Python for good records): sizes, nulls, "trimmed ``{...}`` without a raw
newline" and an upper bound of the nesting depth (the number of ``{``/``[``, counted only for values
long enough to nest deeper than the limit) are screened vectorised; the screened values are joined
with newlines and parsed once by Arrow's JSON reader (explicit schema, or the known types plus
inference of new fields, which is strict: a value whose JSON type changes fails the parse). A value
cannot merge with its neighbour (a raw newline cannot sit inside a JSON string and ``}`` cannot be
followed by ``{``), and a row count check catches a value holding two objects. Only the values the
screen rejects are checked one by one; only if the parse fails are the bad rows located (the kind
rule for an inferred schema, bisection with the vectorised parser for a declared one). Polars, not
``pa.array`` (which imports pandas), makes arrays of Python values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kappa.errors import KappaError
from kappa.kafka.dead_letters import dead_letter_schema, dead_letters_of
from kappa.kafka.json_checks import (
    DEFAULT_MAX_RECORD_BYTES,
    MAX_JSON_DEPTH,
    Mismatch,
    arrow_to_kind,
    check_record,
    declared_mismatch,
    fits,
    fix_kinds,
    kind_to_arrow,
    merge_value,
)

if TYPE_CHECKING:
    import pyarrow as pa

TOMBSTONE = "null value (tombstone)"


class DecodeError(KappaError):
    """Decoding could not proceed at all (not a per-record failure)."""


def __getattr__(name: str):
    if name == "DEAD_LETTER_SCHEMA":
        return dead_letter_schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------------------------
# Vectorised parsing of values that are each one JSON object


def _reader_type(t: "pa.DataType") -> "pa.DataType":
    """The type handed to Arrow's JSON reader: dates/times are read as strings, cast after."""
    import pyarrow as pa

    if pa.types.is_date(t) or pa.types.is_time(t):
        return pa.string()
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_reader_type(f.type)) for f in t])
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pa.list_(t.value_field.with_type(_reader_type(t.value_type)))
    return t


def _read(buf: "bytes | pa.Buffer", count: int, schema: "pa.Schema | None", infer: bool) -> "pa.StructArray":
    import pyarrow as pa
    import pyarrow.json as pj

    if schema is not None and len(schema) == 0 and not infer:
        return pa.array([{}] * count, pa.struct([]))
    table = pj.read_json(
        pa.BufferReader(buf),
        read_options=pj.ReadOptions(block_size=min(max(1 << 20, len(buf) + 1), (1 << 31) - 1)),
        parse_options=pj.ParseOptions(
            explicit_schema=schema if schema is not None and len(schema) else None,
            unexpected_field_behavior="infer" if infer else "ignore",
        ),
    )
    if table.num_rows != count:
        raise ValueError(f"{table.num_rows} objects parsed from {count} values")
    if table.num_columns == 0:
        return pa.array([{}] * count, pa.struct([]))
    return table.to_struct_array().combine_chunks()


def _parse(buf: "bytes | pa.Buffer", count: int, schema: "pa.Schema | None", known: Any) -> "pa.StructArray":
    """Parse ``count`` newline-separated JSON objects into a struct array; raises on any bad row.

    ``schema``: declared (fields outside it ignored). Otherwise the ``known`` kinds are explicit
    and new fields are inferred; strings Arrow read as timestamps are re-read as strings.
    """
    import pyarrow as pa

    if schema is not None:
        read_schema = pa.schema([f.with_type(_reader_type(f.type)) for f in schema])
        arr = _read(buf, count, read_schema, infer=False)
        target = pa.struct(list(schema))
        return arr if arr.type == target else arr.cast(target)
    read_schema = pa.schema(list(kind_to_arrow(known))) if known else None
    arr = _read(buf, count, read_schema, infer=True)
    kinds = arrow_to_kind(arr.type)
    if kind_to_arrow(kinds) != arr.type:  # timestamps guessed from strings, field order
        fixed = pa.schema(list(kind_to_arrow(kinds)))
        if any(not _same_kind(f.type) for f in arr.type):
            arr = _read(buf, count, fixed, infer=False)
        arr = arr.cast(kind_to_arrow(kinds))
    return arr


def _same_kind(t: "pa.DataType") -> bool:
    """True when ``t`` holds no type Arrow's inference guesses from strings."""
    import pyarrow as pa

    if pa.types.is_struct(t):
        return all(_same_kind(f.type) for f in t)
    if pa.types.is_list(t):
        return _same_kind(t.value_type)
    return not (pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_time(t))


def _join(values: "pa.Array") -> "pa.Buffer":
    """The values (no nulls) joined with newlines, vectorised, as an Arrow buffer (no copy to bytes).
    Polars makes the offsets and the separator: pa.array/pa.scalar import pandas on first use."""
    import polars as pl
    import pyarrow as pa
    import pyarrow.compute as pc

    lists = pa.ListArray.from_arrays(pl.Series([0, len(values)], dtype=pl.Int32).to_arrow(), values)
    return pc.binary_join(lists, pl.Series([b"\n"], dtype=pl.Binary).to_arrow().cast(pa.binary())[0])[0].as_buffer()


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _screen(values: "pa.Array", max_depth: int) -> "pa.Array":
    """Per value: True when it is UTF-8, one trimmed ``{...}``, holds no raw newline and has
    at most ``max_depth`` opening brackets (or is too short to nest deeper)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        strings = pc.cast(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # some value is not UTF-8
        utf8 = pa.array([v is None or _is_utf8(v) for v in values.to_pylist()], pa.bool_())
        strings = pc.cast(pc.if_else(utf8, values, pa.scalar(None, pa.binary())), pa.string())
    import polars as pl

    trimmed = pc.utf8_trim_whitespace(strings)
    text = pl.Series(strings)  # Polars' substring scans are several times faster than Arrow's here
    ok = pc.and_(
        pc.and_(pc.starts_with(trimmed, "{"), pc.ends_with(trimmed, "}")),
        text.str.contains("\n", literal=True).not_().to_arrow(),
    )
    long = pl.Series(pc.binary_length(values)) > 2 * max_depth
    if long.any():
        deep = (long & (text.str.count_matches(r"[{\[]") > max_depth)).fill_null(False)
        if deep.any():
            ok = pc.and_(ok, deep.not_().to_arrow())
    return ok


# ---------------------------------------------------------------------------------------------


def decode_json_values(
    records: "pa.Table",
    schema: "pa.Schema | None",
    *,
    known: dict | None = None,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
) -> tuple["pa.Table", "pa.Table"]:
    """Decode the JSON ``value`` bytes of Kafka records (columns of ``kafka_schema``).

    Returns ``(decoded, dead_letters)``: ``decoded`` has the input columns with ``value``
    replaced by a struct column of ``schema`` (or, when ``schema`` is None, of the ``known``
    kinds plus the fields inferred from this batch, see the module doc); ``dead_letters``
    (``DEAD_LETTER_SCHEMA``) holds every record that cannot become a row, with the reason.
    """
    import polars as pl
    import pyarrow as pa
    import pyarrow.compute as pc

    if "value" not in records.column_names:
        raise DecodeError("records have no 'value' column to decode")
    if schema is not None and not isinstance(schema, pa.Schema):
        schema = pa.schema(list(schema))
    col = records.column("value")
    if not (pa.types.is_binary(col.type) or pa.types.is_string(col.type)
            or pa.types.is_large_binary(col.type) or pa.types.is_large_string(col.type)):
        raise DecodeError(f"the 'value' column has type {col.type}; expected binary or string")
    values = col.cast(pa.binary()).combine_chunks()
    n = len(values)
    errors: dict[int, str] = {}
    size = pl.Series(pc.binary_length(values)).cast(pl.Int64).fill_null(0)
    if "key" in records.column_names:
        key = records.column("key").cast(pa.binary()).combine_chunks()
        size = size + pl.Series(pc.binary_length(key)).cast(pl.Int64).fill_null(0)
    big = size > max_record_bytes
    for i in big.arg_true().to_list():
        errors[i] = f"record is {size[i]} bytes (key + value), above max_record_bytes {max_record_bytes}"
    errors.update(dict.fromkeys(pc.indices_nonzero(values.is_null()).to_pylist(), TOMBSTONE))
    candidates = ~big & pl.Series(values.is_valid())
    present = candidates.arg_true().cast(pl.Int64).to_arrow()
    clean = (candidates & pl.Series(_screen(values, max_depth)).fill_null(False)).arg_true()
    parsed = None
    if len(present) and len(clean) == len(present):
        try:
            parsed = _parse(_join(values.take(present) if errors else values), len(present), schema, known)
        except Exception:  # noqa: BLE001 - locate the bad rows below
            parsed = None
    present = present.to_pylist()
    kinds = known
    if parsed is None and present:
        parsed, present, kinds = _slow_path(values, present, clean.to_list(), schema, known, max_depth, errors)
    struct_type = _result_type(schema, parsed, kinds)
    decoded = _assemble(records, n, present, parsed, errors, struct_type)
    return decoded, dead_letters_of(records, sorted(errors), errors)


def _slow_path(values, present, clean, schema, known, max_depth, errors):
    """Check the records the screen rejected one by one, parse the rest vectorised, and only
    if that fails too locate the records that do not fit; returns (parsed, its rows, kinds)."""
    clean_set = set(clean)
    raw = values.to_pylist()
    good: list[int] = []
    objects: dict[int, Any] = {}
    for i in present:
        if i not in clean_set:
            err, obj = check_record(raw[i], max_depth)
            if err is not None:
                errors[i] = err
                continue
            objects[i] = obj
            raw[i] = raw[i].replace(b"\r", b" ").replace(b"\n", b" ")
        good.append(i)
    if not good:
        return None, good, known
    try:
        return _parse(b"\n".join(raw[i] for i in good), len(good), schema, known), good, known
    except Exception:  # noqa: BLE001 - some record does not fit: locate it
        pass
    # the same per-record checks for the screened records (their reasons must not depend on
    # their neighbours); the screen already bounded their depth
    checked = []
    for i in good:
        if i not in objects:
            err, obj = check_record(raw[i], max_depth, depth_known=True)
            if err is not None:
                errors[i] = err
                continue
            objects[i] = obj
        checked.append(i)
    good = checked
    kinds = known
    parse_schema = schema
    if schema is None:
        import pyarrow as pa

        kinds, good = _apply_kinds(good, objects, known, errors)
        parse_schema = pa.schema(list(kind_to_arrow(kinds or {})))
    return _parse_located(raw, good, parse_schema, errors), good, kinds


def _apply_kinds(good: list[int], objects: dict[int, Any], known, errors: dict[int, str]):
    """The inferred-schema rule, record by record in offset order."""
    kinds: Any = known or {}
    keep = []
    for i in good:
        if fits(kinds, objects[i]):
            keep.append(i)
            continue
        try:
            kinds = merge_value(kinds, objects[i], "")
        except Mismatch as exc:
            errors[i] = str(exc)
            continue
        keep.append(i)
    return fix_kinds(kinds), keep


def _parse_located(raw: list, good: list[int], schema, errors: dict[int, str]):
    """Parse ``good`` with the explicit ``schema``; rows that still fail are located by bisection."""
    if not good:
        return None
    try:
        return _parse(b"\n".join(raw[i] for i in good), len(good), schema, None)
    except Exception:  # noqa: BLE001 - locate the rows that do not convert
        bad: dict[int, str] = {}
        _bisect_failures(raw, list(good), schema, bad)
        errors.update(bad)
        good[:] = [i for i in good if i not in bad]
        if not good:
            return None
        try:
            return _parse(b"\n".join(raw[i] for i in good), len(good), schema, None)
        except Exception as exc:  # noqa: BLE001
            raise DecodeError(f"cannot decode the JSON values together: {exc}") from exc


def _bisect_failures(raw: list, idx: list[int], schema, out: dict[int, str]) -> None:
    """Record in ``out`` each index of ``idx`` whose value alone fails to parse."""
    try:
        _parse(b"\n".join(raw[i] for i in idx), len(idx), schema, None)
        return
    except Exception as exc:  # noqa: BLE001 - any parser error marks a bad row
        if len(idx) == 1:
            out[idx[0]] = _type_reason(raw[idx[0]], schema) or (
                f"does not match the schema: {str(exc).strip().splitlines()[0]}"
            )
            return
    mid = len(idx) // 2
    _bisect_failures(raw, idx[:mid], schema, out)
    _bisect_failures(raw, idx[mid:], schema, out)


def _type_reason(value: bytes, schema) -> str | None:
    import json

    import pyarrow as pa

    try:
        return declared_mismatch(json.loads(value), pa.struct(list(schema)))
    except ValueError:
        return None


def _result_type(schema: "pa.Schema | None", parsed, kinds) -> "pa.DataType":
    import pyarrow as pa

    if schema is not None:
        return pa.struct(list(schema))
    if parsed is not None:
        return parsed.type
    return kind_to_arrow(kinds) if kinds else pa.struct([])


def _assemble(records, n, present, parsed, errors, struct_type) -> "pa.Table":
    """Put parsed structs back in row order, dropping dead-letter rows."""
    import polars as pl
    import pyarrow as pa

    if parsed is None:
        values = pa.nulls(n - len(errors), struct_type)
    else:
        values = parsed if parsed.type == struct_type else parsed.cast(struct_type)
    base = records if not errors else records.take(pl.Series(sorted(present), dtype=pl.Int64).to_arrow())
    if len(values) != base.num_rows:
        raise DecodeError(f"{len(values)} decoded values for {base.num_rows} rows")
    idx = base.column_names.index("value")
    field = pa.field("value", struct_type)
    return base.set_column(idx, field, pa.chunked_array([values], struct_type))


def decode_json_source(records: "pa.Table", spec: Any, state_dir: str | None = None) -> tuple["pa.Table", "pa.Table"]:
    """Decode a Kafka JSON source's records as both engines do: the declared ``schema``, or the
    kinds recorded under ``state_dir`` (the node's checkpoint folder) plus new ones, recorded
    again after the batch; the ``max_record_bytes`` source option."""
    from kappa.kafka.json_checks import load_kinds, save_kinds
    from kappa.types import parse_schema

    schema = parse_schema(spec.schema) if getattr(spec, "schema", None) else None
    known = load_kinds(state_dir) if schema is None else None
    limit = getattr(spec, "max_record_bytes", None) or DEFAULT_MAX_RECORD_BYTES
    decoded, dead = decode_json_values(records, schema, known=known, max_record_bytes=limit)
    if schema is None:
        save_kinds(state_dir, decoded.schema.field("value").type, known)
    return decoded, dead
