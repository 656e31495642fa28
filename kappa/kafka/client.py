"""confluent-kafka configuration: Spark-style ``kafka.`` options to librdkafka keys, redaction,
and how an unreachable broker is reported.

Design note -- brokers that cannot be reached: every client built from :func:`client_config`
gets a bounded connection setup time (``socket.connection.setup.timeout.ms``), sends
librdkafka's own log through Python logging (logger ``kappa.librdkafka``: silent unless the CLI
runs with ``--verbose``/``--debug`` or the application configures logging) and records the
broker errors librdkafka reports (``error_cb``: "Connect to ipv4#127.0.0.1:1 failed: Connection
refused"). Code that waits for a broker waits at most :func:`kafka_timeout_s` seconds
(``KAPPA_KAFKA_TIMEOUT_S``, default 15) and then raises :class:`BrokerUnreachable`: one line
naming the bootstrap servers, the time waited and librdkafka's last error. Options given by
the user (``kafka.socket.connection.setup.timeout.ms``...) win over these defaults.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping
from typing import Any

from kappa.errors import ConfigError, KappaError

#: librdkafka's log lines go to this logger (a NullHandler keeps them off by default).
LOGGER_NAME = "kappa.librdkafka"
logging.getLogger(LOGGER_NAME).addHandler(logging.NullHandler())

TIMEOUT_ENV = "KAPPA_KAFKA_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 15.0

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
    conf.update(runtime_defaults())
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


# ---- bounded waits and unreachable brokers ----------------------------------------------------
#: Keys :func:`client_config` adds for every client (not user settings).
RUNTIME_KEYS = frozenset({"logger", "error_cb", "socket.connection.setup.timeout.ms"})


def kafka_timeout_s() -> float:
    """Seconds to wait for a broker before failing: ``KAPPA_KAFKA_TIMEOUT_S`` (default 15)."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigError(f"{TIMEOUT_ENV}={raw!r}: expected a number of seconds > 0")
    return value


def runtime_defaults() -> dict[str, Any]:
    """The client settings kappa adds: bounded connection setup, log and error routing."""
    return {
        "socket.connection.setup.timeout.ms": max(1000, int(kafka_timeout_s() * 1000)),
        "logger": logging.getLogger(LOGGER_NAME),
        "error_cb": BrokerErrors(),
    }


class BrokerErrors:
    """``error_cb`` of a client: remembers librdkafka's last broker-level error (served by the
    client's ``poll``/``consume``), so a timeout can say why the broker was not reached."""

    def __init__(self) -> None:
        self.last: str | None = None
        self.code: int | None = None

    def __call__(self, err: Any) -> None:
        from confluent_kafka import KafkaError

        # "1/1 brokers are down" says less than the connection error before it
        if err.code() == KafkaError._ALL_BROKERS_DOWN and self.last is not None:
            return
        self.last, self.code = str(err.str()), int(err.code())

    def cause(self) -> str | None:
        """The last error without librdkafka's ``host:port/id: `` prefix and timing suffix."""
        import re

        if self.last is None:
            return None
        text = re.sub(r"^\S+/(?:bootstrap|\d+): ", "", self.last)
        return re.sub(r" \(after \d+ms in state \w+(?:, \d+ identical error\(s\) suppressed)?\)$", "", text)


class BrokerUnreachable(KappaError):
    """No broker answered within the timeout. One line: role, servers, seconds and cause."""

    def __init__(self, servers: str, seconds: float, cause: str | None = None, role: str = "source"):
        self.servers, self.seconds, self.cause, self.role = servers, seconds, cause, role
        why = f" ({cause})" if cause else ""
        super().__init__(f"{role}: Kafka broker {servers} unreachable after {seconds:.0f} s{why}")


def last_broker_error(conf: Mapping[str, Any], client: Any = None) -> str | None:
    """librdkafka's last broker error recorded for ``conf``.

    ``client``'s callbacks are served first with ``poll(0)``: pass an AdminClient or Producer,
    or a Consumer only when it is about to be closed (``poll`` may consume a record).
    """
    if client is not None:
        with contextlib.suppress(Exception):  # best effort: a closed client has nothing to serve
            client.poll(0)
    errors = conf.get("error_cb")
    return errors.cause() if isinstance(errors, BrokerErrors) else None


def is_unreachable(exc: BaseException) -> bool:
    """True for a KafkaException meaning "no broker answered" (transport, timeout, all down)."""
    from confluent_kafka import KafkaError, KafkaException

    if not isinstance(exc, KafkaException) or not exc.args:
        return False
    err = exc.args[0]
    code = err.code() if isinstance(err, KafkaError) else None
    return code in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT, KafkaError._RESOLVE)


def unreachable(conf: Mapping[str, Any], seconds: float, client: Any = None, role: str = "source") -> BrokerUnreachable:
    """The :class:`BrokerUnreachable` error for ``conf`` after waiting ``seconds``."""
    return BrokerUnreachable(str(conf.get("bootstrap.servers")), seconds, last_broker_error(conf, client), role)


def list_topics(conf: Mapping[str, Any], timeout: float | None = None, role: str = "source") -> Any:
    """``AdminClient.list_topics`` waiting at most ``timeout`` (default :func:`kafka_timeout_s`);
    raises :class:`BrokerUnreachable` when no broker answers."""
    from confluent_kafka.admin import AdminClient

    timeout = kafka_timeout_s() if timeout is None else timeout
    admin = AdminClient(dict(conf))
    try:
        return admin.list_topics(timeout=timeout)
    except Exception as exc:
        if is_unreachable(exc):
            raise unreachable(conf, timeout, admin, role) from None
        raise


def kafka_conf(spec: Any) -> dict:
    """The client settings of a Kafka source or sink plan (secret references resolved)."""
    from kappa.plan_kinds import resolve_secrets

    return client_config(spec.bootstrap_servers, resolve_secrets(spec.options))
