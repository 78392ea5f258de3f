"""Dispatch settings (env prefix DISPATCH_)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class DispatchSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DISPATCH_", extra="ignore")

    service_name: str = "dispatch"
    database_url: str = "postgresql+asyncpg://heat:heat@127.0.0.1:55432/dispatch"
    http_port: int = 8002
