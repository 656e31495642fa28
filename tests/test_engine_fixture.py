"""The ``engine`` fixture (tests/conftest.py): one case per engine, the Spark case marked."""

from __future__ import annotations

from tests.helpers.engines import ENGINES


def test_engine_fixture_runs_once_per_engine_and_marks_spark(engine, request):
    assert engine.name in ENGINES and str(engine) == engine.name
    assert request.node.callspec.id == engine.name
    assert (request.node.get_closest_marker("spark") is not None) == (engine.name == "spark")
    if engine.name == "polars":
        assert engine.spark is None
