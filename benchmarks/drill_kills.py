"""Kill drills: kill -9 and restart the durable broker, or the S3 server, mid-stream.

Used by :mod:`drill_outages` (``--scenario broker_kill`` / ``s3_kill``). Design note. The
pipeline is :mod:`drill_data_safety`'s (Kafka -> bronze -> silver + quarantine, records
``{"id": i}``); what changes is what dies and what is counted as produced:

- the producer (:class:`AckedProducer`) keeps writing through the outage with an idempotent
  producer (``acks=all``, ``message.timeout.ms`` 120 s, so records queued while the broker is
  down are delivered after it is back; ``--no-idempotence`` turns idempotence off) and records
  which ids the broker acknowledged, and when;
- two checks, so a broker defect is not blamed on kappa: kappa's (every record of the topic's
  log, read back after the drill, exactly once in each sink it belongs to, nothing else: the
  drill's lost / duplicated) and the broker's (every acknowledged id in its log, once:
  ``broker_lost`` with when each lost id was acknowledged, ``broker_duplicated``);
- kappa runs as in the SIGSTOP drill (Polars: bounded ``kappa replay`` runs back to back, each
  with its own log; Spark: one ``kappa stream start``), and the victim is killed with SIGKILL
  (its whole process group) once kappa has committed batches, kept down ``--down`` seconds and
  restarted on the same ports (the durable broker: same data folder and Kafka port; SeaweedFS:
  same data folder and ports, so the pipeline's endpoint stays valid);
- figures: seconds from the kill to kappa's first error (and that error line) or "carried on",
  seconds from the restart to kappa's first committed batch (Spark: bronze's ``commits/``;
  Polars: the end of the first successful run), then the drain (as in every drill) and the
  row-by-row check.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from drill_data_safety import Drill, Result

SINKS = (("brz", lambda i: True), ("slv", lambda i: i % 10 != 7), ("slv_quarantine", lambda i: i % 10 == 7))


@dataclass
class KillResult(Result):
    down_s: float = 0.0
    restart_s: float | None = None  # the victim's restart, until it answered again
    detect_s: float | None = None  # kill -> kappa's first error (None: it carried on)
    error: str = ""
    resume_s: float | None = None  # restart done -> kappa's first batch committed after it
    acked: int = 0
    unacked_in_log: int = 0  # ids whose delivery was not acknowledged but which reached the log
    broker_lost: int = 0  # acknowledged ids missing from the topic's log after the restart
    broker_duplicated: int = 0  # records stored twice in the log (a producer retry)
    lost_ids: list = None  # the acknowledged ids the log lacks, with when each was acknowledged


class AckedProducer:
    """Writes ``{"id": 0}``, ``{"id": 1}``, ... between start() and stop(); ``acked`` holds the ids
    whose delivery the broker acknowledged, ``failed`` those whose delivery failed (with why)."""

    def __init__(self, bootstrap: str, topic: str, step: int = 10, pause: float = 0.05, idempotent: bool = True):
        from confluent_kafka import Producer

        self.topic, self.step, self.pause = topic, step, pause
        self._producer = Producer({
            "bootstrap.servers": bootstrap, "enable.idempotence": idempotent, "acks": "all",
            "message.timeout.ms": 120_000, "linger.ms": 5, "reconnect.backoff.max.ms": 500,
            "log_level": 0,  # no librdkafka line per refused connection while the broker is down
        })
        self.acked: set[int] = set()
        self.acked_at: dict[int, float] = {}  # time.monotonic() of each acknowledgement
        self.failed: dict[int, str] = {}
        self.sent = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _delivered(self, err, msg) -> None:
        i = json.loads(msg.value())["id"]
        if err is None:
            self.acked.add(i)
            self.acked_at[i] = time.monotonic()
        else:
            self.failed[i] = str(err)

    def _produce(self, n: int) -> None:
        for i in range(self.sent, self.sent + n):
            while True:
                try:
                    self._producer.produce(self.topic, json.dumps({"id": i}).encode(), on_delivery=self._delivered)
                    break
                except BufferError:
                    self._producer.poll(0.1)
        self.sent += n
        self._producer.poll(0)

    def send(self, n: int) -> None:
        self._produce(n)
        if self._producer.flush(60) or len(self.acked) != self.sent:
            raise RuntimeError(f"producer: {len(self.acked)} of {self.sent} records acknowledged")

    def _run(self) -> None:
        while not self._stop.is_set():
            self._produce(self.step)
            time.sleep(self.pause)

    def start(self) -> AckedProducer:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self, flush_s: float = 150.0) -> int:
        """Stop producing and wait for the outstanding deliveries; returns those never reported."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        return self._producer.flush(flush_s)


