"""Connection options for a production cluster: TLS, SASL, replicas, idempotence."""

from __future__ import annotations

import ssl

import pytest
from pydantic import SecretStr, ValidationError

from motcua.runtime.kafka import EVENT_TOPIC_CONFIG, client_options, topic_configs
from motcua.runtime.settings import Settings

# A production cluster: TLS with SCRAM credentials (the reader's tests use it too).
SASL_SSL = Settings(
    kafka_bootstrap_servers="k1:9093,k2:9093",
    kafka_security_protocol="SASL_SSL",
    kafka_sasl_mechanism="SCRAM-SHA-512",
    kafka_sasl_username="motcua",
    kafka_sasl_password=SecretStr("s3cret"),
)


def test_the_embedded_default_is_plaintext_with_nothing_else() -> None:
    options = client_options(Settings(kafka_bootstrap_servers="k:9092"))
    assert options == {"bootstrap_servers": "k:9092", "security_protocol": "PLAINTEXT"}


def test_sasl_over_tls_carries_credentials_and_a_verifying_context() -> None:
    options = client_options(SASL_SSL)
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "motcua"
    assert options["sasl_plain_password"] == "s3cret"
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_an_unknown_protocol_is_refused_when_settings_load() -> None:
    with pytest.raises(ValidationError, match="security_protocol"):
        Settings(kafka_security_protocol="TLS")


def test_replicated_topics_require_two_in_sync_copies() -> None:
    assert topic_configs(Settings()) == EVENT_TOPIC_CONFIG
    replicated = topic_configs(Settings(topic_replication_factor=3))
    assert replicated["min.insync.replicas"] == "2"
    assert replicated["retention.ms"] == "-1"
