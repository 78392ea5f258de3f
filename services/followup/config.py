"""Follow-up settings (env prefix FOLLOWUP_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class FollowupSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FOLLOWUP_", extra="ignore")

    service_name: str = "followup"
    database_url: str = "postgresql+asyncpg://heat:heat@127.0.0.1:55432/followup"
    http_port: int = 8003
    visit_within_hours: float = Field(default=24.0, description="回访 deadline after a resolution.")
    standard_temp_c: float = Field(default=18.0, description="Indoor standard (northern provinces' rules).")
    district_standard_temp_c: dict[str, float] = Field(
        default_factory=dict, description='Per-district override of the indoor standard, e.g. {"D-CG": 20}.'
    )
