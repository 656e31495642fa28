"""Decode Debezium change events read from Kafka into a CDC change table.

Input: the Spark Kafka source columns (``key``, ``value`` binary; ``topic``; ``partition``;
``offset``; ``timestamp``; ``timestampType``). Each value is a Debezium JSON envelope
(``before``, ``after``, ``op``, ``ts_ms``, ``source``), with or without the
``{"schema": ..., "payload": ...}`` wrapper of the JSON converter (the same for the key).

Output (:class:`DebeziumBatch`):

- ``changes``: the row columns (``after`` for ``c``/``u``/``r``; ``before`` for ``d``, its key
  columns filled from the message key when ``before`` lacks them), then ``_op``
  (``'upsert'`` | ``'delete'`` | ``'truncate'`` for Debezium's ``t``), then the sequence
  columns listed in ``sequence_columns``, compared left to right:
  ``_seq_lsn`` (Postgres ``source.lsn``) or ``_seq_file``, ``_seq_pos`` (MySQL binlog
  position), then always ``_seq_ts_ms`` (envelope ``ts_ms``) and ``_seq_offset`` (Kafka
  offset). Use ``CdcMerge(keys=batch.key_columns, sequence_by=batch.sequence_columns,
  apply_as_deletes="_op = 'delete'", except_column_list=[...])``.
- ``dead_letters``: records that cannot be decoded or have no key, with the reason.
- counts: ``decoded``, ``tombstones`` (null values, Kafka compaction markers: skipped),
  ``dead``.

Values keep their JSON types (Connect logical types such as Debezium's encoded decimals are
not converted); a field whose JSON type differs between records of one batch becomes a string. Decoding is vectorised with Polars (``str.json_decode``) when every record is
well formed; otherwise records are checked one by one, bad ones go to the dead letters and the
rest is decoded the same vectorised way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from kappa.errors import KappaError
from kappa.kafka.dead_letters import dead_letter_schema

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl
    import pyarrow as pa

UPSERT_OPS = ("c", "u", "r")
KNOWN_OPS = ("c", "u", "r", "d", "t")
_META = ["topic", "partition", "offset", "key", "value"]


@dataclass(frozen=True)
class DebeziumBatch:
    """Result of :func:`decode_debezium`."""

    changes: pa.Table
    dead_letters: pa.Table
    decoded: int
    tombstones: int
    dead: int
    key_columns: list[str] = field(default_factory=list)
    sequence_columns: list[str] = field(default_factory=list)


def decode_debezium(records: pa.Table, *, key_columns: list[str] | None = None,
                    declared_nulls: bool = True) -> DebeziumBatch:
    """Decode Kafka records holding Debezium JSON envelopes (see the module docstring).
    ``declared_nulls=False`` leaves all-null columns ``null``-typed (no Connect types)."""
    import polars as pl

    frame = pl.from_arrow(records.select(_META))
    assert isinstance(frame, pl.DataFrame)
    tombstones = int(frame.get_column("value").is_null().sum())
    live = frame.filter(pl.col("value").is_not_null())
    dead: list[tuple[dict, str]] = []
    fast = _fast_envelopes(live, key_columns)
    if fast is None:
        live, envs, keys, dead = _slow_envelopes(live, key_columns)
    else:
        envs, keys = fast
    changes, keyless, key_cols, seq_cols = _build(live, envs, keys, key_columns)
    if declared_nulls:
        changes = _declared_nulls(changes, live)
    dead += [(row, "record has no key (null key column)") for row in keyless.to_dicts()]
    letters = _dead_letters(dead)
    return DebeziumBatch(
        changes=changes, dead_letters=letters, decoded=changes.num_rows,
        tombstones=tombstones, dead=letters.num_rows, key_columns=key_cols,
        sequence_columns=seq_cols,
    )


def _decode_json(values: pl.Series) -> pl.Series:
    import polars as pl

    decoded = values.cast(pl.String).str.json_decode(infer_schema_length=None)
    if not isinstance(decoded.dtype, pl.Struct):
        raise ValueError("not a JSON object")
    fields = {f.name for f in decoded.dtype.fields}
    if fields >= {"schema", "payload"}:
        payload = decoded.struct.field("payload")
        if payload.null_count() != decoded.null_count() or not isinstance(payload.dtype, pl.Struct):
            raise ValueError("mixed schema wrappers")
        return payload
    return decoded


def _fast_envelopes(live: pl.DataFrame, key_columns: list[str] | None):
    """(envelopes, keys) decoded in one go, or None when any record needs a closer look."""

    try:
        envs = _decode_json(live.get_column("value"))
        names = {f.name for f in envs.dtype.fields}  # type: ignore[union-attr]
        if "op" not in names or envs.null_count():
            return None
        ops = envs.struct.field("op")
        if not ops.is_in(list(KNOWN_OPS)).fill_null(False).all():
            return None
        upsert = ops.is_in(list(UPSERT_OPS))
        if "after" not in names or (upsert & envs.struct.field("after").is_null()).any():
            return None
        keys = None
        if key_columns is None:
            keys = _decode_json(live.get_column("key"))
            if keys.null_count() and not (ops == "t").filter(keys.is_null()).all():
                return None
    except Exception:  # noqa: BLE001 - invalid UTF-8/JSON somewhere: check one by one
        return None
    return envs, keys


def _unwrap(doc):
    if isinstance(doc, dict) and "payload" in doc and "schema" in doc:
        return doc["payload"]
    return doc


def _check(row: dict, key_columns: list[str] | None) -> tuple[str, str | None]:
    """(envelope JSON, key JSON) of one record, normalised; ValueError with the reason."""
    try:
        env = _unwrap(json.loads(row["value"]))
    except (ValueError, TypeError) as err:
        raise ValueError(f"value is not valid JSON: {err}") from None
    if not isinstance(env, dict):
        raise ValueError("value is not a Debezium envelope (JSON object expected)")
    op = env.get("op")
    if op not in KNOWN_OPS:
        raise ValueError(f"unsupported or missing Debezium op {op!r}")
    if op in UPSERT_OPS and not isinstance(env.get("after"), dict):
        raise ValueError(f"op {op!r} without an 'after' object")
    for part in ("before", "after", "source"):
        if env.get(part) is not None and not isinstance(env[part], dict):
            raise ValueError(f"'{part}' is not a JSON object")
    key_json = None
    if key_columns is None and op != "t":
        if row["key"] is None:
            raise ValueError("record has no key (null Kafka message key)")
        try:
            key = _unwrap(json.loads(row["key"]))
        except (ValueError, TypeError) as err:
            raise ValueError(f"key is not valid JSON: {err}") from None
        if not isinstance(key, dict) or not key:
            raise ValueError("message key is not a JSON object with fields")
        key_json = json.dumps(key)
    slim = {k: env.get(k) for k in ("op", "before", "after", "ts_ms", "source")}
    return json.dumps(slim), key_json


def _slow_envelopes(live: pl.DataFrame, key_columns: list[str] | None):
    import polars as pl

    good, env_json, key_json, dead = [], [], [], []
    for i, row in enumerate(live.to_dicts()):
        try:
            e, k = _check(row, key_columns)
        except ValueError as err:
            dead.append((row, str(err)))
            continue
        good.append(i)
        env_json.append(e)
        key_json.append(k)
    kept = live[good] if good else live.head(0)
    envs = keys = None
    try:
        if good:
            envs = _decode_json(pl.Series(env_json, dtype=pl.String))
        if key_columns is None and good:
            keys = pl.Series(key_json, dtype=pl.String).str.json_decode(infer_schema_length=None)
    except Exception as err:  # noqa: BLE001 - e.g. a field that is a number here, a string there
        first, last = kept.row(0, named=True), kept.row(-1, named=True)
        raise KappaError(
            f"Debezium records {first['topic']}[{first['partition']}]@{first['offset']}.."
            f"{last['offset']} cannot be decoded together (conflicting field types?): {err}"
        ) from err
    return kept, envs, keys, dead


def _field(s: pl.Series | None, name: str) -> pl.Series | None:
    import polars as pl

    if s is None or not isinstance(s.dtype, pl.Struct):
        return None
    return s.struct.field(name) if name in {f.name for f in s.dtype.fields} else None


def _names(s: pl.Series | None) -> list[str]:
    import polars as pl

    return [f.name for f in s.dtype.fields] if s is not None and isinstance(s.dtype, pl.Struct) else []


def _build(live, envs, keys, key_columns):
    """Changes table, key-less records, key columns and sequence columns."""
    import polars as pl

    def arrow(frame: pl.DataFrame) -> pa.Table:  # the most compatible layout (no string views)
        return frame.to_arrow(compat_level=pl.CompatLevel.oldest())

    if envs is None or live.height == 0:
        key_cols = list(key_columns or [])
        empty = pl.DataFrame({c: [] for c in key_cols}).with_columns(
            pl.lit(None, pl.String).alias("_op"), pl.lit(None, pl.Int64).alias("_seq_ts_ms"),
            pl.lit(None, pl.Int64).alias("_seq_offset"))
        return arrow(empty.head(0)), live.head(0), key_cols, ["_seq_ts_ms", "_seq_offset"]
    ops = envs.struct.field("op")
    after, before = _field(envs, "after"), _field(envs, "before")
    key_cols = list(key_columns) if key_columns is not None else _names(keys)
    columns = list(dict.fromkeys(_names(after) + _names(before) + key_cols))
    upsert = ops.is_in(list(UPSERT_OPS))
    n = live.height
    cols = {}
    for c in columns:
        a = _field(after, c)
        b = _field(before, c)
        a = a if a is not None else pl.Series([None] * n)
        b = b if b is not None else pl.Series([None] * n)
        try:
            col = pl.select(pl.when(pl.lit(upsert)).then(pl.lit(a)).otherwise(pl.lit(b))).to_series()
        except Exception as err:  # noqa: BLE001
            raise KappaError(f"Debezium column {c!r} has conflicting types in this batch: {err}")
        k = _field(keys, c) if c in key_cols else None
        if k is not None:
            col = pl.select(pl.coalesce(pl.lit(col), pl.lit(k).cast(col.dtype, strict=False))).to_series() \
                if col.dtype != pl.Null else k
        cols[c] = col.alias(c)
    out = pl.DataFrame(list(cols.values())) if cols else pl.DataFrame(index=range(n))
    op_name = pl.when(pl.lit(upsert)).then(pl.lit("upsert")).when(pl.lit(ops) == "d") \
        .then(pl.lit("delete")).otherwise(pl.lit("truncate"))
    source = _field(envs, "source")
    seq_cols: list[str] = []
    seq_vals = []
    if "lsn" in _names(source):
        seq_cols, seq_vals = ["_seq_lsn"], [_field(source, "lsn")]
    elif {"file", "pos"} <= set(_names(source)):
        seq_cols, seq_vals = ["_seq_file", "_seq_pos"], [_field(source, "file"), _field(source, "pos")]
    ts = _field(envs, "ts_ms")
    seq_cols += ["_seq_ts_ms", "_seq_offset"]
    seq_vals += [ts if ts is not None else pl.Series([None] * n, dtype=pl.Int64),
                 live.get_column("offset")]
    out = out.with_columns(op_name.alias("_op"),
                           *[pl.lit(v).alias(name) for name, v in zip(seq_cols, seq_vals)])
    missing = [c for c in key_cols if c not in out.columns]
    if missing:
        raise KappaError(f"Debezium key column(s) {missing} are in neither the rows nor the key")
    no_key = (pl.col("_op") != "truncate") & pl.any_horizontal(pl.col(c).is_null() for c in key_cols) \
        if key_cols else pl.col("_op") != "truncate"
    mask = out.select(no_key.alias("m")).to_series()
    return arrow(out.filter(~mask)), live.filter(mask), key_cols, seq_cols


#: Connect schema types -> the Arrow type the JSON values of that type decode to.
_CONNECT_TYPES = {"int8": "int64", "int16": "int64", "int32": "int64", "int64": "int64",
                  "float": "float64", "float32": "float64", "float64": "float64", "double": "float64",
                  "boolean": "bool_", "string": "string", "bytes": "string"}


def _connect_types(value: bytes | None) -> dict[str, str]:
    """Column -> Connect type of the row schema in one record's ``{"schema", "payload"}`` wrapper."""
    try:
        doc = json.loads(value) if value is not None else None
    except (ValueError, TypeError):
        return {}
    schema = doc.get("schema") if isinstance(doc, dict) else None
    out: dict[str, str] = {}
    for part in (schema or {}).get("fields") or []:
        if isinstance(part, dict) and part.get("field") in ("before", "after"):
            for f in part.get("fields") or []:
                if isinstance(f, dict) and isinstance(f.get("field"), str):
                    out.setdefault(f["field"], str(f.get("type")))
    return out


