"""The connector registry: one row per kind, covering every spec model and every plan class."""

from __future__ import annotations

import dataclasses
import inspect
import typing

import pytest

import kappa.plan_kinds as plan_kinds
from kappa.connectors.registry import (
    SINKS,
    SOURCES,
    UnknownKind,
    secret_fields,
    sink_kind,
    sink_kind_for,
    sink_kind_of,
    sink_kind_tag,
    source_kind,
    source_kind_of,
    source_kind_tag,
)
from kappa.errors import KappaError
from kappa.models import DataSink, DataSource, DeltaDataSink, PipelineNodeDataSource
from kappa.models.cdc import CdcMerge


def _union_models(union) -> list[type]:
    members = typing.get_args(typing.get_args(union)[0])
    return [typing.get_args(m)[0] for m in members]


def _plan_classes(base: type) -> list[type]:
    return [c for _, c in inspect.getmembers(plan_kinds, inspect.isclass) if issubclass(c, base) and c is not base]


def test_every_kind_is_registered_once():
    for rows in (SOURCES, SINKS):
        assert all(name == row.name for name, row in rows.items())
        plan_classes = [c for row in rows.values() for c in row.plan_classes]
        assert len(plan_classes) == len(set(plan_classes))
    tags = [row.tag for row in SINKS.values() if row.tag is not None]
    assert len(tags) == len(set(tags))


def test_every_model_of_the_unions_has_a_row_and_its_tag_is_its_type():
    source_models = _union_models(DataSource)
    assert source_models == [row.model for row in SOURCES.values()]
    for row in SOURCES.values():
        assert row.model.model_fields["type"].default == row.name
    sink_models = _union_models(DataSink)
    assert sink_models == [row.model for row in SINKS.values() if row.tag is not None]
    for row in SINKS.values():
        assert row.model in sink_models
        if row.tag is not None:
            assert row.model.model_fields["type"].default == row.tag


def test_every_plan_class_has_a_kind_row():
    sources = _plan_classes(plan_kinds._Source)
    sinks = _plan_classes(plan_kinds._Sink)
    assert set(sources) == set(typing.get_args(plan_kinds.SourcePlan))
    assert set(sinks) == set(typing.get_args(plan_kinds.SinkPlan))
    for cls in sources:
        assert cls in source_kind_of(_dummy(cls)).plan_classes
    for cls in sinks:
        assert cls in sink_kind_of(_dummy(cls)).plan_classes
    assert sink_kind_of(_dummy(plan_kinds.MergeSinkPlan)).name == "cdc_merge"
    assert sink_kind_of(_dummy(plan_kinds.DeltaSinkPlan)).name == "delta"


def _dummy(cls: type):
    """An instance of a plan class without running its __init__ (only its class matters)."""
    return object.__new__(cls)


def test_a_shared_model_is_claimed_by_exactly_one_kind():
    append = DeltaDataSink(path="/t", mode="append")
    merge = DeltaDataSink(path="/t", merge=CdcMerge(keys=["id"], sequence_by="ts"))
    assert sink_kind_for(append).name == "delta"
    assert sink_kind_for(merge).name == "cdc_merge"
    for model in (append, merge):
        assert sum(isinstance(model, r.model) and r.claims(model) for r in SINKS.values()) == 1


def test_secret_fields_cover_every_secret_option_of_the_plans():
    for rows in (SOURCES, SINKS):
        for row in rows.values():
            for cls in row.plan_classes:
                secret = {f.name for f in dataclasses.fields(cls) if f.type in ("SecretOptions", plan_kinds.SecretOptions)}
                assert secret <= set(row.secret_fields), (row.name, cls.__name__)
                assert set(row.secret_fields) <= set(row.model.model_fields)
    from kappa.config.variables import secret_mappings

    assert secret_mappings() == {"conf"} | secret_fields() == {"conf", "options", "storage_options"}


@pytest.mark.parametrize(
    "raw, tag",
    [
        ({"node_name": "a", "topic": "t"}, "node"),
        ({"topic": "t", "format": "DELTA"}, "kafka"),
        ({"bootstrap_servers": "b"}, "kafka"),
        ({"path": "x", "format": "delta"}, "delta"),
        ({"path": "x", "format": "JSONL"}, "file"),
        ({"type": "KAFKA"}, "kafka"),
        ("x", None),
    ],
)
def test_source_discriminator(raw, tag):
    assert source_kind_tag(raw) == tag


@pytest.mark.parametrize(
    "raw, tag",
    [
        ({"topic": "t", "merge": {}}, "kafka"),
        ({"path": "x", "merge": {}}, "delta"),
        ({"path": "x", "format": "Delta"}, "delta"),
        ({"path": "x", "format": "parquet"}, "file"),
    ],
)
def test_sink_discriminator(raw, tag):
    assert sink_kind_tag(raw) == tag


def test_a_model_instance_is_tagged_by_its_type():
    assert source_kind_tag(PipelineNodeDataSource(node_name="a")) == "node"


def test_unknown_kind():
    with pytest.raises(UnknownKind, match=r"^unknown sink kind 'parquet'; known: file, delta, kafka, cdc_merge$"):
        sink_kind("parquet")
    with pytest.raises(KappaError, match=r"^unknown source kind 'jdbc'; known: file, delta, kafka, node$"):
        source_kind("jdbc")
    with pytest.raises(UnknownKind, match="no sink kind plans a str"):
        sink_kind_of("not a plan")
