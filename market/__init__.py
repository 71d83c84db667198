"""Market data for Tokyo Stock Exchange equities: calendar, daily bars, price providers and alerts.

Pure Python with no Celery or Redis imports, so tasks, scripts and tests can all use it directly.
"""

from market.alerts import AlertCondition, AlertEvaluation, AlertKind, evaluate
from market.bars import Bar, Period, period_trading_days
from market.calendar import (
    JST,
    MarketStatus,
    Session,
    is_trading_day,
    last_completed_session,
    market_status,
    next_trading_day,
    previous_trading_day,
    previous_trading_days,
    trading_days,
)
from market.csv_bars import read_bars_csv, write_bars_csv
from market.errors import (
    BarParseError,
    InvalidPeriodError,
    InvalidSymbolError,
    MarketDataError,
    OutOfRangeError,
    PriceDataNotFoundError,
    ProviderUnavailableError,
    UnknownProviderError,
)
from market.providers import CsvProvider, PriceProvider, SyntheticProvider, get_provider, provider_names
from market.symbols import validate_symbol

__all__ = [
    "JST",
    "AlertCondition",
    "AlertEvaluation",
    "AlertKind",
    "Bar",
    "BarParseError",
    "CsvProvider",
    "InvalidPeriodError",
    "InvalidSymbolError",
    "MarketDataError",
    "MarketStatus",
    "OutOfRangeError",
    "Period",
    "PriceDataNotFoundError",
    "PriceProvider",
    "ProviderUnavailableError",
    "Session",
    "SyntheticProvider",
    "UnknownProviderError",
    "evaluate",
    "get_provider",
    "is_trading_day",
    "last_completed_session",
    "market_status",
    "next_trading_day",
    "period_trading_days",
    "previous_trading_day",
    "previous_trading_days",
    "provider_names",
    "read_bars_csv",
    "trading_days",
    "validate_symbol",
    "write_bars_csv",
]
