"""Create (or reuse) the SparkSession kappa runs on.

One entry point, :func:`get_or_create_session`, for three kinds of Spark:

- a local master (``local[*]`` by default) started in this process, tuned for a small machine;
- a cluster master (``yarn``, ``spark://...``, ``k8s://...``) given by ``master``;
- Spark Connect (``sc://host:port``) when ``remote`` is given or ``SPARK_REMOTE`` is set.

Every session gets UTC as its SQL time zone and Arrow enabled for pandas/Arrow transfers,
and kappa's Python data sources (``kappa_kafka``, ``kappa_delta``) are registered on it.
Extra settings come from the ``conf`` argument and from ``KAPPA_SPARK_CONF``
(``k1=v1,k2=v2``); the argument wins over the environment.

pyspark is imported lazily, so importing this module costs nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from kappa.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

    from kappa.engines.spark.jvm_setup import ConnectorSetup

DEFAULT_MASTER = "local[*]"
ENV_CONF = "KAPPA_SPARK_CONF"
ENV_REMOTE = "SPARK_REMOTE"

# Settings every kappa session gets (the caller's conf may override them).
BASE_CONF: Mapping[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
}

# Base settings a Spark Connect client does not pass on (it warns "NOT supported in Spark Connect").
CONNECT_UNSUPPORTED = ("spark.sql.execution.arrow.pyspark.fallback.enabled",)

CHECKPOINT_FILE_MANAGER = "org.apache.spark.sql.execution.streaming.checkpointing.FileSystemBasedCheckpointFileManager"

# Extra settings for a local master: a small machine, a short-lived JVM.
LOCAL_CONF: Mapping[str, str] = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.streaming.forceDeleteTempCheckpointLocation": "true",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    # Python workers (UDFs, Python data sources, foreachBatch's Arrow transfer) must connect back to
    # the JVM within this time; Spark's 15 s fails runs on a loaded 2-core machine ("Python worker
    # failed to connect back", CANNOT_OPEN_SOCKET ... timed out).
    "spark.python.authenticate.socketTimeout": "120s",
    # The JVM talks to its Python workers over Unix domain sockets, not loopback TCP: over TCP
    # every Python task (a Python data source's read: kappa_delta, kappa_kafka) waited 43-46 ms
    # for its input on the worker side (pyarrow's open_stream; a small write held back, the
    # classic Nagle / delayed-ACK stall), 0-2 ms over a Unix socket. Measured on 2 cores, a
    # running stream's 10k-row kappa_delta task: 100-120 -> 58-66 ms. A local master's JVM and
    # Python workers share one host. (Not on Windows: its CPython has no AF_UNIX.)
    **({"spark.python.unix.domain.socket.enabled": "true"} if sys.platform != "win32" else {}),
    # Checkpoint files (offsets, commits, state store deltas and changelogs) through Hadoop's
    # FileSystem API, not FileContext: without Hadoop's native library a FileContext rename on
    # the local file system forks `readlink` twice to check for links, so every micro-batch
    # spawned ~30 processes (measured on 2 cores: offset log 57 -> 18 ms, commit 60 -> 17 ms,
    # RocksDB changelog commit 144 -> 10 ms per batch). A local rename is atomic either way.
    "spark.sql.streaming.checkpointFileManagerClass": CHECKPOINT_FILE_MANAGER,
}

# C1-only JIT: a cold local start is about 30% faster; long jobs belong on a cluster anyway.
LOCAL_DRIVER_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1"


def parse_conf_string(text: str | None) -> dict[str, str]:
    """Parse ``k1=v1,k2=v2`` (the ``KAPPA_SPARK_CONF`` format) into a dict.

    Blank items are ignored; an item without ``=`` raises :class:`~kappa.errors.ConfigError`.
    Values may contain ``=`` (only the first one splits).
    """
    out: dict[str, str] = {}
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{ENV_CONF}: expected key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def is_local_master(master: str | None) -> bool:
    """True for ``local``, ``local[N]``, ``local[*]`` and ``local[N,F]`` masters."""
    return master is not None and (master == "local" or master.startswith("local["))


def build_conf(
    master: str | None,
    conf: Mapping[str, str] | None = None,
    jars: Sequence[str] = (),
    packages: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Return the full Spark configuration kappa would use (pure: no Spark started).

    Order of precedence, lowest first: kappa's base settings, local-master settings,
    ``KAPPA_SPARK_CONF``, then ``conf``. ``jars``/``packages`` are appended to
    ``spark.jars``/``spark.jars.packages``. ``-XX:TieredStopAtLevel=1`` is added to the
    driver's Java options for local masters unless they already choose a tiered level.
    """
    env = os.environ if env is None else env
    out: dict[str, str] = dict(BASE_CONF)
    local = is_local_master(master)
    if local:
        out.update(LOCAL_CONF)
    out.update(parse_conf_string(env.get(ENV_CONF)))
    out.update({str(k): str(v) for k, v in (conf or {}).items()})
    if local:
        java_opts = out.get("spark.driver.extraJavaOptions", "")
        if "TieredStopAtLevel" not in java_opts:
            out["spark.driver.extraJavaOptions"] = (
                f"{java_opts} {LOCAL_DRIVER_JAVA_OPTIONS}".strip()
            )
    for key, extra in (("spark.jars", jars), ("spark.jars.packages", packages)):
        items = [x for x in out.get(key, "").split(",") if x.strip()]
        items += [x for x in extra if x not in items]
        if items:
            out[key] = ",".join(items)
    return out


