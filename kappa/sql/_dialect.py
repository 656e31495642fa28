"""The two sqlglot dialects of the translation: Spark SQL in, Polars SQL out.

``SparkIn`` is Spark with two changes: identifiers keep their case (Polars column names are
case-sensitive, so kappa does not fold them), and the datetime functions whose pattern argument
sqlglot would rewrite on parsing (``to_date``, ``to_timestamp``, ``date_format``) parse as plain
function calls, so kappa translates the original Java pattern itself.

``PolarsOut`` prints what ``polars.SQLContext`` runs: PostgreSQL-like syntax, double-quoted
identifiers, explicit ``NULLS FIRST/LAST`` where Spark's default differs, and Polars' type names.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.dialect import NormalizationStrategy
from sqlglot.dialects.postgres import Postgres
from sqlglot.dialects.spark import Spark

_RAW_FUNCTIONS = ("TO_DATE", "TO_TIMESTAMP", "DATE_FORMAT")


class SparkIn(Spark):
    """Spark SQL as kappa reads it (case-preserving identifiers, raw datetime functions)."""

    NORMALIZATION_STRATEGY = NormalizationStrategy.CASE_SENSITIVE

    class Parser(Spark.Parser):
        FUNCTIONS = {k: v for k, v in Spark.Parser.FUNCTIONS.items() if k not in _RAW_FUNCTIONS}


class PolarsOut(Postgres):
    """The SQL that ``polars.SQLContext`` executes."""

    NORMALIZATION_STRATEGY = NormalizationStrategy.CASE_SENSITIVE

    class Generator(Postgres.Generator):
        TRANSFORMS = {k: v for k, v in Postgres.Generator.TRANSFORMS.items() if k is not exp.TryCast}

        TYPE_MAPPING = {
            **Postgres.Generator.TYPE_MAPPING,
            exp.DataType.Type.TEXT: "VARCHAR",
            exp.DataType.Type.VARCHAR: "VARCHAR",
            exp.DataType.Type.DOUBLE: "DOUBLE",
            exp.DataType.Type.FLOAT: "FLOAT",
            exp.DataType.Type.TINYINT: "TINYINT",
            exp.DataType.Type.TIMESTAMP: "TIMESTAMP",
            exp.DataType.Type.TIMESTAMPNTZ: "TIMESTAMP",
            exp.DataType.Type.TIMESTAMPTZ: "TIMESTAMPTZ",
            exp.DataType.Type.TIMESTAMPLTZ: "TIMESTAMPTZ",
        }

        def trycast_sql(self, expression: exp.TryCast) -> str:
            """``TRY_CAST`` for a safe cast (NULL on invalid input), else a strict ``CAST``."""
            func = "TRY_CAST" if expression.args.get("safe") else "CAST"
            return f"{func}({self.sql(expression, 'this')} AS {self.sql(expression, 'to')})"


def dtype(text: str) -> exp.DataType:
    """A sqlglot data type from a Polars-side type name."""
    return exp.DataType.build(text, dialect=PolarsOut)