def _declared_nulls(changes: pa.Table, live: pl.DataFrame) -> pa.Table:
    """Give a column that is null in every record its declared Connect type, when the records
    carry their schema (the JSON converter's wrapper); see :mod:`kappa.cdc.nulls`."""
    import pyarrow as pa

    nulls = [i for i, f in enumerate(changes.schema) if pa.types.is_null(f.type)]
    if not nulls or live.height == 0:
        return changes
    values = live.get_column("value").drop_nulls()
    declared = _connect_types(values[0] if len(values) else None)
    for i in nulls:
        name = changes.schema.field(i).name
        kind = _CONNECT_TYPES.get(declared.get(name, ""))
        if kind is not None:
            dtype = getattr(pa, kind)()
            changes = changes.set_column(i, pa.field(name, dtype), pa.nulls(changes.num_rows, dtype))
    return changes


def _dead_letters(dead: list[tuple[dict, str]]) -> pa.Table:
    import pyarrow as pa

    now = datetime.now(timezone.utc)
    rows = [{"topic": r["topic"], "partition": r["partition"], "offset": r["offset"],
             "key": r["key"], "value": r["value"],
             "error": f"{r['topic']}[{r['partition']}]@{r['offset']}: {err}",
             "failed_at": now}
            for r, err in dead]
    return pa.Table.from_pylist(rows, schema=dead_letter_schema())
