"""Property tests at two depths: a few examples in ``make test``, many under ``slow``.

A hypothesis test costs its example count times one example, and the CDC property tests were
most of the fast suite's time. :func:`depths` parametrises a test over ``examples``: the
``fast`` case runs in ``make test``, the ``thorough`` one (the count the test had before) is
marked ``slow`` and runs in ``make test-slow``, so the same property keeps its full search.
:func:`check` runs the property, with the strategies, at the case's count::

    @depths(25, 150)
    def test_x(examples):
        def prop(stream, flag): ...
        check(prop, examples, SETTINGS, stream=streams(), flag=st.booleans())

(``settings`` cannot be applied twice to one ``@given`` function, hence the property is wrapped
once per case.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


def depths(fast: int, thorough: int):
    """Parametrise a test over ``examples``: ``fast`` (make test) and ``thorough`` (``slow``)."""
    return pytest.mark.parametrize("examples", [
        pytest.param(fast, id=f"{fast}-examples"),
        pytest.param(thorough, id=f"{thorough}-examples", marks=pytest.mark.slow),
    ])


def check(prop: Callable[..., None], examples: int, settings: dict[str, Any], **strategies: Any) -> None:
    """Run the property ``prop`` over ``examples`` hypothesis examples drawn from ``strategies``
    (keyword arguments of ``prop``), with the other hypothesis ``settings``."""
    from hypothesis import given
    from hypothesis import settings as hypothesis_settings

    hypothesis_settings(max_examples=examples, **settings)(given(**strategies)(prop))()
