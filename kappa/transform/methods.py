"""DataFrame method steps: a small allowlist of narwhals methods, the same on Polars and Spark.

A method step names a method and gives plain YAML arguments; strings are column names, nothing
is evaluated. The frame goes through narwhals (``nw.from_native``), so one implementation serves
a Polars ``LazyFrame``/``DataFrame`` and a PySpark ``DataFrame``; the result has the input's
native type.

Allowed methods (narwhals signatures, arguments by position or by name):

=====================  =================================================================
``select``             ``columns...`` -- keep these columns, in this order
``drop``               ``columns...``, ``strict=True``
``rename``             ``mapping`` ``{old: new}``
``with_columns``       ``{new_name: existing_column}`` keyword pairs -- copy a column
``filter``             ``{column: value}`` keyword pairs -- keep rows where column == value
``unique``             ``subset=None``, ``keep="any"|"first"|"last"|"none"``, ``order_by=None``
``drop_nulls``         ``subset=None``
``sort``               ``by``, ``descending=False``, ``nulls_last=False``
``head``               ``n=5``
``with_row_index``     ``name="index"``, ``order_by`` (required on lazy and Spark frames)
``explode``            ``columns``
``unpivot``            ``on=None``, ``index=None``, ``variable_name``, ``value_name``
``with_watermark``     ``column``, ``delay`` -- Spark's ``withWatermark`` (see below)
``drop_duplicates_within_watermark``  ``subset=None`` -- Spark's ``dropDuplicatesWithinWatermark``
=====================  =================================================================

Laktory/Spark aliases: ``drop_duplicates`` -> ``unique`` (``subset``, keep ``any``),
``withColumnRenamed(existing, new)`` -> ``rename``, ``dropna`` -> ``drop_nulls``,
``orderBy`` -> ``sort``, ``limit`` -> ``head``.

``with_watermark`` and ``drop_duplicates_within_watermark`` act on the native frame (duck typed, no
engine import): a Spark frame gets ``withWatermark(column, delay)`` /
``dropDuplicatesWithinWatermark(subset)`` (a streaming one: Spark refuses the dedup on a batch
frame, which gets ``unique(subset)`` like a Polars frame); a Polars frame is returned as is /
deduplicated like ``unique(subset)``. Across micro-batches their state is the engines' (:mod:`kappa.stateful`): a
method step sees one frame.

``unique(keep="any")`` keeps one row per distinct ``subset`` value. Both engines return the same
SET of rows when duplicates are identical outside ``subset`` (always true without ``subset``);
when they differ there, which duplicate survives is not specified (it may differ between
engines and runs). ``keep="first"|"last"`` need ``order_by`` on lazy and Spark frames (they have
no row order); ``keep="none"`` drops every row whose ``subset`` value is duplicated.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from kappa.errors import KappaError


class UnknownMethod(KappaError):
    """A method step names a method that is not in the allowlist."""


class MethodArgumentError(KappaError):
    """A method step's arguments are wrong; the message names the method."""


def _columns(method: str, value: Any, what: str = "column") -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(c, str) for c in items):
        raise MethodArgumentError(f"{method}: {what} names must be strings, got {value!r}")
    return list(items)


def _exist(method: str, df, columns: Sequence[str]) -> list[str]:
    """Fail early (lazy frames fail only at collect) when a named column is missing."""
    have = set(df.columns)
    missing = [c for c in columns if c not in have]
    if missing:
        raise MethodArgumentError(f"{method}: unknown column(s) {missing}; available: {sorted(have)}")
    return list(columns)


def _flat_columns(method: str, args: Sequence[Any]) -> list[str]:
    out: list[str] = []
    for a in args:
        out += _columns(method, a)
    if not out:
        raise MethodArgumentError(f"{method}: give at least one column name")
    return out


def _select(nw, df, *columns):
    return df.select(_exist("select", df, _flat_columns("select", columns)))


def _drop(nw, df, *columns, strict: bool = True):
    cols = _flat_columns("drop", columns)
    if strict:
        _exist("drop", df, cols)
    return df.drop(cols, strict=bool(strict))


