"""Daily bars for the analysis and backtest tasks: what the market data tasks stored, else the configured provider's.

One loader, two purposes, which differ only in when a stored history is good enough:

- **analysis** (`bars_for`): stored bars win even when fewer than the period asks for. They come from the
  deployment's configured provider (possibly real prices), and mixing in another provider's (say synthetic) prices
  would make the analysis meaningless; the result says how many bars there were, so a short history shows.
- **backtest** (`load_closes`): stored bars only when they cover the whole period (up to `end`). A stored history
  shorter than the period (a 1mo fetch before a 2y backtest) would silently shrink the test window, so the whole
  period then comes from the provider.

The provider is TASKRUNNER_MARKET_PROVIDER's (synthetic prices only when chosen there).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import redis
from pydantic import BaseModel, ConfigDict

from market import Bar, period_trading_days
from tasks.market.fetch import make_provider
from tasks.market.store import load_bars
from tracking.errors import TransientError

BarSource = Literal["stored", "synthetic", "csv", "yfinance"]
#: When stored bars are used: whenever there are any (analysis), or only when they cover the period (backtest).
StoredWhen = Literal["any", "covering"]


def load(symbol: str, period: str, *, stored_when: StoredWhen,
         end: dt.date | None = None) -> tuple[BarSource, list[Bar]]:
    """The last `period` of bars of `symbol` up to `end` (oldest first) and where they came from."""
    wanted = period_trading_days(period)
    try:
        stored = load_bars(symbol)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise TransientError(f"bar storage unreachable: {exc}") from exc
    if end is not None:
        stored = [b for b in stored if b.date <= end]
    if stored and (stored_when == "any" or len(stored) >= wanted):
        return "stored", stored[-wanted:]
    provider = make_provider(None)
    return provider.name, provider.fetch(symbol, period, end)[-wanted:]  # type: ignore[return-value]


# --- analysis -------------------------------------------------------------------------------------------------

class AnalysisBars(BaseModel):
    """Bars of one symbol for one period, oldest first, and where they came from."""

    model_config = ConfigDict(frozen=True)

    symbol: str
    period: str
    source: BarSource
    bars: list[Bar]

    @property
    def closes(self) -> list[float]:
        """The closing prices, oldest first."""
        return [b.close for b in self.bars]


def bars_for(symbol: str, period: str) -> AnalysisBars:
    """The bars an analysis runs on: the stored history when there is any, even short; else the provider's."""
    source, bars = load(symbol, period, stored_when="any")
    return AnalysisBars(symbol=symbol, period=period, source=source, bars=bars)


# --- backtest -------------------------------------------------------------------------------------------------

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


def load_closes(symbol: str, period: str, end: dt.date | None = None) -> PriceSeries:
    """The closes a backtest runs on: stored bars when they cover the period up to `end`, else the provider's."""
    source, bars = load(symbol, period, stored_when="covering", end=end)
    return PriceSeries(symbol=symbol, source=source, dates=[b.date for b in bars], closes=[b.close for b in bars])


def user_series(symbol: str | None, dates: list[dt.date], closes: list[float]) -> PriceSeries:
    """A series the caller supplied (already validated by the task's arguments)."""
    return PriceSeries(symbol=symbol, source="user", dates=dates, closes=closes)
