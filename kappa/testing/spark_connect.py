"""A Spark Connect server for tests, started from the pyspark wheel.

Design notes
------------
- The wheel ships ``jars/spark-connect_2.13-*.jar`` but no ``start-connect-server.sh``; the server
  is what that script runs: ``spark-submit --class org.apache.spark.sql.connect.service.SparkConnectServer
  spark-internal`` with ``spark.connect.grpc.binding.port``. The server JVM is the Spark driver
  (``master`` ``local[2]`` by default, or a cluster's ``spark://`` URL).
- Under Connect the client holds no SparkContext: Python UDFs, data sources and the
  ``foreachBatch`` function run in Python processes the *server* spawns, with the server's
  ``PYSPARK_PYTHON`` and ``PYTHONPATH``. Both are set here (this interpreter, the kappa checkout
  in use), otherwise the server-side workers cannot import kappa.
- Ready means the log says "Spark Connect server started at" (measured here: about 5-6 s cold
  on 2 cores; a client's first query adds ~6 s). A server that exits or misses ``timeout_s``
  raises :class:`SparkConnectError` with its log tail. Stop: SIGTERM, then SIGKILL of its process
  group after a grace period.
- The client needs ``grpcio``, ``grpcio-status``, ``googleapis-common-protos`` and ``zstandard``
  (pyspark's ``connect`` extra); :func:`connect_client_missing` names what is absent.

Nothing heavy is imported: this module only starts a process.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from kappa.testing.spark_cluster import free_port, repo_root, spark_home

READY = "Spark Connect server started at"
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
CLIENT_MODULES = {"grpc": "grpcio", "grpc_status": "grpcio-status", "google.rpc": "googleapis-common-protos", "zstandard": "zstandard"}


class SparkConnectError(RuntimeError):
    """The Spark Connect server could not be started (the message carries its log tail)."""


def connect_client_missing() -> list[str]:
    """The PyPI names of Spark Connect client dependencies that are not installed."""
    missing = []
    for module, package in CLIENT_MODULES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(package)
    return missing


@dataclass
class SparkConnectServer:
    """A running server: ``remote`` (``sc://127.0.0.1:PORT``), its process and log."""

    remote: str
    port: int
    process: subprocess.Popen
    log: Path
    started_in_s: float = 0.0

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM, then SIGKILL the server's process group after ``grace_s`` (idempotent)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # Python workers it left behind
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)


def start_spark_connect(
    master: str = "local[2]",
    conf: Mapping[str, str] | None = None,
    timeout_s: float = 90.0,
    log_dir: str | Path | None = None,
    pythonpath: str | None = None,
) -> SparkConnectServer:
    """Start a Spark Connect server on 127.0.0.1 (a free port) driving ``master``.

    ``conf`` adds server settings (``--conf``); ``pythonpath`` is what the server's Python
    workers import from (default: the kappa checkout in use). Raises :class:`SparkConnectError`
    if the server exits or is not ready within ``timeout_s``. The caller must ``stop()`` it.
    """
    home = spark_home()
    submit = home / "bin" / "spark-submit"
    if not submit.exists():
        raise SparkConnectError(f"{submit} not found: this pyspark has no Spark launcher scripts")
    if not list((home / "jars").glob("spark-connect_*.jar")):
        raise SparkConnectError(f"no spark-connect jar in {home / 'jars'}")
    logs = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="kappa-spark-connect-"))
    logs.mkdir(parents=True, exist_ok=True)
    port = free_port()
    pythonpath = pythonpath or str(repo_root())
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "PYTHONPATH": os.pathsep.join(p for p in (pythonpath, os.environ.get("PYTHONPATH", "")) if p),
        "PYARROW_IGNORE_TIMEZONE": "1",
    }
    env.pop("SPARK_REMOTE", None)
    settings = {
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "4",
        "spark.pyspark.python": sys.executable,
        "spark.executorEnv.PYTHONPATH": pythonpath,
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1",
        **{str(k): str(v) for k, v in (conf or {}).items()},
    }
    args = [str(submit), "--class", SERVER_CLASS, "--master", master, "--name", "kappa-connect-tests"]
    for key, value in settings.items():
        args += ["--conf", f"{key}={value}"]
    args.append("spark-internal")
    log = logs / "connect-server.log"
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    server = SparkConnectServer(f"sc://127.0.0.1:{port}", port, proc, log)
    try:
        while READY not in log.read_text(errors="replace"):
            if proc.poll() is not None:
                raise SparkConnectError(f"Spark Connect server exited with {proc.returncode}\n{server.log_tail()}")
            if time.monotonic() - started > timeout_s:
                raise SparkConnectError(f"Spark Connect server not ready within {timeout_s:.0f} s\n{server.log_tail()}")
            time.sleep(0.2)
    except BaseException:
        server.stop(grace_s=5)
        raise
    server.started_in_s = time.monotonic() - started
    return server


@contextlib.contextmanager
def spark_connect_server(master: str = "local[2]", conf: Mapping[str, str] | None = None, timeout_s: float = 90.0,
                         log_dir: str | Path | None = None) -> Iterator[SparkConnectServer]:
    """``with spark_connect_server() as server: ... server.remote ...`` — stopped on exit; a
    temporary log directory is removed afterwards unless the block raised."""
    server = start_spark_connect(master, conf, timeout_s, log_dir)
    ok = False
    try:
        yield server
        ok = True
    finally:
        server.stop()
        if ok and log_dir is None:
            shutil.rmtree(server.log.parent, ignore_errors=True)
