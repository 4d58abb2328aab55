"""Every limit of batch import, explicit and overridable through ``CLICKLEDGER_IMPORT_*``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ImportLimits(BaseSettings):
    """Bounds on what one upload may cost."""

    model_config = SettingsConfigDict(env_prefix="CLICKLEDGER_IMPORT_", extra="ignore")

    max_file_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)  # as uploaded (gzip or not)
    max_unpacked_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024)  # after gunzip
    max_rows: int = Field(default=2_000_000, ge=1)
    chunk_rows: int = Field(default=50_000, ge=100)  # rows per insert statement batch
    max_errors_kept: int = Field(default=10_000, ge=1)  # errors stored / written per import
    max_errors_in_job: int = Field(default=100, ge=1)  # errors shown inline in a job's JSON
    future_skew_seconds: int = Field(default=300, ge=0)  # tolerated clock skew for "future"
    max_upload_body_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)  # HTTP upload body
    upload_dir: Path = Path("clickledger-imports")  # where HTTP uploads wait for their job


@lru_cache(maxsize=1)
def get_limits() -> ImportLimits:
    """The process-wide import limits, read once from the environment."""
    return ImportLimits()
