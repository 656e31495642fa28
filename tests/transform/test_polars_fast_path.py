"""``unique``/``drop_duplicates`` (keep any, no order_by) on a Polars LazyFrame run straight on
Polars, without narwhals, with narwhals' result and kappa's error messages (issue 14)."""

from __future__ import annotations

import narwhals as nw
import polars as pl
import pytest

from kappa.summary import NodeOutput
from kappa.transform.methods import MethodArgumentError, apply_method

FRAME = pl.LazyFrame({"k": [1, 1, 2, 2], "v": ["a", "a", "b", "c"]})


@pytest.mark.parametrize(("name", "kwargs"), [("unique", {"subset": ["k", "v"]}), ("unique", {}), ("drop_duplicates", {"subset": "k"}),
                                              ("unique", {"subset": "k", "keep": "none"})])
def test_the_fast_path_gives_narwhals_result(name, kwargs):
    out = apply_method(FRAME, name, (), kwargs)
    assert isinstance(out, pl.LazyFrame)
    subset = kwargs.get("subset")
    subset = [subset] if isinstance(subset, str) else subset
    want = nw.from_native(FRAME).unique(subset, keep=kwargs.get("keep", "any")).to_native()
    key = ["k"] if subset == ["k"] else ["k", "v"]
    assert out.collect().select(key).sort(key).equals(want.collect().select(key).sort(key))


def test_an_unknown_column_is_named_as_before():
    with pytest.raises(MethodArgumentError, match=r"^unique: unknown column\(s\) \['x'\]; available: \['k', 'v'\]$"):
        apply_method(FRAME, "drop_duplicates", (), {"subset": ["x"]})
    with pytest.raises(MethodArgumentError, match=r"^unique: keep must be any, first, last or none, got 'some'$"):
        apply_method(FRAME, "unique", (), {"keep": "some"})


def test_a_node_output_is_wrapped_once_when_read():
    out = NodeOutput(native_output=FRAME)
    assert out.quarantine is None
    assert isinstance(out.output, nw.LazyFrame) and out.output is out.output and out.output.to_native() is FRAME
