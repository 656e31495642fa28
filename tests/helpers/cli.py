"""``python -m kappa.cli`` in a subprocess, from the repository root.

A test session holds one SparkContext: a run that needs its own driver (a cluster or Spark
Connect driver, a process to kill) runs the CLI in a child process. Its environment puts the
repository first on ``PYTHONPATH`` and the executors' Python on the test's interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: this one, the repository on ``PYTHONPATH``, Spark on
    127.0.0.1, no ``SPARK_REMOTE`` unless ``env`` sets one; ``env`` on top."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable,
                "PYARROW_IGNORE_TIMEZONE": "1", **(env or {})}
    if "SPARK_REMOTE" not in (env or {}):
        full_env.pop("SPARK_REMOTE", None)
    return full_env


def kappa_cli(command: list[str], pipeline: Path, vars_: dict[str, str], options: list[str] = (), timeout_s: float = 240,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m kappa.cli COMMAND PIPELINE --profile python OPTIONS --var ...`` in a subprocess."""
    cmd = [sys.executable, "-m", "kappa.cli", *command, str(pipeline), "--profile", "python", *options]
    cmd += [f"--var={k}={v}" for k, v in vars_.items()]
    return subprocess.run(cmd, capture_output=True, text=True, env=cli_env(env), timeout=timeout_s, cwd=str(REPO), check=False)


def kappa_run(pipeline: Path, vars_: dict[str, str], timeout_s: float = 240, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m kappa.cli run PIPELINE --profile python --var ...`` in a subprocess."""
    return kappa_cli(["run"], pipeline, vars_, timeout_s=timeout_s, env=env)


def run_group(cmd: list[str], env: dict[str, str], timeout_s: float) -> subprocess.CompletedProcess:
    """``cmd`` in its own process group, output captured; the whole group (a JVM included) is
    killed once it ends or when ``timeout_s`` expires (``subprocess.TimeoutExpired`` is raised)."""
    import signal

    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)



def crash_run(engine: str, pipeline: Path, failpoint: str | None, timeout_s: float = 300) -> subprocess.CompletedProcess:
    """One run of ``pipeline`` in its own process group (on Spark the JVM is killed with it):
    ``kappa replay`` on Polars, ``tests/spark_engine/crash_driver.py ... drain`` (availableNow)
    on Spark; ``failpoint`` (``KAPPA_FAILPOINTS``) SIGKILLs it from inside a batch."""
    env = {k: v for k, v in os.environ.items() if k != "KAPPA_FAILPOINTS"}
    env["PYTHONPATH"] = str(REPO)
    if failpoint:
        env["KAPPA_FAILPOINTS"] = failpoint
    driver = REPO / "tests" / "spark_engine" / "crash_driver.py"
    cmd = ([sys.executable, str(driver), str(pipeline), "drain"] if engine == "spark"
           else [sys.executable, "-m", "kappa.cli", "replay", str(pipeline)])
    return run_group(cmd, env, timeout_s)
