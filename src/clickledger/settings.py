"""Runtime settings read from ``CLICKLEDGER_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

INSECURE_SECRET_KEY = "insecure-dev-key-change-me"  # noqa: S105 - sentinel, refused outside demo
DEFAULT_DATABASE_URL = "sqlite:///clickledger.db"


class Settings(BaseSettings):
    """Every knob of a ClickLedger process, with safe defaults."""

    model_config = SettingsConfigDict(env_prefix="CLICKLEDGER_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    # Report and dashboard reads (API /api/v1/reports*, the report pages) go here when set:
    # a streaming replica of ``database_url``, opened read-only (docs/scaling.md)
    reports_database_url: str | None = None
    secret_key: str = INSECURE_SECRET_KEY
    demo_mode: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_base_url: str = "http://127.0.0.1:8000"

    # Attribution
    attribution_window_days: int = Field(default=30, ge=1, le=3650)

    # Click tracking
    trusted_proxies: list[str] = Field(default_factory=list)
    ip_storage: Literal["full", "truncated", "hashed"] = "full"
    click_retention_days: int = Field(default=400, ge=1)
    click_cookie_days: int = Field(default=30, ge=1, le=400)
    max_query_string_bytes: int = Field(default=4096, ge=256)
    max_query_params: int = Field(default=64, ge=8)

    # Group commit
    group_commit_max_batch_rows: int = Field(default=2000, ge=1)
    group_commit_max_queue_rows: int = Field(default=50_000, ge=1)

    # Request limits
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_events_per_batch: int = Field(default=1000, ge=1)
    api_page_size_max: int = Field(default=500, ge=1)
    api_rate_per_minute: int = Field(default=600, ge=1)  # admin API requests per key

    # Public rate limits (http/public_limits.py): token buckets per process, a rate of 0 turns
    # one off.  Per-address limits use the client IP resolved through ``trusted_proxies``;
    # addresses in ``public_rate_exempt_ips`` (a local proxy, local tools) are never refused
    # per address.  Over a limit: 429 with Retry-After (the pixel: its GIF, reason
    # rate_limited), nothing stored.
    click_rate_per_ip_per_s: float = Field(default=20.0, ge=0.0)
    click_burst_per_ip: int = Field(default=200, ge=1)
    pixel_rate_per_ip_per_s: float = Field(default=0.5, ge=0.0)  # per pixel key and address
    pixel_burst_per_ip: int = Field(default=30, ge=1)
    pixel_rate_per_key_per_s: float = Field(default=500.0, ge=0.0)
    pixel_burst_per_key: int = Field(default=2000, ge=1)
    postback_rate_per_integration_per_s: float = Field(default=20_000.0, ge=0.0)  # events/s
    postback_burst_per_integration: int = Field(default=100_000, ge=1)
    public_rate_max_tracked_keys: int = Field(default=20_000, ge=1)  # per limiter, ~7 MB
    public_rate_exempt_ips: list[str] = Field(
        default_factory=lambda: ["127.0.0.1/32", "::1/128"])

    # Outbound
    allow_loopback_targets: bool = False

    # Operations: /metrics (answered only to these peers, or to ``metrics_token`` as a bearer
    # token; 404 to anyone else), logs (``json``: one JSON object per line on stderr)
    metrics_enabled: bool = True
    metrics_allowed_ips: list[str] = Field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    metrics_token: str | None = None
    metrics_db_cache_seconds: float = Field(default=5.0, ge=0.0, le=300.0)
    log_format: Literal["json", "text"] = "text"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    # Fraud: action thresholds in weighted points, and rule-family weights in percent
    # (domain/fraud/scoring.py explains the defaults)
    fraud_flag_at: int = Field(default=25, ge=1)
    fraud_hold_at: int = Field(default=50, ge=1)
    fraud_reject_at: int = Field(default=100, ge=1)
    fraud_weight_click_flooding_pct: int = Field(default=100, ge=0, le=1000)
    fraud_weight_bots_pct: int = Field(default=100, ge=0, le=1000)
    fraud_weight_geo_mismatch_pct: int = Field(default=100, ge=0, le=1000)
    fraud_weight_ctit_pct: int = Field(default=100, ge=0, le=1000)
    fraud_weight_duplicate_players_pct: int = Field(default=100, ge=0, le=1000)
    fraud_weight_self_referral_pct: int = Field(default=100, ge=0, le=1000)
    fraud_weight_bonus_abuse_pct: int = Field(default=100, ge=0, le=1000)
    fraud_weight_conversion_rate_pct: int = Field(default=100, ge=0, le=1000)
    fraud_weight_forex_churning_pct: int = Field(default=100, ge=0, le=1000)
    fraud_min_ctit_seconds: int = Field(default=10, ge=0)
    fraud_click_window_minutes: int = Field(default=10, ge=1, le=1440)
    fraud_ip_flag_clicks: int = Field(default=12, ge=2)
    fraud_ip_hold_clicks: int = Field(default=30, ge=2)
    # Fraud worker (workers/fraud.py): ``clickledger worker`` runs it beside the outbox
    # dispatcher.  ``fraud_in_process`` makes ``serve`` run it too, as a thread; it is off by
    # default because on SQLite an assessment batch holds the only write lock and shares the
    # GIL with the hot paths (measured: postback throughput fell 5x with it on).
    fraud_in_process: bool = False
    fraud_batch_events: int = Field(default=200, ge=1, le=5000)
    fraud_poll_interval_s: float = Field(default=0.5, gt=0.0, le=1.0)
    fraud_click_lag_s: float = Field(default=2.0, ge=0.0, le=60.0)

    def secret_is_insecure(self) -> bool:
        """True when the secret key is the shipped sentinel or too short to be real."""
        return self.secret_key == INSECURE_SECRET_KEY or len(self.secret_key) < 32


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
