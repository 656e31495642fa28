"""What the two engines share: validating expectations and naming the flag columns.

Rules (both engines): a NULL result is a failure; a row failing any ``drop`` or ``quarantine``
expectation leaves the output; a row failing at least one ``quarantine`` expectation goes to the
quarantine with ``_kappa_failed`` = the names of every expectation it failed (all actions, in
declaration order); a row failing only ``drop`` (and ``warn``) expectations is dropped; ``warn``
only counts; any ``fail`` failure raises :class:`~kappa.errors.ExpectationFailed` before
anything is returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from kappa.errors import KappaError

ACTIONS = ("warn", "drop", "quarantine", "fail")
FAILED_COLUMN = "_kappa_failed"


class ExpectationError(KappaError):
    """An expectation that cannot be evaluated (bad expression, unknown action, duplicate name)."""


@dataclass(frozen=True)
class Check:
    """One validated expectation with the name of its internal flag column."""

    name: str
    expr: str
    action: str
    flag: str


def checks(expectations: Sequence[Any], node: str, columns: Sequence[str]) -> list[Check]:
    """Validate ``expectations`` (objects with ``name``, ``expr``, ``action``) for ``node``."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    from kappa.sql._dialect import SparkIn

    out: list[Check] = []
    seen: set[str] = set()
    taken = set(columns)
    for i, e in enumerate(expectations):
        name, expr, action = getattr(e, "name", None), getattr(e, "expr", None), getattr(e, "action", None)
        where = f"node {node!r}: expectation {name!r}"
        if not isinstance(name, str) or not name:
            raise ExpectationError(f"node {node!r}: expectation #{i + 1} has no name")
        if name in seen:
            raise ExpectationError(f"{where}: duplicate expectation name")
        if action not in ACTIONS:
            raise ExpectationError(f"{where}: action must be one of {', '.join(ACTIONS)}, got {action!r}")
        if not isinstance(expr, str) or not expr.strip():
            raise ExpectationError(f"{where}: expr must be a Spark SQL boolean expression")
        try:
            parsed = sqlglot.parse_one(expr, read=SparkIn)
        except ParseError as err:
            raise ExpectationError(f"{where}: cannot parse {expr!r}: {err}") from None
        if isinstance(parsed, (exp.Query, exp.Alias, exp.Command)) or parsed.find(exp.AggFunc, exp.Window):
            raise ExpectationError(f"{where}: expr must be one row-level boolean expression, got {expr!r}")
        seen.add(name)
        flag = f"__kappa_ok_{i}"
        while flag in taken:
            flag = "_" + flag
        taken.add(flag)
        out.append(Check(name=name, expr=expr, action=action, flag=flag))
    return out


def first_fail(checks_: Sequence[Check], failures: dict[str, int]) -> Check | None:
    """The first ``fail`` expectation (declaration order) with failing rows, if any."""
    for c in checks_:
        if c.action == "fail" and failures[c.name] > 0:
            return c
    return None
