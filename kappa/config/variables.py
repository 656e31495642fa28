"""``${vars.name}`` and ``${env.NAME}`` substitution.

Variables come from the config's ``variables`` mapping, overridden by the caller (CLI
``--var name=value``); a variable may itself use ``${vars.other}`` and ``${env.NAME}``. A value
that is exactly one reference takes the variable's type; a reference inside a longer string is
formatted into it. ``$${...}`` is a literal ``${...}``. A missing variable is an error.

Secrets: inside ``options``, ``storage_options`` and ``conf`` mappings (Kafka client settings,
object-store keys, Spark settings) an ``${env.NAME}`` reference -- written there directly or
through a variable -- is checked but kept as is; it is resolved only when a connection is made
(:func:`kappa.substitution.resolve_secret_refs`), so secret values never enter the model, its YAML dump,
``kappa explain`` output or logs. The ``variables`` mapping itself is kept as written, for the
same reason.

>>> substitute({"a": "${vars.x}", "b": "p-${vars.x}"}, {"x": 3}, {})[0]
{'a': 3, 'b': 'p-3'}
>>> substitute({"options": {"sasl.password": "${env.PW}"}}, {}, {"PW": "s3cret"})[0]
{'options': {'sasl.password': '${env.PW}'}}
>>> from kappa.substitution import resolve_secret_refs
>>> resolve_secret_refs({"sasl.password": "${env.PW}"}, {"PW": "s3cret"})
{'sasl.password': 's3cret'}
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, Mapping

from kappa.substitution import REF as _REF
from kappa.substitution import MissingVariable, Resolver


@lru_cache(maxsize=None)
def secret_mappings() -> frozenset[str]:
    """Mappings whose ``${env.X}`` references are kept: every source/sink kind's secret-bearing
    options (:attr:`kappa.connectors.base.SourceKind.secret_fields`) and the Spark ``conf``.

    Looked up on first use, so loading the config code does not load the spec models."""
    from kappa.connectors.registry import secret_fields

    return frozenset({"conf", *secret_fields()})


#: Top-level keys kept exactly as written (their references are checked, not resolved).
RAW_KEYS = frozenset({"variables"})


class Overrides(dict):
    """Variable values given on the command line (``--var name=value``).

    Unlike a plain mapping handed to the loader by a program (which may pass one set of
    variables to many pipelines), each name here must be one the file declares under
    ``variables`` or references as ``${vars.name}``: a misspelt ``--var`` is an error, not
    silently ignored (see :func:`unknown_overrides`).
    """


def referenced_variables(data: Any) -> set[str]:
    """Every name referenced as ``${vars.name}`` anywhere in ``data`` (escaped ``$${...}`` not)."""
    found: set[str] = set()
    if isinstance(data, dict):
        for value in data.values():
            found |= referenced_variables(value)
    elif isinstance(data, list):
        for value in data:
            found |= referenced_variables(value)
    elif isinstance(data, str) and "${" in data:
        found.update(m.group(3) for m in _REF.finditer(data) if not m.group(1) and m.group(2) == "vars")
    return found


def unknown_overrides(overrides: Mapping[str, Any], declared: Mapping[str, Any], data: Any, noun: str = "pipeline") -> list[str]:
    """One message per override name the file neither declares nor references, with a
    did-you-mean: ``--var bootstap=...: the pipeline has no variable 'bootstap' (did you
    mean 'bootstrap'?)``. The value is not repeated (it may be a secret)."""
    import difflib

    known = set(declared) | referenced_variables(data)
    out = []
    for name in overrides:
        if name in known:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        if close:
            hint = f"did you mean {close[0]!r}?"
        else:
            hint = f"variables: {', '.join(sorted(known))}" if known else f"the {noun} uses no variables"
        out.append(f"--var {name}=...: the {noun} has no variable {name!r} ({hint})")
    return out


def _resolver(variables: Mapping[str, Any], env: Mapping[str, str]) -> Resolver:
    return Resolver(variables, env, secret_mappings())


def substitute_string(value: str, variables: Mapping[str, Any], env: Mapping[str, str], keep_env: bool = False) -> Any:
    """Substitute the references in one string (``keep_env``: check ``${env.X}`` but keep it)."""
    return _resolver(variables, env).string(value, keep_env)


def substitute(data: Any, variables: Mapping[str, Any], env: Mapping[str, str] | None = None) -> tuple[Any, list[tuple[tuple, str]]]:
    """Substitute recursively; returns the new data and the (path, message) of each failure.

    The top-level ``variables`` mapping is kept as written; its references are checked only.
    """
    resolver = _resolver(variables, os.environ if env is None else env)
    errors: list[tuple[tuple, str]] = []

    def walk(value: Any, path: tuple, keep_env: bool, raw: bool) -> Any:
        if isinstance(value, dict):
            return {
                k: walk(v, path + (k,), keep_env or k in secret_mappings(), raw or (not path and k in RAW_KEYS))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [walk(v, path + (i,), keep_env, raw) for i, v in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            try:
                new = resolver.string(value, keep_env or raw)
            except MissingVariable as exc:
                if not (str(exc).startswith("variables refer") and any(m == str(exc) for _, m in errors)):
                    errors.append((path, str(exc)))
            else:
                return value if raw else new
        return value

    return walk(data, (), False, False), errors


def escape_refs(data: Any, _path: tuple = ()) -> Any:
    """The inverse of :func:`substitute` for a dump: literal ``${vars.x}`` text becomes ``$${vars.x}``.

    References kept on purpose (in secret mappings and ``variables``) stay as they are.

    >>> escape_refs({"path": "${vars.x}", "options": {"k": "${env.K}"}})
    {'path': '$${vars.x}', 'options': {'k': '${env.K}'}}
    """
    if isinstance(data, dict):
        return {
            k: v if (k in secret_mappings() or (not _path and k in RAW_KEYS)) else escape_refs(v, _path + (k,))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [escape_refs(v, _path + (i,)) for i, v in enumerate(data)]
    if isinstance(data, str) and "${" in data:
        return _REF.sub(lambda m: "$" + m.group(0), data)
    return data
