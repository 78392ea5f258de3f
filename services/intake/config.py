"""Intake settings (env prefix INTAKE_).

Secrets of the outside parties (12345 integrations, Open311 clients, sensor gateways) are mappings
``id → secret`` given as JSON in the environment, e.g.
``INTAKE_HOTLINE_INTEGRATIONS='{"12345-CG": {"secret": "…", "callback_url": "https://…"}}'``.
Left unset, development and test get fixed dev credentials; production gets none and must configure them.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.inputs import WebUrl
from shared.limits import Rate
from shared.settings import ServiceSettings

DEV_HOTLINE_INTEGRATION = "12345-dev"
DEV_HOTLINE_SECRET = "dev-only-12345-secret-change-me"
DEV_OPEN311_CLIENT = "open311-dev"
DEV_OPEN311_KEY = "dev-only-open311-key-change-me"
DEV_SENSOR_GATEWAY = "sensors-dev"
DEV_SENSOR_KEY = "dev-only-sensor-key-change-me"

# Kinds of caller with a rate limit of their own (the label of http_rate_limited_total).
HOTLINE = "hotline"
GRID_WORKER = "grid_worker"
OPEN311 = "open311"

# The heaviest valid sensor reading as JSON, measured: a 64-character sensor id (registry ids are ASCII, one byte a
# character), a timestamp with microseconds and offset, a 17-digit temperature, indented by 4: 220 bytes. The sensor
# route admits ``sensor_max_batch`` of them (5,000: 1.2 MB; 1.1 MB indented, 0.8 MB compact, as sent).
SENSOR_READING_MAX_BYTES = 240


class HotlineIntegration(BaseModel):
    """One 12345 platform that sends work orders and receives status callbacks."""

    secret: SecretStr
    callback_url: WebUrl | None = Field(
        default=None, description="Where status changes are POSTed (https:// or http://); None: no callbacks."
    )


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    service_name: str = "intake"
    database_url: str = "postgresql+asyncpg://heat:heat@127.0.0.1:55432/intake"
    http_port: int = 8001
    # 12345 -------------------------------------------------------------------------------------------
    hotline_integrations: dict[str, HotlineIntegration] | None = None
    hotline_max_skew_seconds: int = 300
    callback_timeout_seconds: float = 5.0
    callback_max_attempts: int = 10
    callback_backoff_base_seconds: float = 2.0
    callback_backoff_cap_seconds: float = 600.0
    callback_poll_seconds: float = 1.0
    callback_batch: int = 50

    # Open311 and sensors -------------------------------------------------------------------------------
    open311_api_keys: dict[str, SecretStr] | None = Field(default=None, description="client id → api_key")
    open311_jurisdiction: str = "heating.cg.example"
    sensor_gateway_keys: dict[str, SecretStr] | None = Field(default=None, description="gateway id → key")
    sensor_max_batch: int = 5000
    sensor_cold_threshold_c: float = 16.0
    sensor_cold_minutes: int = 120

    # Per-caller rate limits (shared.limits): token buckets in intake's database (shared.rate_buckets), one budget
    # for every replica. A 12345 integration is a city's whole platform: Beijing's took 3,724 calls in two morning
    # hours of a 2017 peak (~0.5/s; deploy/simulate/plan.py); 20/s is forty times that, and a burst of 200 lets a
    # platform resend a backlog after an outage. A grid worker is a person, but a phone back online sends a day's
    # queue of visits (30–50 households) at once. An Open311 api_key is an app relaying many residents. The simulator
    # and the benchmarks compress a season into minutes and raise these (deploy/local/services.py,
    # bench/intake_common.py).
    rate_limit_hotline_per_second: float = Field(default=20.0, gt=0)
    rate_limit_hotline_burst: int = Field(default=200, ge=1)
    rate_limit_grid_worker_per_second: float = Field(default=1.0, gt=0)
    rate_limit_grid_worker_burst: int = Field(default=60, ge=1)
    rate_limit_open311_per_second: float = Field(default=5.0, gt=0)
    rate_limit_open311_burst: int = Field(default=100, ge=1)

    # Grouping ------------------------------------------------------------------------------------------
    group_window_minutes: int = Field(
        default=360, description="A building or substation incident takes new reports while one came this recently."
    )

    @model_validator(mode="after")
    def _credentials(self) -> IntakeSettings:
        dev = self.environment != "production"
        if self.hotline_integrations is None:
            self.hotline_integrations = (
                {DEV_HOTLINE_INTEGRATION: HotlineIntegration(secret=SecretStr(DEV_HOTLINE_SECRET))} if dev else {}
            )
        if self.open311_api_keys is None:
            self.open311_api_keys = {DEV_OPEN311_CLIENT: SecretStr(DEV_OPEN311_KEY)} if dev else {}
        if self.sensor_gateway_keys is None:
            self.sensor_gateway_keys = {DEV_SENSOR_GATEWAY: SecretStr(DEV_SENSOR_KEY)} if dev else {}
        if not dev:
            secrets = [(f"hotline_integrations.{k}", v.secret) for k, v in self.hotline_integrations.items()]
            secrets += [(f"open311_api_keys.{k}", v) for k, v in self.open311_api_keys.items()]
            secrets += [(f"sensor_gateway_keys.{k}", v) for k, v in self.sensor_gateway_keys.items()]
            for name, secret in secrets:
                value = secret.get_secret_value()
                if "change-me" in value or len(value) < 16:
                    raise ValueError(f"{name} is a placeholder or too short; set a real secret in production")
        return self

    @property
    def integrations(self) -> dict[str, HotlineIntegration]:
        return self.hotline_integrations or {}

    @property
    def calls_back(self) -> frozenset[str]:
        """The integrations owed status callbacks: those with a callback URL."""
        return frozenset(name for name, i in self.integrations.items() if i.callback_url)

    def rate_limits(self) -> dict[str, Rate]:
        return {
            HOTLINE: Rate(self.rate_limit_hotline_per_second, self.rate_limit_hotline_burst),
            GRID_WORKER: Rate(self.rate_limit_grid_worker_per_second, self.rate_limit_grid_worker_burst),
            OPEN311: Rate(self.rate_limit_open311_per_second, self.rate_limit_open311_burst),
        }

    @property
    def sensor_max_body_bytes(self) -> int:
        """The body limit of ``POST /v1/sensor-readings``: room for a full batch of the heaviest valid readings."""
        return max(self.max_body_bytes, self.sensor_max_batch * SENSOR_READING_MAX_BYTES)
