"""Errors of kappa's SQL layer."""

from __future__ import annotations

from kappa.errors import KappaError


class SqlError(KappaError):
    """A SQL step that cannot run (base class of the SQL errors)."""


class UnsupportedSql(SqlError):
    """Spark SQL that kappa cannot run on Polars with Spark's result; the message names the construct."""


class SqlTemplateError(SqlError):
    """A ``{...}`` placeholder in a SQL step that kappa does not know."""
