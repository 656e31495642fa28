"""The Spark engine's python connector profile writes and reads Delta tables on S3 (deltalake on
the driver and executors, the pipeline-level storage options); Spark's checkpoint stays local."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from kappa.delta.read import read_delta
from tests.s3.test_s3_pipeline import PIPELINE, _commit, _rows

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.spark, pytest.mark.slow]  # ~45 s: a Spark session


def test_spark_python_profile_on_s3(s3_endpoint, tmp_path, monkeypatch):
    s3_endpoint.set_env(monkeypatch=monkeypatch)
    text = PIPELINE.format(checkpoint=tmp_path / "ck", src=s3_endpoint.uri("src"), lake=s3_endpoint.uri("lake"))
    path = tmp_path / "pipeline.yaml"
    path.write_text(text.replace("nodes:\n", "spark: {master: 'local[1]', connector_profile: python}\nnodes:\n", 1))
    opts, lake = s3_endpoint.storage_options, s3_endpoint.uri("lake")
    _commit(s3_endpoint.uri("src"), opts, [(1, 10.0, "I", 1), (2, -5.0, "I", 1), (3, 7.0, "I", 1)])
    # `kappa run` in its own process: the executors' Python workers resolve the storage options'
    # `${env.X}` references in their environment, which a JVM started earlier in this test session
    # (before this test set the variables) would not have
    env = {**os.environ, "PYTHONPATH": str(REPO), "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop("SPARK_REMOTE", None)
    done = subprocess.run([sys.executable, "-m", "kappa.cli", "run", str(path), "--profile", "python"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr + done.stdout
    assert [(r["id"], r["amount"]) for r in _rows(f"{lake}/orders", opts, ["id"])] == [(1, 10.0), (3, 7.0)]
    assert pl.from_arrow(read_delta(f"{lake}/orders_quarantine", storage_options=opts))["id"].to_list() == [2]
    assert [(r["id"], r["amount"]) for r in _rows(f"{lake}/latest", opts, ["id"])] == [(1, 10.0), (3, 7.0)]
    assert [(r["id"], r["seq"]) for r in _rows(f"{lake}/cdc", opts, ["id"])] == [(1, 1), (3, 1)]
    assert _rows(f"{lake}/totals", opts, ["n"]) == [{"n": 2, "total": 17.0}]
    assert (tmp_path / "ck" / "s3demo" / "orders" / "spark").is_dir()