def session_conf(
    master: str | None,
    conf: Mapping[str, str] | None = None,
    profile: str | None = None,
    jars: Sequence[str] = (),
    packages: Sequence[str] = (),
    *,
    env: Mapping[str, str] | None = None,
    spark_version: str | None = None,
    spark_jars_dir: "Path | None" = None,
    can_resolve: "Callable[[Mapping[str, str]], bool] | None" = None,
) -> tuple[dict[str, str], "ConnectorSetup"]:
    """The full conf of a session started for connector profile ``profile`` (pure: no Spark).

    ``profile`` ``jvm``/``auto`` adds what :func:`kappa.engines.spark.jvm_setup.connector_setup`
    decides (connector jars from ``KAPPA_SPARK_JARS_DIR`` or Maven coordinates, Delta's SQL
    extension and catalog) below the user's own settings; ``python`` or ``None`` adds nothing.
    """
    from kappa.engines.spark import jvm_setup
    from kappa.engines.spark.profiles import ENV_JARS_DIR

    env = os.environ if env is None else env
    setup = jvm_setup.ConnectorSetup(profile=None)
    if profile:
        if spark_version is None:
            import pyspark

            spark_version = pyspark.__version__
        user = {**parse_conf_string(env.get(ENV_CONF)), **{str(k): str(v) for k, v in (conf or {}).items()}}
        setup = jvm_setup.connector_setup(
            profile, spark_version, user, jars_dir=env.get(ENV_JARS_DIR) or None,
            spark_jars_dir=spark_jars_dir if spark_jars_dir is not None else jvm_setup.spark_jars_folder(env),
            can_resolve=can_resolve or (lambda u: jvm_setup.maven_reachable(u, env)),
        )
    merged = {**setup.conf, **(conf or {})}
    out = build_conf(master, merged, [*jars, *setup.jars], [*packages, *setup.packages], env)
    return out, setup


