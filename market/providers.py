"""The price-provider interface and the registry that builds providers by name."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from market.bars import Bar
from market.csv_provider import CsvProvider
from market.errors import UnknownProviderError
from market.synthetic import SyntheticProvider

__all__ = ["CsvProvider", "PriceProvider", "SyntheticProvider", "get_provider", "provider_names"]


@runtime_checkable
class PriceProvider(Protocol):
    """A source of daily bars for TSE symbols such as ``7203.T``."""

    name: str

    def fetch(self, symbol: str, period: str, end: dt.date | None = None) -> list[Bar]:
        """Return the daily bars of ``symbol`` for ``period`` ("1mo".."5y") ending at ``end``, oldest first."""
        ...


def _yfinance(**opts: Any) -> PriceProvider:
    # Imported here so that merely listing providers never touches the optional yfinance extra.
    from market.yfinance_provider import YFinanceProvider

    return YFinanceProvider(**opts)


_FACTORIES: dict[str, Callable[..., PriceProvider]] = {
    "synthetic": SyntheticProvider,
    "csv": CsvProvider,
    "yfinance": _yfinance,
}


def provider_names() -> list[str]:
    """Return the names accepted by ``get_provider``."""
    return sorted(_FACTORIES)


def get_provider(name: str, **opts: Any) -> PriceProvider:
    """Build the provider registered as ``name`` ("synthetic", "csv", "yfinance") with keyword options.

    There is no default: synthetic prices are made up, so they are only ever used when asked for by name.
    """
    factory = _FACTORIES.get(name.strip().lower())
    if factory is None:
        raise UnknownProviderError(f"unknown price provider {name!r}: expected one of {', '.join(provider_names())}")
    return factory(**opts)
