"""kill -9 at every step of a batch, then rerun: no row lost, none duplicated.

Each crash is a real process (``kappa replay``) that SIGKILLs itself at a failpoint
(``KAPPA_FAILPOINTS``), or is killed from outside at a random moment while a producer writes.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time

import polars as pl
import pytest

from kappa.config.loader import load_pipeline_file
from kappa.delta.read import read_delta
from kappa.testing.kafka import produce

from tests.helpers.records import price_expected as expected
from tests.helpers.records import price_records as records

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

KAPPA = [sys.executable, "-m", "kappa.cli.__main__"]


def replay(path, failpoints: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("KAPPA_FAILPOINTS", None)
    if failpoints:
        env["KAPPA_FAILPOINTS"] = failpoints
    return subprocess.run([*KAPPA, "replay", str(path)], env=env, capture_output=True, text=True, timeout=120)


def ids(path) -> list[int]:
    return sorted(pl.from_arrow(read_delta(str(path), columns=["id"]))["id"].to_list())


def assert_exact(root, n: int) -> None:
    assert ids(root / "brz") == list(range(n))
    assert ids(root / "brz_copy") == list(range(n))
    assert ids(root / "slv") == [i for i in range(n) if i % 10 not in (3, 7)]
    assert ids(root / "slv_quarantine") == [i for i in range(n) if i % 10 == 7]


# after_sink@1: between brz's two sinks; before_commit@2: slv wrote both sinks, not committed
POINTS = ["after_plan", "after_sink@1", "before_commit", "after_commit", "after_sink@3", "before_commit@2"]


@pytest.mark.parametrize("point", POINTS)
def test_kill_at_failpoint_then_rerun(replay_pipeline, point):
    path, topic, root = replay_pipeline
    bootstrap = load_pipeline_file(path).variables["bootstrap"]
    produce(bootstrap, topic, records(0, 50))
    crashed = replay(path, point)
    assert crashed.returncode == -9, crashed.stderr
    produce(bootstrap, topic, records(50, 60))
    ok = replay(path)
    assert ok.returncode == 0, ok.stderr
    assert_exact(root, 60)
    again = replay(path)  # idempotent: nothing new
    assert again.returncode == 0
    assert_exact(root, 60)


def test_random_kills_with_live_producer(replay_pipeline):
    path, topic, root = replay_pipeline
    bootstrap = load_pipeline_file(path).variables["bootstrap"]
    rng = random.Random(1234)
    total = 600
    done = threading.Event()

    def producer() -> None:
        for start in range(0, total, 20):
            produce(bootstrap, topic, records(start, start + 20))
            time.sleep(0.05)
        done.set()

    t = threading.Thread(target=producer)
    t.start()
    kills = 0
    try:
        while not done.is_set() or kills < 3:
            proc = subprocess.Popen([*KAPPA, "replay", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(rng.uniform(0.3, 1.5))
            if proc.poll() is None:
                proc.kill()
                kills += 1
            proc.wait(timeout=60)
            if kills >= 8:
                break
    finally:
        t.join()
    assert kills >= 1
    final = replay(path)
    assert final.returncode == 0, final.stderr
    assert_exact(root, total)
    exp = expected(total)
    assert len(ids(root / "slv")) == exp["slv"]
