"""Pipelines covering every source and sink kind, for the fingerprint stability test.

``GOLDEN`` in ``fingerprints_golden.json`` holds the descriptions (both engines) and digests kappa
computed for them before the plan was typed; regenerate only on purpose with
``python -m tests.plan.pipelines_for_fingerprints > tests/plan/fingerprints_golden.json``.
"""

from __future__ import annotations

import json

PIPELINES = {
    "kafka_merge": {
        "name": "fp_kafka",
        "checkpoint_root": "/ck",
        "root_path": "/data",
        "nodes": [
            {
                "name": "brz",
                "source": {
                    "bootstrap_servers": "broker:9092", "topics": ["a", "b"], "schema": {"id": "BIGINT", "v": "STRING"},
                    "max_offsets_per_trigger": 100, "include_headers": True, "fail_on_data_loss": False,
                    "starting_offsets": {"a": {"0": 5}}, "dead_letter_path": "dl",
                    "options": {"security.protocol": "SASL_SSL", "sasl.password": "${env.FP_PW}", "kafka.sasl.username": "u"},
                },
                "transformer": [{"expr": "SELECT value.id AS id, value.v AS v, offset AS seq FROM {df}"},
                                {"func_name": "drop_nulls", "func_kwargs": {"subset": ["id"]}}],
                "expectations": [{"name": "pos", "expr": "id > 0", "action": "quarantine"}],
                "sinks": [
                    {"format": "DELTA", "path": "merged", "partition_by": ["v"],
                     "merge": {"keys": ["id"], "sequence_by": ["seq"], "stored_as_scd_type": 2, "apply_as_deletes": "v = 'd'",
                               "track_history_except_column_list": ["v"], "max_commit_retries": 3},
                     "storage_options": {"AWS_SECRET_ACCESS_KEY": "${env.FP_PW}", "AWS_REGION": "eu"}},
                    {"format": "DELTA", "path": "q", "is_quarantine": True, "schema_mode": "strict"},
                    {"topic": "out", "bootstrap_servers": "broker:9092", "key": "id", "value": "v", "options": {"sasl.password": "x"}},
                ],
                "trigger": {"processing_time": "10 seconds"},
            },
            {"name": "slv", "source": {"node_name": "brz", "as_stream": True},
             "transformer": [{"expr": "SELECT * FROM {df} JOIN {nodes.ref} USING (id)"}],
             "sinks": [{"format": "PARQUET", "path": "slv/"}]},
            {"name": "ref", "source": {"path": "ref.csv", "format": "CSV", "read_options": {"delimiter": ";", "header": True}, "schema": "id BIGINT"},
             "sinks": [{"topic": "refs", "bootstrap_servers": "b:1"}]},
        ],
    },
    "delta_files": {
        "name": "fp_delta",
        "checkpoint_root": "/ck",
        "root_path": "/data",
        "nodes": [
            {"name": "d1", "source": {"format": "DELTA", "path": "t1", "as_stream": True, "starting_version": 3,
                                      "skip_change_commits": True, "storage_options": {"AWS_ACCESS_KEY_ID": "k", "AWS_REGION": "r"}},
             "sinks": [{"format": "DELTA", "path": "t2", "mode": "append"}]},
            {"name": "d2", "source": {"format": "DELTA", "path": "t2", "version": 1},
             "sinks": [{"format": "JSONL", "path": "out/", "mode": "overwrite"}]},
            {"name": "f1", "source": {"path": "in/", "format": "JSONL", "as_stream": True},
             "sinks": [{"format": "DELTA", "path": "f1", "merge": {"keys": ["k"], "sequence_by": "ts", "except_column_list": ["op"]}}]},
            {"name": "m1", "source": {"path": "in.json", "format": "JSON"}},
            {"name": "m2", "source": {"node_name": "m1"}, "sinks": [{"format": "CSV", "path": "m2.csv"}]},
            {"name": "n0", "transformer": [{"expr": "SELECT * FROM {nodes.m1}"}], "sinks": [{"format": "PARQUET", "path": "n0.parquet"}]},
        ],
    },
}


def descriptions() -> dict:
    from kappa.checkpoint.describe import describe_node as polars_describe
    from kappa.checkpoint.verdicts import digest
    from kappa.engines.spark.fingerprint import describe_plan
    from kappa.models import Pipeline
    from kappa.plan import build_plan

    out = {}
    for key, spec in PIPELINES.items():
        plan = build_plan(Pipeline.model_validate(spec))
        polars = {n.name: polars_describe(n) for n in plan.for_engine("polars").nodes}
        spark = {p: describe_plan(plan, p) for p in ("python", "jvm")}
        out[key] = {
            "polars": polars,
            "spark": spark,
            "digests": {"polars": {k: digest(v) for k, v in polars.items()},
                        **{f"spark_{p}": {k: digest(v) for k, v in d.items()} for p, d in spark.items()}},
        }
    return out


if __name__ == "__main__":
    print(json.dumps(descriptions(), indent=1, sort_keys=False))
