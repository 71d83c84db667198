"""Price alert conditions and their pure evaluation against a last price."""

from __future__ import annotations

import math
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from market.symbols import validate_symbol

AlertKind = Literal["above", "below", "percent_change"]

# Float arithmetic can land a hair short of an exact threshold (e.g. 5% of a 0.1-yen price);
# an alert set at exactly the reached level must still fire.
_TOLERANCE = 1e-9


class AlertCondition(BaseModel):
    """A user's alert: fire when ``symbol`` trades at/above or at/below a price, or moves by a percentage.

    For ``percent_change`` the threshold is signed percent from ``reference_price``: ``5`` fires on a
    rise of 5 % or more, ``-5`` on a fall of 5 % or more.
    """

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    id: str = Field(min_length=1)
    symbol: str
    kind: AlertKind
    threshold: float
    reference_price: float | None = Field(default=None, gt=0)

    @field_validator("symbol")
    @classmethod
    def _check_symbol(cls, value: str) -> str:
        return validate_symbol(value)

    @model_validator(mode="after")
    def _check_kind(self) -> Self:
        if self.kind == "percent_change":
            if self.reference_price is None:
                raise ValueError("percent_change alerts need a reference_price to measure the change from")
            if self.threshold == 0:
                raise ValueError("percent_change threshold must be non-zero: its sign says rise (+) or fall (-)")
        else:
            # A stray reference price usually means the kind is wrong; refusing beats silently ignoring it.
            if self.reference_price is not None:
                raise ValueError(f"reference_price is only used by percent_change alerts, not {self.kind!r}")
            if self.threshold <= 0:
                raise ValueError(f"{self.kind!r} threshold is a price in yen and must be > 0, got {self.threshold}")
        return self


class AlertEvaluation(BaseModel):
    """The outcome of checking one alert condition against one price."""

    model_config = ConfigDict(frozen=True)

    condition_id: str
    symbol: str
    fired: bool
    last_price: float
    change_percent: float | None
    message: str


def format_yen(price: float) -> str:
    """Format a price as yen with thousands separators, e.g. 3812 -> "¥3,812", 98.5 -> "¥98.5"."""
    if price == round(price):
        return f"¥{price:,.0f}"
    return f"¥{price:,.2f}".rstrip("0").rstrip(".")


def _percent(value: float) -> str:
    return f"{value:+.2f}%"


def evaluate(condition: AlertCondition, last_price: float) -> AlertEvaluation:
    """Check ``condition`` against ``last_price``; pure, so "fire once" bookkeeping stays with the caller."""
    if not math.isfinite(last_price) or last_price <= 0:
        raise ValueError(f"last_price must be a finite price > 0, got {last_price!r}")
    symbol, price = condition.symbol, format_yen(last_price)
    change: float | None = None

    if condition.kind == "above":
        level = format_yen(condition.threshold)
        fired = last_price >= condition.threshold - _TOLERANCE
        state = "at or above" if fired else "below"
        message = f"{symbol} at {price} is {state} {level}"
    elif condition.kind == "below":
        level = format_yen(condition.threshold)
        fired = last_price <= condition.threshold + _TOLERANCE
        state = "at or below" if fired else "above"
        message = f"{symbol} at {price} is {state} {level}"
    else:
        reference = condition.reference_price
        assert reference is not None  # guaranteed by AlertCondition's validator
        change = (last_price - reference) / reference * 100.0
        target = condition.threshold
        fired = change >= target - _TOLERANCE if target > 0 else change <= target + _TOLERANCE
        direction = "rise" if target > 0 else "fall"
        message = (
            f"{symbol} at {price} moved {_percent(change)} from {format_yen(reference)}; "
            f"alert on a {direction} of {abs(target):g}%"
        )

    verdict = "fired" if fired else "not fired"
    return AlertEvaluation(
        condition_id=condition.id,
        symbol=symbol,
        fired=fired,
        last_price=last_price,
        change_percent=change,
        message=f"Alert {condition.id} {verdict}: {message}",
    )
