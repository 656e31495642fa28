"""The typed plan: one frozen dataclass per source/sink kind, secrets kept as references,
one checkpoint layout per node, typed batch descriptions with the JSON kappa always wrote."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from kappa.models import Pipeline
from kappa.models.cdc import CdcMerge
from kappa.plan import (
    DeltaSinkPlan,
    DeltaSourcePlan,
    FileSinkPlan,
    FileSourcePlan,
    KafkaSinkPlan,
    KafkaSourcePlan,
    MemorySourcePlan,
    MergeOptions,
    MergeSinkPlan,
    TriggerPlan,
    build_plan,
    resolve_secrets,
)
from kappa.connectors.cdc_merge import merge_options
from tests.plan.pipelines_for_fingerprints import PIPELINES


@pytest.fixture
def plans(monkeypatch):
    monkeypatch.setenv("FP_PW", "hunter2")
    return {k: build_plan(Pipeline.model_validate(v)) for k, v in PIPELINES.items()}


def test_each_kind_has_its_plan_with_resolved_values(plans):
    kafka = plans["kafka_merge"]
    brz = kafka.node("brz")
    assert isinstance(brz.source, KafkaSourcePlan) and brz.source.kind == "kafka"
    assert brz.source.topics == ("a", "b") and brz.source.dead_letter_path == "/data/dl"
    assert (brz.source.fail_on_data_loss, brz.source.include_headers, brz.source.max_offsets_per_trigger) == (False, True, 100)
    merge, quarantine, topic = brz.sinks
    assert isinstance(merge, MergeSinkPlan) and merge.kind == "delta" and merge.mode == "merge" and merge.path == "/data/merged"
    assert merge.merge.keys == ["id"] and merge.merge.stored_as_scd_type == 2 and merge.partition_by == ("v",)
    assert type(quarantine) is DeltaSinkPlan and quarantine.quarantine and quarantine.schema_mode == "strict"
    assert isinstance(topic, KafkaSinkPlan) and (topic.topic, topic.key, topic.value) == ("out", "id", "v")
    slv = kafka.node("slv")
    assert isinstance(slv.source, DeltaSourcePlan) and slv.source.upstream == "brz" and slv.source.path == "/data/merged"
    assert isinstance(kafka.node("ref").source, FileSourcePlan) and kafka.node("ref").source.format == "CSV"
    assert isinstance(slv.sinks[0], FileSinkPlan) and slv.sinks[0].format == "PARQUET"
    assert brz.trigger == TriggerPlan("processing_time", "10 seconds")
    files = plans["delta_files"]
    assert isinstance(files.node("m2").source, MemorySourcePlan) and files.node("m2").source.upstream == "m1"
    assert files.node("d2").source.version == 1 and files.node("d1").source.skip_change_commits


def test_secrets_stay_references_and_never_reach_reprs(plans):
    brz = plans["kafka_merge"].node("brz")
    assert brz.source.options["sasl.password"] == "${env.FP_PW}"
    assert resolve_secrets(brz.source.options)["sasl.password"] == "hunter2"
    text = repr(brz) + repr(plans["kafka_merge"]) + str(brz.sinks[0].storage_options)
    assert "hunter2" not in text and "${env.FP_PW}" not in text and "sasl.password" in text


def test_the_plan_is_frozen_and_picklable(plans):
    brz = plans["kafka_merge"].node("brz")
    with pytest.raises(dataclasses.FrozenInstanceError):
        brz.source.topics = ("x",)
    back = pickle.loads(pickle.dumps(brz))
    assert back.source.options == brz.source.options and back.sinks[0].merge == brz.sinks[0].merge
    assert back.layout == brz.layout and back.source.kind == "kafka"


def test_for_engine_keeps_the_kinds(plans):
    bound = plans["kafka_merge"].for_engine("polars").node("brz")
    assert isinstance(bound.sinks[0], MergeSinkPlan) and bound.sinks[0].app_id == "kappa:polars:fp_kafka:brz:sink0"


def test_checkpoint_layout_is_the_folder_layout_kappa_always_used(plans):
    plan = plans["kafka_merge"]
    brz = plan.node("brz").layout
    assert brz.root == plan.node("brz").checkpoint == "/ck/fp_kafka/brz"
    assert (brz.spark, brz.replay, brz.spark_ticks) == ("/ck/fp_kafka/brz/spark", "/ck/fp_kafka/brz/replay", "/ck/fp_kafka/brz/spark_ticks")
    assert brz.spark_batches == "/ck/fp_kafka/brz/spark/kappa_batches"
    assert brz.replay_initial_offsets == "/ck/fp_kafka/brz/replay/initial_offsets.json"
    assert brz.inferred_kinds == "/ck/fp_kafka/brz/inferred_value_schema.json"
    assert brz.fingerprint("spark") == "/ck/fp_kafka/brz/spark_fingerprint.json"
    assert brz.dead_letters == "/data/dl" and plan.node("slv").layout.dead_letters == "/ck/fp_kafka/slv/dead_letters"
    assert brz.pipeline_lock == "/ck/fp_kafka/.kappa.lock" == f"{plan.folder}/.kappa.lock"
    assert plan.layout_of("gone").root == "/ck/fp_kafka/gone"


def test_layout_constants_are_the_modules_constants():
    from kappa.checkpoint.lock import LOCK_FILE, lock_path
    from kappa.checkpoint.verdicts import fingerprint_path
    from kappa.kafka.json_checks import INFERRED_FILE

    assert (LOCK_FILE, INFERRED_FILE) == (".kappa.lock", "inferred_value_schema.json")
    assert str(lock_path("/ck", "p")) == "/ck/p/.kappa.lock"
    assert str(fingerprint_path("/ck/p/n", "polars")) == "/ck/p/n/replay_fingerprint.json"


def test_merge_options_mirror_the_model():
    model_fields = CdcMerge.model_fields
    assert [f.name for f in dataclasses.fields(MergeOptions)] == list(model_fields)
    for f in dataclasses.fields(MergeOptions):
        assert f.default == model_fields[f.name].default, f.name
    cases = [
        CdcMerge(keys=["id"], sequence_by="ts"),
        CdcMerge(keys=["a", "b"], sequence_by=["x", "y"], apply_as_deletes="op = 'd'", apply_as_truncates="op = 't'",
                 except_column_list=["op"], ignore_null_updates=True, schema_evolution="fail", max_commit_retries=0),
        CdcMerge(keys=["id"], sequence_by=["s"], stored_as_scd_type=2, column_list=["id", "v"], track_history_column_list=["v"]),
        CdcMerge(),
    ]
    for model in cases:
        opts = merge_options(model)
        assert opts.as_dict() == model.model_dump(exclude_defaults=True)
        assert list(opts.as_dict()) == list(model.model_dump(exclude_defaults=True))
        assert (opts.sequence_columns, opts.resolved) == (model.sequence_columns, model.resolved)


def test_batch_descriptions_write_the_json_kappa_always_wrote(tmp_path):
    from kappa.checkpoint.batches import (
        DeltaRange,
        DeltaSnapshot,
        FileBatch,
        KafkaRange,
        MemoryBatch,
        NoSourceBatch,
        batch_from_json,
    )
    from kappa.engines.polars.state import ReplayCheckpoint

    old = [
        {"kind": "none"},
        {"kind": "memory"},
        {"kind": "file", "files": ["/a.json", "/b.json"]},
        {"kind": "file", "files": ["/b.json"], "seen": ["/a.json", "/b.json"]},
        {"kind": "delta", "version": None},
        {"kind": "delta", "version": 3},
        {"kind": "delta", "start": 0, "end": 4},
        {"kind": "kafka", "start": {"t": {"0": 0, "1": 5}}, "end": {"t": {"0": 7, "1": 9}}},
    ]
    kinds = [NoSourceBatch, MemoryBatch, FileBatch, FileBatch, DeltaSnapshot, DeltaSnapshot, DeltaRange, KafkaRange]
    ck = ReplayCheckpoint(str(tmp_path))
    for i, (data, kind) in enumerate(zip(old, kinds)):
        typed = batch_from_json(data)
        assert type(typed) is kind and typed.to_json() == data and list(typed.to_json()) == list(data)
        assert ck.plan(i, typed).offsets == data
        ck.commit(i, {})
        assert batch_from_json(ck.last_committed().offsets) == typed
