"""``${vars.name}`` and ``${env.NAME}`` substitution.

Variables come from the config's ``variables`` mapping, overridden by the caller (CLI
``--var name=value``). A value that is exactly one reference takes the variable's type; a
reference inside a longer string is formatted into it. ``$${...}`` is a literal ``${...}``.

Secrets: inside ``options`` and ``storage_options`` mappings (Kafka client settings, object
store keys) an ``${env.NAME}`` reference is checked but kept as is; it is resolved only when a
connection is made (:func:`resolve_secret_refs`), so secret values never enter the model, its
YAML dump, ``kappa explain`` output or logs.

>>> substitute({"a": "${vars.x}", "b": "p-${vars.x}"}, {"x": 3}, {})[0]
{'a': 3, 'b': 'p-3'}
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping

from kappa.errors import KappaError

_REF = re.compile(r"(\$?)\$\{\s*(vars|env)\.([A-Za-z_][A-Za-z0-9_\.\-]*)\s*\}")
SECRET_MAPPINGS = frozenset({"options", "storage_options", "conf"})


class MissingVariable(KappaError):
    """A ``${vars.x}`` or ``${env.X}`` with no value."""


def _lookup(kind: str, name: str, variables: Mapping[str, Any], env: Mapping[str, str]) -> Any:
    if kind == "vars":
        if name not in variables:
            known = ", ".join(sorted(variables)) or "none defined"
            raise MissingVariable(f"undefined variable ${{vars.{name}}} (variables: {known})")
        return variables[name]
    if name not in env:
        raise MissingVariable(f"environment variable {name} is not set (referenced as ${{env.{name}}})")
    return env[name]


def substitute_string(value: str, variables: Mapping[str, Any], env: Mapping[str, str], keep_env: bool = False) -> Any:
    """Substitute the references in one string."""
    whole = _REF.fullmatch(value.strip())
    if whole and not whole.group(1) and not (keep_env and whole.group(2) == "env"):
        return _lookup(whole.group(2), whole.group(3), variables, env)

    def repl(m: re.Match) -> str:
        if m.group(1):  # escaped: $${...}
            return m.group(0)[1:]
        if keep_env and m.group(2) == "env":
            _lookup("env", m.group(3), variables, env)  # must exist, but stays a reference
            return m.group(0)
        return str(_lookup(m.group(2), m.group(3), variables, env))

    return _REF.sub(repl, value)


def substitute(data: Any, variables: Mapping[str, Any], env: Mapping[str, str] | None = None) -> tuple[Any, list[tuple[tuple, str]]]:
    """Substitute recursively; returns the new data and the (path, message) of each failure."""
    env = os.environ if env is None else env
    errors: list[tuple[tuple, str]] = []

    def walk(value: Any, path: tuple, keep_env: bool) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, path + (k,), keep_env or k in SECRET_MAPPINGS) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, path + (i,), keep_env) for i, v in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            try:
                return substitute_string(value, variables, env, keep_env=keep_env)
            except MissingVariable as exc:
                errors.append((path, str(exc)))
        return value

    return walk(data, (), False), errors


def resolve_secret_refs(options: Mapping[str, str], env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Resolve ``${env.NAME}`` references kept in an options mapping, at connection time."""
    env = os.environ if env is None else env
    return {k: str(substitute_string(v, {}, env)) if isinstance(v, str) else v for k, v in options.items()}