def _error_line(log: Path) -> str:
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:") or "Error" in ln or "Traceback" in ln]
    return (errors or lines or [""])[-1][:700]


class Runs:
    """The kappa processes of one drill, each with its own log (``run-N.log``); ``records``:
    (started, ended, exit code or None when it had to be killed, its error line)."""

    def __init__(self, drill: Drill, engine: str, root: Path):
        self.drill, self.engine, self.root = drill, engine, root
        self.records: list[tuple[float, float, int | None, str]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stream: subprocess.Popen | None = None
        self.stream_log: Path | None = None
        self.stream_exit: float | None = None

    def _launch(self, bounded: bool) -> tuple[subprocess.Popen, Path]:
        log = self.root / f"run-{len(self.records) + (self.stream is not None)}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(self.drill.command(self.engine, self.root, bounded), env=self.drill.env, cwd=self.root,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        return proc, log

    def _loop(self, timeout: float) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            proc, log = self._launch(bounded=True)
            code = self.drill.finish(proc, timeout)
            self.records.append((started, time.monotonic(), code, _error_line(log) if code != 0 else ""))

    def start_loop(self, timeout: float = 300) -> None:
        self._thread = threading.Thread(target=self._loop, args=(timeout,), daemon=True)
        self._thread.start()

    def start_stream(self) -> subprocess.Popen:
        self.stream, self.stream_log = self._launch(bounded=False)

        def watch() -> None:
            self.stream.wait()
            self.stream_exit = time.monotonic()

        threading.Thread(target=watch, daemon=True).start()
        return self.stream

    def stop(self) -> list[int | None]:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        codes = [c for _, _, c, _ in self.records]
        if self.stream is not None:
            if self.stream.poll() is None:
                self.stream.send_signal(signal.SIGTERM)
            codes.append(self.drill.finish(self.stream, 120))
        return codes

    def commits(self) -> int:
        folder = self.root / "ck/drill/brz/spark/commits"
        return sum(1 for p in folder.iterdir() if p.name.isdigit()) if folder.is_dir() else 0

    def first_ok_after(self, t: float) -> float | None:
        return next((end for _, end, code, _ in self.records if code == 0 and end > t), None)


def _wait(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


def kill_and_restart(drill: Drill, engine: str, label: str, kill, restart, down_s: float,
                     prepare=None, read_ids=None) -> KillResult:
    """One drill: ``kill()`` mid-stream, ``down_s`` seconds down, ``restart()``; see the module
    docstring. ``prepare(root)`` may rewrite the pipeline (S3 sinks); ``read_ids(root, table)``
    reads a sink's ids (default: the local Delta table ``root/table``)."""
    result, root = KillResult(label, engine, down_s=down_s), drill.setup(f"{engine}-{label.split()[0]}-kill")
    if prepare is not None:
        prepare(root)
    # 50 records/s: a backlog Spark (200 records per trigger) drains in minutes on a loaded machine
    producer = AckedProducer(drill.bootstrap, drill.topic, drill.step, 0.2, getattr(drill.args, "idempotent", True))
    producer.send(200)
    producer.start()
    runs = Runs(drill, engine, root)
    notes: list[str] = []
    try:
        if engine == "spark":
            runs.start_stream()
            _wait(lambda: runs.commits() >= 2 or runs.stream_exit is not None, 240)
        else:
            runs.start_loop()
            _wait(lambda: any(c == 0 for _, _, c, _ in runs.records), 240)
            time.sleep(drill.rng.uniform(0.5, 2.0))  # the kill lands inside a run
        killed_at = time.monotonic()
        kill()
        result.kills = 1
        time.sleep(down_s)
        began = time.monotonic()
        restart()
        up = time.monotonic()
        result.restart_s = round(up - began, 1)
        if engine == "spark":
            at_up = runs.commits()
            _wait(lambda: runs.commits() > at_up or runs.stream_exit is not None, 240)
            if runs.stream_exit is not None:
                result.detect_s = round(runs.stream_exit - killed_at, 1)
                result.error = _error_line(runs.stream_log)
                notes.append(f"the stream exited {runs.stream.returncode}; the drain restarted it")
            else:
                new = runs.commits() > at_up
                result.resume_s = round(time.monotonic() - up, 1) if new else None
                notes.append("the stream carried on" if new else "no batch committed within 240 s of the restart")
        else:
            _wait(lambda: runs.first_ok_after(up) is not None, 300)
            failed = [(end, err) for start, end, code, err in runs.records if code != 0 and end > killed_at]
            if failed:
                result.detect_s, result.error = round(failed[0][0] - killed_at, 1), failed[0][1]
            ok = runs.first_ok_after(up)
            result.resume_s = round(ok - up, 1) if ok is not None else None
        time.sleep(drill.args.produce_seconds)
    finally:
        unreported = producer.stop()
        codes = runs.stop()
    if engine == "polars":
        notes.append("runs: " + ", ".join(f"{c}@{e - killed_at:+.1f}s" for _, e, c, _ in runs.records))
    if any(c is None for c in codes):
        result.errors.append(f"a kappa run hung and was killed: exit codes {codes}")
    result.trials = 1
    drill.drain(engine, root, result)
    _check(drill, root, producer, result, read_ids or (lambda r, t: drill._ids(r / t)), (killed_at, up))
    if producer.failed or unreported:
        notes.append(f"{len(producer.failed)} deliveries failed, {unreported} never reported")
    result.note = "; ".join(notes)
    return result


def _check(drill: Drill, root: Path, producer: AckedProducer, result: KillResult, read_ids,
           times: tuple[float, float]) -> None:
    """kappa: every record of the topic's log (read back after the drill) once in each sink it
    belongs to, nothing else. The broker: every acknowledged id in its log, once. ``times``:
    (kill, restart done), to say when each id the broker lost was acknowledged."""
    from kappa.testing.kafka import consume_all

    values = consume_all(drill.bootstrap, drill.topic).column("value").to_pylist()
    log = collections.Counter(json.loads(v)["id"] for v in values)
    result.acked = len(producer.acked)
    for table, keep in SINKS:
        have = collections.Counter(read_ids(root, table))
        want = collections.Counter({i: c for i, c in log.items() if keep(i)})
        result.lost += sum((want - have).values())
        result.duplicated += sum((have - want).values())
        result.rows += sum(want.values())
    result.unacked_in_log = sum(1 for i in log if i not in producer.acked)
    result.broker_duplicated = sum(c - 1 for c in log.values())
    lost = sorted(producer.acked - log.keys())
    result.broker_lost = len(lost)
    killed, up = times
    result.lost_ids = [[i, f"acknowledged {producer.acked_at[i] - killed:+.2f} s from the kill "
                           f"({producer.acked_at[i] - up:+.2f} s from the restart)"] for i in lost[:20]]


def kill_group(pid: int) -> None:
    """SIGKILL ``pid``'s process group and reap nothing (the owner's Popen does)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
