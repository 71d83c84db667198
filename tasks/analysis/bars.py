"""The daily bars an analysis runs on: what the market data tasks stored, else the configured provider's."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from market import Bar, period_trading_days
from tasks.market.fetch import make_provider
from tasks.market.store import load_bars

BarSource = Literal["stored", "synthetic", "csv", "yfinance"]


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
    """The last `period` of bars of `symbol`: the stored history when there is any, else TASKRUNNER_MARKET_PROVIDER's.

    Stored bars win even when fewer than the period asks for: they come from the deployment's configured provider
    (possibly real prices), and mixing in synthetic prices would make the analysis meaningless. The result says
    how many bars there were, so a short history shows.
    """
    wanted = period_trading_days(period)
    stored = load_bars(symbol)
    if stored:
        return AnalysisBars(symbol=symbol, period=period, source="stored", bars=stored[-wanted:])
    provider = make_provider(None)
    fetched = provider.fetch(symbol, period)
    return AnalysisBars(symbol=symbol, period=period, source=provider.name, bars=fetched[-wanted:])
