"""Object-store configuration without a server: an ``s3://`` checkpoint root stays a URI (never a
local folder named ``s3:``; Spark refuses it with its line), other schemes are refused, pipeline-level storage options reach every Delta plan on an object
store (not local ones), and ``kappa explain`` shows no secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kappa.config.loader import load_pipeline_file
from kappa.errors import ConfigError
from kappa.plan import build_plan
from kappa.plan_kinds import resolve_secrets

REPO = Path(__file__).resolve().parents[2]

PIPELINE = """\
name: demo
{checkpoint}storage_options:
  AWS_ENDPOINT_URL: http://127.0.0.1:9
  AWS_SECRET_ACCESS_KEY: ${{env.KAPPA_TEST_S3_SECRET}}
  AWS_ACCESS_KEY_ID: literal-key-id
nodes:
  - name: a
    source: {{path: s3://lake/src, format: DELTA, as_stream: true}}
    sinks:
      - {{path: s3://lake/a, format: DELTA, storage_options: {{AWS_ENDPOINT_URL: http://127.0.0.1:10}}}}
      - {{path: ./local_a, format: DELTA}}
"""

REFUSED = ("`gs://lake/checkpoints` is an object-store URI kappa cannot keep checkpoints on: use a local or mounted "
           "folder, or s3:// (the Polars replay; README: Object storage)")


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("KAPPA_TEST_S3_SECRET", "s3cret")
    monkeypatch.delenv("KAPPA_CHECKPOINT_ROOT", raising=False)


def _write(tmp_path: Path, checkpoint: str = "") -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(checkpoint=checkpoint))
    return path


def test_an_s3_checkpoint_root_stays_a_uri(tmp_path):
    plan = build_plan(load_pipeline_file(_write(tmp_path, "checkpoint_root: s3://lake/checkpoints\n")))
    assert plan.checkpoint_root == "s3://lake/checkpoints"
    assert plan.node("a").layout.replay == "s3://lake/checkpoints/demo/a/replay"
    assert not any(p.name.startswith("s3") for p in tmp_path.rglob("*"))


def test_another_object_store_checkpoint_root_is_refused_with_its_line(tmp_path):
    path = _write(tmp_path, "checkpoint_root: gs://lake/checkpoints\n")
    with pytest.raises(ConfigError) as err:
        load_pipeline_file(path)
    assert str(err.value) == f"{path}:2: checkpoint_root: {REFUSED}"
    assert not any(p.name.startswith("gs") for p in tmp_path.rglob("*"))


def test_spark_refuses_an_s3_checkpoint_root_with_its_line_before_starting(tmp_path):
    from kappa.runner import run_spark

    path = _write(tmp_path, "checkpoint_root: s3://lake/checkpoints\n")
    with pytest.raises(ConfigError) as err:
        run_spark(load_pipeline_file(path))
    assert str(err.value) == (
        f"{path}:2: checkpoint_root: `s3://lake/checkpoints`: Spark keeps its streaming checkpoint there, which on S3 "
        "needs Hadoop's S3A connector (the hadoop-aws jar and its AWS SDK bundle on Spark's classpath, an s3a:// URI "
        "and spark.hadoop.fs.s3a.* settings), not set up by kappa: run this pipeline with `kappa replay` (Polars keeps "
        "checkpoints on S3), or give Spark runs a local or mounted checkpoint root, e.g. "
        "`checkpoint_root: ${env.CHECKPOINT_ROOT}` (README: Object storage)")


def test_the_environment_checkpoint_root_is_refused_too(tmp_path, monkeypatch):
    monkeypatch.setenv("KAPPA_CHECKPOINT_ROOT", "gs://lake/ck")
    with pytest.raises(ConfigError) as err:
        build_plan(load_pipeline_file(_write(tmp_path)))
    assert str(err.value) == (
        "$KAPPA_CHECKPOINT_ROOT: `gs://lake/ck` is an object-store URI kappa cannot keep checkpoints on: use a local "
        "or mounted folder, or s3:// (the Polars replay; README: Object storage)")


def test_a_file_uri_checkpoint_root_is_a_local_folder(tmp_path):
    plan = build_plan(load_pipeline_file(_write(tmp_path, f"checkpoint_root: file://{tmp_path}/ck\n")))
    assert plan.checkpoint_root == f"{tmp_path}/ck"


def test_pipeline_storage_options_reach_object_store_tables_only(tmp_path):
    node = build_plan(load_pipeline_file(_write(tmp_path, f"checkpoint_root: {tmp_path}/ck\n"))).node("a")
    assert resolve_secrets(node.source.storage_options) == {  # read only: no commit option
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_SECRET_ACCESS_KEY": "s3cret",
        "AWS_ACCESS_KEY_ID": "literal-key-id"}
    assert resolve_secrets(node.sinks[0].storage_options) == {  # the sink's own key wins
        "AWS_ENDPOINT_URL": "http://127.0.0.1:10", "AWS_SECRET_ACCESS_KEY": "s3cret",
        "AWS_ACCESS_KEY_ID": "literal-key-id", "conditional_put": "etag"}
    assert dict(node.sinks[1].storage_options) == {}  # a local table
    # the secret stays an ${env.X} reference in the plan
    assert node.sinks[0].storage_options["AWS_SECRET_ACCESS_KEY"] == "${env.KAPPA_TEST_S3_SECRET}"


def test_explain_redacts_pipeline_storage_secrets(tmp_path):
    path = _write(tmp_path, f"checkpoint_root: {tmp_path}/ck\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "KAPPA_TEST_S3_SECRET": "s3cret"}
    out = subprocess.run([sys.executable, "-m", "kappa.cli", "explain", str(path), "--profile", "python"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert "s3cret" not in out.stdout + out.stderr and "literal-key-id" not in out.stdout + out.stderr
    assert "    option storage.AWS_SECRET_ACCESS_KEY = ***\n" in out.stdout
    assert "    option storage.AWS_ACCESS_KEY_ID = ***\n" in out.stdout
    assert '"conditional_put": "etag"' in out.stdout  # the S3 sink commits with conditional PUTs


def test_a_file_sink_on_an_object_store_is_refused_not_written_locally(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text('{"id": 1}\n')
    (tmp_path / "pipeline.yaml").write_text(
        f"name: files\ncheckpoint_root: {tmp_path}/ck\nnodes:\n  - name: a\n    source: {{path: ./in/, format: JSONL}}\n"
        "    sinks: [{path: 's3://lake/out/', format: PARQUET}]\n")
    from kappa.runner import execute_pipeline

    from kappa.errors import KappaError

    with pytest.raises(KappaError) as err:
        execute_pipeline(load_pipeline_file(tmp_path / "pipeline.yaml"), engine="polars")
    assert str(err.value) == ("node 'a' sink 0: cannot write files to s3://lake/out/: the Polars engine writes file "
                              "sinks to local (or mounted) folders only; use a Delta sink on object storage")
    assert not any(p.name.startswith("s3") for p in tmp_path.rglob("*"))


def test_a_replication_checkpoint_root_uri_is_refused_with_its_line(tmp_path):
    from kappa.config.loader import load_model_file
    from kappa.models.replication import CdcReplication

    text = (REPO / "connectors" / "cdc" / "inventory-replication.yaml").read_text()
    text = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("checkpoint_root"))
    path = tmp_path / "replication.yaml"
    path.write_text(text + "checkpoint_root: gs://lake/checkpoints\n")
    with pytest.raises(ConfigError) as err:
        load_model_file(CdcReplication, path)
    assert str(err.value) == f"{path}:{len(text.splitlines()) + 1}: checkpoint_root: {REFUSED}"
