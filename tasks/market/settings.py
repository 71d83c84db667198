"""Settings of the market data tasks (TASKRUNNER_* environment), kept here so base/settings.py stays shared."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from market import validate_symbol

# Large TSE names: what a fresh install refreshes when nobody configured a watch list.
DEFAULT_WATCHLIST = ("7203.T", "6758.T", "9984.T", "8306.T", "6861.T")


class MarketSettings(BaseSettings):
    """Which price provider, where CSV prices live, how long stored bars are kept, the default watch list."""

    model_config = SettingsConfigDict(env_prefix="TASKRUNNER_", extra="ignore")

    market_provider: Literal["synthetic", "csv", "yfinance"] | None = Field(
        default=None,
        description="price provider when a task names none; unset: such tasks fail saying so (synthetic prices "
        "are made up: only used when chosen here or by a task's provider argument)",
    )
    csv_dir: Path | None = Field(default=None, description="directory of <symbol>.csv files for the csv provider")
    # Beat refreshes bars every 5 minutes during the session; a week outlives weekends and Golden Week gaps
    # while still letting symbols nobody watches any more fall out of Redis.
    bars_ttl_s: int = Field(default=7 * 86_400, ge=60, description="TTL of a symbol's stored bars")
    watchlist: list[str] = Field(default=list(DEFAULT_WATCHLIST), description="symbols refreshed by default")

    @field_validator("watchlist")
    @classmethod
    def _check_symbols(cls, value: list[str]) -> list[str]:
        return [validate_symbol(s) for s in value]


def market_settings() -> MarketSettings:
    """The settings as the environment says now (read per call: cheap, and tests may change the environment)."""
    return MarketSettings()
