"""Price provider reading one CSV file per symbol from a directory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from market.bars import Bar, Period
from market.calendar import previous_trading_days
from market.csv_bars import read_bars_csv
from market.errors import PriceDataNotFoundError
from market.symbols import validate_symbol


class CsvProvider:
    """Serves bars from ``<directory>/<symbol>.csv`` (e.g. ``7203.T.csv``), as exported by yfinance."""

    name: str = "csv"

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        # Fail at configuration time, not on the first task that happens to fetch.
        if not self.directory.is_dir():
            raise PriceDataNotFoundError(f"CSV price directory {self.directory} does not exist or is not a directory")

    def path_for(self, symbol: str) -> Path:
        """Return the CSV file that holds ``symbol``'s bars."""
        return self.directory / f"{validate_symbol(symbol)}.csv"

    def fetch(self, symbol: str, period: str, end: dt.date | None = None) -> list[Bar]:
        """Return the file's bars within the last ``period`` of TSE trading days up to ``end``, oldest first.

        ``end`` defaults to the newest date in the file, so a file that stopped updating still serves
        its latest history instead of an empty window.
        """
        path = self.path_for(symbol)
        wanted = Period.parse(period).trading_days
        if not path.is_file():
            raise PriceDataNotFoundError(f"no CSV price data for {symbol}: {path} does not exist")
        bars = read_bars_csv(path, symbol)
        if not bars:
            raise PriceDataNotFoundError(f"no CSV price data for {symbol}: {path} has no rows")
        last = end if end is not None else bars[-1].date
        # The window is defined by the exchange calendar, so gaps in the file show up as missing bars
        # instead of silently stretching the period further back.
        first = previous_trading_days(last, wanted)[0]
        return [bar for bar in bars if first <= bar.date <= last]
