"""Static checks of a pipeline: what would otherwise fail only at run time, found before any node runs.

Design note: ``kappa validate``, the Polars replay and the Spark engine call the same
:func:`static_issues` (the engines through :func:`refuse_invalid`, before anything starts, so
no upstream node commits before a downstream error is found). Nodes are visited in topological
order; each node's input schema is inferred where it can be known (:mod:`kappa.validate.schemas`)
and carried through its steps: a SQL step by :func:`kappa.sql.static_check.check_sql` (which
also gives its output schema), a method step by running it on an empty frame. What is checked:
SQL syntax, functions, constructs, names of computed columns, the tables read (``{df}``),
interval literals, unknown columns (with a known schema), the declared schema's types, trigger
intervals, and the expectations' expressions over the node's output. A stateful streaming node's steps from its first stateful step on are not checked
with a schema (their state decides their input). Issues are ``nodes[i].transformer[j]``-located
:class:`~kappa.errors.ConfigIssue`; :func:`locate` adds file and line from the YAML file.
This package imports no engine.
"""

from __future__ import annotations

from typing import Any, Iterable

from kappa.errors import ConfigError, ConfigIssue


class StaticCheckError(ConfigError):
    """A pipeline that fails the static checks (exit code 2); nothing ran."""


def _trigger_issue(trigger: Any, path: str) -> ConfigIssue | None:
    from kappa.stateful.intervals import IntervalError, parse_interval

    if trigger is None or trigger.kind != "processing_time" or not trigger.interval:
        return None
    try:
        months, _ = parse_interval(trigger.interval)
    except IntervalError as err:
        return ConfigIssue(str(err), path=path)
    if months:
        return ConfigIssue(f"invalid interval {trigger.interval!r}: a trigger interval cannot count months or years", path=path)
    return None


def _first_stateful(node: Any) -> int | None:
    from kappa.stateful.analyze import analyze, stateful_source_kind

    src = node.source
    streaming = bool(src is not None and src.streaming)
    plan, _ = analyze(node.name, node.steps, streaming=streaming, source_kind=stateful_source_kind(src),
                      output_mode=getattr(node, "output_mode", None))
    if plan is None:
        return None
    steps = [op.step for op in plan.operators] + ([plan.watermark.step] if plan.watermark else [])
    return min(steps) if steps else None


def _method_output(schema: Any, step: Any) -> Any:
    if schema is None:
        return None
    try:
        import polars as pl

        from kappa.transform.methods import apply_method

        return apply_method(pl.LazyFrame(schema=schema), step.func_name, step.func_args, step.func_kwargs).collect_schema()
    except Exception:  # noqa: BLE001 - left to the run: no invented error
        return None


def static_issues(pipeline: Any, names: Iterable[str] | None = None) -> list[ConfigIssue]:
    """Every static problem of ``pipeline`` (only of the nodes ``names``, default all)."""
    from kappa.connectors import registry
    from kappa.graph import build_graph
    from kappa.plan import pipeline_root, resolve_path
    from kappa.sql.refs import node_refs
    from kappa.sql.static_check import check_sql
    from kappa.stateful.sql_shape import is_aggregate_step
    from kappa.validate.schemas import node_output, source_schema

    wanted = None if names is None else set(names)
    index = {node.name: i for i, node in enumerate(pipeline.nodes)}
    models = pipeline.nodes_dict
    root = pipeline_root(pipeline)
    issues: list[ConfigIssue] = []
    bad = _trigger_issue(pipeline.trigger, "trigger.interval")
    if bad is not None:
        issues.append(bad)
    outputs: dict[str, Any] = {}
    for name in build_graph(pipeline).topological_order():
        node, i = models[name], index[name]
        report = wanted is None or name in wanted
        found: list[ConfigIssue] = []

        def problem(field: str, message: str) -> None:
            found.append(ConfigIssue(message, path=f"nodes[{i}].{field}"))

        bad = _trigger_issue(node.trigger, f"nodes[{i}].trigger.interval")
        if bad is not None:
            found.append(bad)
        plan = None
        if node.source is not None:
            plan = registry.source_plan(node.source, node=name, nodes=models, resolve=lambda p: resolve_path(p, root))
        schema = source_schema(node, plan, outputs, problem) if node.source is not None else None
        stateful_from = _first_stateful(node)
        for j, step in enumerate(node.steps):
            after_state = stateful_from is not None and j >= stateful_from
            if after_state:
                schema = None
            if getattr(step, "expr", None) is None:
                schema = _method_output(schema, step)
                continue
            if after_state and is_aggregate_step(step.expr):
                continue
            refs = {}
            for ref in node_refs(step.expr):
                if ref in models:
                    refs[ref] = node_output(ref, _ref_plan(ref, node, models, root), outputs)
            problems, schema = check_sql(step.expr, schema, refs, df_known=node.source is not None)
            for p in problems:
                found.append(ConfigIssue(p.render(), path=f"nodes[{i}].transformer[{j}]"))
        for j, expectation in enumerate(node.expectations):
            for p in _expectation_problems(expectation.expr, schema):
                found.append(ConfigIssue(p.render(), path=f"nodes[{i}].expectations[{j}].expr"))
        outputs[name] = None if _merges(node) else schema
        if report:
            issues.extend(found)
    return issues


