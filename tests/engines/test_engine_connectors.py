"""The engine contract of the connectors (issue 10): each engine's ``connectors`` package has one
table per direction, keyed by plan kind, covering every source and sink kind of
:mod:`kappa.plan_kinds`; a kind no table holds is refused with a KappaError naming it; the
Polars engine's tables never reach the Spark engine (``.importlinter`` checks every import)."""

from __future__ import annotations

import dataclasses
import importlib
import subprocess
import sys

import pytest

from kappa import plan_kinds
from kappa.errors import KappaError

ENGINES = ["polars", "spark"]


def _plan_classes(base: type) -> list[type]:
    return [
        cls for cls in vars(plan_kinds).values()
        if isinstance(cls, type) and dataclasses.is_dataclass(cls) and issubclass(cls, base) and cls is not base
    ]


SOURCE_KINDS = sorted({cls.kind for cls in _plan_classes(plan_kinds._Source)})
SINK_KINDS = sorted({cls.kind for cls in _plan_classes(plan_kinds._Sink)})


def _connectors(engine: str):
    return importlib.import_module(f"kappa.engines.{engine}.connectors")


def test_the_plan_kinds_are_found():
    assert SOURCE_KINDS == ["delta", "file", "kafka", "memory"]
    assert SINK_KINDS == ["delta", "file", "kafka"]


@pytest.mark.parametrize("engine", ENGINES)
def test_every_source_kind_has_a_reader(engine):
    conn = _connectors(engine)
    assert sorted(conn.SOURCES) == SOURCE_KINDS
    for kind, reader in conn.SOURCES.items():
        assert isinstance(reader, conn.SourceReader), kind


@pytest.mark.parametrize("engine", ENGINES)
def test_every_sink_kind_has_a_writer(engine):
    """Every sink kind, and the CDC merge (a Delta sink plan in ``merge`` mode) apart."""
    conn = _connectors(engine)
    assert sorted(conn.SINKS) == sorted([*SINK_KINDS, "merge"])
    for kind, writer in conn.SINKS.items():
        assert isinstance(writer, conn.SinkWriter), kind
    common = {"index": 0, "quarantine": False, "app_id": "a", "path": "/t"}
    merge = plan_kinds.MergeSinkPlan(mode="merge", merge=plan_kinds.MergeOptions(), **common)
    delta = plan_kinds.DeltaSinkPlan(mode="append", **common)
    assert conn.sink_writer(merge) is conn.SINKS["merge"]
    assert conn.sink_writer(delta) is conn.SINKS["delta"]


@pytest.mark.parametrize("engine", ENGINES)
def test_an_unknown_kind_is_refused_by_name(engine):
    conn = _connectors(engine)

    class Odd:
        kind = "carrier-pigeon"
        mode = "append"

    with pytest.raises(KappaError, match="carrier-pigeon"):
        conn.source_reader(Odd())
    with pytest.raises(KappaError, match="carrier-pigeon"):
        conn.sink_writer(Odd())


def test_the_polars_tables_never_import_spark():
    code = (
        "import sys, kappa.engines.polars.connectors, kappa.engines.polars.engine, kappa.engines.polars.writers; "
        "print(sorted(m for m in sys.modules if m.startswith(('kappa.engines.spark', 'pyspark'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
