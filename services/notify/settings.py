"""Notify's own settings (prefix ``MOTCUA_``): where e-mail and SMS go, how to retry."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_", extra="ignore")

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_tls: Literal["none", "starttls", "implicit"] = "none"
    smtp_user: str | None = None
    smtp_password: SecretStr = SecretStr("")
    mail_from: str = "Cong dich vu cong <no-reply@motcua.local>"
    sms_url: str = "http://127.0.0.1:8006/sms"
    sms_token: str | None = None
    webhook_url: str | None = None
    notify_rules_file: Path | None = None
    sinks_port: int = 8006
    notify_retry_base_seconds: float = 2.0
    notify_retry_max_seconds: float = 900.0
    # 20 attempts with backoff capped at 15 minutes outlast a channel down for an hour
    # even with the shortest jitter (about 83 minutes of retrying in all).
    notify_max_attempts: int = 20
    # How often the delivery loop looks for due notices. The look is one indexed query
    # (about 0.1 ms of CPU); half a second of it was half of the wait between a dossier's
    # receipt and its notice.
    notify_poll_seconds: float = 0.1
    # Threads sending a round's notices, one recipient each at a time.
    notify_senders: int = 8
    # A notice being sent is not due again for this long: no other delivery loop takes
    # it meanwhile; after a crash mid-send it is sent again once the lease has ended.
    # Longer than a send may take (SMTP's timeout is 15 s per exchange).
    notify_send_lease_seconds: float = 60.0
    sms_limit_per_hour: int = 20
