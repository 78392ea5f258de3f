"""Settings base: one pydantic-settings class per service, each with its own env prefix."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.photos import PhotoStoreSettings
from shared.topics import Topics

# The development signing key (Ed25519) and its public key set. Public in this repository, so refused in production:
# dispatch must be given its own key (DISPATCH_AUTH_PRIVATE_KEY), intake and follow-up its JWKS or JWKS URL.
DEV_AUTH_PRIVATE_KEY = """-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ49jnGFPT4tmVSHTkJo1IoCN1ssPXTWzsUXOQ8/ZZHI
-----END PRIVATE KEY-----
"""
DEV_AUTH_PUBLIC_JWK = {"kty": "OKP", "crv": "Ed25519", "x": "QPblaRweOikRwmhPPAWYPMqAdgeONOMN_n4Hgz-wXSk"}
DEV_ADMIN_TOKEN = "dev-admin-token-change-me"


class ServiceSettings(BaseSettings):
    """What every service needs. Subclasses set ``env_prefix`` (INTAKE_, DISPATCH_, FOLLOWUP_)."""

    # Nested settings from the environment either as JSON (INTAKE_PHOTOS='{"bucket": …}') or one field at a time
    # (INTAKE_PHOTOS__BUCKET=…).
    model_config = SettingsConfigDict(extra="ignore", env_nested_delimiter="__")
    # Dispatch holds the signing key and checks its tokens with its public half; the others need a key set.
    signs_tokens: ClassVar[bool] = False

    service_name: str = "service"
    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "postgresql+asyncpg://heat:heat@127.0.0.1:55432/postgres"
    db_pool_size: int = 10  # the pool keeps twice this open (shared.db.create_engine)
    db_pool_pre_ping: bool = True  # test a connection idle in the pool over a second (shared.db.create_engine)
    kafka_bootstrap: str = "127.0.0.1:19092"
    kafka_topic_prefix: str = ""
    # The topics a service creates when they are missing (shared.kafka.topics): 1 for the single broker of the local
    # stack; on a cluster the same as the topics declared beside it (deploy/helm/examples/kafka.yaml: 3 and 2), so a
    # service that starts first never leaves a topic its brokers refuse to write to.
    kafka_replication_factor: int = Field(default=1, ge=1, le=9)
    kafka_min_insync_replicas: int | None = Field(default=None, ge=1, le=9)
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # How long an idle keep-alive connection is held open. It must outlast the idle limit of every client and proxy
    # in front (httpx and most pools drop theirs after 5 s, nginx after 60 s), so that the client is always the one
    # that closes: were both 5 s, a request sent just as the server closes its end is lost ("Server disconnected
    # without sending a response"), which is what uvicorn's default of 5 s did to the services' own clients.
    http_keep_alive_seconds: int = Field(default=75, ge=1)
    # How long a request may take to arrive: its head (request line and headers) from its first byte, and its body
    # again from the end of the head (shared.slow_requests). A client that sends slower has its connection closed,
    # or, when its body stalls, is answered 408: a slow sender cannot hold connections open without limit.
    http_request_timeout_seconds: float = Field(default=15.0, gt=0)
    log_level: str = "INFO"
    migrate_on_start: bool = True
    outbox_batch_size: int = 500
    outbox_poll_seconds: float = 0.5
    consumer_max_retries: int = 5
    # Partitions of a subscribed topic applied side by side in one process (each its own transaction): events of one
    # case share a partition, so they stay in order, while a slow database round trip holds up one partition.
    consumer_workers: int = Field(default=3, ge=1)
    # At most this many records per poll of a topic; a partition's share is applied in one transaction.
    consumer_batch_records: int = Field(default=200, ge=1, le=5000)
    # How long an idle poll waits for records before it returns empty (and, with faststream, sleeps as long again).
    consumer_batch_wait_ms: int = Field(default=20, ge=1, le=1000)
    # How long an event that overtook the fact it rests on (see shared.consumer.NotYet) waits before dead-lettering.
    consumer_wait_seconds: float = 300.0
    # The garbage collector once the process has started (shared.memory.settle): its heap frozen out of the
    # collector's walks, the youngest generation collected every this many allocations (Python's default is 700; 0
    # leaves the collector as Python set it).
    gc_young_threshold: int = Field(default=50_000, ge=0, le=1_000_000)
    # How long each step of a stop (background tasks, Kafka consumers, the producer, the database pool) may take before
    # the service logs what is stuck and goes on: a replica that never exits holds up a rollout and a test run alike.
    shutdown_step_seconds: float = Field(default=10.0, gt=0)
    # Tokens (shared.auth): who issues them and for whom, where the public keys are. Neither JWKS set: development
    # and test trust the dev key; production must name one (the dev key is never trusted there). JSON in the
    # environment: {"keys": [...]}. ``auth_trust_issuer`` false: dispatch's tokens (logins, the admin tooling's) are
    # not trusted at all, only the OIDC provider's; production demands one or the other explicitly.
    auth_issuer: str = "heating-dispatch"
    auth_trust_issuer: bool = True
    auth_audience: str = "heating-api"
    auth_jwks: dict[str, Any] | None = None
    auth_jwks_url: str | None = None
    # An external OIDC provider (a city's unified identity) trusted as well: its issuer, JWKS URL, audience, and the
    # claims that carry the role (grid_worker, unit, task_force, district, admin), the subject and the scope.
    auth_oidc_issuer: str | None = None
    auth_oidc_jwks_url: str | None = None
    auth_oidc_audience: str = "heating-api"
    auth_oidc_role_claim: str = "heating_role"
    auth_oidc_sub_claim: str = "sub"
    auth_oidc_scope_claim: str = "heating_scope"
    # How long a service trusts what it knows of an account's token version: a deactivated account's tokens are
    # refused everywhere within this long (plus, in intake and follow-up, the event's way over Kafka).
    auth_revocation_cache_seconds: float = Field(default=30.0, ge=0, le=30)
    admin_token: SecretStr = SecretStr(DEV_ADMIN_TOKEN)
    # Browser pages on other origins allowed to call this API (e.g. the dispatch console reading follow-up's
    # reports); JSON in the environment: ["http://127.0.0.1:8002"]. Empty: no CORS headers at all.
    cors_origins: list[str] = []
    # Request bodies (shared.limits.BodyLimit; 413 above). The heaviest valid body of a person's or a partner's
    # call, a visit with ten findings at every maximum length and every character escaped, weighs 0.47 MiB; the
    # admin loads (registry, units, accounts, rules) carry a whole district: the generated 50-street district's
    # registry, 12,000 households, weighs 2.2 MB. A larger registry is loaded in several PUTs (each an upsert).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # How far past the service's clock a time a caller observed (a sensor reading, a household visit) may lie
    # before it is refused as in the future (shared.inputs.not_in_future): room for the sender's clock running a
    # little fast, never for a reading from tomorrow. (A 12345 order's accepted_at is bounded, not stored or used.)
    max_clock_skew_seconds: int = Field(default=300, ge=0)
    max_admin_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    # Photo evidence (shared.photos, shared.evidence): the S3-compatible store and its limits. JSON in the
    # environment, e.g. INTAKE_PHOTOS='{"endpoint_url": "https://oss.example.gov.cn", "bucket": "heat-photos",
    # "access_key_id": "…", "secret_access_key": "…"}'; the default is the local stack's S3Proxy.
    photos: PhotoStoreSettings = PhotoStoreSettings()
    # Photos of cases closed longer than this are deleted from the store (and uploads no action named, a day after
    # their grant); 0 keeps them for ever.
    photo_retention_days: int = Field(default=365, ge=0)

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> ServiceSettings:
        if self.environment == "production":
            value = self.admin_token.get_secret_value()
            if "change-me" in value or len(value) < 16:
                raise ValueError("admin_token is a placeholder or too short; set a real secret in production")
            if self.auth_jwks is not None and any(
                k.get("x") == DEV_AUTH_PUBLIC_JWK["x"] for k in self.auth_jwks.get("keys", [])
            ):
                raise ValueError("auth_jwks holds the development key; set the real public keys in production")
            self.photos.refuse_placeholders()
            if self.auth_trust_issuer and not self.signs_tokens and not (self.auth_jwks or self.auth_jwks_url):
                raise ValueError(
                    "set auth_jwks or auth_jwks_url (the issuer's public keys) in production, or auth_trust_issuer="
                    "false to trust the OIDC provider alone"
                )
        if self.kafka_min_insync_replicas and self.kafka_min_insync_replicas > self.kafka_replication_factor:
            raise ValueError("kafka_min_insync_replicas cannot exceed kafka_replication_factor: no write would succeed")
        if bool(self.auth_oidc_issuer) != bool(self.auth_oidc_jwks_url):
            raise ValueError("an OIDC provider needs both auth_oidc_issuer and auth_oidc_jwks_url")
        if not self.auth_trust_issuer:
            if self.signs_tokens:
                raise ValueError("the issuer must trust its own tokens (auth_trust_issuer)")
            if not self.auth_oidc_issuer:
                raise ValueError("auth_trust_issuer is false and no OIDC provider is set: no token would be accepted")
        return self

    @property
    def trusts_dev_key(self) -> bool:
        """Whether the development key may stand in for a missing key set: in development and test only."""
        return self.environment in ("development", "test")

    @property
    def topics(self) -> Topics:
        return Topics(self.kafka_topic_prefix)

    def consumer_group(self, topic: str) -> str:
        """One consumer group per service and topic: a member joining for one topic never stalls the other
        topic's consumers in a group-wide rebalance."""
        prefix = self.kafka_topic_prefix
        return f"{prefix}{self.service_name}.{topic.removeprefix(prefix)}"