def _prepare_local_env() -> None:
    """Environment a local JVM and its Python workers need (only sets what is unset)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    # Python workers and the data-source planner process must run this interpreter (it has
    # kappa and its dependencies); Spark's default "python3" may be another one.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def get_or_create_session(
    master: str | None = None,
    app_name: str = "kappa",
    conf: Mapping[str, str] | None = None,
    remote: str | None = None,
    jars: Sequence[str] = (),
    packages: Sequence[str] = (),
    profile: str | None = None,
    stderr_file: str | None = None,
) -> "SparkSession":
    """Return the active SparkSession or start one configured for kappa.

    ``remote`` (or env ``SPARK_REMOTE``) selects Spark Connect (``sc://host:port``); otherwise
    ``master`` (default ``local[*]``) is used. Passing both ``remote`` and ``master`` is an
    error; env ``SPARK_REMOTE`` wins over ``master`` (the deployment chooses Spark Connect).
    ``conf`` adds/overrides Spark settings;
    ``jars`` are local jar paths and ``packages`` Maven coordinates (see
    :mod:`kappa.engines.spark.profiles`). ``profile`` (``jvm``/``auto``/``python``; ``None``:
    nothing) sets the session up for the jvm connector profile (:func:`session_conf`) unless
    it is a Spark Connect session (the server's classpath decides there); a new session set
    up for ``jvm`` must then load both connectors, else :class:`JvmConnectorsMissing`. When a
    session is already active it is reused as is (Spark cannot change static settings of a
    running session), and kappa's data sources are registered on it. ``stderr_file``: a new
    local or cluster driver's stderr goes there once it runs (:func:`jvm_stderr_to`).
    """
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    from kappa.engines.spark.jvm_setup import ConnectorSetup

    if remote and master:
        raise ConfigError("give either a Spark master or a Spark Connect remote, not both")
    remote = remote or os.environ.get(ENV_REMOTE) or None
    setup = ConnectorSetup(profile=None)
    # a running SparkContext (any thread) is reused by the builder: static settings would be
    # ignored, so nothing is set up and nothing checked (and the session is not stopped)
    fresh = remote is None and SparkContext._active_spark_context is None
    if remote is not None:
        if remote == "local" or remote.startswith("local["):
            _prepare_local_env()  # pyspark starts a local Spark Connect server in this process
        settings = build_conf(None, conf, jars, packages)
        for key in CONNECT_UNSUPPORTED:  # the client warns about them; the server decides
            if settings.get(key) == BASE_CONF.get(key) and key not in (conf or {}):
                settings.pop(key)
        builder = SparkSession.builder.remote(remote).appName(app_name)
    else:
        master = master or DEFAULT_MASTER
        if is_local_master(master):
            _prepare_local_env()
        settings, setup = session_conf(master, conf, profile if fresh else None, jars, packages)
        builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = _start(builder, setup, settings)
    if stderr_file is not None and fresh:
        jvm_stderr_to(spark, stderr_file)
    if setup.profile == "jvm":
        _check_loaded(spark, setup)
    register_data_sources(spark)
    return spark


def jvm_stderr_to(spark: "SparkSession", path: str) -> None:
    """Send what the driver JVM writes on its stderr from now on to ``path`` (appended).

    Spark copies its Python workers' stderr (the daemon's, the data-source lookup's and
    planners') to the JVM's ``System.err``, not to log4j: a library's warning or a forked worker's
    ``BrokenPipeError`` when the JVM drops a connection at shutdown would land in the middle of
    kappa's own output. ``System.err`` is read when a worker process starts, so it is swapped as
    soon as the session is up, before kappa's data sources are registered (Spark's first Python
    worker). Best effort: a failure leaves it on the terminal.
    """
    try:
        jvm = spark._jvm
        out = jvm.java.io.FileOutputStream(str(Path(path).resolve()), True)
        jvm.java.lang.System.setErr(jvm.java.io.PrintStream(out, True, "UTF-8"))
    except Exception:  # noqa: BLE001, S110 - no JVM here or a closed gateway: nothing to do
        pass


def _start(builder, setup: "ConnectorSetup", settings: Mapping[str, str]) -> "SparkSession":
    """``builder.getOrCreate()``; a JVM that exits while resolving the jvm profile's packages
    becomes one :class:`JvmConnectorsMissing` (Ivy's own output is on stderr)."""
    from kappa.engines.spark.jvm_setup import JvmConnectorsMissing

    try:
        return builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - PySparkRuntimeError JAVA_GATEWAY_EXITED
        packages = settings.get("spark.jars.packages")
        if setup.profile != "jvm" or not packages or "JAVA_GATEWAY_EXITED" not in str(exc):
            raise
        raise JvmConnectorsMissing(
            f"jvm profile: Spark could not start with spark.jars.packages={packages} "
            "(Ivy could not resolve them; its messages are above). Set KAPPA_SPARK_JARS_DIR to a "
            "folder holding the jars, or run with --profile python."
        ) from None


def _check_loaded(spark: "SparkSession", setup: "ConnectorSetup") -> None:
    """A session set up for the jvm profile must load both connectors' classes."""
    from kappa.engines.spark.jvm_setup import JvmConnectorsMissing
    from kappa.engines.spark.profiles import DELTA_EXTENSION_CLASS, KAFKA_PROVIDER_CLASS, has_connectors

    found = has_connectors(spark)
    missing = [n for n in ("kafka", "delta") if not found[n]]
    if missing:
        classes = {"kafka": KAFKA_PROVIDER_CLASS, "delta": DELTA_EXTENSION_CLASS}
        spark.stop()
        raise JvmConnectorsMissing(
            "jvm profile: Spark started but cannot load "
            + "; ".join(f"{classes[n]} ({n} connector, from {setup.provided_by.get(n, '?')})" for n in missing)
            + ". The jars are unreadable or of other versions: replace them "
            "(KAPPA_SPARK_JARS_DIR, spark.jars.packages), or run with --profile python."
        )


def register_data_sources(spark: "SparkSession") -> None:
    """Register ``kappa_kafka`` and ``kappa_delta`` on ``spark`` (idempotent)."""
    from kappa.engines.spark.datasources import register_all

    register_all(spark)
