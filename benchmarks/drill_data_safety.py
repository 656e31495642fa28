"""Crash drill: kill -9, fresh starts, ``latest`` offsets and concurrent runs under a live producer.

    python benchmarks/drill_data_safety.py [--trials N] [--engine polars|spark|both] [--quick]

A Kafka -> bronze -> silver (+ quarantine) pipeline runs as real ``kappa`` processes while a
producer thread keeps writing records ``{"id": i}``. Scenarios (each per engine):

- ``kill``: N ``kill -9`` at random moments (the whole process group, the JVM too) of a running
  pipeline (Polars: ``kappa replay``; Spark: ``kappa stream start``), each followed by a restart;
- ``fresh``: a fresh pipeline started while records arrive (the first run decides its initial
  offsets while the upstream table grows);
- ``fresh_kill``: the same, killed before batch 0 commits (Spark: while silver's batch 0 is
  logged and not committed; Polars: the ``before_commit`` failpoint), then restarted;
- ``latest``: ``starting_offsets: latest`` under a live producer, restarted once;
- ``concurrent``: two runs of the same pipeline at once, several rounds.

Each scenario ends with the producer stopped and a final drain (Polars: ``kappa replay``;
Spark: ``kappa stream start --until-idle``), then every Delta sink is compared row by row with
what was produced: bronze holds every id once, silver every id with ``id % 10 != 7`` and the
quarantine table the others (for ``latest``: every id from the first one bronze holds). It
prints per scenario the trials and the rows lost or duplicated, and exits 1 unless all are 0
and every drain succeeded. ``--json PATH`` also writes the figures.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PIPELINE = """
name: drill
checkpoint_root: {root}/ck
nodes:
- name: brz
  source:
    bootstrap_servers: {bootstrap}
    topic: {topic}
    starting_offsets: {starting}
    schema: "id BIGINT"
    max_offsets_per_trigger: 200
  transformer:
  - expr: SELECT value.id AS id FROM {{df}}
  sinks:
  - format: DELTA
    path: {root}/brz
- name: slv
  source:
    node_name: brz
    as_stream: true
  expectations:
  - {{name: not_seven, expr: "id % 10 <> 7", action: quarantine}}
  sinks:
  - format: DELTA
    path: {root}/slv
  - format: DELTA
    path: {root}/slv_quarantine
    is_quarantine: true
