"""The Polars replay's checkpoints on ``s3://`` (a real SeaweedFS server, no mocks).

A Delta -> Delta pipeline with two stateful nodes (a streaming dedup, an update-mode aggregate
upserted) replayed twice on an ``s3://`` checkpoint root gives exactly the tables a local root
gives, and its second run reads only the new commit; the run lease keeps a second process out
(naming the holder) until the holder's lease expires after ``kill -9``; ``kill -9`` at each
failpoint of a batch and a rerun give exact tables (those two are ``slow``: several processes).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deltalake import write_deltalake

from kappa.checkpoint import objects
from kappa.config.loader import load_pipeline_file
from kappa.runner import execute_pipeline

from tests.helpers.cli import run_group
from tests.helpers.tables import delta_rows

REPO = Path(__file__).resolve().parents[2]

PIPELINE = """\
name: s3ck
checkpoint_root: {ck}
storage_options:
  AWS_ENDPOINT_URL: ${{env.AWS_ENDPOINT_URL}}
  AWS_ACCESS_KEY_ID: ${{env.AWS_ACCESS_KEY_ID}}
  AWS_SECRET_ACCESS_KEY: ${{env.AWS_SECRET_ACCESS_KEY}}
  AWS_REGION: us-east-1
  AWS_ALLOW_HTTP: "true"
nodes:
- name: dd
  source: {{path: {src}, format: DELTA, as_stream: true}}
  transformer:
  - {{func_name: unique, func_kwargs: {{subset: [id]}}}}
  sinks:
  - {{format: DELTA, path: {out}/dd}}
- name: totals
  source: {{path: {src}, format: DELTA, as_stream: true}}
  output_mode: update
  transformer:
  - expr: SELECT key, count(*) AS n, sum(v) AS total FROM {{df}} GROUP BY key
  sinks:
  - {{format: DELTA, path: {out}/totals, mode: upsert}}
"""

BATCHES = [
    [(1, "a", 5), (2, "b", 1), (2, "b", 1), (3, "a", -2)],
    [(3, "a", -2), (4, "c", 7), (5, "b", 3)],
    [(6, "a", 1), (1, "a", 5), (7, "c", 2)],
    [(8, "b", 4), (5, "b", 3)],
]
#: the tables after each number of batches (dedup on id: the first copy; totals over those copies)
WANT_DD = [[(1, "a", 5), (2, "b", 1), (3, "a", -2)], [(4, "c", 7), (5, "b", 3)], [(6, "a", 1), (7, "c", 2)], [(8, "b", 4)]]


def want(n: int) -> tuple[list[dict], list[dict]]:
    dd = sorted((r for batch in WANT_DD[:n] for r in batch))
    totals: dict[str, list[int]] = {}
    for batch in BATCHES[:n]:
        for _, key, v in batch:
            totals.setdefault(key, []).append(v)
    return ([{"id": i, "key": k, "v": v} for i, k, v in dd],
            [{"key": k, "n": len(vs), "total": sum(vs)} for k, vs in sorted(totals.items())])


def add_batch(src: Path, rows: list[tuple]) -> None:
    import pyarrow as pa

    ids, keys, vs = zip(*rows)
    write_deltalake(str(src), pa.table({"id": pa.array(ids, pa.int64()), "key": list(keys), "v": pa.array(vs, pa.int64())}),
                    mode="append")


def tables(out: Path) -> tuple[list[dict], list[dict]]:
    dd = sorted(delta_rows(out / "dd")[1], key=lambda r: r["id"])
    totals = sorted(delta_rows(out / "totals")[1], key=lambda r: r["key"])
    return dd, totals


def write_pipeline(tmp_path: Path, ck: str, tag: str) -> Path:
    path = tmp_path / f"{tag}.yaml"
    path.write_text(PIPELINE.format(ck=ck, src=tmp_path / "src", out=tmp_path / tag))
    return path


@pytest.fixture
def s3(s3_endpoint, monkeypatch):
    s3_endpoint.set_env(monkeypatch=monkeypatch)
    return s3_endpoint


def test_a_replay_on_an_s3_checkpoint_root_equals_a_local_one_and_reads_only_new_data(s3, tmp_path):
    roots = {"disk": str(tmp_path / "ck"), "bucket": s3.uri("ck")}
    files = {tag: write_pipeline(tmp_path, root, tag) for tag, root in roots.items()}
    for n, batch in enumerate(BATCHES[:2], start=1):
        add_batch(tmp_path / "src", batch)
        for tag, path in files.items():
            result = execute_pipeline(load_pipeline_file(path), engine="polars")
            assert result.ok, result.render()
            # each run reads only the source commit added since the last one
            assert [result.summary.node(n).read_rows for n in ("dd", "totals")] == [len(batch), len(batch)], tag
            assert tables(tmp_path / tag) == want(n), f"{tag} after {n} batches"
    assert tables(tmp_path / "bucket") == tables(tmp_path / "disk")
    replay = s3.uri("ck/s3ck/dd/replay")
    assert objects.names(f"{replay}/offsets") == ["0.json", "1.json"]
    assert objects.names(f"{replay}/commits") == ["0.json", "1.json"]
    assert objects.folders(f"{replay}/state") == ["0", "1"]  # the previous version is kept, older ones pruned
    assert sorted(objects.names(s3.uri("ck/s3ck"))) == [".kappa.lock"]
    assert objects.names(s3.uri("ck/s3ck/dd")) == ["replay_fingerprint.json"]
    from kappa.eventlog.reader import event_log_of, event_log_storage, read_events

    pipeline = load_pipeline_file(files["bucket"])
    log = event_log_of(pipeline)
    assert log == s3.uri("ck/s3ck/.kappa_event_log")
    events = read_events(log, storage_options=event_log_storage(pipeline, log))  # what `kappa log` shows
    assert [(e["event"], e["node"], e["batch_id"]) for e in events if e["event"] == "batch"] == [
        ("batch", "dd", 0), ("batch", "totals", 0), ("batch", "dd", 1), ("batch", "totals", 1)]
    assert not any(p.name == "s3:" for p in tmp_path.rglob("*"))  # no local folder named s3:
    # --full-refresh deletes the node's checkpoint objects too, and rebuilds it exactly
    result = execute_pipeline(load_pipeline_file(files["bucket"]), engine="polars", full_refresh=True)
    assert result.ok, result.render()
    assert tables(tmp_path / "bucket") == want(2)
    assert objects.names(f"{replay}/commits") == ["0.json"]


def _env(s3, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KAPPA_FAILPOINTS", "KAPPA_S3_LEASE_SECONDS")}
    s3.set_env(env)
    env.update(PYTHONPATH=str(REPO), **extra)
    return env


def replay(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``kappa replay`` in its own process group (killed with it if it hangs)."""
    return run_group([sys.executable, "-m", "kappa.cli", "replay", str(path)], env, 120)


