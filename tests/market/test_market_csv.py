"""CSV files of daily bars: round trip through the writer and the provider, and precise parse errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from market.bars import Bar
from market.calendar import previous_trading_days
from market.csv_bars import read_bars_csv, write_bars_csv
from market.csv_provider import CsvProvider
from market.errors import BarParseError, PriceDataNotFoundError
from market.synthetic import SyntheticProvider

HEADER = "Date,Open,High,Low,Close,Volume\n"


def write(directory: Path, text: str, symbol: str = "7203.T") -> Path:
    path = directory / f"{symbol}.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_bars_written_to_csv_are_read_back_identically(tmp_path: Path) -> None:
    bars = SyntheticProvider().fetch("7203.T", "3mo", dt.date(2025, 6, 13))
    write_bars_csv(tmp_path / "7203.T.csv", bars)
    assert CsvProvider(tmp_path).fetch("7203.T", "3mo") == bars
    assert [p.name for p in tmp_path.iterdir()] == ["7203.T.csv"]  # no temporary file left behind


def test_the_provider_returns_only_the_trading_day_window_of_the_period(tmp_path: Path) -> None:
    bars = SyntheticProvider().fetch("7203.T", "6mo", dt.date(2025, 6, 13))
    write_bars_csv(tmp_path / "7203.T.csv", bars)
    got = CsvProvider(tmp_path).fetch("7203.T", "1mo", end=dt.date(2025, 5, 30))
    assert [b.date for b in got] == previous_trading_days(dt.date(2025, 5, 30), 21)


def test_lowercase_headers_a_byte_order_mark_and_the_adj_close_column_are_accepted(tmp_path: Path) -> None:
    text = (
        "\ufeffdate,open,high,low,close,adj close,volume\n"
        "2024-03-22,3716.0,3763.0,3706.0,3739.0,3695.5,30112600\n"
        "2024-03-21,3640,3700,3630,3690,3647.1,28126400.0\n"
    )
    bars = CsvProvider(write(tmp_path, text).parent).fetch("7203.T", "1mo")
    assert bars == [
        Bar(symbol="7203.T", date=dt.date(2024, 3, 21), open=3640, high=3700, low=3630, close=3690, volume=28126400),
        Bar(symbol="7203.T", date=dt.date(2024, 3, 22), open=3716, high=3763, low=3706, close=3739, volume=30112600),
    ]


def test_yfinance_style_timestamps_are_read_as_the_tokyo_trading_day(tmp_path: Path) -> None:
    path = write(tmp_path, "Date,Open,High,Low,Close,Adj Close,Volume\n2024-03-21 00:00:00+09:00,10,11,9,10,10,100\n")
    assert read_bars_csv(path, "7203.T")[0].date == dt.date(2024, 3, 21)


def test_a_row_with_a_non_numeric_close_names_its_line_and_column(tmp_path: Path) -> None:
    text = HEADER + "2024-03-21,3640,3700,3630,3690,28126400\n2024-03-22,3716,3763,3706,abc,30112600\n"
    with pytest.raises(BarParseError) as caught:
        CsvProvider(write(tmp_path, text).parent).fetch("7203.T", "1mo")
    error = caught.value
    assert (error.line, error.column) == (3, "Close")
    assert "line 3, column 'Close'" in str(error)
    assert "7203.T.csv" in str(error)


@pytest.mark.parametrize(
    ("row", "column", "needle"),
    [
        ("2024-03-21,3640,3680,3630,3690,100", "High", "below max(open, close)"),
        ("2024-03-21,3640,3700,3650,3690,100", "Low", "above min(open, close)"),
        ("2024-03-21,3640,3700,3630,3690,12.5", "Volume", "whole number"),
        ("2024-03-21,3640,3700,3630,,100", "Close", "empty value"),
        ("2024-03-21,3640,3700,3630", "Close", "empty value"),
        ("21/03/2024,3640,3700,3630,3690,100", "Date", "not a date"),
        ("2024-03-21,0,3700,3630,3690,100", "Open", "> 0"),
        ("2024-03-21,3640,3700,3630,nan,100", "Close", "finite"),
    ],
)
def test_each_kind_of_bad_row_is_reported_with_its_column(tmp_path: Path, row: str, column: str, needle: str) -> None:
    with pytest.raises(BarParseError, match="line 2") as caught:
        read_bars_csv(write(tmp_path, HEADER + row + "\n"), "7203.T")
    assert caught.value.column == column
    assert needle in caught.value.reason


def test_a_repeated_date_is_reported_with_both_lines(tmp_path: Path) -> None:
    text = HEADER + "2024-03-21,10,11,9,10,100\n\n2024-03-21,10,11,9,10,100\n"
    with pytest.raises(BarParseError, match=r"line 4, column 'Date': duplicate date 2024-03-21 \(also on line 2\)"):
        read_bars_csv(write(tmp_path, text), "7203.T")


def test_a_header_without_a_volume_column_is_reported_on_line_1(tmp_path: Path) -> None:
    with pytest.raises(BarParseError, match="line 1, column 'Volume': missing column"):
        read_bars_csv(write(tmp_path, "Date,Open,High,Low,Close\n2024-03-21,10,11,9,10\n"), "7203.T")


def test_a_missing_file_is_a_clear_error_naming_the_symbol_and_path(tmp_path: Path) -> None:
    with pytest.raises(PriceDataNotFoundError, match=r"no CSV price data for 6758\.T: .*6758\.T\.csv does not exist"):
        CsvProvider(tmp_path).fetch("6758.T", "1mo")


def test_a_file_with_only_a_header_is_reported_as_having_no_rows(tmp_path: Path) -> None:
    with pytest.raises(PriceDataNotFoundError, match="has no rows"):
        CsvProvider(write(tmp_path, HEADER).parent).fetch("7203.T", "1mo")


def test_a_missing_directory_is_refused_when_the_provider_is_built(tmp_path: Path) -> None:
    with pytest.raises(PriceDataNotFoundError, match="does not exist"):
        CsvProvider(tmp_path / "nowhere")
