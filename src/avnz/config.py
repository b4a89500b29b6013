"""Infrastructure settings, read from `AVNZ_*` environment variables.

Only what the process needs before it can reach its database lives here; every third-party
credential is an integration stored encrypted in the database.
"""

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Of the shutdown grace period, what the lifespan's cleanup (worker, pools) may take.
SHUTDOWN_CLEANUP_SECONDS = 3.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AVNZ_", extra="ignore")

    data_dir: Path = Path(".avnz")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; defaults to SQLite in the data dir."
    )
    redis_url: str | None = None
    redis_connect_timeout_seconds: float = Field(default=0.5, gt=0)
    redis_timeout_seconds: float = Field(
        default=0.5,
        gt=0,
        description="The longest a request waits on Redis before using in-process limits.",
    )
    redis_max_connections: int = Field(default=50, ge=1)
    redis_retry_seconds: float = Field(
        default=5.0, gt=0, description="While Redis is down, how often it is tried again."
    )
    database_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    database_statement_timeout_seconds: float = Field(
        default=60.0, gt=0, description="PostgreSQL: the longest one statement may take."
    )
    database_pool_timeout_seconds: float = Field(
        default=10.0, gt=0, description="The longest a request waits for a free connection."
    )
    http_connect_timeout_seconds: float = Field(default=3.0, gt=0)
    http_read_timeout_seconds: float = Field(default=10.0, gt=0)
    http_max_connections: int = Field(default=100, ge=1)
    shutdown_grace_seconds: float = Field(
        default=15.0,
        ge=1,
        description="After SIGTERM the server is gone within this, whatever still runs.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses or networks of the reverse proxies whose "
        "X-Forwarded-For is believed. Empty: the peer address is the client.",
    )
    base_url: str = "http://127.0.0.1:8000"
    environment: str = "development"
    log_level: str = "INFO"
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = 1_048_576

    master_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated `version:base64key` AES-256 master keys, newest first. "
        "Unset: a key file is created in the data dir.",
    )
    fingerprint_key: SecretStr | None = Field(
        default=None, description="base64 HMAC key for card fingerprints (with master_keys)."
    )

    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    invite_ttl_seconds: int = 7 * 24 * 3600
    api_key_cache_seconds: float = 30.0

    rate_limit_ip: str = "100/minute"
    rate_limit_user: str = "1000/minute"
    rate_limit_payments: str = Field(
        default="30/minute", description="Creating and moving payments, per caller."
    )
    rate_limit_payment_reads: str = Field(
        default="300/minute", description="Reading payments, per caller."
    )
    rate_limit_auth: str = "10/minute"
    login_free_attempts: int = Field(
        default=5, ge=1, description="Failed sign-ins of one account before the backoff starts."
    )
    login_backoff_base_seconds: float = Field(default=1.0, gt=0)
    login_backoff_max_seconds: float = Field(default=900.0, gt=0)

    gateway_connect_timeout_seconds: float = 5.0
    gateway_read_timeout_seconds: float = Field(
        default=30.0, description="How long a gateway may take to answer before we inquire."
    )
    health_suspend_below: int = Field(
        default=40,
        ge=0,
        le=100,
        description="The health check suspends an active account whose score falls below this.",
    )
    mount_sandboxes: bool | None = Field(
        default=None,
        description="Serve the built-in gateway sandboxes under /sandbox/{gateway}. "
        "Unset: on everywhere but in production.",
    )
    sandbox_controls: bool = Field(
        default=False,
        description="Serve the sandboxes' control routes (/_sandbox/faults, reset, transactions, "
        "settle): anyone who reaches them can fail or forget sandbox payments, so they are off "
        "unless a developer or a test turns them on.",
    )
    run_embedded_worker: bool = True
    worker_poll_seconds: float = 1.0
    job_lease_seconds: float = Field(
        default=10.0,
        ge=0.5,
        description="A running job's lease, renewed by its worker's heartbeat: a dead worker's "
        "job is taken again this long after its last beat.",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value

    @property
    def trusted_networks(self) -> tuple[IpNetwork, ...]:
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in self.trusted_proxies)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'avnz.db').resolve()}"

    @property
    def sandboxes_mounted(self) -> bool:
        if self.mount_sandboxes is not None:
            return self.mount_sandboxes
        return self.environment != "production"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def token_issuer(self) -> str:
        return self.base_url.rstrip("/")


@lru_cache
def get_settings() -> Settings:
    return Settings()
