"""How the decoded types of a Kafka batch's partitions combine into the batch's types.

A Kafka batch decoded in parts (one per Spark partition, on the executors) must end with the
types the whole batch decoded at once would have (:mod:`kappa.kafka.decode`,
:mod:`kappa.kafka.debezium`). Pure rules over JSON kinds and Arrow types, no engine:

- :func:`fold_kinds`: inferred JSON kinds, folded partition by partition in record order with
  the very rule of :mod:`kappa.kafka.json_checks` (first non-null value fixes a field's kind,
  numbers widen to double), giving the running kinds at the start of each part and at the end;
- :func:`unify_types` / :func:`unify_changes`: Debezium change tables, unified as Polars' JSON
  inference does (null gives way to any type, bigint and double give double, structs merge
  field by field, other conflicts give string), columns still null typed from the first live
  record's Connect schema.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa


def _skeleton(kind: Any) -> Any:
    """A JSON value of ``kind`` (what the kinds rule sees of a record)."""
    if isinstance(kind, dict):
        return {k: _skeleton(v) for k, v in kind.items()}
    if isinstance(kind, list):
        return [_skeleton(kind[0])] if kind else []
    return {"null": None, "boolean": False, "bigint": 0, "int?": 0, "double": 0.5, "string": ""}[kind]


class KindConflict(Exception):
    """A partition's summary kinds conflict with the running kinds: fold record by record."""


def fold_kinds(known: dict | None, partitions: list[list], summaries: list[bool] | None = None) -> tuple[list, Any]:
    """The running kinds at the start of each partition and after the last one (unfixed),
    folding each partition's distinct record kinds as :func:`kappa.kafka.decode._apply_kinds`
    folds records. A partition's summary (the kinds of a partition without conflicts) folds
    the same as its records when it merges; if it does not, :class:`KindConflict` is raised."""
    from kappa.kafka.json_checks import Mismatch, fits, merge_value

    kinds: Any = known or {}
    starts = []
    for i, sigs in enumerate(partitions):
        starts.append(kinds)
        for sig in sigs:
            value = _skeleton(sig)
            if fits(kinds, value):
                continue
            try:
                kinds = merge_value(kinds, value, "")
            except Mismatch:
                if summaries and summaries[i]:
                    raise KindConflict() from None
                continue
    return starts, kinds


def unify_types(a: "pa.DataType", b: "pa.DataType") -> "pa.DataType":
    """The type two partitions' columns share (Polars' JSON inference: see the module doc)."""
    import pyarrow as pa

    if a == b:
        return a
    if pa.types.is_null(a):
        return b
    if pa.types.is_null(b):
        return a
    if {str(a), str(b)} == {"int64", "double"}:
        return pa.float64()
    if pa.types.is_struct(a) and pa.types.is_struct(b):
        fields = {f.name: f.type for f in a}
        for f in b:
            fields[f.name] = unify_types(fields[f.name], f.type) if f.name in fields else f.type
        return pa.struct([pa.field(k, v) for k, v in fields.items()])
    if pa.types.is_list(a) and pa.types.is_list(b):
        return pa.list_(unify_types(a.value_type, b.value_type))
    return pa.string()


_SEQ = ["_op", "_seq_lsn", "_seq_file", "_seq_pos", "_seq_ts_ms", "_seq_offset"]


def unify_changes(rows: list) -> "pa.Schema":
    """The batch's change-table schema from the partitions' phase-1 rows (in record order)."""
    import pyarrow as pa

    from kappa.kafka.debezium import _CONNECT_TYPES

    live = [r for r in rows if r["live"]] or rows[:1]
    if not live:
        return pa.schema([("_op", pa.string()), ("_seq_ts_ms", pa.int64()), ("_seq_offset", pa.int64())])
    types: dict[str, pa.DataType] = {}
    for r in live:
        schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(r["schema"])))
        for f in schema:
            types[f.name] = unify_types(types[f.name], f.type) if f.name in types else f.type
    declared = json.loads(live[0]["connect"]) if live[0]["live"] else {}
    for name, dtype in types.items():
        kind = _CONNECT_TYPES.get(declared.get(name, ""))
        if pa.types.is_null(dtype) and kind is not None:
            types[name] = getattr(pa, kind)()
    order = [n for n in types if n not in _SEQ] + [n for n in _SEQ if n in types]
    return pa.schema([pa.field(n, types[n]) for n in order])
