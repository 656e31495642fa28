"""Outage drill: the broker frozen (SIGSTOP) for 20 s mid-stream, then resumed.

    python benchmarks/drill_outages.py [--engine polars|spark|both] [--pause 20] [--json PATH]

The pipeline, producer and row-by-row checks are :mod:`drill_data_safety`'s (Kafka -> bronze ->
silver + quarantine, records ``{"id": i}``). Per engine, while kappa runs (Polars: ``kappa
replay`` in a loop, one run after another; Spark: ``kappa stream start``), the embedded broker's
process is stopped with SIGSTOP for ``--pause`` seconds and then continued. The producer pauses
with the broker (the drill is about kappa, not the producer). What is measured:

- whether the running kappa process carried on (Spark: still running after the pause; Polars:
  the runs' exit codes) or stopped with an error, and the error line it printed;
- the seconds from SIGCONT to the first new committed batch (Spark: bronze's ``commits/``);
- after the producer stops, a drain (Polars: ``kappa replay``; Spark: ``stream start
  --until-idle``) and every sink compared row by row with what was produced: rows lost and
  duplicated must be 0.

Exit 1 unless every scenario lost and duplicated nothing and every drain succeeded.
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("polars", "spark", "both"), default="both")
    parser.add_argument("--pause", type=float, default=20.0, help="seconds the broker stays frozen")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--work-dir", type=Path, default=HERE / ".work")
    args = parser.parse_args(argv)
    args.quick, args.seed, args.produce_seconds, args.trials = True, 7, 3.0, 1
    from kappa.broker import EmbeddedBroker

    broker = EmbeddedBroker().start()
    pid = broker._proc.pid  # the Tansu process (frozen and continued by the drill)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    drill = Drill(args, broker.bootstrap_servers, Path(tempfile.mkdtemp(prefix="outage-", dir=args.work_dir)))
    results = []
    try:
        for engine in (("polars", "spark") if args.engine == "both" else (args.engine,)):
            began = time.monotonic()
            res = freeze_broker(drill, pid, engine, args.pause)
            res.seconds = round(time.monotonic() - began, 1)
            results.append(res)
            print(f"{engine:<7} {res.scenario}: rows {res.rows}, lost {res.lost}, duplicated {res.duplicated}, "
                  f"{'ok' if res.ok else 'FAILED ' + '; '.join(res.errors)} ({res.seconds} s) -- {res.note}", flush=True)
    finally:
        broker.stop()
    if args.json:
        args.json.write_text(json.dumps([{**asdict(r), "ok": r.ok} for r in results], indent=2) + "\n")
    print(f"work folder: {drill.work} (REPO {REPO})")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
