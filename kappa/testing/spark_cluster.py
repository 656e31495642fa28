"""A multi-process Spark standalone cluster for tests: one master and N workers on 127.0.0.1.

Design notes
------------
- Started from the pyspark wheel alone: ``pyspark/bin/spark-class`` runs
  ``org.apache.spark.deploy.master.Master`` and ``org.apache.spark.deploy.worker.Worker``
  (the wheel ships no ``start-master.sh``). ``spark-class`` ``exec``s java, so each
  :class:`subprocess.Popen` pid is the JVM itself; each runs in its own session (process group)
  so that a worker's executor JVMs can be ended with it.
- A worker launches one executor JVM per application, and each executor its own Python workers
  (``pyspark.daemon``). So a driver on this cluster really sends its tasks to other processes:
  what runs on the executors must be importable there. :meth:`SparkCluster.driver_conf` gives the
  settings a driver needs for that: ``spark.pyspark.python`` (this interpreter, it has kappa's
  dependencies) and ``spark.executorEnv.PYTHONPATH`` (the kappa checkout in use, which wins
  over an editable install pointing elsewhere).
- Ready means every worker logged "Successfully registered with master" (measured here: about
  5 s for a master and two workers on 2 cores with C1-only JITs, 8-24 s when other JVMs compete).
  A process that exits early, or a timeout,
  raises :class:`SparkClusterError` with the tail of every log.
- Stop: SIGTERM the workers (they kill their executors), then the master; SIGKILL the process
  group of whatever has not exited after a grace period. Only processes started here are touched.
- ``local-cluster[N,C,M]`` (workers and executors started by the driver's own JVM) also works
  from the wheel, but costs ~16 s in every driver process; a standalone cluster is started once
  per test session and each driver then pays only its own start-up.

Nothing heavy is imported: this module only starts processes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REGISTERED = "Successfully registered with master"
DEFAULT_TIMEOUT_S = 90.0
FAST_JVM = "-XX:TieredStopAtLevel=1"


class SparkClusterError(RuntimeError):
    """The test cluster could not be started (the message carries the processes' log tails)."""


def spark_home() -> Path:
    """``SPARK_HOME`` when set, else the installed pyspark package (the wheel is a Spark home)."""
    env = os.environ.get("SPARK_HOME")
    if env:
        return Path(env)
    import importlib.util

    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.origin:
        raise SparkClusterError("pyspark is not installed")
    return Path(spec.origin).parent


def repo_root() -> Path:
    """The directory holding the ``kappa`` package in use (what executors must import)."""
    return Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def driver_conf(python: str | None = None, pythonpath: str | None = None) -> dict[str, str]:
    """Spark settings a driver needs so that executors in other processes run kappa's code."""
    python = python or sys.executable
    pythonpath = pythonpath or str(repo_root())
    return {
        "spark.pyspark.python": python,
        "spark.pyspark.driver.python": python,
        "spark.executorEnv.PYTHONPATH": pythonpath,
        "spark.executorEnv.PYARROW_IGNORE_TIMEZONE": "1",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.executor.memory": "512m",
        # C1-only JIT: short test JVMs start ~30% faster
        "spark.driver.extraJavaOptions": FAST_JVM,
        "spark.executor.extraJavaOptions": FAST_JVM,
    }


@dataclass
class SparkCluster:
    """A running standalone cluster: ``master_url`` (``spark://127.0.0.1:PORT``) and its processes."""

    master_url: str
    log_dir: Path
    master: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)
    started_in_s: float = 0.0

    def driver_conf(self) -> dict[str, str]:
        """``spark.master`` plus :func:`driver_conf`: everything a driver process needs."""
        return {"spark.master": self.master_url, **driver_conf()}

    def pids(self) -> list[int]:
        return [self.master.pid] + [w.pid for w in self.workers]

    def logs(self, tail: int = 30) -> str:
        """The last ``tail`` lines of every process log (for error messages)."""
        parts = []
        for path in sorted(self.log_dir.glob("*.log")):
            lines = path.read_text(errors="replace").splitlines()[-tail:]
            parts.append(f"--- {path.name}\n" + "\n".join(lines))
        return "\n".join(parts)

    def stop(self, grace_s: float = 15.0) -> None:
        """Stop the workers, then the master; kill what outlives ``grace_s`` (idempotent)."""
        for group in (self.workers, [self.master]):
            for proc in group:
                if proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            for proc in group:
                try:
                    proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)
            for proc in group:  # executors a worker left behind share its process group
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)


