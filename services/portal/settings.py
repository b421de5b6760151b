"""The portal sync's own settings (prefix ``MOTCUA_``): where the portal is, how to retry."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_PORTAL_API_KEY = "motcua-dev-portal-key"  # shared with the simulator; dev only


class PortalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_", extra="ignore")

    portal_url: str = Field(
        default="http://127.0.0.1:8010",
        description="Base URL of the national portal's sync API; the default is the simulator",
    )
    portal_api_key: SecretStr = SecretStr(DEV_PORTAL_API_KEY)
    portal_adapter_class: str | None = Field(
        default=None,
        description="package.module:Class of another Portal adapter (the portal's own "
        "protocol); unset: services.portal.adapter:HttpPortal",
    )
    portal_timeout_seconds: float = Field(default=10.0, gt=0)
    portal_poll_seconds: float = Field(
        default=0.2, gt=0, description="How often the pusher looks for records to send"
    )
    portal_retry_base_seconds: float = Field(default=1.0, gt=0)
    # Capped low enough that the portal, once back, has every dossier within a minute;
    # retries never give up: a dossier the portal does not have is always a failure.
    portal_retry_max_seconds: float = Field(default=60.0, gt=0)
    portal_send_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A record being sent is not taken by another instance for this long",
    )
    portal_senders: int = Field(default=4, ge=1, description="Records sent side by side")
    portal_sim_port: int = 8010
    # The simulator's behaviour at start (staging and tests; changed at run time on
    # POST /sim/config).
    portal_sim_mode: str = Field(default="ok", description="ok, fail, slow or twice")
    portal_sim_delay_seconds: float = Field(default=0.0, ge=0)
