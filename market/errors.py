"""Exceptions raised by the market package.

Every error derives from ``MarketDataError`` so a Celery task can treat the whole family as a
permanent failure (bad input or bad data: retrying will not help) with one ``except`` clause.
They also derive from the matching builtin so callers that only know ``ValueError`` still work.
"""

from __future__ import annotations

from pathlib import Path


class MarketDataError(Exception):
    """Base class for every error raised by the market package."""


class InvalidSymbolError(MarketDataError, ValueError):
    """A ticker symbol is not a Tokyo Stock Exchange code like ``7203.T``."""


class InvalidPeriodError(MarketDataError, ValueError):
    """A period string is not one of the supported seed periods."""


class UnknownProviderError(MarketDataError, ValueError):
    """No price provider is registered under the requested name."""


class ProviderUnavailableError(MarketDataError, ImportError):
    """A provider's optional dependency is not installed."""


class PriceDataNotFoundError(MarketDataError, FileNotFoundError):
    """A provider has no data at all for the requested symbol."""


class OutOfRangeError(MarketDataError, ValueError):
    """The requested dates fall outside the history a provider can serve."""


class BarParseError(MarketDataError, ValueError):
    """A row of price data could not be turned into a valid bar."""

    def __init__(self, source: str | Path, line: int, column: str, reason: str, *, unit: str = "line") -> None:
        # ``unit`` is "line" for files and "row" for in-memory tables such as a yfinance DataFrame.
        self.source = str(source)
        self.line = line
        self.column = column
        self.reason = reason
        super().__init__(f"{self.source}: {unit} {line}, column {column!r}: {reason}")
