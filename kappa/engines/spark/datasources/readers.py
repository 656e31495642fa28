"""Build Kafka and Delta reads for either connector profile from one option dict.

Spark's Kafka source and ``kappa_kafka`` take the same options, as do delta-spark and
``kappa_delta``; only the format name differs. A :class:`ReadSpec` is the pure description
(format, options, path) a test can assert on; :func:`build_kafka_read` /
:func:`build_delta_read` apply it to ``spark.readStream`` (or ``spark.read``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kappa.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

FORMATS = {
    ("kafka", "jvm"): "kafka",
    ("kafka", "python"): "kappa_kafka",
    ("delta", "jvm"): "delta",
    ("delta", "python"): "kappa_delta",
}
# Options only the python profile understands (delta-rs storage settings); the jvm profile
# configures storage through Hadoop settings (spark.hadoop.*) instead.
_PYTHON_ONLY_PREFIXES = ("storage.",)


@dataclass(frozen=True)
class ReadSpec:
    """What a read is made of: format name, options (string values, sorted) and path."""

    format: str
    options: tuple[tuple[str, str], ...]
    path: str | None = None

    def options_dict(self) -> dict[str, str]:
        """The options as a dict."""
        return dict(self.options)


def option_value(value: Any) -> str:
    """Spark option text of a Python value (``True`` -> ``"true"``, dicts -> JSON)."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def _format(kind: str, profile: str) -> str:
    try:
        return FORMATS[(kind, profile)]
    except KeyError:
        message = f"unknown Spark connector profile {profile!r}; use jvm or python"
        raise ConfigError(message) from None


def kafka_read_spec(profile: str, options: Mapping[str, Any]) -> ReadSpec:
    """Validate Spark Kafka source ``options`` and pair them with the profile's format."""
    from kappa.engines.spark.datasources.kafka_options import KafkaOptions

    text = {str(k): option_value(v) for k, v in options.items()}
    KafkaOptions.parse(text)  # same rules for both profiles: fail before Spark starts a query
    return ReadSpec(_format("kafka", profile), tuple(sorted(text.items())))


def jvm_kafka_reader_options(options: Mapping[str, Any]) -> dict[str, str]:
    """Options for Spark's own ``format("kafka")`` (validated, values as Spark strings)."""
    return kafka_read_spec("jvm", options).options_dict()


def delta_read_spec(profile: str, path: str, options: Mapping[str, Any] | None = None) -> ReadSpec:
    """Delta source options for the profile (``storage.*`` kept for ``python`` only)."""
    fmt = _format("delta", profile)
    text = {str(k): option_value(v) for k, v in (options or {}).items()}
    if profile == "jvm":
        text = {k: v for k, v in text.items() if not k.lower().startswith(_PYTHON_ONLY_PREFIXES)}
    return ReadSpec(fmt, tuple(sorted(text.items())), path)


def apply_spec(spark: "SparkSession", spec: ReadSpec, streaming: bool = True):
    """``spark.readStream`` (or ``spark.read``) with the spec's format and options; loaded
    when the spec has a path or the format needs none (Kafka)."""
    reader = (spark.readStream if streaming else spark.read).format(spec.format)
    reader = reader.options(**spec.options_dict())
    return reader


def build_kafka_read(
    spark: "SparkSession", profile: str, options: Mapping[str, Any], streaming: bool = True
):
    """The Kafka reader (``DataStreamReader``/``DataFrameReader``, not loaded) for ``profile``."""
    return apply_spec(spark, kafka_read_spec(profile, options), streaming)


def build_delta_read(
    spark: "SparkSession",
    profile: str,
    path: str,
    options: Mapping[str, Any] | None = None,
    streaming: bool = True,
):
    """The loaded Delta DataFrame (streaming or batch) of the table at ``path``."""
    spec = delta_read_spec(profile, path, options)
    return apply_spec(spark, spec, streaming).load(spec.path)
