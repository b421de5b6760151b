"""Payment's own settings (prefix ``MOTCUA_``): the gateway and the attempts' lifetime."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_GATEWAY_SECRET = "motcua-dev-gateway-secret"  # shared with the simulator; dev only


class PaymentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_", extra="ignore")

    payment_gateway_url: str = Field(
        default="http://127.0.0.1:8007",
        description="Base URL of the gateway; the default is the bundled simulator",
    )
    payment_gateway_secret: SecretStr = SecretStr(DEV_GATEWAY_SECRET)
    payment_gateway_class: str | None = Field(
        default=None, description="package.module:Class of another Gateway implementation"
    )
    payment_signature_tolerance_seconds: float = 300.0
    payment_attempt_minutes: float = 90.0
    payment_check_seconds: float = 5.0
    payment_public_url: str = Field(
        default="http://127.0.0.1:8003", description="This service as applicants reach it"
    )
    payment_return_url: str = Field(
        default="http://127.0.0.1:8003/v1/payments-returned",
        description="Where the hosted page sends the applicant back",
    )
    payment_callback_url: str = "http://127.0.0.1:8003/v1/gateway/callback"
    # The simulator's behaviour (staging and tests only).
    gateway_sim_port: int = 8007
    gateway_sim_duplicates: int = Field(default=1, ge=0, description="extra copies per callback")
    gateway_sim_delay_seconds: float = Field(default=0.0, ge=0)
    gateway_sim_shuffle: bool = True