def _expectation_problems(expr: str, schema: Any) -> list:
    """The problems of an expectation's expression over the node's output, positioned in ``expr``
    (it runs as ``SELECT *, (expr) AS flag FROM output``: :mod:`kappa.quality.polars_eval`)."""
    from dataclasses import replace

    from kappa.sql.static_check import check_sql

    prefix = "SELECT "
    problems, _ = check_sql(f"{prefix}{expr} AS kappa_expectation FROM {{df}}", schema, {})
    return [replace(p, column=p.column - len(prefix)) if p.line == 1 and p.column else p for p in problems]


def _ref_plan(ref: str, node: Any, models: dict, root: Any) -> Any:
    from kappa.connectors import registry
    from kappa.models import PipelineNodeDataSource
    from kappa.plan import resolve_path

    lookup = node.model_copy(update={"source": PipelineNodeDataSource(node_name=ref, as_stream=False)})
    return registry.source_plan(lookup.source, node=node.name, nodes=models, resolve=lambda p: resolve_path(p, root))


def _merges(node: Any) -> bool:
    from kappa.connectors.registry import readable_sink

    sink = readable_sink(node)
    return sink is not None and (getattr(sink, "mode", None) in ("merge", "upsert") or getattr(sink, "merge", None) is not None)


def locate(issues: list[ConfigIssue], file: str) -> list[ConfigIssue]:
    """``issues`` with the file and the line of their field in ``file`` (sorted by line)."""
    from pathlib import Path

    from kappa.config.yaml_lines import load_with_lines

    try:
        _, lines = load_with_lines(Path(file).read_text(encoding="utf-8"), file=file)
    except (OSError, ConfigError, UnicodeDecodeError):
        return issues
    out = []
    for issue in issues:
        path = _parse_path(issue.path)
        candidates = [path]
        if len(path) >= 4 and path[2] == "transformer" and isinstance(path[3], int):
            candidates = [path[:3] + ("nodes",) + path[3:] + ("expr",), path + ("expr",)]
        line = next((lines.lines[c] for c in candidates if c in lines.lines), None) or lines.line_of(path)
        out.append(ConfigIssue(issue.message, file=file, line=line, path=issue.path))
    return sorted(out, key=lambda i: (i.line is None, i.line or 0))


def _parse_path(text: str) -> tuple:
    import re

    return tuple(int(index) if index else name for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", text))


def refuse_invalid(pipeline: Any, names: Iterable[str] | None = None) -> None:
    """Raise :class:`StaticCheckError` with every static problem of the nodes ``names`` (the engines'
    pre-start check: nothing has run yet)."""
    issues = static_issues(pipeline, names)
    if issues:
        file = getattr(pipeline, "_source_file", None)
        raise StaticCheckError(locate(issues, file) if file else issues)
