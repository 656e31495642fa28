"""YAML loading that remembers where every value came from.

``load_with_lines(text)`` returns the plain data and a :class:`LineMap` from field paths
(tuples of keys and list indexes) to 1-based line numbers, so that an error about
``nodes[1].source.path`` can point at the line that holds it. Duplicate keys are errors.

>>> data, lines = load_with_lines("a:\\n  b: [1, 2]\\n  c: x\\n")
>>> data
{'a': {'b': [1, 2], 'c': 'x'}}
>>> lines.line_of(("a", "c"))
3
>>> lines.line_of(("a", "b", 1))
2
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from kappa.errors import ConfigError, ConfigIssue

Path = tuple[Any, ...]


@dataclass
class LineMap:
    """Field path -> line number of the value (or of its key)."""

    lines: dict[Path, int] = field(default_factory=dict)
    file: str | None = None

    def line_of(self, path: Path) -> int | None:
        """The line of the longest known prefix of ``path``."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)

    def alias(self, new: Path, existing: Path) -> None:
        """Make paths under ``new`` resolve to the lines of the same paths under ``existing``.

        For shorthands the models rewrite: ``transformer: [...]`` is ``transformer.nodes``.
        """
        n = len(existing)
        for path, line in list(self.lines.items()):
            if path[:n] == tuple(existing):
                self.lines.setdefault(tuple(new) + path[n:], line)


def format_path(path: Path) -> str:
    """``("nodes", 1, "source")`` -> ``nodes[1].source``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def load_with_lines(text: str, file: str | None = None) -> tuple[Any, LineMap]:
    """Parse one YAML document; syntax errors become :class:`ConfigError` with the line.

    >>> try:
    ...     load_with_lines("a: {b: 1\\nc: 2\\n", file="x.yaml")
    ... except ConfigError as err:
    ...     print(err)
    x.yaml:2: invalid YAML: expected ',' or '}', but got ':' (in the flow mapping started at line 1)
    """
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as exc:  # e.g. control characters found by the reader
        raise ConfigError(ConfigIssue(f"invalid YAML: {_plain(exc)}", file=file, line=_line_of(text, exc))) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise ConfigError(ConfigIssue("the file is empty", file=file, line=1))
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(ConfigIssue(f"invalid YAML: {_describe(exc)}", file=file, line=line)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(ConfigIssue(f"invalid YAML: {_plain(exc)}", file=file, line=_line_of(text, exc))) from None
    finally:
        loader.dispose()
    lines = LineMap(file=file)
    _walk(node, (), lines, file)
    return data, lines


def _describe(exc: yaml.MarkedYAMLError) -> str:
    """PyYAML's problem, with its context (``while parsing a flow mapping``) made readable."""
    problem = (exc.problem or "").strip()
    context = (exc.context or "").strip()
    if "'\\t'" in problem:
        return f"{problem} (indent with spaces, not tabs)"
    if not context or context == "while scanning for the next token":
        return problem or str(exc)
    if problem.startswith("but "):
        return f"{context}, {problem}"
    where = ""
    if exc.context_mark is not None and (exc.problem_mark is None or exc.context_mark.line != exc.problem_mark.line):
        where = f" started at line {exc.context_mark.line + 1}"
    context = context.replace("while parsing a ", "in the ").replace("while scanning a ", "in the ").replace("while constructing a ", "in the ")
    return f"{problem} ({context}{where})"


def _plain(exc: yaml.YAMLError) -> str:
    reason = getattr(exc, "reason", None)
    char = getattr(exc, "character", None)
    if reason is not None:
        if isinstance(char, str) and char:
            char = ord(char[0])
        return f"{reason} (U+{char:04X})" if isinstance(char, int) else str(reason)
    return str(exc).splitlines()[0]


def _line_of(text: str, exc: yaml.YAMLError) -> int | None:
    pos = getattr(exc, "position", None)
    if isinstance(pos, int) and isinstance(text, str):
        return text.count("\n", 0, pos) + 1
    return None


def _walk(node: yaml.Node, path: Path, lines: LineMap, file: str | None) -> None:
    lines.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(
                    ConfigIssue(f"duplicate key {key!r} (first at line {seen[key]})", file=file, line=line, path=format_path(path + (key,)))
                )
            seen[key] = line
            lines.lines[path + (key,)] = line
            _walk(value_node, path + (key,), lines, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.lines[path + (i,)] = item.start_mark.line + 1
            _walk(item, path + (i,), lines, file)
