"""Dispatch settings (env prefix DISPATCH_)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.dispatch.domain import DEFAULT_RULES_FILE
from services.dispatch.notify.settings import DEV_ALERT_TOKEN, NotifySettings
from shared.inputs import WebUrl
from shared.settings import DEV_AUTH_PRIVATE_KEY, ServiceSettings


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
    # Which actions must carry a photo (shared.evidence): 办结 does not by default (the return visit's photo of the
    # thermometer is the evidence that counts); a district that wants the fix photographed turns it on.
    photo_required_on_resolve: bool = False

    # Tokens: dispatch signs them (shared.auth) with this Ed25519 key, PEM or a private JWK; the dev key is refused
    # in production. Its public half is served at /.well-known/jwks.json for intake and follow-up.
    signs_tokens: ClassVar[bool] = True
    auth_private_key: SecretStr = SecretStr(DEV_AUTH_PRIVATE_KEY)

    # Sign-in throttling (services.dispatch.throttle), kept in the database so every replica sees it: past
    # ``login_lockout_after`` failures of an account (``login_address_lockout_after`` of a client address; an office
    # behind one address has many people), each further failure locks it out for twice as long as the one before,
    # from ``login_lockout_base_seconds`` up to ``login_lockout_max_seconds``. Failures older than
    # ``login_failure_window_seconds`` are forgotten.
    login_lockout_after: int = Field(default=5, ge=1)
    login_address_lockout_after: int = Field(default=20, ge=1)
    login_lockout_base_seconds: float = Field(default=1.0, gt=0)
    login_lockout_max_seconds: float = Field(default=900.0, gt=0)
    login_failure_window_seconds: float = Field(default=3600.0, gt=0)
    # Password checks (argon2id: 64 MiB and tens of milliseconds each) run at most ``login_hash_concurrency`` at a
    # time in a process; ``login_hash_queue`` more sign-ins may wait, any further one is answered 429 at once.
    login_hash_concurrency: int = Field(default=2, ge=1)
    login_hash_queue: int = Field(default=16, ge=0)

    # The field app (/field/): where the phone's browser reaches intake (一键上报, 访民问暖, places); it uploads
    # photos to ``photos.public_endpoint_url`` (or ``photos.endpoint_url``).
    console_intake_url: WebUrl = Field(
        default="http://127.0.0.1:8001", description="Where the field app's browser reaches intake."
    )

    # Notifications to units' groups, phones and systems, and ops alerts to the on-call (services.dispatch.notify).
    notify: NotifySettings = NotifySettings()

    @model_validator(mode="after")
    def _real_signing_key(self) -> DispatchSettings:
        key = self.auth_private_key.get_secret_value().strip()
        if self.environment == "production" and key in ("", DEV_AUTH_PRIVATE_KEY.strip()):
            raise ValueError(
                "auth_private_key is the development key (a placeholder) or unset; set the real signing key in "
                "production"
            )
        if not key:  # unset (docker-compose passes an empty default): the development key
            self.auth_private_key = SecretStr(DEV_AUTH_PRIVATE_KEY)
        return self

    @model_validator(mode="after")
    def _real_notify_secrets(self) -> DispatchSettings:
        if self.environment == "production":
            if self.notify.alert_token.get_secret_value() in ("", DEV_ALERT_TOKEN):
                raise ValueError(
                    "notify.alert_token is the development token (a placeholder); set Alertmanager's real one"
                )
            if self.notify.allow_insecure_local:
                self.notify = self.notify.model_copy(update={"allow_insecure_local": False})
        return self
