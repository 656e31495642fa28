"""The Spark session of a run and the connector profile asked for.

Design note: the runner (:mod:`kappa.runner`) and the read-only reports
(:mod:`kappa.runner.describe`) both start sessions the same way; pyspark and the Spark engine are
imported inside the functions.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

    from kappa.models import Pipeline


def debug_enabled() -> bool:
    """True when ``--debug`` / ``KAPPA_DEBUG`` asks for tracebacks and logs."""
    return os.environ.get("KAPPA_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


def quiet_spark_logs(spark: "SparkSession") -> "SparkSession":
    """Silence Spark's streaming-execution log (unless ``--debug``) and return ``spark``.

    A failed query is logged there at ERROR with its whole Java stack (~50 lines) although
    kappa reports the failure itself in one line naming the node and the cause.
    """
    if debug_enabled():
        return spark
    try:
        jvm = spark._jvm  # absent on Spark Connect sessions: nothing to silence here
        jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(
            "org.apache.spark.sql.execution.streaming", jvm.org.apache.logging.log4j.Level.FATAL
        )
    except Exception:  # noqa: BLE001, S110 - logging setup is best effort
        pass
    return spark


def session(pipeline: "Pipeline", profile: str | None = None, *, quiet: bool = False,
            log_file: str | None = None) -> "SparkSession":
    """The SparkSession of a pipeline (its ``spark`` settings; the active one when there is one)
    set up for the connector ``profile`` asked for; ``quiet`` silences Spark's streaming log.

    ``log_file`` (:func:`spark_log_file`): a new local or cluster driver logs there (log4j2,
    :func:`write_log4j2`) instead of the terminal, and so do its stderr (Spark's Python workers'
    output) and the ``py4j`` and ``pyspark`` Python loggers; Spark's streaming log is then kept (in the file) even when ``quiet``."""
    from kappa.engines.spark.engine import session_for

    options = None
    if log_file is not None:
        options = f"-Dlog4j2.configurationFile={Path(write_log4j2(log_file)).as_uri()}"
        python_logs_to(log_file)
    spark = session_for(pipeline, profile, java_options=options, stderr_file=log_file)
    return quiet_spark_logs(spark) if quiet and log_file is None else spark


#: log4j2 configuration of a kappa driver: everything (WARN and up, INFO with ``--verbose``)
#: goes to one file, nothing to the console
LOG4J2 = """\
status = error
appender.file.type = File
appender.file.name = kappa
appender.file.fileName = {file}
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{yyyy-MM-dd HH:mm:ss.SSS}} %p %c: %m%n%ex
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = kappa
"""


def spark_log_file(pipeline: "Pipeline", now: float | None = None) -> str:
    """Where a Spark run of ``pipeline`` logs: ``<checkpoint root>/<pipeline>/.logs/spark-<UTC
    time>.log`` (a dot folder: no node's checkpoint), or the temp folder when the checkpoint
    root is not a local path (``s3://...``)."""
    import tempfile
    import time

    from kappa.plan import checkpoint_root_of, pipeline_root

    root = checkpoint_root_of(pipeline, pipeline_root(pipeline))
    if "://" in root and not root.startswith("file://"):
        root = tempfile.gettempdir()
    root = root.removeprefix("file://")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return str(Path(root) / pipeline.name / ".logs" / f"spark-{stamp}.log")


def write_log4j2(log_file: str) -> str:
    """Write the log4j2 properties sending Spark's log to ``log_file`` (next to it); its path."""
    level = "debug" if debug_enabled() else ("info" if logging.getLogger("kappa").getEffectiveLevel() <= logging.INFO else "warn")
    path = Path(log_file).with_suffix(".log4j2.properties")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(LOG4J2.format(file=Path(log_file).resolve(), level=level))
    return str(path.resolve())


#: PySpark's own loggers of a failed query's context: each prints the error with its whole Java
#: stack (JSON, ~100 lines) on stderr, although kappa reports the root cause in one line
QUERY_CONTEXT_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")


def python_logs_to(log_file: str) -> None:
    """Send the ``py4j`` and ``pyspark`` Python loggers (PySpark's query-context loggers
    included) to ``log_file`` only, never the terminal."""
    from pyspark.logger import PySparkLogger

    Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    for name in ("py4j", "pyspark", *QUERY_CONTEXT_LOGGERS):
        log = PySparkLogger.getLogger(name) if name in QUERY_CONTEXT_LOGGERS else logging.getLogger(name)
        for old in list(log.handlers):
            log.removeHandler(old)
            if isinstance(old, logging.FileHandler):
                old.close()
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)  # a PySparkLogger sets its JSON formatter
        log.propagate = False


def requested_profile(pipeline: "Pipeline", profile: str) -> str:
    """The profile asked for: ``--profile`` unless auto, else env ``KAPPA_SPARK_PROFILE``, else
    the pipeline's ``connector_profile`` (possibly still ``auto``)."""
    from kappa.engines.spark.profiles import ENV_PROFILE

    choice = profile if profile != "auto" else (os.environ.get(ENV_PROFILE) or pipeline.spark.connector_profile)
    return choice.strip().lower()
