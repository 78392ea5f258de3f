"""Dispatch settings (env prefix DISPATCH_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.dispatch.domain import DEFAULT_RULES_FILE
from shared.inputs import WebUrl
from shared.settings import ServiceSettings


class DispatchSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DISPATCH_", extra="ignore")

    service_name: str = "dispatch"
    database_url: str = "postgresql+asyncpg://heat:heat@127.0.0.1:55432/dispatch"
    http_port: int = 8002
    rules_file: Path = Field(default=DEFAULT_RULES_FILE, description="Rules loaded when the database has none.")
    timer_batch_size: int = Field(default=500, ge=1, le=10_000)
    timer_poll_seconds: float = Field(default=0.5, gt=0)
    console_followup_url: WebUrl = Field(
        default="http://127.0.0.1:8003", description="Where the console's browser reaches follow-up (reports)."
    )
    run_timers: bool = Field(default=True, description="Fire deadlines in this replica (any number may).")