def _rename(nw, df, mapping: Mapping[str, str]):
    if not isinstance(mapping, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise MethodArgumentError(f"rename: mapping must be {{old: new}} strings, got {mapping!r}")
    _exist("rename", df, list(mapping))
    return df.rename(dict(mapping))


def _with_columns(nw, df, **copies):
    if not copies:
        raise MethodArgumentError("with_columns: give new_name: existing_column pairs")
    for new, old in copies.items():
        if not isinstance(old, str):
            raise MethodArgumentError(f"with_columns: {new}: the value must name an existing column, got {old!r}")
    _exist("with_columns", df, list(copies.values()))
    return df.with_columns(**{new: nw.col(old) for new, old in copies.items()})


def _filter(nw, df, **equals):
    if not equals:
        raise MethodArgumentError("filter: give column: value pairs (rows where column == value are kept)")
    for col, value in equals.items():
        if value is None or isinstance(value, (list, dict)):
            raise MethodArgumentError(f"filter: {col}: value must be a plain non-null scalar, got {value!r}")
    _exist("filter", df, list(equals))
    return df.filter(**equals)


def _unique(nw, df, subset=None, keep: str = "any", order_by=None):
    if keep not in ("any", "first", "last", "none"):
        raise MethodArgumentError(f"unique: keep must be any, first, last or none, got {keep!r}")
    subset = None if subset is None else _exist("unique", df, _columns("unique", subset))
    order = None if order_by is None else _exist("unique", df, _columns("unique", order_by, "order_by"))
    if keep in ("first", "last") and order is None and isinstance(df, nw.LazyFrame):
        raise MethodArgumentError(f"unique: keep={keep!r} needs order_by (lazy and Spark frames have no row order)")
    if order is None:
        return df.unique(subset, keep=keep)
    return df.unique(subset, keep=keep, order_by=order)


def _drop_duplicates(nw, df, subset=None):
    return _unique(nw, df, subset=subset, keep="any")


def _with_watermark(nw, df, column, delay):
    from kappa.stateful.intervals import IntervalError, delay_us

    if not isinstance(column, str):
        raise MethodArgumentError(f"with_watermark: column must name the event-time column, got {column!r}")
    _exist("with_watermark", df, [column])
    try:
        negative = delay_us(delay) < 0
    except IntervalError as err:
        raise MethodArgumentError(f"with_watermark: delay: {err}") from None
    if negative:
        raise MethodArgumentError(f"with_watermark: delay threshold ({delay}) should not be negative.")
    native = df.to_native()
    if hasattr(native, "withWatermark"):  # a Spark frame (on a batch frame Spark's own no-op)
        return nw.from_native(native.withWatermark(column, delay))
    return df


def _drop_duplicates_within_watermark(nw, df, subset=None):
    cols = None if subset is None else _exist("drop_duplicates_within_watermark", df, _columns("drop_duplicates_within_watermark", subset))
    native = df.to_native()
    if getattr(native, "isStreaming", False) is True and hasattr(native, "dropDuplicatesWithinWatermark"):  # a Spark stream
        return nw.from_native(native.dropDuplicatesWithinWatermark(cols) if cols else native.dropDuplicatesWithinWatermark())
    return df.unique(cols, keep="any")  # a batch frame (Spark refuses the method there): a plain dedup


def _drop_nulls(nw, df, subset=None):
    return df.drop_nulls(None if subset is None else _exist("drop_nulls", df, _columns("drop_nulls", subset)))


def _sort(nw, df, by, descending=False, nulls_last: bool = False):
    cols = _exist("sort", df, _columns("sort", by))
    if not isinstance(descending, bool) and not (
        isinstance(descending, (list, tuple)) and len(descending) == len(cols) and all(isinstance(d, bool) for d in descending)
    ):
        raise MethodArgumentError(f"sort: descending must be a bool or one bool per column, got {descending!r}")
    return df.sort(cols, descending=descending if isinstance(descending, bool) else list(descending), nulls_last=bool(nulls_last))


def _head(nw, df, n: int = 5):
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise MethodArgumentError(f"head: n must be an integer >= 0, got {n!r}")
    return df.head(n)


def _with_row_index(nw, df, name: str = "index", order_by=None):
    if not isinstance(name, str):
        raise MethodArgumentError(f"with_row_index: name must be a string, got {name!r}")
    if order_by is None:
        if isinstance(df, nw.LazyFrame):
            raise MethodArgumentError("with_row_index: order_by is required on lazy and Spark frames")
        return df.with_row_index(name).with_columns(nw.col(name).cast(nw.Int64))
    order = _exist("with_row_index", df, _columns("with_row_index", order_by, "order_by"))
    # Spark numbers rows with an INT window function, Polars with a 64-bit index: make it BIGINT.
    return df.with_row_index(name, order_by=order).with_columns(nw.col(name).cast(nw.Int64))


def _explode(nw, df, columns):
    return df.explode(_exist("explode", df, _columns("explode", columns)))


def _unpivot(nw, df, on=None, index=None, variable_name: str = "variable", value_name: str = "value"):
    return df.unpivot(
        None if on is None else _exist("unpivot", df, _columns("unpivot", on)),
        index=None if index is None else _exist("unpivot", df, _columns("unpivot", index, "index")),
        variable_name=variable_name,
        value_name=value_name,
    )


def _with_column_renamed(nw, df, existing: str, new: str):
    return _rename(nw, df, {existing: new})


METHODS: dict[str, Callable[..., Any]] = {
    "select": _select,
    "drop": _drop,
    "rename": _rename,
    "with_columns": _with_columns,
    "filter": _filter,
    "unique": _unique,
    "drop_nulls": _drop_nulls,
    "sort": _sort,
    "head": _head,
    "with_row_index": _with_row_index,
    "explode": _explode,
    "unpivot": _unpivot,
    "with_watermark": _with_watermark,
    "drop_duplicates_within_watermark": _drop_duplicates_within_watermark,
    # laktory / Spark aliases
    "drop_duplicates": _drop_duplicates,
    "withColumnRenamed": _with_column_renamed,
    "dropna": _drop_nulls,
    "orderBy": _sort,
    "limit": _head,
}


def _polars_unique(func_name: str, df: Any, bound: Any) -> Any:
    """``unique``/``drop_duplicates`` with ``keep="any"`` and no ``order_by`` on a Polars
    LazyFrame, straight on Polars: what narwhals' Polars backend calls (``unique(subset,
    keep="any", maintain_order=False)``), without importing narwhals (~0.05 s of a replay).
    None for any other case (narwhals runs it)."""
    if func_name not in ("unique", "drop_duplicates") or type(df).__module__ != "polars.lazyframe.frame":
        return None
    bound.apply_defaults()
    args = bound.arguments
    if args.get("keep", "any") != "any" or args.get("order_by") is not None:
        return None
    subset = args.get("subset")
    cols = None if subset is None else _columns("unique", subset)
    if cols is not None:
        have = set(df.collect_schema().names())
        missing = [c for c in cols if c not in have]
        if missing:
            raise MethodArgumentError(f"unique: unknown column(s) {missing}; available: {sorted(have)}")
    return df.unique(cols, keep="any", maintain_order=False)


def allowed_methods() -> list[str]:
    """The method names a method step may use."""
    return sorted(METHODS)


def apply_method(df, func_name: str, func_args: Sequence = (), func_kwargs: Mapping | None = None):
    """Apply one allowlisted DataFrame method to a native Polars or PySpark frame.

    Returns a frame of the same native type. Raises :class:`UnknownMethod` for a name outside
    the allowlist and :class:`MethodArgumentError` (naming the method) for bad arguments or a
    failure of the method itself.
    """
    import inspect

    handler = METHODS.get(func_name)
    if handler is None:
        raise UnknownMethod(f"unknown DataFrame method {func_name!r}; allowed: {', '.join(allowed_methods())}")
    if isinstance(func_args, (str, bytes)) or not isinstance(func_args, Sequence):
        func_args = [func_args]
    kwargs = dict(func_kwargs or {})
    try:
        bound = inspect.signature(handler).bind(None, df, *func_args, **kwargs)
    except TypeError as err:
        raise MethodArgumentError(f"{func_name}: {err}") from None
    native = _polars_unique(func_name, df, bound)
    if native is not None:
        return native
    import narwhals as nw

    frame = nw.from_native(df)
    try:
        out = handler(nw, frame, *func_args, **kwargs)
    except KappaError:
        raise
    except Exception as err:  # narwhals/engine errors (unknown column, ...)
        raise MethodArgumentError(f"{func_name}: {type(err).__name__}: {err}") from err
    return out.to_native()
