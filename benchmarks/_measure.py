"""Shared machinery of the replay benchmarks: run one side in a fresh interpreter and take its
CPU time (user + sys, all threads) and peak RSS from the kernel's accounting of exactly that
child (``os.wait4``'s rusage), then summarise alternating runs as medians.

The parent reads both pipes in threads and reaps the child with ``wait4`` itself: ``Popen.wait()``
would reap it first and the child's rusage would be lost. The child prints one ``RESULT {json}``
line on stdout.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# bytecode caches of the children: a user's environment has them; this keeps them out of the venv
PYCACHE = HERE / ".work" / "pycache"


def measure(script: Path, args: list[str], label: str = "") -> dict:
    """Run ``python script *args``; return its RESULT dict plus process_seconds, peak_rss_mb, cpu_seconds."""
    cmd = [sys.executable, str(script), *args]
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "PYTHONPYCACHEPREFIX": str(PYCACHE)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    outputs: dict[str, str] = {}
    readers = [
        threading.Thread(target=lambda name=name, pipe=pipe: outputs.__setitem__(name, pipe.read()))
        for name, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr))
    ]
    for r in readers:
        r.start()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    for r in readers:
        r.join()
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{label or script} failed (exit {proc.returncode}):\n{outputs.get('stderr', '')[-4000:]}")
    line = next(ln for ln in outputs["stdout"].splitlines() if ln.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    result["process_seconds"] = elapsed
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return result


def versions() -> dict:
    from importlib.metadata import version

    out = {"python": platform.python_version()}
    for pkg in ("polars", "deltalake", "pyarrow", "sqlglot", "narwhals"):
        try:
            out[pkg] = version(pkg)
        except Exception:  # noqa: BLE001 - report what is there
            out[pkg] = None
    return out


def summarise(runs: list[dict], sides: list[str]) -> dict:
    """Per side the medians of wall time, CPU time and peak RSS over the runs, and all values."""
    from statistics import median

    out = {}
    for side in sides:
        mine = [r[side] for r in runs]
        out[side] = {
            "seconds": round(median(r["seconds"] for r in mine), 3),
            "cpu_seconds": round(median(r["cpu_seconds"] for r in mine), 3),
            "peak_rss_mb": round(median(r["peak_rss_mb"] for r in mine), 1),
            "all_seconds": [round(r["seconds"], 3) for r in mine],
            "all_cpu_seconds": [round(r["cpu_seconds"], 3) for r in mine],
            "all_peak_rss_mb": [round(r["peak_rss_mb"], 1) for r in mine],
            **{k: v for k, v in mine[0].items() if k.endswith("_rows")},
        }
    return out


def ratios(summary: dict, side: str, floor: str) -> dict:
    a, b = summary[side], summary[floor]
    return {
        "time": round(a["seconds"] / b["seconds"], 3),
        "cpu": round(a["cpu_seconds"] / b["cpu_seconds"], 3),
        "peak_rss": round(a["peak_rss_mb"] / b["peak_rss_mb"], 3),
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
