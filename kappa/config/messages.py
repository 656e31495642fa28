"""Plain-language messages for pydantic validation errors of the spec.

One message per field: type errors read ``expected X (got Y)``; when a value fits none of the
types a field accepts, the choices are joined (``expected 'earliest' or 'latest' or a mapping``).
Unknown keys and bad enum values carry a "did you mean" hint.

>>> did_you_mean("as_steam", ["as_stream", "path"])
"; did you mean 'as_stream'?"
>>> describe({"a": 1}), describe(None), describe("x")
('a mapping', 'null', "'x'")
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Iterable

from kappa.connectors.registry import sink_tags, source_tags

#: Marks "no value at this path in the YAML data".
MISSING = object()

#: Error type -> what was expected.
_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "none_required": "null",
}

#: Regex patterns of spec fields -> a readable rule.
_PATTERNS = {
    r"^[A-Za-z_][A-Za-z0-9_\-]*$": "letters, digits, `_` and `-`, starting with a letter or `_`",
    r"^[A-Za-z0-9_][A-Za-z0-9_\-\.]*$": "letters, digits, `_`, `-` and `.`, starting with a letter, digit or `_`",
}

#: The discriminator errors of the source and sink unions -> (what, the kinds' ``type`` values).
_KINDS = {
    "source_kind": ("source", source_tags()),
    "sink_kind": ("sink", sink_tags()),
}


def did_you_mean(word: Any, choices: Iterable[Any]) -> str:
    """``"; did you mean 'x'?"`` for the closest choice, or an empty string."""
    options = [str(c) for c in choices]
    close = difflib.get_close_matches(str(word), options, n=1, cutoff=0.6)
    if not close:
        lowered = {o.lower(): o for o in options}
        if str(word).lower() in lowered:
            close = [lowered[str(word).lower()]]
    return f"; did you mean {close[0]!r}?" if close else ""


def describe(value: Any) -> str:
    """A short description of a YAML value for ``(got ...)``."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _literal_values(expected: str) -> list[str]:
    return re.findall(r"'([^']*)'", expected) or re.findall(r"[^\s,]+", expected.replace(" or ", ","))


def _expected(err: dict) -> str | None:
    kind = err["type"]
    if kind == "literal_error":
        return err.get("ctx", {}).get("expected")
    return _EXPECTED.get(kind)


def _got(err: dict, value: Any) -> Any:
    return err.get("input") if value is MISSING else value


def message_for(errs: list[dict], value: Any, owner: Any) -> str:
    """One message for the errors pydantic reported at one field.

    ``errs`` holds one error, or several when the field is a union and the value fits none of
    its members. ``value`` is the YAML value at the field; ``owner`` the model holding the field.
    """
    if len(errs) > 1:
        wanted = [w for w in (_expected(e) for e in errs) if w]
        if len(wanted) == len(errs):
            return f"expected {' or '.join(dict.fromkeys(wanted))} (got {describe(_got(errs[0], value))})"
        return "; ".join(dict.fromkeys(message_for([e], value, owner) for e in errs))
    err = errs[0]
    kind, ctx = err["type"], err.get("ctx", {})
    got = _got(err, value)
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        key = err["loc"][-1]
        allowed = [f.alias or n for n, f in owner.model_fields.items()] if owner is not None else []
        hint = did_you_mean(key, allowed)
        if not hint and allowed:
            hint = f" (allowed: {', '.join(allowed)})"
        return f"unknown field {key!r}{hint}"
    if kind == "literal_error":
        hint = did_you_mean(got, _literal_values(ctx.get("expected", "")))
        return f"expected {ctx.get('expected')} (got {describe(got)}){hint}"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]} (got {describe(got)})"
    if kind in _KINDS:
        what, choices = _KINDS[kind]
        if not isinstance(got, dict):
            return f"expected a mapping describing a {what} (got {describe(got)})"
        if "type" in got:
            return f"unknown {what} type {got['type']!r}; expected one of {', '.join(choices)}{did_you_mean(got['type'], choices)}"
        return err["msg"]
    if kind == "step_kind":
        if not isinstance(got, dict):
            return f"expected a mapping with `expr` (SQL) or `func_name` (method) (got {describe(got)})"
        return f"{err['msg']} (got keys: {', '.join(map(str, got))})" if got else err["msg"]
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = ctx.get({"greater_than_equal": "ge", "greater_than": "gt", "less_than_equal": "le", "less_than": "lt"}[kind])
        return f"must be {op} {bound} (got {describe(got)})"
    if kind in ("too_short", "string_too_short"):
        if kind == "string_too_short" or isinstance(got, str):
            return "must not be empty"
        n = ctx.get("min_length", 1)
        return f"needs at least {n} item{'s' if n != 1 else ''} (got {len(got) if isinstance(got, (list, dict)) else 0})"
    if kind == "string_pattern_mismatch":
        rule = _PATTERNS.get(ctx.get("pattern", ""))
        if rule:
            return f"invalid name {got!r}: use {rule}"
        return f"must match the pattern {ctx.get('pattern')} (got {describe(got)})"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        return msg[len("Value error, "):]
    if kind not in ("value_error", "assertion_error") and not isinstance(got, (dict, list)):
        msg = f"{msg} (got {describe(got)})"
    return msg
