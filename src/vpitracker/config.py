"""Runtime configuration from ``VPI_*`` environment variables."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me-0123456789"
DEFAULT_DATABASE_URL = "sqlite:///./vpitracker.db"
# How long a write waits for a lock held by another (SQLite's single writer, a
# PostgreSQL lock) before it is refused with 503 and Retry-After.
DEFAULT_LOCK_TIMEOUT_SECONDS = 10.0
LockTimeout = Annotated[float, Field(gt=0, le=600)]


class Environment(StrEnum):
    development = "development"
    production = "production"
    test = "test"


class Settings(BaseSettings):
    """Every setting is read from the environment with the ``VPI_`` prefix."""

    model_config = SettingsConfigDict(env_prefix="VPI_", extra="ignore")

    env: Environment = Environment.production
    database_url: str = DEFAULT_DATABASE_URL
    # A PostgreSQL streaming replica of database_url for dashboard reads (replicas.py).
    read_database_url: str | None = None
    database_lock_timeout_seconds: LockTimeout = DEFAULT_LOCK_TIMEOUT_SECONDS
    secret_key: str = DEV_SECRET_KEY
    jwt_algorithm: str = "HS256"
    jwt_private_key: str | None = None
    jwt_public_key: str | None = None
    jwt_issuer: str = "vpitracker"
    jwt_audience: str = "vpitracker-api"
    access_token_expire_minutes: int = 60
    stale_after_days: int = 90
    public_read: bool = False
    idempotency_ttl_hours: int = 24
    login_max_failures_per_account: int = 10
    login_max_failures_per_address: int = 50
    login_window_minutes: int = 15
    metrics_enabled: bool = True

    # A log outsiders can verify: signed checkpoints of the audit Merkle tree.
    log_origin: str = "vpitracker.localhost/audit"
    log_signing_key: str | None = None

    # Streamed reports: how many /v1/reports/* one caller may have running at once
    # in one server process (beyond it: 429 with Retry-After).
    report_streams_per_caller: int = Field(default=2, ge=1, le=64)

    # Notifications (outbox, worker, webhooks, email)
    worker_interval_seconds: float = 5.0
    # A process running the worker outside the API (`vpitracker worker`, or the
    # supervisor of `serve --workers N`) serves its metrics here when set.
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    worker_metrics_host: str = "127.0.0.1"
    # Seconds between attempts; about three days in all (jitter adds up to 10% each).
    webhook_retry_schedule: str = "5,300,1800,7200,18000,36000,36000,43200,86400"
    webhook_timeout_seconds: float = 10.0
    webhook_allow_private: bool = False
    outbox_retention_days: int = 30
    smtp_url: str | None = None
    mail_from: str = "vpitracker@localhost"
    public_url: str | None = None
    digest_weekday: int = 0  # Monday; 0-6 as Python's date.weekday()
    digest_hour: int = 8
    digest_timezone: str = "Africa/Nairobi"

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        try:
            delays = [float(x) for x in value.split(",")]
        except ValueError as exc:
            raise ValueError("VPI_WEBHOOK_RETRY_SCHEDULE: comma-separated seconds") from exc
        if not delays or min(delays) < 0:
            raise ValueError("VPI_WEBHOOK_RETRY_SCHEDULE: at least one delay, none negative")
        return value

    @property
    def retry_delays(self) -> list[float]:
        return [float(x) for x in self.webhook_retry_schedule.split(",")]

    # Sign-in protection (failures per account and address, account-wide slow-down,
    # trusted reverse proxies).
    login_account_slow_after: int = 100
    login_account_delay_step_seconds: float = 0.1
    login_account_max_delay_seconds: float = 5.0
    trusted_proxies: str = ""

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.secret_key == DEV_SECRET_KEY and self.env is not Environment.development:
            raise ValueError(
                "VPI_SECRET_KEY is the built-in development key; set a real secret "
                "(or VPI_ENV=development for local use)"
            )
        if len(self.secret_key) < 32 and self.jwt_algorithm.startswith("HS"):
            raise ValueError("VPI_SECRET_KEY must be at least 32 characters")
        if not self.jwt_algorithm.startswith("HS") and not (
            self.jwt_private_key and self.jwt_public_key
        ):
            raise ValueError(
                f"VPI_JWT_ALGORITHM={self.jwt_algorithm} needs VPI_JWT_PRIVATE_KEY and "
                "VPI_JWT_PUBLIC_KEY (PEM)"
            )
        if self.read_database_url and not all(
            url.startswith(("postgresql", "postgres://"))
            for url in (self.database_url, self.read_database_url)
        ):
            raise ValueError(
                "VPI_READ_DATABASE_URL is a PostgreSQL streaming replica of a PostgreSQL "
                "VPI_DATABASE_URL"
            )
        if self.jwt_algorithm not in {"HS256", "HS384", "HS512", "RS256", "ES256"}:
            raise ValueError("VPI_JWT_ALGORITHM must be one of HS256, HS384, HS512, RS256, ES256")
        return self


class DatabaseSettings(BaseSettings):
    """Just what commands that sign nothing read: they run without ``VPI_SECRET_KEY``."""

    model_config = SettingsConfigDict(env_prefix="VPI_", extra="ignore")

    env: Environment = Environment.production
    database_url: str = DEFAULT_DATABASE_URL
    database_lock_timeout_seconds: LockTimeout = DEFAULT_LOCK_TIMEOUT_SECONDS


@lru_cache
def get_settings() -> Settings:
    return Settings()
