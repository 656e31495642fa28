"""The CLI's error path, run as a real ``kappa`` process: one short line per error, the
documented exit codes (1 run failure, 2 config/usage error, 130 Ctrl-C), no traceback unless
``--debug``; brokers that cannot be reached (or die) stop a run within the Kafka timeout with
one line naming the node, the source and the bootstrap servers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

FILES_PIPELINE = """\
name: shop
variables:
  bootstrap: 127.0.0.1:9092
  root: ./data
nodes:
- name: bronze
  source: {path: ./in/, format: JSONL}
  sinks:
  - {format: DELTA, path: "${vars.root}/bronze"}
- name: silver
  source: {node_name: bronze}
"""

KAFKA_PIPELINE = """\
name: unreach
variables:
  bootstrap: {bootstrap}
checkpoint_root: ./ck
nodes:
- name: bronze
  source:
    bootstrap_servers: ${{vars.bootstrap}}
    topic: events
    starting_offsets: earliest
    value_format: json
  sinks:
  - format: DELTA
    path: ./bronze
    mode: append
"""


def kappa(*args: str, cwd: Path, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """Run ``python -m kappa.cli`` on this tree (PYTHONPATH) and capture its output."""
    environ = {k: v for k, v in os.environ.items() if k not in ("KAPPA_DEBUG", "KAPPA_KAFKA_TIMEOUT_S")}
    environ.update(PYTHONPATH=str(REPO), SPARK_LOCAL_IP="127.0.0.1", **env)
    return subprocess.run(
        [sys.executable, "-m", "kappa.cli", *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=timeout, check=False
    )


def free_port() -> int:
    """A loopback port nothing listens on (bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    (tmp_path / "p.yaml").write_text(FILES_PIPELINE)
    return tmp_path


# ---- usage errors: typer's own click, one line, exit 2 ------------------------------------------
@pytest.mark.parametrize(
    "args, line",
    [
        (["replya"], "error: No such command 'replya'. Did you mean 'replay', 'explain', 'plan'? (see 'kappa --help')"),
        (["validate"], "error: Missing argument 'pipeline'. (see 'kappa validate --help')"),
        (["validate", "p.yaml", "--bogus"], "error: No such option: --bogus (see 'kappa validate --help')"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(shop, args, line):
    proc = kappa(*args, cwd=shop)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", line + "\n")


# ---- --var and --select names ------------------------------------------------------------------
def test_unknown_var_name_is_an_error_with_a_did_you_mean(shop):
    proc = kappa("validate", "p.yaml", "--var", "bootstap=127.0.0.1:1", cwd=shop)
    assert proc.returncode == 2
    assert proc.stderr == "p.yaml: --var bootstap=...: the pipeline has no variable 'bootstap' (did you mean 'bootstrap'?)\n"
    far = kappa("validate", "p.yaml", "--var", "zzz=1", cwd=shop)
    assert (far.returncode, far.stderr) == (2, "p.yaml: --var zzz=...: the pipeline has no variable 'zzz' (variables: bootstrap, root)\n")
    # declared and referenced-only names are accepted
    ok = kappa("validate", "p.yaml", "--var", "bootstrap=127.0.0.1:1", "--var", "root=/tmp/x", cwd=shop)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "ok: pipeline shop with 2 node(s): bronze, silver\n", "")


@pytest.mark.parametrize(
    "selector, line",
    [
        ("++bronze", "error: --select ++bronze: not a selector; use node, +node, node+ or +node+"),
        ("bronze+silver", "error: --select bronze+silver: not a selector; use node, +node, node+ or +node+"),
        ("+", "error: --select +: not a selector; use node, +node, node+ or +node+"),
        ("slver", "error: --select slver: no node named 'slver' (did you mean 'silver'?)"),
        ("gold+", "error: --select gold+: no node named 'gold' (nodes: bronze, silver)"),
    ],
)
def test_bad_selectors_are_errors(shop, selector, line):
    proc = kappa("replay", "p.yaml", "--select", selector, cwd=shop)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", line + "\n")


# ---- errors kappa does not know: one line, --debug for the traceback ----------------------------
CRASH = """\
import sys
from kappa.cli import main
from kappa.cli.app import app

@app.command("boom")
def boom(kind: str = "runtime") -> None:
    if kind == "interrupt":
        raise KeyboardInterrupt
    raise RuntimeError("internal invariant broken\\nsecond line")

main(sys.argv[1:])
"""


def _crash(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """A command that fails with an unexpected exception (a test-only command on the real app)."""
    environ = {k: v for k, v in os.environ.items() if k != "KAPPA_DEBUG"}
    environ.update(PYTHONPATH=str(REPO), **env)
    return subprocess.run(
        [sys.executable, "-c", CRASH, *args], cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60, check=False
    )


def test_unexpected_error_is_one_line_and_debug_shows_the_traceback(tmp_path):
    proc = _crash(tmp_path, "boom")
    assert (proc.returncode, proc.stderr) == (1, "error: RuntimeError: internal invariant broken (run with --debug for the traceback)\n")
    for debug in (_crash(tmp_path, "--debug", "boom"), _crash(tmp_path, "boom", KAPPA_DEBUG="1")):
        assert debug.returncode == 1
        assert debug.stderr.startswith("Traceback (most recent call last):")
        assert debug.stderr.rstrip().endswith("RuntimeError: internal invariant broken\nsecond line")


def test_ctrl_c_exits_130(tmp_path):
    proc = _crash(tmp_path, "boom", "--kind", "interrupt")
    assert (proc.returncode, proc.stderr) == (130, "")


def test_help_is_fast(tmp_path):
    """``kappa --help`` imports no engine: the best of three runs takes < 0.5 s."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        proc = kappa("--help", cwd=tmp_path)
        best = min(best, time.perf_counter() - started)
        assert proc.returncode == 0 and "Commands:" in proc.stdout
    assert best < 0.5, f"kappa --help took {best:.2f} s"


# ---- brokers that cannot be reached --------------------------------------------------------------
@pytest.mark.kafka
def test_unreachable_broker_fails_in_bounded_time_with_one_line(tmp_path):
    port = free_port()
    (tmp_path / "p.yaml").write_text(KAFKA_PIPELINE.format(bootstrap=f"127.0.0.1:{port}"))
    started = time.monotonic()
    proc = kappa("replay", "p.yaml", cwd=tmp_path, KAPPA_KAFKA_TIMEOUT_S="4")
    elapsed = time.monotonic() - started
    assert proc.returncode == 1
    assert elapsed < 20, elapsed
    assert 4 <= elapsed
    lines = proc.stderr.splitlines()
    line = (
        f"error: node 'bronze' source: Kafka broker 127.0.0.1:{port} unreachable after 4 s "
        f"(Connect to ipv4#127.0.0.1:{port} failed: Connection refused)"
    )
    assert lines[-1] == line
    assert [x for x in lines if x.startswith("error:")] == [line]
    # the progress lines (stderr is not a terminal), the run summary (3 header lines + one per
    # node) and the error: no librdkafka log lines
    assert len(lines) == 7, proc.stderr
    assert lines[0] == "bronze: started" and lines[1].startswith("bronze: error, 0 batch(es), 0 rows read, 0 out, ")
    assert lines[5].startswith("bronze ") and lines[5].endswith("  error: " + line[len("error: node 'bronze' "):])
    assert "Traceback" not in proc.stderr and "%3|" not in proc.stderr


def test_kafka_timeout_default_and_validation(monkeypatch):
    from kappa.errors import ConfigError
    from kappa.kafka.client import client_config, kafka_timeout_s

    monkeypatch.delenv("KAPPA_KAFKA_TIMEOUT_S", raising=False)
    assert kafka_timeout_s() == 15.0
    conf = client_config("127.0.0.1:1")
    assert conf["socket.connection.setup.timeout.ms"] == 15000
    assert conf["logger"].name == "kappa.librdkafka"
    # the user's own setting wins
    assert client_config("b:1", {"kafka.socket.connection.setup.timeout.ms": "900"})["socket.connection.setup.timeout.ms"] == "900"
    monkeypatch.setenv("KAPPA_KAFKA_TIMEOUT_S", "2.5")
    assert (kafka_timeout_s(), client_config("b:1")["socket.connection.setup.timeout.ms"]) == (2.5, 2500)
    monkeypatch.setenv("KAPPA_KAFKA_TIMEOUT_S", "soon")
    with pytest.raises(ConfigError, match="KAPPA_KAFKA_TIMEOUT_S='soon': expected a number of seconds > 0"):
        kafka_timeout_s()


@pytest.mark.kafka
def test_reader_gives_up_on_a_killed_broker_within_the_timeout(monkeypatch):
    """A range read whose broker died stops after the timeout instead of retrying forever."""
    from kappa.broker import EmbeddedBroker
    from kappa.kafka.client import BrokerUnreachable
    from kappa.kafka.reader import read_range
    from kappa.kafka.writer import create_topic
    from kappa.testing.kafka import conf_for, produce

    monkeypatch.setenv("KAPPA_KAFKA_TIMEOUT_S", "3")
    broker = EmbeddedBroker().start()
    try:
        bootstrap = broker.bootstrap_servers
        create_topic(conf_for(bootstrap), "t", 1)
        produce(bootstrap, "t", [{"id": i} for i in range(5)])
        assert read_range(conf_for(bootstrap), {("t", 0): (0, 5)}).num_rows == 5
    finally:
        assert broker._proc is not None
        broker._proc.send_signal(signal.SIGKILL)
        broker.stop()
    started = time.monotonic()
    with pytest.raises(BrokerUnreachable) as err:
        read_range(conf_for(bootstrap), {("t", 0): (0, 5)})
    assert 3 <= time.monotonic() - started < 10
    assert str(err.value) == (
        f"source: Kafka broker {bootstrap} unreachable after 3 s (Connect to ipv4#{bootstrap} failed: Connection refused)"
    )


KILL_PIPELINE = """\
name: killed
checkpoint_root: {root}/ck
trigger:
  processing_time: 1 second
nodes:
- name: bronze
  source:
    bootstrap_servers: {bootstrap}
    topic: ev
    schema: "id BIGINT"
  sinks:
  - format: DELTA
    path: {root}/bronze
"""


@pytest.mark.spark
@pytest.mark.kafka
@pytest.mark.slow
def test_killed_broker_stops_stream_start_with_one_line(tmp_path):
    """``kappa stream start`` (Spark, python profile) whose broker is killed exits 1 within the
    Kafka timeout (+ Spark's reaction time) with one error line naming node and cause."""
    from kappa.broker import EmbeddedBroker
    from kappa.kafka.writer import create_topic
    from kappa.testing.kafka import conf_for, produce

    broker = EmbeddedBroker().start()
    bootstrap = broker.bootstrap_servers
    try:
        create_topic(conf_for(bootstrap), "ev", 1)
        produce(bootstrap, "ev", [{"id": i} for i in range(10)])
        (tmp_path / "p.yaml").write_text(KILL_PIPELINE.format(root=tmp_path, bootstrap=bootstrap))
        environ = {k: v for k, v in os.environ.items() if k != "KAPPA_DEBUG"}
        environ.update(PYTHONPATH=str(REPO), SPARK_LOCAL_IP="127.0.0.1", KAPPA_KAFKA_TIMEOUT_S="5")
        err_path = tmp_path / "stderr.txt"
        with open(err_path, "w") as err, open(tmp_path / "stdout.txt", "w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "kappa.cli", "stream", "start", "p.yaml", "--profile", "python", "--refresh", "0.5"],
                cwd=tmp_path, env=environ, stdout=out, stderr=err,
            )
        try:
            deadline = time.monotonic() + 150
            while not (tmp_path / "bronze" / "_delta_log").exists():
                assert proc.poll() is None, err_path.read_text()[-3000:]
                assert time.monotonic() < deadline, "the first batch did not commit within 150 s"
                time.sleep(0.2)
            time.sleep(1.0)
            assert broker._proc is not None
            broker._proc.send_signal(signal.SIGKILL)  # the broker dies, no goodbye
            killed = time.monotonic()
            rc = proc.wait(timeout=60)
            elapsed = time.monotonic() - killed
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        broker.stop()
    stderr = err_path.read_text()
    assert rc == 1, stderr[-3000:]
    assert elapsed < 5 + 15, elapsed
    line = (
        f"error: node 'bronze' source: Kafka broker {bootstrap} unreachable after 5 s "
        f"(Connect to ipv4#{bootstrap} failed: Connection refused)"
    )
    assert [x for x in stderr.splitlines() if x.startswith("error:")] == [line], stderr[-3000:]
    assert stderr.splitlines()[-1] == line
    assert "%3|" not in stderr and "%4|" not in stderr  # no librdkafka log
    assert "at org.apache.spark" not in stderr and "Traceback" not in stderr  # no Java/Python stack
