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
from typing import TYPE_CHECKING

from kappa.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[*]"
ENV_CONF = "KAPPA_SPARK_CONF"
ENV_REMOTE = "SPARK_REMOTE"

# Settings every kappa session gets (the caller's conf may override them).
BASE_CONF: Mapping[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
}

# Extra settings for a local master: a small machine, a short-lived JVM.
LOCAL_CONF: Mapping[str, str] = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.streaming.forceDeleteTempCheckpointLocation": "true",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
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
) -> "SparkSession":
    """Return the active SparkSession or start one configured for kappa.

    ``remote`` (or env ``SPARK_REMOTE``) selects Spark Connect (``sc://host:port``); otherwise
    ``master`` (default ``local[*]``) is used. Passing both ``remote`` and ``master`` is an
    error; env ``SPARK_REMOTE`` wins over ``master`` (the deployment chooses Spark Connect).
    ``conf`` adds/overrides Spark settings;
    ``jars`` are local jar paths and ``packages`` Maven coordinates (see
    :mod:`kappa.engines.spark.profiles`). When a session is already active it is reused as is
    (Spark cannot change static settings of a running session), and kappa's data sources are
    registered on it.
    """
    from pyspark.sql import SparkSession

    if remote and master:
        raise ConfigError("give either a Spark master or a Spark Connect remote, not both")
    remote = remote or os.environ.get(ENV_REMOTE) or None
    if remote is not None:
        if remote == "local" or remote.startswith("local["):
            _prepare_local_env()  # pyspark starts a local Spark Connect server in this process
        settings = build_conf(None, conf, jars, packages)
        builder = SparkSession.builder.remote(remote).appName(app_name)
    else:
        master = master or DEFAULT_MASTER
        if is_local_master(master):
            _prepare_local_env()
        settings = build_conf(master, conf, jars, packages)
        builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    register_data_sources(spark)
    return spark


def register_data_sources(spark: "SparkSession") -> None:
    """Register ``kappa_kafka`` and ``kappa_delta`` on ``spark`` (idempotent)."""
    from kappa.engines.spark.datasources import register_all

    register_all(spark)
