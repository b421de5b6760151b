"""Interagency's own settings (prefix ``MOTCUA_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class InteragencySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_", extra="ignore")

    interagency_ministries_file: Path | None = Field(
        default=None,
        description="Ministries and what each receives; unset: services/interagency/data/"
        "ministries.json",
    )
