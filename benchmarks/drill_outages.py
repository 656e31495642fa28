"""Outage drills: the broker frozen (SIGSTOP), the durable broker or the S3 server killed (kill -9).

    python benchmarks/drill_outages.py [--engine polars|spark|both] [--scenario sigstop|broker_kill|s3_kill]
                                       [--pause 20] [--down 10] [--victim all|tansu] [--no-idempotence]
                                       [--json PATH]

The pipeline, producer and row-by-row checks are :mod:`drill_data_safety`'s (Kafka -> bronze ->
silver + quarantine, records ``{"id": i}``). Per engine, while kappa runs (Polars: ``kappa
replay`` in a loop, one run after another; Spark: ``kappa stream start``):

- ``sigstop``: the embedded broker's process is stopped with SIGSTOP for ``--pause`` seconds and
  then continued (the producer pauses with the broker);
- ``broker_kill``: the durable broker (``kappa broker start --data DIR``: Tansu and its SeaweedFS,
  or Tansu only with ``--victim tansu``) is killed with SIGKILL mid-stream while the producer
  keeps writing, and restarted on the same data and Kafka port after ``--down`` seconds;
- ``s3_kill``: every Delta table is on ``s3://`` of a SeaweedFS server, which is killed with
  SIGKILL mid-write and restarted on the same data and ports after ``--down`` seconds.

The kill drills are :mod:`drill_kills`'s (an acknowledging producer; the sinks checked against
the topic's log, the log against what the broker acknowledged). What is measured: whether the
running kappa process carried on or stopped with an error (and the error line), the seconds to
detect and to resume, then after a drain (Polars: ``kappa replay``; Spark: ``stream start
--until-idle``) every sink compared row by row: rows lost and duplicated must be 0.

Exit 1 unless every scenario lost and duplicated nothing and every drain succeeded. ``--json``
merges the figures into the file per (scenario, engine).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from drill_data_safety import REPO, Drill, Producer, Result  # noqa: E402


def _commits(root: Path) -> int:
    folder = root / "ck/drill/brz/spark/commits"
    return sum(1 for p in folder.iterdir() if p.name.isdigit()) if folder.is_dir() else 0


def _replay_batches(root: Path) -> int:
    folder = root / "ck/drill/brz"
    return sum(1 for _ in folder.rglob("*.json")) if folder.is_dir() else 0


def freeze_broker(drill: Drill, broker_pid: int, engine: str, pause: float) -> Result:
    result, root = Result(f"broker SIGSTOP {pause:.0f} s", engine), drill.setup(f"{engine}-sigstop")
    producer = Producer(drill.bootstrap, drill.topic, drill.step, drill.pause)
    producer.send(200)
    producer.start()
    codes: list[int | None] = []
    notes: list[str] = []
    try:
        if engine == "spark":
            proc = drill.launch(drill.command(engine, root, bounded=False), root)
            drill.started(engine, root, proc)
            deadline = time.monotonic() + 240
            while _commits(root) < 2 and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            procs = [proc]
        else:
            procs = []
        producer.stop()
        os.kill(broker_pid, signal.SIGSTOP)
        frozen_at = time.monotonic()
        if engine == "polars":  # runs started while the broker is frozen: each must end, loudly or not
            while time.monotonic() - frozen_at < pause:
                started = time.monotonic()
                code = drill.run(engine, root, timeout=pause * 6)
                codes.append(code)
                notes.append(f"run during the freeze exited {code} after {time.monotonic() - started:.1f} s")
        else:
            time.sleep(pause)
        os.kill(broker_pid, signal.SIGCONT)
        resumed = time.monotonic()
        producer.start()
        if engine == "spark":
            before = _commits(root)
            while _commits(root) <= before and procs[0].poll() is None and time.monotonic() - resumed < 180:
                time.sleep(0.1)
            notes.append(f"first commit {time.monotonic() - resumed:.1f} s after SIGCONT" if _commits(root) > before
                         else f"no commit within 180 s of SIGCONT (exit {procs[0].poll()})")
            notes.append("stream still running after the freeze" if procs[0].poll() is None else f"stream exited {procs[0].poll()}")
        else:
            code = drill.run(engine, root, timeout=300)
            codes.append(code)
            notes.append(f"first run after SIGCONT exited {code} after {time.monotonic() - resumed:.1f} s")
        time.sleep(drill.args.produce_seconds)
    finally:
        try:
            os.kill(broker_pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        produced = producer.stop()
        for proc in locals().get("procs", []):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                codes.append(drill.finish(proc, 120))
    result.trials = 1
    drill.drain(engine, root, result)
    drill.check(root, produced, result)
    result.note = "; ".join(notes + [f"exit codes {codes}"])
    return result


SCENARIOS = ("sigstop", "broker_kill", "s3_kill")


def _s3_pipeline(endpoint):
    """``prepare`` for the S3 drill: every sink of the drill's pipeline on ``endpoint``'s bucket."""
    def prepare(root: Path) -> None:
        text = (root / "pipeline.yaml").read_text().replace(f"path: {root}/", f"path: {endpoint.uri(root.name)}/")
        options = "".join(f"  {k}: {json.dumps(v)}\n" for k, v in endpoint.storage_options.items())
        (root / "pipeline.yaml").write_text(text.replace("\nnodes:\n", f"\nstorage_options:\n{options}nodes:\n", 1))
    return prepare


def _s3_ids(endpoint):
    def read_ids(root: Path, table: str) -> list[int]:
        from kappa.delta.read import delta_version, read_delta

        uri, opts = endpoint.uri(f"{root.name}/{table}"), endpoint.storage_options
        if delta_version(uri, opts) is None:
            return []
        return read_delta(uri, columns=["id"], storage_options=opts).column("id").to_pylist()
    return read_ids


def run_scenario(name: str, engine: str, args, work: Path) -> Result:
    """One drill on one engine, with its own broker (and S3 server)."""
    from drill_kills import kill_and_restart, kill_group

    from kappa.broker import EmbeddedBroker

    if name == "broker_kill":
        from kappa.broker_durable import DurableBroker

        broker = DurableBroker(work / f"broker-{engine}").start()

        def kill() -> None:
            procs = [broker._tansu._proc] + ([broker._s3.process] if args.victim == "all" else [])
            for proc in procs:
                kill_group(proc.pid)
            for proc in procs:
                proc.wait()

        def restart() -> None:
            broker.stop()
            broker.start()

        try:
            drill = Drill(args, broker.bootstrap_servers, work)
            victim = "Tansu + its SeaweedFS" if args.victim == "all" else "Tansu only"
            return kill_and_restart(drill, engine, f"durable broker ({victim}) kill -9", kill, restart, args.down)
        finally:
            broker.stop()
    broker = EmbeddedBroker().start()
    try:
        drill = Drill(args, broker.bootstrap_servers, work)
        if name == "sigstop":
            return freeze_broker(drill, broker._proc.pid, engine, args.pause)
        from kappa.testing.s3 import start_seaweedfs

        server = {"s3": start_seaweedfs(work / f"s3-{engine}")}
        endpoint = server["s3"].bucket("drill")

        def kill() -> None:
            kill_group(server["s3"].process.pid)
            server["s3"].process.wait()

        def restart() -> None:
            server["s3"] = start_seaweedfs(server["s3"].data_dir, ports=server["s3"].ports)

        try:
            return kill_and_restart(drill, engine, "S3 server (SeaweedFS) kill -9 mid-write", kill, restart, args.down,
                                    prepare=_s3_pipeline(endpoint), read_ids=_s3_ids(endpoint))
        finally:
            server["s3"].stop()
    finally:
        broker.stop()


def _merge(path: Path, results: list[Result]) -> None:
    merge_entries(path, [{**asdict(r), "ok": r.ok} for r in results])


def merge_entries(path: Path, new: list[dict]) -> None:
    """Replace the (scenario, engine) entries this run measured; keep the others."""
    try:
        old = json.loads(path.read_text()).get("results", [])
    except (OSError, ValueError, AttributeError):
        old = []
    done = {(r["scenario"], r["engine"]) for r in new}
    kept = [r for r in old if (r["scenario"], r["engine"]) not in done]
    run = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()) + ", this 2-core machine (loaded: helpers running)"
    path.write_text(json.dumps({"run": run, "results": kept + new}, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("polars", "spark", "both"), default="both")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS, help="run only these (repeatable; default all)")
    parser.add_argument("--pause", type=float, default=20.0, help="seconds the broker stays frozen (sigstop)")
    parser.add_argument("--down", type=float, default=10.0, help="seconds a killed broker / S3 server stays down")
    parser.add_argument("--victim", choices=("all", "tansu"), default="all",
                        help="broker_kill: kill Tansu and its SeaweedFS (all) or Tansu only")
    parser.add_argument("--no-idempotence", dest="idempotent", action="store_false",
                        help="kill drills: produce without enable.idempotence (acks=all still)")
    parser.add_argument("--json", type=Path, help="also write the figures here (merged per scenario and engine)")
    parser.add_argument("--work-dir", type=Path, default=HERE / ".work")
    args = parser.parse_args(argv)
    args.quick, args.seed, args.produce_seconds, args.trials = True, 7, 3.0, 1
    args.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="outage-", dir=args.work_dir))
    results = []
    for name in args.scenario or SCENARIOS:
        for engine in (("polars", "spark") if args.engine == "both" else (args.engine,)):
            began = time.monotonic()
            try:
                res = run_scenario(name, engine, args, work)
            except Exception as exc:  # noqa: BLE001 - report and go on with the next drill
                res = Result(name, engine, errors=[f"{type(exc).__name__}: {exc}"])
            res.seconds = round(time.monotonic() - began, 1)
            results.append(res)
            if args.json:  # after each drill: a later one timing out keeps the figures measured so far
                _merge(args.json, [res])
            extra = {k: v for k, v in asdict(res).items() if k not in asdict(Result("", "")) }
            print(f"{engine:<7} {res.scenario}: rows {res.rows}, lost {res.lost}, duplicated {res.duplicated}, "
                  f"{'ok' if res.ok else 'FAILED ' + '; '.join(res.errors)} ({res.seconds} s) -- {res.note} {extra}", flush=True)
    print(f"work folder: {work} (REPO {REPO})")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
