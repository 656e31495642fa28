"""Decoding JSON Kafka values into a struct column; records that do not decode become dead letters.

Semantics follow Spark's ``from_json`` for well-formed records: fields missing from a record
are null, fields absent from the schema are ignored, a null value (tombstone) decodes to a
null struct. Unlike ``from_json`` nothing is silently nulled: a value that is not UTF-8, not
valid JSON, not a JSON object, or holds a field that does not convert to the declared type
(``"abc"`` for a bigint, ``1.5`` for an int) is routed to the dead letters with the reason.

Fast path: every value is screened vectorised (UTF-8, starts with ``{`` and ends with ``}``,
no raw newline), the values are joined with newlines and parsed once by Arrow's JSON reader
(explicit schema) or Polars' NDJSON reader (inferred schema). A value can neither merge with
its neighbour (a raw newline cannot sit inside a JSON string and ``}`` cannot be followed by
``{``) nor produce zero rows, and a row count check catches a value holding two objects.
Only if that fails are the bad rows located: per-row ``json.loads`` for syntax, then bisection
with the vectorised parser for type errors.
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from kappa.errors import KappaError

if TYPE_CHECKING:
    import pyarrow as pa


class DecodeError(KappaError):
    """Decoding could not proceed at all (not a per-record failure)."""


def dead_letter_schema() -> "pa.Schema":
    """Columns of the dead-letter table."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("topic", pa.string()),
            pa.field("partition", pa.int32()),
            pa.field("offset", pa.int64()),
            pa.field("key", pa.binary()),
            pa.field("value", pa.binary()),
            pa.field("error", pa.string()),
            pa.field("failed_at", pa.timestamp("us", tz="UTC")),
        ]
    )


def __getattr__(name: str):
    if name == "DEAD_LETTER_SCHEMA":
        return dead_letter_schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------------------------
# Arrow type helpers


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


def _normalize_type(t: "pa.DataType") -> "pa.DataType":
    """Polars' Arrow output types -> plain Arrow types (string, binary, list)."""
    import pyarrow as pa

    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_normalize_type(f.type)) for f in t])
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return pa.list_(_normalize_type(t.value_type))
    return t


# ---------------------------------------------------------------------------------------------
# Vectorised parsing of values that are each one JSON object


def _parse(values: list[bytes], schema: "pa.Schema | None") -> "pa.StructArray":
    """Parse ``values`` (each one JSON object, no raw newlines) into a struct array.

    Raises on any row that does not parse or convert, and when the row count differs.
    """
    import pyarrow as pa

    buf = b"\n".join(values)
    if schema is not None:
        import pyarrow.json as pj

        if len(schema) == 0:
            arr = pa.array([{}] * len(values), pa.struct([]))
        else:
            read_schema = pa.schema([f.with_type(_reader_type(f.type)) for f in schema])
            table = pj.read_json(
                io.BytesIO(buf),
                read_options=pj.ReadOptions(block_size=max(1 << 20, 4 * max(map(len, values)))),
                parse_options=pj.ParseOptions(
                    explicit_schema=read_schema, unexpected_field_behavior="ignore"
                ),
            )
            if table.num_rows != len(values):
                raise ValueError(f"{table.num_rows} objects parsed from {len(values)} values")
            arr = table.to_struct_array().combine_chunks()
            target = pa.struct(list(schema))
            if arr.type != target:
                arr = arr.cast(target)
        return arr
    import polars as pl

    frame = pl.read_ndjson(io.BytesIO(buf), infer_schema_length=None)
    if frame.height != len(values):
        raise ValueError(f"{frame.height} objects parsed from {len(values)} values")
    if frame.width == 0:
        return pa.array([{}] * len(values), pa.struct([]))
    arr = frame.to_arrow().to_struct_array().combine_chunks()
    return _sort_fields(arr.cast(_normalize_type(arr.type)))


def _sort_fields(arr: "pa.StructArray") -> "pa.StructArray":
    """Order struct fields by name, recursively, as Spark's JSON schema inference does."""
    import pyarrow as pa

    names = sorted(f.name for f in arr.type)
    children = []
    for name in names:
        child = arr.field(name)
        if pa.types.is_struct(child.type):
            child = _sort_fields(child)
        children.append(child)
    mask = arr.is_null() if arr.null_count else None
    return pa.StructArray.from_arrays(children, names=names, mask=mask)


def _bisect_failures(
    values: list[bytes], idx: list[int], schema: "pa.Schema | None", out: dict[int, str]
) -> None:
    """Record in ``out`` each index of ``idx`` whose value alone fails to parse."""
    try:
        _parse([values[i] for i in idx], schema)
        return
    except Exception as exc:  # noqa: BLE001 - any parser error marks a bad row
        if len(idx) == 1:
            out[idx[0]] = f"does not match the schema: {str(exc).strip().splitlines()[0]}"
            return
    mid = len(idx) // 2
    _bisect_failures(values, idx[:mid], schema, out)
    _bisect_failures(values, idx[mid:], schema, out)


