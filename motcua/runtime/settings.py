"""Settings shared by every service, read from the environment (prefix ``MOTCUA_``).

Nothing reads the environment at import time: the composition root of each process
builds one ``Settings`` and passes it down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "motcua-dev-secret-not-for-production"  # documented dev key (36 bytes)
MIN_JWT_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key at least as long as the hash


class Settings(BaseSettings):
    """Where the broker and the stores are, and how the services listen."""

    model_config = SettingsConfigDict(env_prefix="MOTCUA_", extra="ignore")

    kafka_bootstrap_servers: str | None = Field(
        default=None,
        description="Kafka bootstrap servers; unset means the embedded broker of `motcua up`.",
    )
    embedded_broker_port: int = 19092
    database_url: str | None = Field(
        default=None,
        description="postgresql://user:pass@host:port/db; unset means SQLite files in var_dir.",
    )
    var_dir: Path = Path("var")
    dossier_topic: str = "dossier-events"
    interagency_topic: str = Field(
        default="interagency-events",
        description="Curated feed for ministries; each ministry's is '<this>.<ministry code>'",
    )
    consumer_group_prefix: str = Field(
        default="", description="Prefix of every Kafka consumer group (one stack per prefix)"
    )
    dlq_topic_suffix: str = ".dlq"
    topic_partitions: int = 6
    topic_replication_factor: int = Field(
        default=1, description="Replicas of each topic we create (3 on a production cluster)"
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = Field(default=None, description="CA bundle of the brokers")
    kafka_ssl_certfile: Path | None = Field(default=None, description="Client certificate (mTLS)")
    kafka_ssl_keyfile: Path | None = Field(default=None, description="Client key (mTLS)")
    kafka_idempotent_producer: bool = Field(
        default=False,
        description=(
            "Idempotent producer (Apache Kafka supports it; the embedded broker does not). "
            "Correctness never depends on it: consumers skip repeats by position."
        ),
    )
    jwt_secret: SecretStr = Field(
        default=SecretStr(DEV_JWT_SECRET),
        description=(
            "Shared HS256 key of `motcua token` and of systems that sign with one (at least "
            "32 bytes); empty: HS256 tokens are refused and only the OIDC issuers' are "
            "accepted. Unset: the dev key, which a service accepts only in dev mode"
        ),
    )
    jwt_issuer: str = Field(default="motcua", description="The 'iss' of HS256 tokens")
    dev_mode: bool = Field(
        default=False,
        description=(
            "Development and tests: a service starts with the documented dev key "
            "(`motcua up`, the demo, the tests and the benchmarks set it)"
        ),
    )
    oidc_issuers: str = Field(
        default="",
        description=(
            "Trusted OpenID Connect issuers: a JSON list, or the path of a file holding one "
            "(fields in motcua/web/oidc.py, IssuerConfig)"
        ),
    )
    oidc_leeway_seconds: int = Field(
        default=60, ge=0, description="Clock skew allowed on exp, nbf and iat"
    )
    oidc_jwks_refetch_seconds: float = Field(
        default=60.0,
        ge=0,
        description="A token naming an unknown key fetches the issuer's keys again at most "
        "once in this many seconds (per issuer)",
    )
    oidc_jwks_max_age_seconds: float = Field(
        default=3600.0, gt=0, description="Keys older than this are fetched again when used"
    )
    oidc_http_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Timeout of one discovery or JWKS request"
    )
    host: str = "127.0.0.1"
    intake_port: int = 8001
    workflow_port: int = 8002
    payment_port: int = 8003
    notify_port: int = 8004
    stats_port: int = 8005
    # 8006 and 8007 are the dev sinks and the payment gateway simulator.
    interagency_port: int = 8008
    portal_port: int = 8009
    postal_port: int = 8011
    # 8010 and 8012 are the national portal's and the postal operator's simulators.
    public_base_url: str = "http://127.0.0.1:8001"
    workflow_public_url: str = Field(
        default="http://127.0.0.1:8002",
        description="Workflow as applicants reach it: the electronic result's download link",
    )
    relay_batch_size: int = 500
    relay_idle_seconds: float = 0.05
    relay_enabled: bool = True
    log_level: str = "INFO"
    otel_spans_file: Path | None = Field(
        default=None,
        description=(
            "Write every finished trace span here as one JSON line (tests, debugging); "
            "collectors are reached with OTEL_TRACES_EXPORTER instead (see motcua/core/tracing.py)"
        ),
    )
    otel_traces_exporter: str = Field(
        default="",
        # OpenTelemetry's own variable, read under its own name (no MOTCUA_ prefix).
        validation_alias=AliasChoices("OTEL_TRACES_EXPORTER", "otel_traces_exporter"),
        description="OTEL_TRACES_EXPORTER: span exporters by name, comma-separated ('none')",
    )
    max_attachment_bytes: int = 10 * 1024 * 1024
    province: str = Field(
        default="Đồng Tháp",
        description=(
            "The province's name: the receipt's governing body (Ủy ban nhân dân tỉnh …) "
            "and its place line"
        ),
    )
    clock_file: Path | None = Field(
        default=None, description="Tests and demo only: read 'now' from this file"
    )
    overdue_check_seconds: float = 30.0
    # Fault injection for crash tests: exit hard once right after the broker acknowledged
    # a batch and before the relay recorded its position (the duplicate-publish window).
    # Only ``ops/serve.py`` reads it, to give the relays a ``Faults`` (``faults.py``).
    fault_relay_exit_after_publish: bool = False
    result_signing_dir: Path | None = Field(
        default=None,
        description=(
            "Each agency's certificate and key for signing electronic results: "
            "'<agency code>.p12' (PKCS#12 with its chain), its passphrase, if any, in "
            "'<agency code>.pass' beside it. Unset: a development CA under "
            "<var_dir>/dev-ca makes one per agency on first use (never in production)"
        ),
    )
    result_trust_roots: Path | None = Field(
        default=None,
        description=(
            "The roots a result's signer must chain to: a PEM file of one or more "
            "certificates, or a directory of .pem/.crt/.cer/.der files. Required with "
            "result_signing_dir; in development the dev CA's root is trusted as well"
        ),
    )

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap_servers or f"127.0.0.1:{self.embedded_broker_port}"

    def port_of(self, service: str) -> int:
        port: int = getattr(self, f"{service}_port")
        return port

    def dlq_topic(self, service: str) -> str:
        return f"{service}{self.dlq_topic_suffix}"
