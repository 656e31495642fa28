"""confluent-kafka configuration: Spark-style ``kafka.`` options to librdkafka keys, redaction."""

from __future__ import annotations

from collections.abc import Mapping

# Option keys of Spark's Kafka source/sink that are not librdkafka settings; they are skipped
# when a Spark-style options map is handed over whole.
SPARK_ONLY_OPTIONS = frozenset(
    {
        "subscribe",
        "subscribepattern",
        "assign",
        "startingoffsets",
        "endingoffsets",
        "startingoffsetsbytimestamp",
        "endingoffsetsbytimestamp",
        "failondataloss",
        "maxoffsetspertrigger",
        "minoffsetspertrigger",
        "maxtriggerdelay",
        "minpartitions",
        "includeheaders",
        "topic",
        "groupidprefix",
        "kafkaconsumer.polltimeoutms",
        "fetchoffset.numretries",
        "fetchoffset.retryintervalms",
    }
)

# Java-client keys that librdkafka spells differently or does not know.
_RENAMES = {
    "sasl.jaas.config": None,  # Java only; see _jaas_to_sasl
    "key.deserializer": None,
    "value.deserializer": None,
    "key.serializer": None,
    "value.serializer": None,
    "ssl.truststore.type": None,
    "ssl.keystore.type": None,
}

_SECRET_MARKERS = (
    "password",
    "secret",
    "sasl.jaas",
    "token",
    "key.pem",
    "keystore.key",
    "ssl.key",
    "private",
    "credential",
    "sasl.oauthbearer.config",
    "api.key",
    "apikey",
    "user.info",
)

REDACTED = "***"


def _jaas_to_sasl(jaas: str) -> dict[str, str]:
    """Pull ``username``/``password`` out of a Java ``sasl.jaas.config`` PlainLoginModule line."""
    import re

    out: dict[str, str] = {}
    for name in ("username", "password"):
        match = re.search(rf'{name}\s*=\s*"([^"]*)"', jaas)
        if match:
            out[f"sasl.{name}"] = match.group(1)
    return out


def client_config(bootstrap_servers: str, options: Mapping[str, str] | None = None) -> dict:
    """Build a confluent-kafka (librdkafka) config.

    ``options`` may hold Spark-style keys prefixed with ``kafka.`` (``kafka.security.protocol``)
    or bare librdkafka keys (``security.protocol``). Spark-only source options
    (``subscribe``, ``startingOffsets``, ...) are ignored. ``kafka.bootstrap.servers`` in
    ``options`` overrides ``bootstrap_servers``. A Java ``sasl.jaas.config`` with a
    PlainLoginModule/ScramLoginModule is translated to ``sasl.username``/``sasl.password``.
    """
    conf: dict = {"bootstrap.servers": bootstrap_servers}
    for raw_key, value in (options or {}).items():
        key = str(raw_key)
        if key.startswith("kafka."):
            key = key[len("kafka.") :]
        elif key.lower() in SPARK_ONLY_OPTIONS:
            continue
        if key == "sasl.jaas.config":
            conf.update(_jaas_to_sasl(str(value)))
            continue
        if key in _RENAMES and _RENAMES[key] is None:
            continue
        conf[key] = value if not isinstance(value, bool) else str(value).lower()
    return conf


def is_secret_key(key: str) -> bool:
    """True when ``key`` names a setting whose value must never be logged."""
    lowered = key.lower()
    return any(marker in lowered for marker in _SECRET_MARKERS)


def redact(conf: Mapping) -> dict:
    """Return a copy of ``conf`` with every secret value replaced by ``***`` (for logs/errors)."""
    return {k: (REDACTED if is_secret_key(str(k)) else v) for k, v in conf.items()}