"""


@dataclass
class Result:
    scenario: str
    engine: str
    trials: int = 0
    kills: int = 0
    rows: int = 0
    lost: int = 0
    duplicated: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and not self.errors


class Producer:
    """Produces ``{"id": 0}``, ``{"id": 1}``, ... in small batches between start() and stop()."""

    def __init__(self, bootstrap: str, topic: str, step: int, pause: float):
        self.bootstrap, self.topic, self.step, self.pause = bootstrap, topic, step, pause
        self.sent = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def send(self, n: int) -> None:
        from kappa.testing.kafka import produce

        delivered = produce(self.bootstrap, self.topic, [{"id": i} for i in range(self.sent, self.sent + n)])
        if delivered != n:
            raise RuntimeError(f"producer: {delivered} of {n} records delivered")
        self.sent += n

    def _run(self) -> None:
        while not self._stop.is_set():
            self.send(self.step)
            time.sleep(self.pause)

    def start(self) -> Producer:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> int:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        return self.sent


class Drill:
    def __init__(self, args: argparse.Namespace, bootstrap: str, work: Path):
        self.args, self.bootstrap, self.work = args, bootstrap, work
        self.rng = random.Random(args.seed)
        self.env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "SPARK_LOCAL_IP": "127.0.0.1"}
        self.env.pop("KAPPA_FAILPOINTS", None)
        self.env.pop("KAPPA_CHECKPOINT_ROOT", None)
        self.step, self.pause = (10, 0.05) if args.quick else (20, 0.05)
        self.sent_at_start = 0

    # ---------------------------------------------------------------- setup and processes
    def setup(self, name: str, partitions: int = 2, starting: str = "earliest") -> Path:
        from kappa.kafka.writer import create_topic
        from kappa.testing.kafka import conf_for, unique_topic

        root = self.work / name
        root.mkdir(parents=True)
        topic = unique_topic("drill")
        create_topic(conf_for(self.bootstrap), topic, partitions)
        (root / "pipeline.yaml").write_text(textwrap.dedent(PIPELINE).format(root=root, bootstrap=self.bootstrap, topic=topic, starting=starting))
        self.topic = topic
        return root

    def command(self, engine: str, root: Path, bounded: bool) -> list[str]:
        kappa = [sys.executable, "-m", "kappa.cli"]
        if engine == "polars":
            return [*kappa, "replay", str(root / "pipeline.yaml")]
        cmd = [*kappa, "stream", "start", str(root / "pipeline.yaml"), "--profile", "python", "--interval", "500 milliseconds", "--refresh", "1"]
        return cmd + ["--until-idle"] if bounded else cmd

    def launch(self, cmd: list[str], root: Path, failpoints: str | None = None) -> subprocess.Popen:
        env = dict(self.env, KAPPA_FAILPOINTS=failpoints) if failpoints else self.env
        with open(root / "runs.log", "a") as log:
            log.write(f"\n$ {' '.join(cmd)} (failpoints {failpoints})\n")
            log.flush()
            return subprocess.Popen(cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    @staticmethod
    def kill(proc: subprocess.Popen) -> bool:
        """kill -9 the process group (the JVM too); True when it was still running."""
        alive = proc.poll() is None
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        return alive

    def finish(self, proc: subprocess.Popen, timeout: float) -> int | None:
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill(proc)
            return None
        finally:
            try:  # a JVM left behind by a finished process
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def run(self, engine: str, root: Path, failpoints: str | None = None, timeout: float = 900) -> int | None:
        return self.finish(self.launch(self.command(engine, root, True), root, failpoints), timeout)

    def started(self, engine: str, root: Path, proc: subprocess.Popen, timeout: float = 240) -> None:
        """Wait until the run has begun its first batch (Spark: bronze's offsets are logged)."""
        marker = root / ("ck/drill/brz/spark/offsets" if engine == "spark" else "ck/drill/brz")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None and not marker.exists():
            time.sleep(0.05)

    def runs_under_producer(self, engine: str, root: Path, producer: Producer, count: int = 1) -> list[int | None]:
        """``count`` bounded runs at once while the producer writes (from before they start
        until ``produce_seconds`` after the first began its work); their exit codes."""
        producer.start()
        procs = [self.launch(self.command(engine, root, True), root) for _ in range(count)]
        try:
            self.started(engine, root, procs[0])
            self.sent_at_start = producer.sent
            time.sleep(self.args.produce_seconds)
        finally:
            producer.stop()
        return [self.finish(p, 900) for p in procs]

    def drain(self, engine: str, root: Path, result: Result) -> None:
        for attempt in range(2):  # the second run must find nothing left (or finish a first one's work)
            code = self.run(engine, root)
            if code != 0:
                result.errors.append(f"drain run {attempt + 1} exited {code} (see {root / 'runs.log'})")
                return

    # ---------------------------------------------------------------- checks
    @staticmethod
    def _ids(path: Path) -> list[int]:
        from kappa.delta.read import read_delta

        if not (path / "_delta_log").is_dir():
            return []
        return read_delta(str(path), columns=["id"]).column("id").to_pylist()

    def check(self, root: Path, produced: int, result: Result, latest_from: int | None = None) -> None:
        """Count lost and duplicated rows of every sink. ``latest_from``: the records sent when a
        ``latest`` run began its first batch; bronze may start at or before it, not after."""
        brz = self._ids(root / "brz")
        first = 0
        if latest_from is not None:
            first = min(min(brz), latest_from) if brz else latest_from
        expected = set(range(first, produced))
        for table, keep in (("brz", lambda i: True), ("slv", lambda i: i % 10 != 7), ("slv_quarantine", lambda i: i % 10 == 7)):
            ids = brz if table == "brz" else self._ids(root / table)
            want = {i for i in expected if keep(i)}
            counts = collections.Counter(ids)
            result.lost += len(want - counts.keys())
            result.duplicated += sum(c - 1 for c in counts.values()) + sum(c for i, c in counts.items() if i not in want)
            result.rows += len(want)

    # ---------------------------------------------------------------- scenarios
    def _wait_for_new_batch(self, offsets: Path, before: int, proc: subprocess.Popen, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if offsets.is_dir() and sum(1 for p in offsets.iterdir() if p.name.isdigit()) > before:
                return
            time.sleep(0.05)

    def scenario_kill(self, engine: str) -> Result:
        result, root = Result("kill -9 at random moments", engine), self.setup(f"{engine}-kill")
        producer = Producer(self.bootstrap, self.topic, self.step, self.pause)
        producer.send(200)
        producer.start()
        offsets = root / "ck/drill/brz/spark/offsets"
        try:
            attempts = 0
            while result.kills < self.args.trials and attempts < 4 * self.args.trials:
                attempts += 1
                proc = self.launch(self.command(engine, root, bounded=False), root)
                if engine == "polars":
                    time.sleep(self.rng.uniform(0.2, 2.5))
                elif self.rng.random() < 0.25:  # early: during start-up or before the first batch
                    time.sleep(self.rng.uniform(1.0, 12.0))
                else:  # mid-stream: once a new batch is logged, at a random point after it
                    before = sum(1 for p in offsets.iterdir() if p.name.isdigit()) if offsets.is_dir() else 0
                    self._wait_for_new_batch(offsets, before, proc, 180)
                    time.sleep(self.rng.uniform(0.0, 3.0))
                result.kills += self.kill(proc)
                result.trials += 1
        finally:
            produced = producer.stop()
        self.drain(engine, root, result)
        self.check(root, produced, result)
        return result

    def _kill_before_batch0(self, engine: str, root: Path, trial: int) -> bool:
        if engine == "polars":  # brz's batch 0 (odd trials) or silver's (even), sinks written, not committed
            return self.run(engine, root, failpoints=f"before_commit@{1 + trial % 2}", timeout=300) == -signal.SIGKILL
        ck = root / "ck/drill/slv/spark"
        proc = self.launch(self.command(engine, root, bounded=False), root)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if (ck / "offsets/0").exists():
                if not (ck / "commits/0").exists():
                    return self.kill(proc)
                break  # batch 0 committed before we saw it in progress
            time.sleep(0.01)
        self.kill(proc)
        return False

    def scenario_fresh(self, engine: str, kill: bool) -> Result:
        label = "fresh start, kill before batch 0 commits" if kill else "fresh start"
        result = Result(label, engine)
        for trial in range(self.args.fresh_trials):
            root = self.setup(f"{engine}-fresh{'-kill' if kill else ''}-{trial}")
            producer = Producer(self.bootstrap, self.topic, self.step, self.pause)
            producer.send(100)
            if kill:
                producer.start()
                try:
                    result.kills += self._kill_before_batch0(engine, root, trial)
                finally:
                    producer.stop()
                code = self.runs_under_producer(engine, root, producer)[0]  # the restart
            else:
                code = self.runs_under_producer(engine, root, producer)[0]
            if code != 0:
                result.errors.append(f"trial {trial}: the run under the producer exited {code} (see {root / 'runs.log'})")
            produced = producer.sent
            self.drain(engine, root, result)
            self.check(root, produced, result)
            result.trials += 1
        if kill and result.kills < result.trials:
            result.errors.append(f"only {result.kills} of {result.trials} kills landed before batch 0 committed")
        return result

    def scenario_latest(self, engine: str) -> Result:
        result = Result("starting_offsets: latest", engine)
        for trial in range(self.args.fresh_trials):
            root = self.setup(f"{engine}-latest-{trial}", partitions=1, starting="latest")
            producer = Producer(self.bootstrap, self.topic, self.step, self.pause)
            producer.send(100)
            for run in range(2):  # a fresh start, then a restart, both under the producer
                code = self.runs_under_producer(engine, root, producer)[0]
                if run == 0:
                    latest_from = self.sent_at_start
                if code != 0:
                    result.errors.append(f"trial {trial} run {run + 1} exited {code} (see {root / 'runs.log'})")
            produced = producer.sent
            self.drain(engine, root, result)
            kept = self._kept_start(root, engine)
            if kept is None:
                result.errors.append(f"trial {trial}: no initial offset kept in the checkpoint")
            elif kept < latest_from:
                result.errors.append(f"trial {trial}: latest resolved to {kept}, before the run started ({latest_from})")
            # "latest" is the log end when the query first resolves it (after Spark's start-up on
            # Spark): every record from that kept offset on must be in the tables exactly once
            self.check(root, produced, result, latest_from=kept if kept is not None else latest_from)
            result.trials += 1
        return result

    @staticmethod
    def _kept_start(root: Path, engine: str) -> int | None:
        """The initial offset the run decided once and kept (one partition: ids equal offsets)."""
        ck = root / "ck/drill/brz"
        path = ck / ("replay/initial_offsets.json" if engine == "polars" else "spark/kappa/initial_offset_kappa_kafka.json")
        try:
            kept = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return min(int(o) for parts in kept.values() for o in parts.values())

    def scenario_concurrent(self, engine: str) -> Result:
        result, root = Result("two concurrent runs", engine), self.setup(f"{engine}-concurrent")
        producer = Producer(self.bootstrap, self.topic, self.step, self.pause)
        producer.send(100)
        codes = []
        for _ in range(self.args.rounds):
            codes.append(self.runs_under_producer(engine, root, producer, count=2))
            result.trials += 1
        produced = producer.sent
        self.drain(engine, root, result)
        self.check(root, produced, result)
        if any(c is None for pair in codes for c in pair):
            result.errors.append(f"a run did not finish: exit codes {codes}")
        result.note = f"exit codes per round: {codes}"
        return result


SCENARIOS = ("kill", "fresh", "fresh_kill", "latest", "concurrent")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=None, help="kill -9 trials per engine (default 20; 3 with --quick)")
    parser.add_argument("--engine", choices=("polars", "spark", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="small numbers: 3 kills, 1 trial of the fresh/latest scenarios, 2 concurrent rounds")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS, help="run only these (repeatable)")
    parser.add_argument("--bootstrap", help="an existing Kafka broker (default: start kappa's embedded one)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--work-dir", type=Path, default=REPO / "benchmarks/.work", help="where the work folder goes")
    args = parser.parse_args(argv)
    args.trials = args.trials if args.trials is not None else (3 if args.quick else 20)
    args.fresh_trials = 1 if args.quick else 2
    args.rounds = 2 if args.quick else 3
    args.produce_seconds = 3.0 if args.quick else 6.0
    engines = ("polars", "spark") if args.engine == "both" else (args.engine,)
    scenarios = args.scenario or list(SCENARIOS)

    broker = None
    if args.bootstrap is None:
        from kappa.testing.kafka import start_test_broker

        broker = start_test_broker()
        args.bootstrap = broker.bootstrap_servers
    args.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="drill-", dir=args.work_dir))
    drill = Drill(args, args.bootstrap, work)
    results: list[Result] = []
    try:
        for engine in engines:
            for name in scenarios:
                began = time.monotonic()
                try:
                    if name == "kill":
                        res = drill.scenario_kill(engine)
                    elif name in ("fresh", "fresh_kill"):
                        res = drill.scenario_fresh(engine, kill=name == "fresh_kill")
                    elif name == "latest":
                        res = drill.scenario_latest(engine)
                    else:
                        res = drill.scenario_concurrent(engine)
                except Exception as exc:  # noqa: BLE001 - report and go on with the next scenario
                    res = Result(name, engine, errors=[f"{type(exc).__name__}: {exc}"])
                res.seconds = round(time.monotonic() - began, 1)
                results.append(res)
                print(_line(res), flush=True)
    finally:
        if broker is not None:
            broker.stop()
    print("\n" + _table(results))
    if args.json:
        args.json.write_text(json.dumps([{**asdict(r), "ok": r.ok} for r in results], indent=2) + "\n")
    ok = all(r.ok for r in results)
    if ok and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"work folder (pipelines, tables, runs.log): {work}")
    return 0 if ok else 1


def _line(r: Result) -> str:
    status = "ok" if r.ok else "FAILED"
    extra = "".join(f"\n    {e}" for e in ([r.note] if r.note else []) + r.errors)
    return f"[{status}] {r.engine} {r.scenario}: trials {r.trials}, kills {r.kills}, rows checked {r.rows}, lost {r.lost}, duplicated {r.duplicated} ({r.seconds} s){extra}"


def _table(results: list[Result]) -> str:
    head = f"{'scenario':<42} {'engine':<7} {'trials':>6} {'kills':>5} {'checked':>7} {'lost':>5} {'dup':>5}  result"
    rows = [f"{r.scenario:<42} {r.engine:<7} {r.trials:>6} {r.kills:>5} {r.rows:>7} {r.lost:>5} {r.duplicated:>5}  {'ok' if r.ok else 'FAILED'}" for r in results]
    return "\n".join([head, *rows])


if __name__ == "__main__":
    sys.exit(main())
