"""Postal's own settings (prefix ``MOTCUA_``): the postal operator and the callbacks."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_POSTAL_SECRET = "motcua-dev-postal-secret"  # shared with the simulator; dev only


class PostalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_", extra="ignore")

    postal_url: str = Field(
        default="http://127.0.0.1:8012",
        description="Base URL of the postal operator's API; the default is the simulator",
    )
    postal_secret: SecretStr = SecretStr(DEV_POSTAL_SECRET)
    postal_operator_class: str | None = Field(
        default=None, description="package.module:Class of another PostalOperator adapter"
    )
    postal_operator_name: str = Field(default="Bưu điện tỉnh", description="On the notices")
    postal_callback_url: str = Field(
        default="http://127.0.0.1:8011/v1/postal/callback",
        description="Where the operator sends its signed tracking callbacks",
    )
    postal_signature_tolerance_seconds: float = 300.0
    postal_timeout_seconds: float = Field(default=10.0, gt=0)
    postal_poll_seconds: float = Field(default=0.5, gt=0)
    postal_retry_base_seconds: float = Field(default=2.0, gt=0)
    postal_retry_max_seconds: float = Field(default=300.0, gt=0)
    postal_sim_port: int = 8012
    # The simulator's behaviour: extra copies of each callback, and whether it sends a
    # shipment's callbacks in a shuffled order (staging and tests).
    postal_sim_duplicates: int = Field(default=0, ge=0)
    postal_sim_shuffle: bool = False
