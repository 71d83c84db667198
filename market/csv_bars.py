"""Reading and writing daily bars as CSV (Date,Open,High,Low,Close,Volume), yfinance-compatible."""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from market.bars import Bar, ohlc_problem
from market.calendar import JST
from market.errors import BarParseError
from market.symbols import validate_symbol

CSV_COLUMNS = ("Date", "Open", "High", "Low", "Close", "Volume")
_REQUIRED = tuple(c.lower() for c in CSV_COLUMNS)


def parse_bar_date(text: str) -> dt.date:
    """Parse ``2024-01-04`` or a timestamp such as yfinance's ``2024-01-04 00:00:00+09:00`` to a JST date."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        stamp = dt.datetime.fromisoformat(text)  # raises ValueError for anything else
    # An aware timestamp names an instant; the trading day is its date in Tokyo, not in UTC.
    return stamp.astimezone(JST).date() if stamp.tzinfo is not None else stamp.date()


def parse_volume(value: float) -> int:
    """Return ``value`` as a share count, refusing fractions, negatives, NaN and infinities."""
    # Exports often write volumes as floats ("1234.0"); a real fraction means the column is wrong.
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise ValueError(f"volume must be a whole number of shares >= 0, got {value!r}")
    return int(value)


def _header_index(header: list[str], source: Path) -> dict[str, tuple[int, str]]:
    # Lowercase names -> (position, name as written), so errors quote the file's own spelling.
    index: dict[str, tuple[int, str]] = {}
    for position, name in enumerate(header):
        index.setdefault(name.strip().lower(), (position, name.strip()))
    for required, display in zip(_REQUIRED, CSV_COLUMNS, strict=True):
        if required not in index:
            raise BarParseError(source, 1, display, f"missing column; header must contain {', '.join(CSV_COLUMNS)}")
    return index


def _cell(row: list[str], column: tuple[int, str], source: Path, line: int) -> str:
    position, name = column
    text = row[position].strip() if position < len(row) else ""
    if not text:
        raise BarParseError(source, line, name, "empty value")
    return text


def _number(text: str, name: str, source: Path, line: int) -> float:
    try:
        return float(text)
    except ValueError:
        raise BarParseError(source, line, name, f"not a number: {text!r}") from None


def _parse_row(row: list[str], columns: dict[str, tuple[int, str]], symbol: str, source: Path, line: int) -> Bar:
    date_text = _cell(row, columns["date"], source, line)
    try:
        day = parse_bar_date(date_text)
    except ValueError:
        raise BarParseError(source, line, columns["date"][1], f"not a date: {date_text!r}") from None
    prices = {
        key: _number(_cell(row, columns[key], source, line), columns[key][1], source, line)
        for key in ("open", "high", "low", "close")
    }
    # Checked here rather than left to Bar's validator so the error can name the offending column.
    problem = ohlc_problem(prices["open"], prices["high"], prices["low"], prices["close"])
    if problem is not None:
        raise BarParseError(source, line, columns[problem[0]][1], problem[1])
    volume_name = columns["volume"][1]
    raw_volume = _number(_cell(row, columns["volume"], source, line), volume_name, source, line)
    try:
        volume = parse_volume(raw_volume)
    except ValueError as exc:
        raise BarParseError(source, line, volume_name, str(exc)) from None
    return Bar(symbol=symbol, date=day, volume=volume, **prices)


def read_bars_csv(path: str | Path, symbol: str) -> list[Bar]:
    """Read every bar of ``symbol`` from the CSV file ``path``, oldest first; bad rows raise BarParseError."""
    symbol = validate_symbol(symbol)
    source = Path(path)
    bars: dict[dt.date, Bar] = {}
    lines: dict[dt.date, int] = {}
    # utf-8-sig: spreadsheets save a byte-order mark that would otherwise glue itself to "Date".
    with source.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return []
        columns = _header_index(header, source)
        for row in reader:
            line = reader.line_num  # physical line, so the number matches what an editor shows
            if not any(cell.strip() for cell in row):
                continue
            bar = _parse_row(row, columns, symbol, source, line)
            if bar.date in bars:
                reason = f"duplicate date {bar.date} (also on line {lines[bar.date]})"
                raise BarParseError(source, line, columns["date"][1], reason)
            bars[bar.date] = bar
            lines[bar.date] = line
    # Some exports are newest first; callers always get oldest first.
    return [bars[day] for day in sorted(bars)]


def write_bars_csv(path: str | Path, bars: Iterable[Bar]) -> None:
    """Write ``bars`` to ``path`` as Date,Open,High,Low,Close,Volume, replacing the file atomically."""
    target = Path(path)
    # Write then rename: a worker reading the file concurrently sees the old or the new file, never half.
    with tempfile.NamedTemporaryFile(
        "w", newline="", encoding="utf-8", dir=target.parent, prefix=f".{target.name}.", delete=False
    ) as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for bar in bars:
            # repr() of a float round-trips exactly; a format like "%g" would lose digits.
            writer.writerow(
                [bar.date.isoformat(), repr(bar.open), repr(bar.high), repr(bar.low), repr(bar.close), bar.volume]
            )
    os.replace(handle.name, target)
