"""Client config building and secret redaction (no broker needed)."""

from __future__ import annotations

from kappa.kafka.client import RUNTIME_KEYS, client_config, redact


def _user_keys(conf: dict) -> dict:
    """The settings translated from the options (without the runtime keys kappa adds)."""
    return {k: v for k, v in conf.items() if k not in RUNTIME_KEYS}


def test_spark_prefixed_and_bare_keys():
    conf = client_config(
        "b1:9092",
        {
            "kafka.security.protocol": "SASL_SSL",
            "sasl.mechanism": "PLAIN",
            "subscribe": "orders",
            "startingOffsets": "earliest",
            "kafka.sasl.jaas.config": (
                "org.apache.kafka.common.security.plain.PlainLoginModule required "
                'username="u1" password="p@ss";'
            ),
        },
    )
    assert _user_keys(conf) == {
        "bootstrap.servers": "b1:9092",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "u1",
        "sasl.password": "p@ss",
    }
    assert _user_keys(client_config("a:1", {"kafka.bootstrap.servers": "b:2"})) == {"bootstrap.servers": "b:2"}
    assert _user_keys(client_config("a:1")) == {"bootstrap.servers": "a:1"}


def test_redact_masks_secrets_only():
    conf = {
        "bootstrap.servers": "b:1",
        "sasl.username": "u",
        "sasl.password": "p",
        "ssl.key.password": "k",
        "ssl.key.pem": "-----BEGIN",
        "sasl.oauthbearer.client.secret": "s",
        "sasl.jaas.config": "x",
        "token": "t",
        "linger.ms": 5,
    }
    assert redact(conf) == {
        "bootstrap.servers": "b:1",
        "sasl.username": "u",
        "sasl.password": "***",
        "ssl.key.password": "***",
        "ssl.key.pem": "***",
        "sasl.oauthbearer.client.secret": "***",
        "sasl.jaas.config": "***",
        "token": "***",
        "linger.ms": 5,
    }
    assert conf["sasl.password"] == "p"  # the input is not modified