def _syntax_error(value: bytes) -> tuple[str | None, bytes]:
    """Per-row check: returns (error or None, value with raw newlines turned into spaces)."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"value is not UTF-8: {exc.reason} at byte {exc.start}", value
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", value
    if not isinstance(obj, dict):
        return f"JSON value is a {type(obj).__name__}, not an object", value
    # Valid JSON: raw newlines can only be whitespace between tokens.
    return None, value.replace(b"\r", b" ").replace(b"\n", b" ")


def _fast_screen(values: "pa.ChunkedArray") -> bool:
    """True when every non-null value is UTF-8, one trimmed ``{...}``, and has no raw newline."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        strings = pc.cast(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    trimmed = pc.utf8_trim_whitespace(strings)
    ok = pc.and_(
        pc.and_(pc.starts_with(trimmed, "{"), pc.ends_with(trimmed, "}")),
        pc.invert(pc.match_substring(strings, "\n")),
    )
    return bool(pc.all(pc.fill_null(ok, True)).as_py())


# ---------------------------------------------------------------------------------------------


def decode_json_values(
    records: "pa.Table", schema: "pa.Schema | None"
) -> tuple["pa.Table", "pa.Table"]:
    """Decode the JSON ``value`` bytes of Kafka records (columns of ``kafka_schema``).

    Returns ``(decoded, dead_letters)``: ``decoded`` has the input columns with ``value``
    replaced by a struct column of ``schema`` (or of a schema inferred over all rows when
    ``schema`` is None); ``dead_letters`` (``DEAD_LETTER_SCHEMA``) holds every record that did
    not decode, with the reason. Null values decode to a null struct.
    """
    import pyarrow as pa

    if "value" not in records.column_names:
        raise DecodeError("records have no 'value' column to decode")
    if schema is not None and not isinstance(schema, pa.Schema):
        schema = pa.schema(list(schema))
    col = records.column("value")
    if not (pa.types.is_binary(col.type) or pa.types.is_string(col.type)
            or pa.types.is_large_binary(col.type) or pa.types.is_large_string(col.type)):
        raise DecodeError(f"the 'value' column has type {col.type}; expected binary or string")
    raw = col.cast(pa.binary()).to_pylist()
    present = [i for i, v in enumerate(raw) if v is not None]
    errors: dict[int, str] = {}
    parsed = None
    if present and _fast_screen(col):
        try:
            parsed = _parse([raw[i] for i in present], schema)
        except Exception:  # noqa: BLE001 - fall back to locating the bad rows
            parsed = None
    if present and parsed is None:
        cleaned: dict[int, bytes] = {}
        for i in present:
            err, fixed = _syntax_error(raw[i])
            if err is None:
                cleaned[i] = fixed
            else:
                errors[i] = err
        good = list(cleaned)
        values = [cleaned[i] for i in good]
        if values:
            try:
                parsed = _parse(values, schema)
            except Exception:  # noqa: BLE001 - locate the rows that do not convert
                bad: dict[int, str] = {}
                _bisect_failures(values, list(range(len(values))), schema, bad)
                errors.update({good[j]: msg for j, msg in bad.items()})
                keep = [j for j in range(len(values)) if j not in bad]
                try:
                    parsed = _parse([values[j] for j in keep], schema) if keep else None
                except Exception as exc:  # noqa: BLE001
                    raise DecodeError(f"cannot decode the JSON values together: {exc}") from exc
                good = [good[j] for j in keep]
        present = good
    struct_type = _result_type(schema, parsed)
    decoded = _assemble(records, raw, present, parsed, errors, struct_type)
    return decoded, _dead_letters(records, sorted(errors), errors)


def _result_type(schema: "pa.Schema | None", parsed) -> "pa.DataType":
    import pyarrow as pa

    if schema is not None:
        return pa.struct(list(schema))
    return parsed.type if parsed is not None else pa.struct([])


def _assemble(records, raw, present, parsed, errors, struct_type) -> "pa.Table":
    """Put parsed structs back in row order (nulls for tombstones), dropping dead-letter rows."""
    import pyarrow as pa

    slot = {row: j for j, row in enumerate(present)}
    keep_rows = [i for i in range(len(raw)) if i not in errors]
    take = [slot.get(i) for i in keep_rows]  # None -> null struct (tombstone)
    if parsed is None:
        values = pa.nulls(len(keep_rows), struct_type)
    elif not errors and len(present) == len(raw):
        values = parsed
    else:
        values = parsed.take(pa.array(take, pa.int64()))
        if values.type != struct_type:
            values = values.cast(struct_type)
    base = records if not errors else records.take(pa.array(keep_rows, pa.int64()))
    idx = base.column_names.index("value")
    field = pa.field("value", struct_type)
    return base.set_column(idx, field, pa.chunked_array([values], struct_type))


def _dead_letters(records, rows: list[int], errors: dict[int, str]) -> "pa.Table":
    import pyarrow as pa

    schema = dead_letter_schema()
    if not rows:
        return schema.empty_table()
    picked = records.take(pa.array(rows, pa.int64()))
    now = datetime.now(timezone.utc)

    def column(name: str, typ: "pa.DataType"):
        if name in picked.column_names:
            return picked.column(name).cast(typ)
        return pa.nulls(len(rows), typ)

    return pa.table(
        {
            "topic": column("topic", pa.string()),
            "partition": column("partition", pa.int32()),
            "offset": column("offset", pa.int64()),
            "key": column("key", pa.binary()),
            "value": column("value", pa.binary()),
            "error": pa.array([errors[i] for i in rows], pa.string()),
            "failed_at": pa.array([now] * len(rows), pa.timestamp("us", tz="UTC")),
        },
        schema=schema,
    )
