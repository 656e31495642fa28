"""Per-record checks of JSON Kafka values and the inferred-schema rule (the slow path of
:mod:`kappa.kafka.decode`).

A record is checked one by one only when the vectorised screen of its batch could not vouch for
it (see :mod:`kappa.kafka.decode`). The checks, in order, each giving the dead-letter reason:

1. the value is UTF-8;
2. objects/arrays nest at most ``max_depth`` levels (:data:`MAX_JSON_DEPTH`), measured on the
   raw text before any parser sees it (a deep value crashes parsers);
3. it is valid JSON (``NaN``/``Infinity`` are not JSON) and an object.

Inferred schema ("kinds"): a field's type is fixed by the first non-null value seen for it, in
offset order, starting from the types already recorded for the node (``known``); numbers widen
within the batch that first sees the field (``1`` then ``2.5`` gives double), never across
batches. The kinds are ``boolean``, ``bigint``, ``double``, ``string``, an object (struct of
its fields, merged field by field) and an array (of one merged element kind). A value that does
not fit is a dead letter: ``field 'amount': "abc" is not a double``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

#: the file under a node's checkpoint folder holding the value types inferred so far
from kappa.plan_layout import INFERRED_FILE

#: Largest record (key + value bytes) decoded by default: the Kafka source's ``max_record_bytes``
#: (the default of its plan, :class:`kappa.plan_kinds.KafkaSourcePlan`)
from kappa.plan_kinds import DEFAULT_MAX_RECORD_BYTES  # noqa: F401 - the decoders import it from here

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

#: Deepest nesting of objects/arrays a value may have (the top-level object is level 1).
MAX_JSON_DEPTH = 64

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = re.compile(rb"[\[\]{}]")
_INT64 = (-(2**63), 2**63 - 1)
_SOFT_INT = "int?"  # a bigint first seen in this batch: may still widen to double


class Mismatch(Exception):
    """A value does not fit the inferred kind (the message is the dead-letter reason)."""


def json_depth(value: bytes, limit: int) -> int:
    """Nesting depth of objects/arrays in ``value`` (strings skipped); stops counting past ``limit``."""
    depth = deepest = 0
    for m in _BRACKETS.finditer(_STRINGS.sub(b'""', value)):
        if m.group() in (b"{", b"["):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        else:
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def check_record(value: bytes, max_depth: int = MAX_JSON_DEPTH, depth_known: bool = False) -> tuple[str | None, Any]:
    """``(reason, parsed object)``: reason is None for a value that is one JSON object.
    ``depth_known``: the caller already knows the value nests at most ``max_depth`` levels."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"value is not UTF-8: {exc.reason} at byte {exc.start}", None
    if not depth_known and json_depth(value, max_depth) > max_depth:
        return f"JSON nested deeper than {max_depth} levels", None
    try:
        obj = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        return f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", None
    except ValueError as exc:
        return f"invalid JSON: {exc}", None
    if not isinstance(obj, dict):
        name = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(obj), "a number")
        return f"JSON value is {name}, not an object", None
    return None, obj


# ---------------------------------------------------------------------------------------------
# kinds: "null" | "boolean" | "bigint" | "int?" | "double" | "string" | {field: kind} | [kind]


def _describe(kind: Any) -> str:
    if isinstance(kind, dict):
        return "an object"
    if isinstance(kind, list):
        return "an array"
    return "a bigint" if kind == _SOFT_INT else f"a {kind}"


