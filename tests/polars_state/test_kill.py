"""kill -9 (a real SIGKILL through ``KAPPA_FAILPOINTS``) while a stateful node's batch runs, then
``kappa replay`` again: the same output table as a run that never crashed."""

from __future__ import annotations

import os
import subprocess
import sys

import polars as pl
import pytest
from deltalake import write_deltalake

from kappa.delta.read import read_delta

from tests.polars_state.harness import BATCHES, frame
from tests.polars_state.test_pipeline import PIPELINE

pytestmark = pytest.mark.slow  # real processes (~35 s); the in-process crash matrix is test_engine.py

KAPPA = [sys.executable, "-m", "kappa.cli.__main__"]


def replay(path, failpoints: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "KAPPA_FAILPOINTS"}
    if failpoints:
        env["KAPPA_FAILPOINTS"] = failpoints
    return subprocess.run([*KAPPA, "replay", str(path)], env=env, capture_output=True, text=True, timeout=120)


def out(root) -> list[dict]:
    return sorted(pl.from_arrow(read_delta(str(root / "out"))).to_dicts(), key=str)


def feed(root, crash_at: str | None):
    path = root / "pipeline.yaml"
    path.write_text(PIPELINE.format(root=root))
    for i, rows in enumerate(BATCHES):
        write_deltalake(str(root / "in"), frame(rows).to_arrow(), mode="append")
        if i == 1 and crash_at:
            crashed = replay(path, crash_at)
            assert crashed.returncode == -9, crashed.stderr
        done = replay(path)
        assert done.returncode == 0, done.stderr
    return out(root)


@pytest.mark.parametrize("point", ["state_before_rename", "before_commit", "after_sink@2"])
def test_kill_then_rerun_gives_the_same_table(tmp_path, point):
    (tmp_path / "ref").mkdir()
    (tmp_path / "crash").mkdir()
    assert feed(tmp_path / "crash", point) == feed(tmp_path / "ref", None)
