"""Follow-up settings (env prefix FOLLOWUP_)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

DEFAULT_SCORE_WEIGHTS = {
    "on_time_sign_in_rate": 0.20,
    "on_time_resolve_rate": 0.20,
    "satisfaction_rate": 0.25,
    "temperature_compliance": 0.20,
    "redo_rate": 0.15,  # counted as (1 − redo rate)
}

# The 12345 hotline's composite (assessment.composite): 响应率 30, 解决率 35, 满意率 35 (one banner's rules).
DEFAULT_ASSESSMENT_WEIGHTS = {"response_rate": 30.0, "resolution_rate": 35.0, "satisfaction_rate": 35.0}


def _checked_weights(weights: dict[str, float], known: dict[str, float]) -> dict[str, float]:
    unknown = set(weights) - set(known)
    if unknown:
        raise ValueError(f"unknown weights {sorted(unknown)}; use {sorted(known)}")
    if any(w < 0 for w in weights.values()) or not any(w > 0 for w in weights.values()):
        raise ValueError("weights must be ≥ 0 and not all zero")
    return weights


class FollowupSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FOLLOWUP_", extra="ignore")

    service_name: str = "followup"
    database_url: str = "postgresql+asyncpg://heat:heat@127.0.0.1:55432/followup"
    http_port: int = 8003

    # 回访
    visit_within_hours: float = Field(default=24.0, gt=0, description="回访 deadline after a resolution.")
    # 回访 测温拍照: a visit at which the resident was reached carries at least one photo (the thermometer) unless a
    # district turns this off (shared.evidence; an unreached attempt never needs one).
    photo_required_on_visit: bool = True
    unreached_retry_hours: float = Field(
        default=24.0, gt=0, description="After a first unreached attempt the deadline is at least this far away."
    )
    unreached_max_attempts: int = Field(
        default=2, ge=2, le=5, description="Unreached attempts after which the visit is decided on temperature alone."
    )
    building_sample_size: int = Field(
        default=3, ge=1, le=50, description="Households visited for a building-wide case (complainants first)."
    )
    standard_temp_c: float = Field(default=18.0, description="Indoor standard (northern provinces' rules).")
    district_standard_temp_c: dict[str, float] = Field(
        default_factory=dict, description='Per-district override of the indoor standard, e.g. {"D-CG": 20}.'
    )

    # 每周随机抽核
    spot_check_seed: str = Field(default="heating-followup", description="Seed of the weekly draw (reproducible).")
    spot_check_share: float = Field(default=0.1, gt=0, le=1, description="Share of a week's closures checked.")
    spot_check_share_by_street: dict[str, float] = Field(
        default_factory=dict, description='Per-street override of the share, e.g. {"S-JYG": 0.2}.'
    )
    spot_check_minimum: int = Field(default=1, ge=0, description="At least this many checks when a street closed any.")
    spot_check_auto: bool = Field(default=False, description="Draw every street each Monday on a durable timer.")
    spot_check_draw_hour: int = Field(default=6, ge=0, le=23, description="Local hour of the Monday draw.")

    # 考核与报表
    report_timezone: str = Field(default="Asia/Shanghai", description="Days and weeks of reports are local days.")
    score_weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_SCORE_WEIGHTS), description="Weights of the composite unit score."
    )
    assessment_weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_ASSESSMENT_WEIGHTS),
        description="Weights of the 12345 assessment's composite over response_rate, resolution_rate and "
        "satisfaction_rate (any scale: the composite divides by their sum).",
    )
    assessment_gauge_days: int = Field(
        default=7, ge=1, le=400, description="The assessment gauges cover the assignments of the last N local days."
    )
    area_names: dict[str, str] = Field(
        default_factory=dict, description="Display names of communities and streets in the text reports (id → 名称)."
    )
    notable_limit: int = Field(default=10, ge=0, le=100, description="Notable cases listed in a daily report.")

    # durable timers
    run_timers: bool = Field(default=True, description="Fire visit deadlines in this replica (any number may).")
    timer_batch_size: int = Field(default=200, ge=1, le=10_000)
    timer_poll_seconds: float = Field(default=0.5, gt=0)

    @field_validator("score_weights")
    @classmethod
    def _known_weights(cls, weights: dict[str, float]) -> dict[str, float]:
        return _checked_weights(weights, DEFAULT_SCORE_WEIGHTS)

    @field_validator("assessment_weights")
    @classmethod
    def _known_assessment_weights(cls, weights: dict[str, float]) -> dict[str, float]:
        return _checked_weights(weights, DEFAULT_ASSESSMENT_WEIGHTS)

    @field_validator("report_timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r}") from exc
        return name

    def standard_for(self, district_id: str) -> float:
        """The indoor standard in force for a district (°C)."""
        return self.district_standard_temp_c.get(district_id, self.standard_temp_c)

    def spot_check_share_for(self, street_id: str) -> float:
        return self.spot_check_share_by_street.get(street_id, self.spot_check_share)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.report_timezone)