def _snippet(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def fits(kind: Any, value: Any) -> bool:
    """True when ``value`` fits ``kind`` without changing it (the cheap check done first)."""
    if value is None:
        return True
    t = type(value)
    if type(kind) is dict:
        if t is not dict:
            return False
        for name, item in value.items():
            sub = kind.get(name)
            if sub is None or not fits(sub, item):
                return False
        return True
    if type(kind) is list:
        return t is list and bool(kind) and all(fits(kind[0], item) for item in value)
    if kind == "string":
        return t is str
    if kind == "double":
        return t is float or (t is int and _INT64[0] <= value <= _INT64[1])
    if kind == "bigint" or kind == _SOFT_INT:
        return t is int and _INT64[0] <= value <= _INT64[1]
    return kind == "boolean" and t is bool


def merge_value(kind: Any, value: Any, path: str) -> Any:
    """The kind after seeing ``value`` at ``path``; raises :class:`Mismatch` when it does not fit."""
    if value is None:
        return "null" if kind is None else kind
    if kind is None or kind == "null":
        return merge_value({} if isinstance(value, dict) else [] if isinstance(value, list) else _scalar(value), value, path)
    if isinstance(kind, dict):
        if not isinstance(value, dict):
            raise Mismatch(f"field '{path}': {_snippet(value)} is not an object")
        out = dict(kind)
        for name, item in value.items():
            out[name] = merge_value(out.get(name), item, f"{path}.{name}" if path else name)
        return out
    if isinstance(kind, list):
        if not isinstance(value, list):
            raise Mismatch(f"field '{path}': {_snippet(value)} is not an array")
        elem = kind[0] if kind else None
        for item in value:
            elem = merge_value(elem, item, f"{path}[]")
        return [elem] if elem is not None else []
    got = _scalar(value) if not isinstance(value, (dict, list)) else None
    if got == kind or (kind == "double" and got == _SOFT_INT) or (kind == "bigint" and got == _SOFT_INT):
        return kind
    if kind == _SOFT_INT and got in ("double", _SOFT_INT):
        return got
    raise Mismatch(f"field '{path}': {_snippet(value)} is not {_describe(kind)}")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return _SOFT_INT if _INT64[0] <= value <= _INT64[1] else "double"
    if isinstance(value, float):
        return "double"
    return "string"


def fix_kinds(kind: Any) -> Any:
    """Soft ints become fixed bigints (at the end of a batch)."""
    if isinstance(kind, dict):
        return {k: fix_kinds(v) for k, v in kind.items()}
    if isinstance(kind, list):
        return [fix_kinds(kind[0])] if kind else []
    return "bigint" if kind == _SOFT_INT else kind


def kind_to_arrow(kind: Any) -> "pa.DataType":
    """Arrow type of a kind (struct fields sorted by name, as Spark's inference orders them)."""
    import pyarrow as pa

    if isinstance(kind, dict):
        return pa.struct([pa.field(k, kind_to_arrow(kind[k])) for k in sorted(kind)])
    if isinstance(kind, list):
        return pa.list_(kind_to_arrow(kind[0]) if kind else pa.null())
    return {"null": pa.null(), "boolean": pa.bool_(), "bigint": pa.int64(), _SOFT_INT: pa.int64(),
            "double": pa.float64(), "string": pa.string()}[kind]


def arrow_to_kind(dtype: "pa.DataType") -> Any:
    """Kind of an Arrow type produced by JSON inference (timestamps/dates read from strings are strings)."""
    import pyarrow as pa

    if pa.types.is_struct(dtype):
        return {f.name: arrow_to_kind(f.type) for f in dtype}
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return [arrow_to_kind(dtype.value_type)]
    if pa.types.is_null(dtype):
        return "null"
    if pa.types.is_boolean(dtype):
        return "boolean"
    if pa.types.is_integer(dtype):
        return "bigint"
    if pa.types.is_floating(dtype):
        return "double"
    return "string"


# ---------------------------------------------------------------------------------------------
# the kinds recorded for a node, in its checkpoint folder


def load_kinds(state_dir: str | None) -> dict | None:
    """The value kinds recorded under ``state_dir`` (None: nothing recorded yet)."""
    if not state_dir:
        return None
    from kappa.checkpoint.objects import is_remote

    try:
        if is_remote(state_dir):  # an s3:// checkpoint root (kappa.checkpoint.objects)
            from kappa.checkpoint import objects

            data = json.loads(objects.get(f"{state_dir.rstrip('/')}/{INFERRED_FILE}") or b"null")
        else:
            data = json.loads((Path(state_dir) / INFERRED_FILE).read_text())
    except FileNotFoundError:
        return None
    return data.get("value") if isinstance(data, dict) else None


def save_kinds(state_dir: str | None, value_type: "pa.DataType", previous: dict | None) -> None:
    """Record the kinds of ``value_type`` (atomically; only when they changed)."""
    if not state_dir:
        return
    kinds = arrow_to_kind(value_type)
    if not kinds or kinds == previous:
        return
    from kappa.atomic import write_json
    from kappa.checkpoint.objects import is_remote

    if is_remote(state_dir):  # one PUT: atomic on an object store
        from kappa.checkpoint import objects

        objects.put(f"{state_dir.rstrip('/')}/{INFERRED_FILE}", (json.dumps({"value": kinds}, sort_keys=True, indent=1)).encode())
        return
    write_json(Path(state_dir) / INFERRED_FILE, {"value": kinds}, indent=1)


def declared_mismatch(obj: Any, dtype: "pa.DataType", path: str = "") -> str | None:
    """Why ``obj`` does not fit the declared Arrow ``dtype`` (None when no JSON-level reason is
    found: the caller falls back to the parser's message)."""
    import pyarrow as pa

    if obj is None:
        return None
    if pa.types.is_struct(dtype):
        if not isinstance(obj, dict):
            return f"field '{path}': {_snippet(obj)} is not an object"
        for f in dtype:
            reason = declared_mismatch(obj.get(f.name), f.type, f"{path}.{f.name}" if path else f.name)
            if reason:
                return reason
        return None
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        if not isinstance(obj, list):
            return f"field '{path}': {_snippet(obj)} is not an array"
        for item in obj:
            reason = declared_mismatch(item, dtype.value_type, f"{path}[]")
            if reason:
                return reason
        return None
    from kappa.types import arrow_to_spark_ddl

    name = arrow_to_spark_ddl(dtype).lower()
    if pa.types.is_integer(dtype):
        bits = dtype.bit_width - 1
        fits = isinstance(obj, int) and not isinstance(obj, bool) and -(2**bits) <= obj < 2**bits
    elif pa.types.is_floating(dtype):
        fits = isinstance(obj, (int, float)) and not isinstance(obj, bool)
    elif pa.types.is_boolean(dtype):
        fits = isinstance(obj, bool)
    elif pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        fits = isinstance(obj, str)
    else:
        return None
    return None if fits else f"field '{path}': {_snippet(obj)} is not {'an' if name[0] in 'aeiou' else 'a'} {name}"