def wait_for_expiry(lease: str) -> None:
    import json

    expires = json.loads(objects.get(lease))["expires_at"]
    time.sleep(max(0.0, expires - time.time()) + 0.1)


@pytest.mark.slow  # three kappa processes and a lease expiry (~12 s)
def test_the_lease_keeps_a_second_replay_out_until_a_killed_holders_lease_expires(s3, tmp_path):
    path = write_pipeline(tmp_path, s3.uri("ck"), "out")
    add_batch(tmp_path / "src", BATCHES[0])
    lease = s3.uri("ck/s3ck/.kappa.lock")
    # the holder: its first batch is planned, then it is killed (-9) with its lease held
    killed = replay(path, _env(s3, KAPPA_FAILPOINTS="after_plan", KAPPA_S3_LEASE_SECONDS="6"))
    assert killed.returncode == -signal.SIGKILL
    busy = replay(path, _env(s3, KAPPA_S3_LEASE_SECONDS="3"))
    assert busy.returncode == 1, busy.stderr
    holder = busy.stderr.strip().splitlines()[-1]
    assert holder.startswith("error: pipeline 's3ck' is already running (pid "), holder
    assert f", kappa replay); wait for it to finish or stop it (lease {lease}, valid until " in holder, holder
    assert holder.endswith(" UTC unless renewed)"), holder
    wait_for_expiry(lease)  # the killed holder's lease expires: taken over, the pending batch re-run
    done = replay(path, _env(s3, KAPPA_S3_LEASE_SECONDS="3"))
    assert done.returncode == 0, done.stderr
    assert tables(tmp_path / "out") == want(1)
    assert b'"expires_at": 0' in objects.get(lease)  # released at the end of the run


def test_two_processes_at_once_one_runs_the_other_is_refused(s3, tmp_path):
    path = write_pipeline(tmp_path, s3.uri("ck"), "out")
    add_batch(tmp_path / "src", BATCHES[0])
    slow = subprocess.Popen([sys.executable, "-m", "kappa.cli", "replay", str(path)],
                            env=_env(s3, KAPPA_FAILPOINTS="after_plan~4"), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lease = s3.uri("ck/s3ck/.kappa.lock")
        deadline = time.monotonic() + 60
        while not objects.exists(s3.uri("ck/s3ck/dd/replay/offsets/0.json")):  # the first run holds the lease
            assert time.monotonic() < deadline and slow.poll() is None, slow.communicate()
            time.sleep(0.1)
        second = replay(path, _env(s3))
        assert second.returncode == 1
        assert f"kappa replay); wait for it to finish or stop it (lease {lease}, valid until " in second.stderr
        out, err = slow.communicate(timeout=120)
        assert slow.returncode == 0, err
    finally:
        if slow.poll() is None:
            os.killpg(slow.pid, signal.SIGKILL)
            slow.wait()
    assert tables(tmp_path / "out") == want(1)


#: (source commit added, where the run is killed): a run replays dd's batch, then totals'
CRASHES = [(0, "after_sink@1"), (1, "state_before_rename@2"), (2, "before_commit@1"), (3, "after_commit@2")]


@pytest.mark.slow  # eight kappa processes (~25 s)
def test_kill_9_at_each_failpoint_then_rerun_gives_exact_tables(s3, tmp_path):
    path = write_pipeline(tmp_path, s3.uri("ck"), "out")
    env = _env(s3)
    for index, point in CRASHES:
        add_batch(tmp_path / "src", BATCHES[index])
        crashed = replay(path, {**env, "KAPPA_FAILPOINTS": point, "KAPPA_S3_LEASE_SECONDS": "1"})
        assert crashed.returncode == -signal.SIGKILL, (point, crashed.stderr)
        wait_for_expiry(s3.uri("ck/s3ck/.kappa.lock"))  # the killed run's lease
        rerun = replay(path, env)
        assert rerun.returncode == 0, (point, rerun.stderr)
        assert tables(tmp_path / "out") == want(index + 1), f"after a kill at {point}"
