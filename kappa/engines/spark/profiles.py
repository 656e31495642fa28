"""Connector profiles: which Kafka/Delta connectors a SparkSession can use.

- ``jvm``: Spark's own ``format("kafka")`` and delta-spark's ``format("delta")`` /
  ``DeltaTable.merge`` (needs the connector jars on the JVM classpath).
- ``python``: kappa's Python data sources (``kappa_kafka``, ``kappa_delta``) and deltalake
  writes from ``foreachBatch`` (needs nothing but the Python packages).

:func:`resolve_profile` picks one: an explicit request, else env ``KAPPA_SPARK_PROFILE``,
else :func:`detect_profile` (probe the classpath). :func:`connector_packages` and
:func:`local_jars` give what a session needs for the ``jvm`` profile, from Maven
(``spark.jars.packages``) or from a local folder of jars (``spark.jars``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from kappa.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

Profile = Literal["jvm", "python"]
PROFILES: tuple[str, ...] = ("jvm", "python")
ENV_PROFILE = "KAPPA_SPARK_PROFILE"
ENV_JARS_DIR = "KAPPA_SPARK_JARS_DIR"
ENV_CONNECTORS_FILE = "KAPPA_SPARK_CONNECTORS_FILE"

KAFKA_PROVIDER_CLASS = "org.apache.spark.sql.kafka010.KafkaSourceProvider"
DELTA_EXTENSION_CLASS = "io.delta.sql.DeltaSparkSessionExtension"

# connectors/spark-connectors.json in a source checkout (the repository root).
CONNECTORS_FILE = Path(__file__).resolve().parents[3] / "connectors" / "spark-connectors.json"


def _kafka_jars(scala: str) -> list[str]:
    return [
        f"org.apache.spark:spark-token-provider-kafka-0-10_{scala}:{{spark_version}}",
        "org.apache.kafka:kafka-clients:*",
        "org.apache.commons:commons-pool2:*",
    ]


# Built-in copy of connectors/spark-connectors.json, used when kappa is installed without the
# repository (a test asserts both agree).
_BUILTIN_CONNECTORS: dict = {
    "spark": {
        "4.2": {
            "scala": "2.13",
            "kafka": "org.apache.spark:spark-sql-kafka-0-10_2.13:{spark_version}",
            "delta": "io.delta:delta-spark_4.2_2.13:4.4.1",
            "kafka_jars": _kafka_jars("2.13"),
            "delta_jars": ["io.delta:delta-storage:4.4.1"],
        },
        "4.1": {
            "scala": "2.13",
            "kafka": "org.apache.spark:spark-sql-kafka-0-10_2.13:{spark_version}",
            "delta": "io.delta:delta-spark_4.1_2.13:4.4.1",
            "kafka_jars": _kafka_jars("2.13"),
            "delta_jars": ["io.delta:delta-storage:4.4.1"],
        },
        "4.0": {
            "scala": "2.13",
            "kafka": "org.apache.spark:spark-sql-kafka-0-10_2.13:{spark_version}",
            "delta": "io.delta:delta-spark_2.13:4.0.1",
            "kafka_jars": _kafka_jars("2.13"),
            "delta_jars": ["io.delta:delta-storage:4.0.1"],
        },
        "3.5": {
            "scala": "2.12",
            "kafka": "org.apache.spark:spark-sql-kafka-0-10_2.12:{spark_version}",
            "delta": "io.delta:delta-spark_2.12:3.3.2",
            "kafka_jars": _kafka_jars("2.12"),
            "delta_jars": ["io.delta:delta-storage:3.3.2"],
        },
    },
    "delta_session_conf": {
        "spark.sql.extensions": DELTA_EXTENSION_CLASS,
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    },
}

# Error texts Spark gives when a data source's jar is missing (Spark Connect probe).
_MISSING_MARKERS = (
    "KAFKA_DATA_SOURCE_NOT_ENABLED",
    "DATA_SOURCE_NOT_FOUND",
    "Failed to find data source",
    "ClassNotFoundException",
)


def load_connectors(path: str | os.PathLike | None = None) -> dict:
    """Load the connector table: ``path``, env ``KAPPA_SPARK_CONNECTORS_FILE``, the repository's
    ``connectors/spark-connectors.json``, or the built-in copy, first that exists."""
    candidate = path or os.environ.get(ENV_CONNECTORS_FILE)
    if candidate:
        file = Path(candidate)
        if not file.is_file():
            raise ConfigError(f"connector table {file} does not exist")
    elif CONNECTORS_FILE.is_file():
        file = CONNECTORS_FILE
    else:
        return _BUILTIN_CONNECTORS
    try:
        return json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"connector table {file} cannot be read: {exc}") from exc


def _major_minor(spark_version: str) -> str:
    parts = spark_version.strip().split(".")
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
        raise ConfigError(f"not a Spark version: {spark_version!r} (expected e.g. 4.2.0)")
    return f"{parts[0]}.{parts[1]}"


def connector_packages(
    spark_version: str,
    connectors: tuple[str, ...] = ("kafka", "delta"),
    table: dict | None = None,
) -> list[str]:
    """Maven coordinates (for ``spark.jars.packages``) of the Kafka and Delta connectors
    matching ``spark_version`` (e.g. ``"4.2.0"``).

    ``spark-token-provider-kafka-0-10``, ``kafka-clients`` and ``commons-pool2`` are transitive
    dependencies of ``spark-sql-kafka-0-10`` and ``delta-storage`` of ``delta-spark``; Ivy
    resolves them, so they are not listed. Unknown Spark versions raise ConfigError.
    """
    table = table if table is not None else load_connectors()
    key = _major_minor(spark_version)
    entry = table.get("spark", {}).get(key)
    if entry is None:
        supported = ", ".join(sorted(table.get("spark", {}), reverse=True))
        raise ConfigError(
            f"no Kafka/Delta connector coordinates for Spark {spark_version}; "
            f"supported Spark versions: {supported}"
        )
    out = []
    for name in connectors:
        if name not in entry:
            raise ConfigError(f"unknown connector {name!r}; known: kafka, delta")
        out.append(entry[name].format(spark_version=spark_version.strip()))
    return out


def delta_session_conf(table: dict | None = None) -> dict[str, str]:
    """Spark settings delta-spark needs on a session (SQL extension and catalog)."""
    table = table if table is not None else load_connectors()
    return dict(table.get("delta_session_conf", _BUILTIN_CONNECTORS["delta_session_conf"]))


def local_jars(folder: str | os.PathLike | None = None) -> list[str]:
    """Absolute paths of the ``*.jar`` files in ``folder`` (default env
    ``KAPPA_SPARK_JARS_DIR``), sorted, for ``spark.jars``. No folder given -> ``[]``."""
    folder = folder or os.environ.get(ENV_JARS_DIR)
    if not folder:
        return []
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise ConfigError(f"Spark jars folder {path} does not exist ({ENV_JARS_DIR})")
    return sorted(str(p.resolve()) for p in path.glob("*.jar") if p.is_file())


def _class_loadable(spark: "SparkSession", class_name: str) -> bool | None:
    """True/False when the driver JVM can/cannot load ``class_name``; None without py4j."""
    try:
        jvm = getattr(spark, "_jvm", None)
    except Exception:  # noqa: BLE001 - Spark Connect raises JVM_ATTRIBUTE_NOT_SUPPORTED
        jvm = None
    if jvm is None:
        return None
    try:
        loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
        jvm.java.lang.Class.forName(class_name, False, loader)
        return True
    except Exception:  # noqa: BLE001 - py4j wraps ClassNotFoundException
        return False


def _probe_by_query(spark: "SparkSession", fmt: str) -> bool:
    """Ask Spark to analyse a read of ``fmt`` (works on Spark Connect): a missing-connector
    error means absent, any other error (missing options, no such path) means present."""
    try:
        if fmt == "delta":
            reader = spark.read.format("delta").load("/nonexistent/kappa-connector-probe")
        else:
            reader = spark.read.format(fmt).load()
        _ = reader.schema
    except Exception as exc:  # noqa: BLE001 - the error text is the answer
        text = str(exc)
        return not any(marker in text for marker in _MISSING_MARKERS)
    return True


def has_connectors(spark: "SparkSession") -> dict[str, bool]:
    """``{"kafka": bool, "delta": bool}``: which JVM connectors ``spark`` can use."""
    out = {}
    for name, cls, fmt in (
        ("kafka", KAFKA_PROVIDER_CLASS, "kafka"),
        ("delta", DELTA_EXTENSION_CLASS, "delta"),
    ):
        found = _class_loadable(spark, cls)
        out[name] = _probe_by_query(spark, fmt) if found is None else found
    return out


def detect_profile(spark: "SparkSession") -> Profile:
    """``"jvm"`` when both the Kafka and the Delta JVM connectors are on the classpath,
    else ``"python"``."""
    found = has_connectors(spark)
    return "jvm" if found["kafka"] and found["delta"] else "python"


def resolve_profile(
    spark: "SparkSession", requested: Literal["auto", "jvm", "python"] = "auto"
) -> Profile:
    """The profile to use: ``requested`` unless ``"auto"``, else env ``KAPPA_SPARK_PROFILE``
    (``jvm``/``python``/``auto``), else :func:`detect_profile`."""
    choice = (requested or "auto").strip().lower()
    if choice not in ("auto", *PROFILES):
        raise ConfigError(f"unknown Spark connector profile {requested!r}; use auto, jvm or python")
    if choice == "auto":
        env_choice = os.environ.get(ENV_PROFILE, "").strip().lower() or "auto"
        if env_choice not in ("auto", *PROFILES):
            raise ConfigError(
                f"{ENV_PROFILE}={env_choice!r} is not a connector profile; use auto, jvm or python"
            )
        choice = env_choice
    if choice == "auto":
        return detect_profile(spark)
    return choice  # type: ignore[return-value]
