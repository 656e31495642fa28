"""``CAST(<string column> AS TIMESTAMP)`` on Polars: a fixed-format fast path, inference for the rest.

Design note. Polars SQL runs a string -> timestamp cast as ``str.to_datetime`` with an inferred
format (kappa's translation, :mod:`kappa.sql.translate`). Inference parses every value through
its general path: about 0.3 s per million ISO strings on this machine, ten times the cost of an
explicit ``%Y-%m-%dT%H:%M:%S`` parse, and the largest single cost of a typical silver step.

So when the cast's argument is a plain column (or struct field) of an input table, the translator
hoists it: the input gets a derived column computed by :func:`parse_timestamps`, and the SQL reads
that column instead of casting (:class:`Derived`, applied by
:func:`kappa.sql.polars_exec.run_sql`). :func:`parse_timestamps` parses with the two fixed
formats Spark strings most often have (``T`` or space between date and time, whole seconds, a
year from 1000), and only the values neither parses go through the inference the cast runs. Inference takes its
pattern from the first value it sees, so it runs in up to three rounds, each over what the rounds
before left (a column mixing strings with and without a UTC offset then parses, as on Spark,
where one pass over the column turned the second kind NULL). A strict cast (``CAST``) that still
has unparsed strings raises the conversion error Polars' strict cast gives (column, count, the
first ten values); a ``TRY_CAST`` leaves them NULL.

Why the result is the cast's, value by value: for a string the fixed format accepts (exact match,
no fraction, no zone), inference yields the same instant -- checked over edge cases (one-digit
fields, leap day, second 60, year 1 and 9999, leading sign or space) by
tests/sql/test_ts_parse.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

FAST_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")
INFERENCE_ROUNDS = 3


@dataclass(frozen=True)
class Derived:
    """A column added to input ``table`` before the SQL runs: the timestamp cast of ``path``."""

    table: str
    path: tuple[str, ...]
    name: str
    strict: bool

    def expr(self) -> "pl.Expr":
        import polars as pl

        source = pl.col(self.path[0])
        for field in self.path[1:]:
            source = source.struct.field(field)
        strict = self.strict
        return source.map_batches(
            lambda s: parse_timestamps(s, strict=strict), return_dtype=pl.Datetime("us", "UTC"), is_elementwise=True
        ).alias(self.name)


def parse_timestamps(values: "pl.Series", *, strict: bool) -> "pl.Series":
    """Spark's ``CAST(<string> AS TIMESTAMP)`` (session zone UTC) of ``values`` as kappa's
    translation gives it: ``Datetime("us", "UTC")``; NULL stays NULL; an unparseable string
    raises when ``strict`` (CAST), else is NULL (TRY_CAST)."""
    import polars as pl

    dtype = pl.Datetime("us", "UTC")
    if values.dtype == pl.Null:  # a NULL-typed column (all NULL)
        return pl.Series(values.name, [None] * len(values), dtype=dtype)
    if values.dtype != pl.String:  # Categorical / Enum: Spark sees a STRING
        values = values.cast(pl.String)
    out = _fixed(values, FAST_FORMATS[0])
    for fmt in FAST_FORMATS[1:]:
        out = _fill(out, values, lambda rest, fmt=fmt: _fixed(rest, fmt))
    for _ in range(INFERENCE_ROUNDS):  # the cast's own inference, on what is left only
        before = out.null_count()
        out = _fill(out, values, lambda rest: rest.str.to_datetime(time_unit="us", time_zone="UTC", strict=False))
        if out.null_count() == before:
            break
    if strict:
        failed = values.filter(out.is_null() & values.is_not_null())
        if len(failed):  # the message Polars' strict cast gives
            shown = ", ".join(f'"{v}"' for v in failed.head(10).to_list())
            raise pl.exceptions.InvalidOperationError(
                f"conversion from `str` to `datetime[μs, UTC]` failed in column '{values.name}' for "
                f"{len(failed)} out of {len(values)} values: [{shown}]")
    return out.rename(values.name)


def _fixed(values: "pl.Series", fmt: str) -> "pl.Series":
    """``values`` parsed with ``fmt``; NULL where it does not match, and where the year is below
    1000: ``%Y`` also takes a year of one to three digits, which inference reads otherwise
    (``1-5-25T...`` is 1 May 0025 to it, day first) and Spark refuses; those go on to the
    inference."""
    import datetime as dt

    out = values.str.to_datetime(fmt, time_unit="us", time_zone="UTC", strict=False, exact=True)
    early = out < dt.datetime(1000, 1, 1, tzinfo=dt.timezone.utc)
    if early.any():
        out = out.scatter(early.arg_true(), None)
    return out


def _fill(out: "pl.Series", values: "pl.Series", parse) -> "pl.Series":
    """``out`` with its NULLs whose string is not NULL replaced by ``parse`` of those strings."""
    missed = out.is_null() & values.is_not_null()
    if not missed.any():
        return out
    where = missed.arg_true()
    return out.scatter(where, parse(values.gather(where)))
