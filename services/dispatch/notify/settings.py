"""The notifier's settings (``DISPATCH_NOTIFY`` as JSON, or ``DISPATCH_NOTIFY__<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from services.dispatch.notify.channels.sms import SmsConfig

DEV_ALERT_TOKEN = "dev-alertmanager-token-change-me"  # deploy/alertmanager/notify-token


class NotifySettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    enabled: bool = Field(default=True, description="Turn every notification off (rows are neither made nor sent).")
    # The SMS provider's account (an Aliyun SendSms-shaped API); absent: SMS targets park their messages.
    sms: SmsConfig | None = None
    # Alertmanager's webhook (POST /notify/v1/alertmanager) presents this bearer token; the dev one is refused in
    # production.
    alert_token: SecretStr = SecretStr(DEV_ALERT_TOKEN)
    # A robot webhook takes about 20 messages a minute, an SMS provider a few a minute per number: a target is sent
    # to at most once per interval, and what piles up meanwhile leaves as one digest.
    min_interval_seconds: dict[str, float] = Field(
        default_factory=lambda: {"wecom": 3.0, "dingtalk": 3.0, "sms": 12.0, "webhook": 0.0}
    )
    digest_max: int = Field(default=50, ge=1, le=500, description="Messages one digest carries at most.")
    timeout_seconds: float = Field(default=5.0, gt=0)
    max_attempts: int = Field(default=8, ge=1)
    backoff_base_seconds: float = Field(default=2.0, gt=0)
    backoff_cap_seconds: float = Field(default=300.0, gt=0)
    poll_seconds: float = Field(default=0.5, gt=0)
    visit_reminder_hours: float = Field(default=4.0, ge=0, description="How long before a return visit is due.")
    # http:// targets on 127.0.0.1 / localhost (the local receiver of the demo and the tests); refused in production.
    allow_insecure_local: bool = True
