"""Infrastructure settings, read from `AVNZ_*` environment variables.

Only what the process needs before it can reach its database lives here; every third-party
credential is an integration stored encrypted in the database.
"""

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AVNZ_", extra="ignore")

    data_dir: Path = Path(".avnz")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; defaults to SQLite in the data dir."
    )
    redis_url: str | None = None
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
    rate_limit_payments: str = "30/minute"
    rate_limit_auth: str = "10/minute"

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
    run_embedded_worker: bool = True
    worker_poll_seconds: float = 1.0

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
