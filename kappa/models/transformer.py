"""Transformer models: a chain of SQL steps and DataFrame method steps.

SQL steps are Spark SQL; ``{df}`` is the node's current DataFrame and ``{nodes.NAME}`` another
node's output. Method steps call a DataFrame method by name (through narwhals, so the same step
runs on Polars and Spark); arguments are plain values, never evaluated code.

>>> t = Transformer(nodes=[{"expr": "SELECT * FROM {df}"}, {"func_name": "unique", "func_kwargs": {"subset": ["id"]}}])
>>> [type(n).__name__ for n in t.nodes]
['DataFrameExpr', 'DataFrameMethod']
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag

from kappa.models.base import KappaModel


class DataFrameExpr(KappaModel):
    """A Spark SQL statement over ``{df}`` (and ``{nodes.NAME}``)."""

    expr: str = Field(..., min_length=1, description="Spark SQL query; `{df}` is the node's DataFrame, `{nodes.x}` node x's output.")
    type: Literal["SQL"] = Field("SQL", description="Expression language; only SQL.")


class DataFrameMethod(KappaModel):
    """A DataFrame method call, e.g. ``unique`` with ``subset`` and ``keep``."""

    func_name: str = Field(..., min_length=1, description="Method name (narwhals DataFrame API; laktory aliases accepted).")
    func_args: list[Any] = Field(default_factory=list, description="Positional arguments (strings are column names).")
    func_kwargs: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments.")


def _step_kind(value: Any) -> str | None:
    if isinstance(value, DataFrameExpr) or (isinstance(value, dict) and "expr" in value):
        return "expr"
    if isinstance(value, DataFrameMethod) or (isinstance(value, dict) and "func_name" in value):
        return "method"
    return None


TransformerStep = Annotated[
    Union[Annotated[DataFrameExpr, Tag("expr")], Annotated[DataFrameMethod, Tag("method")]],
    Discriminator(_step_kind, custom_error_type="step_kind", custom_error_message="a transformer step needs `expr` (SQL) or `func_name` (method)"),
]


class Transformer(KappaModel):
    """An ordered chain of steps applied to the node's DataFrame."""

    nodes: list[TransformerStep] = Field(default_factory=list, description="Steps, applied in order.")
