"""The Spark session of a run and the connector profile asked for.

Design note: the runner (:mod:`kappa.runner`) and the read-only reports
(:mod:`kappa.runner.describe`) both start sessions the same way; pyspark and the Spark engine are
imported inside the functions.
"""

from __future__ import annotations

import os
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


def session(pipeline: "Pipeline", profile: str | None = None, *, quiet: bool = False) -> "SparkSession":
    """The SparkSession of a pipeline (its ``spark`` settings; the active one when there is one)
    set up for the connector ``profile`` asked for; ``quiet`` silences Spark's streaming log."""
    from kappa.engines.spark.engine import session_for

    spark = session_for(pipeline, profile)
    return quiet_spark_logs(spark) if quiet else spark


def requested_profile(pipeline: "Pipeline", profile: str) -> str:
    """The profile asked for: ``--profile`` unless auto, else env ``KAPPA_SPARK_PROFILE``, else
    the pipeline's ``connector_profile`` (possibly still ``auto``)."""
    from kappa.engines.spark.profiles import ENV_PROFILE

    choice = profile if profile != "auto" else (os.environ.get(ENV_PROFILE) or pipeline.spark.connector_profile)
    return choice.strip().lower()
