"""The ``${vars.name}`` / ``${env.NAME}`` reference grammar and its resolver (a leaf module).

Design. Two places resolve references: the config loader substitutes them when a pipeline is
loaded (:mod:`kappa.config.variables`), and the plan resolves the ``${env.NAME}`` references
kept in secret-bearing options right where a client is built
(:func:`kappa.plan_kinds.resolve_secrets`). Both use the one resolver here, which imports
nothing of kappa but :mod:`kappa.errors`: the connectors (:mod:`kappa.connectors`) and the spec
models reach the plan's secret options without importing the config loader.

>>> resolve_secret_refs({"sasl.password": "${env.PW}", "n": 1}, {"PW": "s3cret"})
{'sasl.password': 's3cret', 'n': 1}
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping

from kappa.errors import KappaError

REF = re.compile(r"(\$?)\$\{\s*(vars|env)\.([A-Za-z_][A-Za-z0-9_\.\-]*)\s*\}")


class MissingVariable(KappaError):
    """A ``${vars.x}`` or ``${env.X}`` with no value (or variables that refer to each other)."""


class Resolver:
    """Looks references up; resolves variables that use other references, once, with cycle checks.

    ``secret_keys``: inside a mapping under one of these keys ``${env.X}`` stays a reference.
    """

    def __init__(self, variables: Mapping[str, Any], env: Mapping[str, str], secret_keys: frozenset[str] = frozenset()):
        self.variables, self.env, self.secret_keys = variables, env, secret_keys
        self._active: list[str] = []

    def lookup(self, kind: str, name: str, keep_env: bool) -> Any:
        if kind == "env":
            if name not in self.env:
                raise MissingVariable(f"environment variable {name} is not set (referenced as ${{env.{name}}})")
            return self.env[name]
        if name not in self.variables:
            known = ", ".join(sorted(self.variables)) or "none defined"
            raise MissingVariable(f"undefined variable ${{vars.{name}}} (variables: {known})")
        if name in self._active:
            loop = self._active[self._active.index(name):]
            start = loop.index(min(loop))  # the same text wherever the loop is entered
            loop = loop[start:] + loop[:start]
            chain = " -> ".join(loop + [loop[0]])
            raise MissingVariable(f"variables refer to each other: {chain}")
        self._active.append(name)
        try:
            return self.value(self.variables[name], keep_env)
        finally:
            self._active.pop()

    def value(self, value: Any, keep_env: bool) -> Any:
        if isinstance(value, str):
            return self.string(value, keep_env) if "${" in value else value
        if isinstance(value, dict):
            return {k: self.value(v, keep_env or k in self.secret_keys) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, keep_env) for v in value]
        return value

    def string(self, value: str, keep_env: bool) -> Any:
        whole = REF.fullmatch(value.strip())
        if whole and not whole.group(1) and not (keep_env and whole.group(2) == "env"):
            return self.lookup(whole.group(2), whole.group(3), keep_env)

        def repl(m: re.Match) -> str:
            if m.group(1):  # escaped: $${...}
                return m.group(0)[1:]
            if keep_env and m.group(2) == "env":
                self.lookup("env", m.group(3), keep_env)  # must exist, but stays a reference
                return m.group(0)
            return str(self.lookup(m.group(2), m.group(3), keep_env))

        return REF.sub(repl, value)


def resolve_secret_refs(options: Mapping[str, str], env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Resolve ``${env.NAME}`` references kept in an options mapping, at connection time."""
    resolver = Resolver({}, os.environ if env is None else env)
    return {k: str(resolver.string(v, False)) if isinstance(v, str) else v for k, v in options.items()}
