"""Load pipeline YAML into models; every error names file, line and field path.

Steps: parse YAML with line numbers -> substitute ``${vars.x}`` / ``${env.X}`` -> validate the
models -> check the graph. Each failure becomes a :class:`~kappa.errors.ConfigIssue`; all the
issues found in one step are reported together.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, ValidationError

from kappa.config.variables import substitute
from kappa.config.yaml_lines import LineMap, format_path, load_with_lines
from kappa.errors import ConfigError, ConfigIssue


def load_pipeline_file(path: str | Path, variables: Mapping[str, Any] | None = None):
    """Load a pipeline YAML file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(ConfigIssue(f"cannot read the file: {exc.strerror}", file=str(path))) from None
    return load_pipeline_text(text, path=str(path), variables=variables)


def load_pipeline_text(text: str, path: str | None = None, variables: Mapping[str, Any] | None = None):
    """Load pipeline YAML text (``path`` only names it in errors)."""
    from kappa.models.pipeline import Pipeline

    return load_model_text(Pipeline, text, path=path, variables=variables)


def load_model_text(model: type[BaseModel], text: str, path: str | None = None, variables: Mapping[str, Any] | None = None):
    """Load YAML text into any top-level spec model (pipelines, CDC replication configs)."""
    data, lines = load_with_lines(text, file=path)
    if not isinstance(data, dict):
        raise ConfigError(ConfigIssue(f"expected a mapping at the top level, got {type(data).__name__}", file=path, line=1))
    declared = data.get("variables") or {}
    if not isinstance(declared, dict):
        raise ConfigError(ConfigIssue("`variables` must be a mapping", file=path, line=lines.line_of(("variables",)), path="variables"))
    merged = {**declared, **(variables or {})}
    data, sub_errors = substitute(data, merged)
    if sub_errors:
        raise ConfigError([ConfigIssue(msg, file=path, line=lines.line_of(p), path=format_path(p)) for p, msg in sub_errors])
    if variables:
        data["variables"] = merged
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_issues_from_validation(exc, data, lines, model)) from None
    except ConfigError as exc:
        raise ConfigError([_locate(issue, lines) for issue in exc.issues]) from None


def _locate(issue: ConfigIssue, lines: LineMap) -> ConfigIssue:
    if issue.line is not None:
        return issue
    path = _parse_path(issue.path)
    return ConfigIssue(issue.message, file=lines.file, line=lines.line_of(path), path=issue.path)


def _parse_path(text: str) -> tuple:
    out: list[Any] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", text):
        out.append(int(index) if index else name)
    return tuple(out)


def _data_path(loc: tuple, data: Any) -> tuple:
    """Drop the union tags pydantic inserts into ``loc`` by following the real data."""
    path: list[Any] = []
    cur = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(cur, dict) and part in cur:
            path.append(part)
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and part < len(cur):
            path.append(part)
            cur = cur[part]
        elif last:
            path.append(part)
        # else: a union tag such as 'file' or 'kafka' -> skip
    return tuple(path)


def _issues_from_validation(exc: ValidationError, data: Any, lines: LineMap, model: type[BaseModel]) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path = _data_path(loc, data)
        msg = _message(err, loc, model)
        issue = ConfigIssue(msg, file=lines.file, line=lines.line_of(path), path=format_path(path))
        if issue not in issues:
            issues.append(issue)
    return issues


def _message(err: dict, loc: tuple, model: type[BaseModel]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        key = loc[-1]
        allowed = _fields_at(model, loc[:-1])
        hint = ""
        if allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (allowed: {', '.join(allowed)})"
        return f"unknown field {key!r}{hint}"
    if kind == "missing":
        return "required field is missing"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if kind not in ("value_error", "assertion_error") and "input" in err and not isinstance(err["input"], (dict, list)):
        msg = f"{msg} (got {err['input']!r})"
    return msg


def _unwrap(tp: Any) -> list[Any]:
    """Candidate model types behind Optional/list/dict/Annotated/Union."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(tp) for m in _unwrap(a)]
    if origin in (list, dict, tuple):
        return [m for a in typing.get_args(tp) for m in _unwrap(a)]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return []


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    current: list[type[BaseModel]] = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        nxt: list[type[BaseModel]] = []
        for m in current:
            if part in m.model_fields:
                nxt.extend(_unwrap(m.model_fields[part].annotation))
        if nxt:
            current = nxt
            continue
        tagged = [m for m in current if m.model_fields.get("type") is not None and m.model_fields["type"].default == part]
        if tagged:
            current = tagged
        elif part in ("expr", "method"):
            continue
    names: list[str] = []
    for m in current:
        for name, f in m.model_fields.items():
            alias = f.alias or name
            if alias not in names:
                names.append(alias)
    return names


def dump_yaml(model: BaseModel) -> str:
    """YAML of a model with only the fields that were set (so it loads back to an equal model)."""
    import yaml

    data = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
