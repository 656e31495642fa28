"""The input schemas :mod:`kappa.validate` knows before anything runs, as Polars schemas.

Design note: a schema is known when it is declared (a file or Kafka source's ``schema``), fixed
(Kafka's columns: ``key``, ``value``, ``topic``, ``partition``, ``offset``, ``timestamp``,
``timestampType``, ``headers`` with ``include_headers``; ``value`` is the declared struct for
``json`` and bytes for ``raw``), read from an existing local Delta table (its metadata only), or
the output schema of the upstream node's steps. Anything else is None (unknown): a file source
without a schema, a JSON value without one, a Debezium source, a table on object storage, a
node after a stateful step. A bad declared type is an error of its own (``problems``).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Callable

from kappa.types import polars_schema


def declared(schema: Any) -> tuple[Any, str | None]:
    """``(Polars schema, None)`` of a declared schema, or ``(None, message)`` when a type is bad."""

    from kappa.sql.static_check import TYPE_NAMES
    from kappa.types import TypeParseError, parse_schema

    try:
        return polars_schema(parse_schema(schema)), None
    except TypeParseError as err:
        text = str(err)
        word = text.split("'")[1] if text.count("'") >= 2 else ""
        close = difflib.get_close_matches(word.upper(), TYPE_NAMES, n=1, cutoff=0.6) if word else []
        hint = f"; did you mean {close[0]}?" if close else ""
        return None, f"{text}{hint}"


def kafka(source: Any, value: Any) -> Any:
    """The columns a Kafka source gives, ``value`` being the Polars type of the value; with None
    (an inferred value) a ``{column: type}`` dict whose ``value`` type is None (names known only)."""
    import polars as pl

    from kappa.kafka.reader import kafka_schema

    base = dict(polars_schema(kafka_schema(bool(source.include_headers))))
    base["value"] = value
    return base if value is None else pl.Schema(base)  # a dict with a None type: names known, types not


def delta_table(path: str | None) -> Any:
    """The Polars schema of an existing local Delta table at ``path`` (None: none there, or remote)."""
    if not path or "://" in path or not (Path(path) / "_delta_log").is_dir():
        return None
    try:
        from kappa.delta.commit import table_schema
        from kappa.delta.tables import latest

        table = latest(path)
        return None if table is None else polars_schema(table_schema(table))
    except Exception:  # noqa: BLE001 - an unreadable table: unknown, the run reports it
        return None


def source_schema(node: Any, plan: Any, outputs: dict[str, Any], problem: Callable[[str, str], None]) -> Any:
    """The schema of a node model's source (``plan``: its source plan); reports bad declared types."""
    src = node.source
    kind = getattr(src, "type", None)
    if kind == "file":
        if src.schema_ is None:
            return None
        schema, bad = declared(src.schema_)
        if bad:
            problem("source.schema", bad)
        return schema
    if kind == "kafka":
        if src.value_format == "raw":
            import polars as pl

            return kafka(src, pl.Binary())
        if src.value_format != "json" or src.schema_ is None:
            if src.schema_ is not None:
                _, bad = declared(src.schema_)
                if bad:
                    problem("source.schema", bad)
            return kafka(src, None) if src.value_format == "json" else None  # an inferred value: names only
        schema, bad = declared(src.schema_)
        if bad:
            problem("source.schema", bad)
            return None
        import polars as pl

        return kafka(src, pl.Struct(dict(schema)))
    if kind == "delta":
        return delta_table(getattr(plan, "path", None))
    if kind == "node":
        return node_output(src.node_name, plan, outputs)
    return None


def node_output(upstream: str, plan: Any, outputs: dict[str, Any]) -> Any:
    """What a reader of node ``upstream`` sees: its steps' output, else its existing table."""
    known = outputs.get(upstream)  # None for a node whose readable sink merges (the table's shape)
    if known is not None and getattr(plan, "kind", None) == "file" and str(getattr(plan, "format", "")).upper() != "PARQUET":
        return {name: None for name in known}  # JSON/CSV files keep the names; the reader infers the types again
    if known is not None:
        return known
    if getattr(plan, "kind", None) == "delta":
        return delta_table(getattr(plan, "path", None))
    return None
