"""Daily OHLCV bars and the seed periods used to request them."""

from __future__ import annotations

import datetime as dt
import math
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from market.errors import InvalidPeriodError
from market.symbols import validate_symbol


def ohlc_problem(open_: float, high: float, low: float, close: float) -> tuple[str, str] | None:
    """Return (field, reason) for the first inconsistency among OHLC prices, or None if they are coherent."""
    for name, value in (("open", open_), ("high", high), ("low", low), ("close", close)):
        if not math.isfinite(value) or value <= 0:
            return name, f"{name} must be a finite price > 0, got {value!r}"
    if high < max(open_, close):
        return "high", f"high {high} is below max(open, close) = {max(open_, close)}"
    if low > min(open_, close):
        return "low", f"low {low} is above min(open, close) = {min(open_, close)}"
    return None


class Bar(BaseModel):
    """One trading day of a symbol: open, high, low, close in yen and volume in shares."""

    # Frozen: bars are values shared between callers and caches; nobody should patch one in place.
    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    symbol: str
    # Annotated as dt.date because a field named "date" would otherwise shadow its own type.
    date: dt.date
    open: float = Field(gt=0)
    high: float = Field(gt=0)
    low: float = Field(gt=0)
    close: float = Field(gt=0)
    volume: int = Field(ge=0)

    @field_validator("symbol")
    @classmethod
    def _check_symbol(cls, value: str) -> str:
        return validate_symbol(value)

    @field_validator("date", mode="before")
    @classmethod
    def _refuse_datetime(cls, value: object) -> object:
        # pydantic accepts a midnight datetime as a date whatever its zone, but UTC midnight is 09:00 JST:
        # converting the instant to the JST trading day is the caller's job, so demand the date itself.
        if isinstance(value, dt.datetime):
            raise ValueError("date must be a date (the JST trading day), not a datetime")
        return value

    @model_validator(mode="after")
    def _check_ohlc(self) -> Self:
        problem = ohlc_problem(self.open, self.high, self.low, self.close)
        if problem is not None:
            raise ValueError(problem[1])
        return self


class Period(StrEnum):
    """A seed history length, spelled as yfinance spells it."""

    ONE_MONTH = "1mo"
    THREE_MONTHS = "3mo"
    SIX_MONTHS = "6mo"
    ONE_YEAR = "1y"
    TWO_YEARS = "2y"
    FIVE_YEARS = "5y"

    @property
    def trading_days(self) -> int:
        """Return the number of TSE trading days this period stands for (about 21 per month)."""
        return _TRADING_DAYS[self]

    @classmethod
    def parse(cls, text: str | Period) -> Period:
        """Return the Period spelled ``text`` (case and surrounding spaces ignored), else raise."""
        if isinstance(text, Period):
            return text
        if isinstance(text, str):
            try:
                return cls(text.strip().lower())
            except ValueError:
                pass
        allowed = ", ".join(p.value for p in cls)
        raise InvalidPeriodError(f"unknown period {text!r}: expected one of {allowed}")


# TSE has about 245 sessions a year; the conventional 21 per month / 252 per year is close enough for
# seeding history and matches what analysts expect from "1y of daily bars".
_TRADING_DAYS: dict[Period, int] = {
    Period.ONE_MONTH: 21,
    Period.THREE_MONTHS: 63,
    Period.SIX_MONTHS: 126,
    Period.ONE_YEAR: 252,
    Period.TWO_YEARS: 504,
    Period.FIVE_YEARS: 1260,
}


def period_trading_days(period: str | Period) -> int:
    """Return the number of trading days in the seed period ``period`` (e.g. "1y" -> 252)."""
    return Period.parse(period).trading_days
