"""Load pipeline YAML into models; every error names file, line and field path.

Steps: parse YAML with line numbers -> substitute ``${vars.x}`` / ``${env.X}`` -> validate the
models -> check the graph. Each failure becomes a :class:`~kappa.errors.ConfigIssue`; all the
issues found in one step are reported together, sorted by line.

>>> try:
...     load_pipeline_text("name: p\\nnodes:\\n- name: a\\n  source: {path: ./in, format: XML}\\n", path="p.yaml")
... except ConfigError as err:
...     print(err)
p.yaml:4: nodes[0].source.format: expected 'JSON', 'JSONL', 'CSV' or 'PARQUET' (got 'XML')
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, ValidationError

from kappa.config.messages import MISSING, did_you_mean, message_for
from kappa.config.variables import Overrides, substitute, unknown_overrides
from kappa.config.yaml_lines import LineMap, format_path, load_with_lines
from kappa.errors import ConfigError, ConfigIssue

def load_pipeline_file(path: str | Path, variables: Mapping[str, Any] | None = None):
    """Load a pipeline YAML file; ``variables`` override the file's ``variables`` (CLI ``--var``)."""
    return load_model_file(None, path, variables=variables)


def load_model_file(model: type[BaseModel] | None, path: str | Path, variables: Mapping[str, Any] | None = None):
    """Load a YAML file into ``model`` (default :class:`~kappa.models.Pipeline`)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(ConfigIssue(f"cannot read the file: {exc.strerror}", file=str(path))) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(ConfigIssue(f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02X})", file=str(path), line=line)) from None
    if model is None:
        return with_base_dir(load_pipeline_text(text, path=str(path), variables=variables), p)
    return with_base_dir(load_model_text(model, text, path=str(path), variables=variables), p)


def with_base_dir(loaded: Any, file: str | Path) -> Any:
    """Record the folder of the file a model was loaded from (its relative paths resolve there)
    and, where the model keeps it, the file itself (errors found at run time name its lines)."""
    private = getattr(type(loaded), "__private_attributes__", {})
    if "_base_dir" in private and Path(file).is_file():
        loaded._base_dir = str(Path(file).resolve().parent)
        if "_source_file" in private:
            loaded._source_file = str(file)
    return loaded


def load_pipeline_text(text: str, path: str | None = None, variables: Mapping[str, Any] | None = None):
    """Load pipeline YAML text (``path`` only names it in errors)."""
    from kappa.models.pipeline import Pipeline

    return load_model_text(Pipeline, text, path=path, variables=variables)


def load_model_text(model: type[BaseModel], text: str, path: str | None = None, variables: Mapping[str, Any] | None = None):
    """Load YAML text into any top-level spec model (pipelines, CDC replication configs)."""
    data, lines = load_with_lines(text, file=path)
    if not isinstance(data, dict):
        got = "a list" if isinstance(data, list) else f"{data!r}"
        raise ConfigError(ConfigIssue(f"expected a mapping at the top level (got {got})", file=path, line=1))
    declared = data.get("variables") or {}
    if "variables" in data and not isinstance(declared, dict):
        raise ConfigError(
            ConfigIssue("expected a mapping of name: value (got a list)" if isinstance(declared, list) else
                        f"expected a mapping of name: value (got {declared!r})",
                        file=path, line=lines.line_of(("variables",)), path="variables")
        )
    _shorthand_lines(data, lines)
    if isinstance(variables, Overrides):  # --var from the command line: unknown names are errors
        noun = "pipeline" if model.__name__ == "Pipeline" else "config"
        unknown = unknown_overrides(variables, declared, data, noun)
        if unknown:
            raise ConfigError([ConfigIssue(msg, file=path) for msg in unknown])
    merged = {**declared, **(variables or {})}
    data, sub_errors = substitute(data, merged)
    if sub_errors:
        raise ConfigError(_sorted([ConfigIssue(msg, file=path, line=lines.line_of(p), path=format_path(p)) for p, msg in sub_errors]))
    if variables and "variables" in getattr(model, "model_fields", {}):
        data["variables"] = merged
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_sorted(_issues_from_validation(exc, data, lines, model))) from None
    except ConfigError as exc:
        raise ConfigError(_sorted([_locate(issue, lines) for issue in exc.issues])) from None


def _shorthand_lines(data: dict, lines: LineMap) -> None:
    """Lines for the canonical paths of shorthands (``transformer: [...]``, ``topic: x``)."""
    nodes = data.get("nodes")
    if not isinstance(nodes, list):
        return
    for i, node in enumerate(nodes):
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("transformer"), list):
            lines.alias(("nodes", i, "transformer", "nodes"), ("nodes", i, "transformer"))
        source = node.get("source")
        if isinstance(source, dict) and "topic" in source and "topics" not in source:
            lines.alias(("nodes", i, "source", "topics"), ("nodes", i, "source", "topic"))


def _sorted(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    return sorted(issues, key=lambda i: (i.line is None, i.line or 0))


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


# ---- pydantic error location -> data path -------------------------------------------------
def _strip(tp: Any) -> Any:
    """Remove ``Annotated`` and ``Optional`` wrappers."""
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if _is_union(tp):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return _strip(args[0])
    return tp


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _union_member(tp: Any, label: Any) -> Any:
    """The member of a union that pydantic names ``label`` in an error location (None if unknown)."""
    for arg in typing.get_args(tp):
        if arg is type(None):
            continue
        if typing.get_origin(arg) is typing.Annotated:
            if any(getattr(m, "tag", MISSING) == label for m in typing.get_args(arg)[1:]):
                return _strip(arg)
        inner = _strip(arg)
        name = getattr(inner, "__name__", None)
        origin = typing.get_origin(inner)
        if name == label or (origin is not None and str(label).startswith(getattr(origin, "__name__", "?") + "[")):
            return inner
    return None


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    """Field annotations of ``model`` by their YAML key (alias if any)."""
    return {(f.alias or name): f.annotation for name, f in model.model_fields.items()}


def _resolve(loc: tuple, data: Any, model: type[BaseModel]) -> tuple[tuple, Any, bool]:
    """Follow ``loc`` through the types: (data path, model owning the last key, union branch?).

    pydantic inserts union member labels (``file``, ``kafka``, ``str``, ``list[str]``) into
    locations; they are dropped here so the path names only YAML keys and list indexes.
    """
    path: list[Any] = []
    tp: Any = model
    owner: Any = None
    branch = False
    for part in loc:
        tp = _strip(tp) if tp is not None else None
        if tp is not None and _is_union(tp):
            branch = True
            tp = _union_member(tp, part)
            continue
        path.append(part)
        owner = None
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            owner = tp
            tp = _fields(tp).get(part)
        elif typing.get_origin(tp) in (list, tuple, set, frozenset):
            tp = typing.get_args(tp)[0]
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            tp = None
    return tuple(path), owner, branch


def _value_at(data: Any, path: tuple) -> Any:
    cur = data
    for part in path:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            cur = cur[part]
        else:
            return MISSING
    return cur


def _refine(path: tuple, message: str, data: Any) -> tuple:
    """Point a model-level error at the key it is about (``version``, ``mode``, ...) when it names one."""
    value = _value_at(data, path)
    if not isinstance(value, dict):
        return path
    quoted = re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)", message)
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", message)
    for word in quoted + words:
        if word in value:
            return path + (word,)
    return path


def _issues_from_validation(exc: ValidationError, data: Any, lines: LineMap, model: type[BaseModel]) -> list[ConfigIssue]:
    grouped: dict[tuple, list[tuple[dict, Any, bool]]] = {}
    for err in exc.errors(include_url=False):
        path, owner, branch = _resolve(tuple(err["loc"]), data, model)
        grouped.setdefault(path, []).append((err, owner, branch))
    issues: list[ConfigIssue] = []
    for path, errs in grouped.items():
        value = _value_at(data, path)
        branch_errs = [e for e, _, b in errs if b and e["type"] not in ("missing", "extra_forbidden")]
        messages: list[tuple[str, bool]] = []
        if len(branch_errs) > 1:
            messages.append((message_for(branch_errs, value, None), False))
            errs = [t for t in errs if t[0] not in branch_errs]
        for err, owner, _ in errs:
            messages.append((message_for([err], value, owner), err["type"] == "value_error"))
        for msg, model_level in messages:
            where = _refine(path, msg, data) if model_level else path
            issue = ConfigIssue(msg, file=lines.file, line=lines.line_of(where), path=format_path(where))
            if issue not in issues:
                issues.append(issue)
    return issues


def dump_yaml(model: BaseModel) -> str:
    """YAML of a model with only the fields that were set (so it loads back to an equal model).

    Literal ``${vars.x}`` text is escaped as ``$${vars.x}``; ``${env.X}`` references kept in
    secret mappings are written as they are (and resolved only at connection time).
    """
    import yaml

    from kappa.config.variables import escape_refs

    copy = model.model_copy(deep=True)
    _mark_kind_fields(copy)
    data = escape_refs(copy.model_dump(mode="json", by_alias=True, exclude_unset=True))
    return yaml.dump(data, Dumper=_dumper(), sort_keys=False, default_flow_style=False, allow_unicode=True)


def _mark_kind_fields(obj: Any) -> None:
    """Count ``format`` as set on sources and sinks, so a dumped Delta one (whose ``format``
    defaults to DELTA) is still recognised as Delta when the YAML is loaded again."""
    if isinstance(obj, BaseModel):
        fields = type(obj).model_fields
        if "type" in fields and "format" in fields:
            obj.__pydantic_fields_set__.add("format")
        for name in fields:
            _mark_kind_fields(getattr(obj, name))
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _mark_kind_fields(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            _mark_kind_fields(item)


def _dumper():
    """A safe YAML dumper that writes multi-line strings (SQL) as ``|`` blocks."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def str_block(dumper, value: str):
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, str_block)
    return _Dumper


__all__ = [
    "did_you_mean",
    "dump_yaml",
    "load_model_file",
    "load_model_text",
    "load_pipeline_file",
    "load_pipeline_text",
    "with_base_dir",
]