def _spawn(args: list[str], log: Path, env: Mapping[str, str]) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=dict(env), start_new_session=True)


def start_spark_cluster(
    workers: int = 2,
    cores: int = 1,
    memory: str = "1g",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    log_dir: str | Path | None = None,
) -> SparkCluster:
    """Start a master and ``workers`` workers (``cores`` cores, ``memory`` each) on 127.0.0.1.

    Returns once every worker has registered with the master; raises
    :class:`SparkClusterError` (with the logs) if that takes longer than ``timeout_s`` or a
    process exits first. The caller must :meth:`SparkCluster.stop` it.
    """
    home = spark_home()
    spark_class = home / "bin" / "spark-class"
    if not spark_class.exists():
        raise SparkClusterError(f"{spark_class} not found: this pyspark has no Spark launcher scripts")
    logs = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="kappa-spark-cluster-"))
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOG_DIR": str(logs),
           "SPARK_DAEMON_JAVA_OPTS": f"{os.environ.get('SPARK_DAEMON_JAVA_OPTS', '')} {FAST_JVM}".strip()}
    env.pop("SPARK_REMOTE", None)
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    started = time.monotonic()
    master = _spawn(
        [str(spark_class), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port), "--webui-port", "0"],
        logs / "master.log", env,
    )
    cluster = SparkCluster(url, logs, master)
    try:
        for i in range(workers):
            work_dir = logs / f"worker-{i}"
            work_dir.mkdir(exist_ok=True)
            cluster.workers.append(_spawn(
                [str(spark_class), "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
                 "--cores", str(cores), "--memory", memory, "--webui-port", "0", "--work-dir", str(work_dir)],
                logs / f"worker-{i}.log", env,
            ))
        _wait_registered(cluster, started + timeout_s, timeout_s)
    except BaseException:
        cluster.stop(grace_s=5)
        raise
    cluster.started_in_s = time.monotonic() - started
    return cluster


def _wait_registered(cluster: SparkCluster, deadline: float, timeout_s: float) -> None:
    n = len(cluster.workers)
    while True:
        dead = [p for p in [cluster.master, *cluster.workers] if p.poll() is not None]
        if dead:
            raise SparkClusterError(f"Spark test cluster: process {dead[0].args[1]} exited with {dead[0].returncode}\n{cluster.logs()}")
        ready = sum(REGISTERED in (cluster.log_dir / f"worker-{i}.log").read_text(errors="replace") for i in range(n))
        if ready == n:
            return
        if time.monotonic() > deadline:
            raise SparkClusterError(f"Spark test cluster: {ready} of {n} workers registered with {cluster.master_url} within {timeout_s:.0f} s\n{cluster.logs()}")
        time.sleep(0.2)


@contextlib.contextmanager
def spark_cluster(workers: int = 2, cores: int = 1, memory: str = "1g", timeout_s: float = DEFAULT_TIMEOUT_S,
                  log_dir: str | Path | None = None) -> Iterator[SparkCluster]:
    """``with spark_cluster() as cluster: ...`` — a running cluster (``cluster.master_url``), stopped
    on exit; a temporary log directory is removed afterwards unless the block raised."""
    cluster = start_spark_cluster(workers, cores, memory, timeout_s, log_dir)
    ok = False
    try:
        yield cluster
        ok = True
    finally:
        cluster.stop()
        if ok and log_dir is None:
            shutil.rmtree(cluster.log_dir, ignore_errors=True)
