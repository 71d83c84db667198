"""The pieces of fetch_data that need no Celery: building the provider, downloading, checking the bars."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import redis
from pydantic import BaseModel, ConfigDict

from market import Bar, MarketDataError, Period, PriceProvider, get_provider, is_trading_day
from tasks.market.settings import market_settings
from tracking.errors import TransientError

# Network and I/O failures worth another attempt. Requests' and Redis' connection errors, socket timeouts and
# yfinance's HTTP errors all derive from these. Checked after MarketDataError: PriceDataNotFoundError is an OSError.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (OSError, TimeoutError, redis.ConnectionError, redis.TimeoutError)
# yfinance raises its own YFRateLimitError (not an OSError) on HTTP 429; matched by name since it is optional.
TRANSIENT_NAMES = frozenset({"YFRateLimitError"})


class ProviderConfigError(MarketDataError, ValueError):
    """A provider cannot be built from the arguments and settings given (permanent)."""


class CheckedBars(BaseModel):
    """The bars worth storing, oldest first; why the others were refused (day -> reason); how many were."""

    model_config = ConfigDict(frozen=True)

    bars: list[Bar]
    invalid: dict[str, str]
    invalid_count: int


def make_provider(name: str | None, directory: str | None = None) -> PriceProvider:
    """The provider `name`, else TASKRUNNER_MARKET_PROVIDER's; csv reads `directory`, else TASKRUNNER_CSV_DIR.

    Never synthetic unless chosen: made-up prices must not pass for real ones.
    """
    name = name or market_settings().market_provider
    if name is None:
        raise ProviderConfigError(
            "no price provider chosen: pass provider= or set TASKRUNNER_MARKET_PROVIDER to csv (with "
            "TASKRUNNER_CSV_DIR), yfinance (real prices; the yfinance extra) or synthetic (made-up prices)")
    if name != "csv":
        return get_provider(name)
    where: str | Path | None = directory or market_settings().csv_dir
    if where is None:
        raise ProviderConfigError("the csv provider needs a directory: pass directory= or set TASKRUNNER_CSV_DIR")
    return get_provider("csv", directory=where)


def download(provider: PriceProvider, symbol: str, period: Period, end: dt.date | None) -> list[Bar]:
    """The provider's bars; network / I/O failures become TransientError (retried), market errors stay permanent."""
    try:
        return provider.fetch(symbol, period.value, end)
    except MarketDataError:
        raise
    except Exception as exc:
        if isinstance(exc, TRANSIENT_ERRORS) or type(exc).__name__ in TRANSIENT_NAMES:
            raise TransientError(f"{provider.name} fetch of {symbol} failed: {type(exc).__name__}: {exc}") from exc
        raise


def check_bars(symbol: str, bars: Sequence[Bar], today: dt.date) -> CheckedBars:
    """Keeps bars of `symbol` on TSE trading days up to `today`, once per day; says why the others were refused."""
    kept: dict[dt.date, Bar] = {}
    invalid: dict[str, str] = {}  # day -> why its first refused bar was refused
    refused = 0
    for bar in bars:
        if bar.symbol != symbol:
            reason = f"bar of {bar.symbol}, not {symbol}"
        elif bar.date > today:
            reason = "in the future"
        elif not is_trading_day(bar.date):
            reason = "not a TSE trading day"
        elif bar.date in kept:
            reason = "duplicate day"
        else:
            kept[bar.date] = bar
            continue
        refused += 1
        invalid.setdefault(bar.date.isoformat(), reason)
    return CheckedBars(bars=[kept[d] for d in sorted(kept)], invalid=invalid, invalid_count=refused)
