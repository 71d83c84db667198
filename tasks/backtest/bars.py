"""Daily closes for the backtest tasks: the bars market_data stored, else the configured provider's."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import redis
from pydantic import BaseModel, ConfigDict

from market import Bar, period_trading_days
from tasks.market.fetch import make_provider
from tasks.market.store import load_bars
from tracking.errors import TransientError

Source = Literal["stored", "synthetic", "csv", "yfinance", "user"]


class PriceSeries(BaseModel):
    """One symbol's closes on strictly increasing days, and where they came from."""

    model_config = ConfigDict(frozen=True)

    symbol: str | None
    source: Source
    dates: list[dt.date]
    closes: list[float]

    def describe(self) -> dict[str, object]:
        """JSON summary of the series (not the prices themselves)."""
        return {"symbol": self.symbol, "source": self.source, "bars": len(self.dates),
                "start_date": self.dates[0].isoformat(), "end_date": self.dates[-1].isoformat()}


def _series(symbol: str, source: Source, bars: list[Bar]) -> PriceSeries:
    return PriceSeries(symbol=symbol, source=source, dates=[b.date for b in bars], closes=[b.close for b in bars])


def load_closes(symbol: str, period: str, end: dt.date | None = None) -> PriceSeries:
    """The last `period` of daily closes up to `end`: stored bars when they cover it, else the configured provider's
    (TASKRUNNER_MARKET_PROVIDER; synthetic only when chosen there)."""
    wanted = period_trading_days(period)
    try:
        stored = load_bars(symbol)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise TransientError(f"bar storage unreachable: {exc}") from exc
    if end is not None:
        stored = [b for b in stored if b.date <= end]
    # Stored history shorter than the period (say a 1mo fetch before a 2y backtest) would silently shrink the
    # test window, so the whole period comes from the provider instead.
    if len(stored) >= wanted:
        return _series(symbol, "stored", stored[-wanted:])
    provider = make_provider(None)
    return _series(symbol, provider.name, provider.fetch(symbol, period, end))  # type: ignore[arg-type]


def user_series(symbol: str | None, dates: list[dt.date], closes: list[float]) -> PriceSeries:
    """A series the caller supplied (already validated by the task's arguments)."""
    return PriceSeries(symbol=symbol, source="user", dates=dates, closes=closes)
