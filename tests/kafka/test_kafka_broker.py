"""The embedded Tansu broker: binary lookup, start/stop, serve_forever, start failures."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

from kappa.broker import BrokerError, EmbeddedBroker, free_port, tansu_binary

pytestmark = pytest.mark.kafka


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_tansu_binary_is_executable():
    path = tansu_binary()
    assert path.name == "tansu" and path.parent.name == "bin"
    assert os.access(path, os.X_OK)


def test_start_stop_context_manager_and_metadata():
    from confluent_kafka.admin import AdminClient

    with EmbeddedBroker() as broker:
        assert broker.running
        host, port = broker.bootstrap_servers.split(":")
        assert host == "127.0.0.1"
        meta = AdminClient({"bootstrap.servers": broker.bootstrap_servers}).list_topics(timeout=5)
        assert [b.port for b in meta.brokers.values()] == [int(port)]  # advertised listener
        log_path = broker.log_path
        assert log_path is not None and log_path.exists()
    assert not broker.running
    assert not _port_open(int(port))
    assert not log_path.exists()  # the temporary log is removed
    broker.stop()  # idempotent


def test_explicit_port_and_log_path(tmp_path):
    port = free_port()
    log = tmp_path / "tansu.log"
    broker = EmbeddedBroker(port=port, log_path=log).start()
    try:
        assert broker.bootstrap_servers == f"127.0.0.1:{port}"
        assert _port_open(port)
    finally:
        broker.stop()
    assert log.exists()  # a caller-chosen log is kept


def test_start_fails_clearly_when_the_port_is_taken():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        broker = EmbeddedBroker(port=port)
        with pytest.raises(BrokerError, match=rf"127\.0\.0\.1:{port}.*log tail"):
            broker.start(timeout=10)
        assert not broker.running


def test_bootstrap_servers_needs_a_port():
    with pytest.raises(BrokerError, match="start"):
        EmbeddedBroker().bootstrap_servers


def test_serve_forever_prints_and_stops_on_sigterm():
    port = free_port()
    code = f"from kappa.broker import serve_forever; serve_forever(port={port})"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        first = proc.stdout.readline().strip()
        assert first == (
            f"kappa broker: listening on 127.0.0.1:{port} (bootstrap.servers=127.0.0.1:{port})"
        )
        assert _port_open(port)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.strip() == "kappa broker: stopped"
    assert not _port_open(port)
