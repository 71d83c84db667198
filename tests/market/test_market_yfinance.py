"""The yfinance provider, driven by a recorded-shape ``history()`` response instead of the network.

A fake ticker is enough: this sandbox has no network and no yfinance/pandas, and the provider only
uses ``Ticker(symbol).history(...)`` and the returned frame's ``iterrows()``. The fixture reproduces
what that call returns for 7203.T (columns, UTC-serialised Tokyo index, NaN rows), so the conversion
is tested on the real shape; the fake also records the call's arguments.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from market.bars import Bar
from market.calendar import JST
from market.errors import BarParseError, PriceDataNotFoundError, ProviderUnavailableError
from market.providers import PriceProvider
from market.yfinance_provider import HistoryRow, YFinanceProvider, bars_from_history

FIXTURE = Path(__file__).parent / "data" / "yf_7203_T.json"
AFTER_CLOSE_APRIL_2 = dt.datetime(2024, 4, 2, 16, 0, tzinfo=JST)


class FakeFrame:
    """A DataFrame stand-in: iterrows() yields (Timestamp-like index, row mapping), NaN for JSON null."""

    def __init__(self, columns: list[str], index: list[dt.datetime], data: list[list[float | None]]) -> None:
        self.columns, self.index, self.data = columns, index, data

    @classmethod
    def from_split_json(cls, path: Path) -> FakeFrame:
        payload = json.loads(path.read_text(encoding="utf-8"))
        index = [dt.datetime.fromisoformat(stamp) for stamp in payload["index"]]
        return cls(payload["columns"], index, payload["data"])

    def iterrows(self) -> Iterator[tuple[object, HistoryRow]]:
        for stamp, values in zip(self.index, self.data, strict=True):
            yield stamp, {c: math.nan if v is None else v for c, v in zip(self.columns, values, strict=True)}


class FakeTicker:
    def __init__(self, frame: FakeFrame) -> None:
        self.frame = frame
        self.calls: list[dict[str, object]] = []

    def history(self, **kwargs: object) -> FakeFrame:
        self.calls.append(kwargs)
        return self.frame


@pytest.fixture
def ticker() -> FakeTicker:
    return FakeTicker(FakeFrame.from_split_json(FIXTURE))


def provider_for(ticker: FakeTicker, symbols: list[str] | None = None) -> YFinanceProvider:
    def factory(symbol: str) -> FakeTicker:
        if symbols is not None:
            symbols.append(symbol)
        return ticker

    return YFinanceProvider(ticker_factory=factory, clock=lambda: AFTER_CLOSE_APRIL_2)


def test_the_recorded_history_converts_to_bars_skipping_the_nan_rows(ticker: FakeTicker) -> None:
    bars = bars_from_history("7203.T", ticker.frame)
    # Values typed from the fixture rows; Adj Close, Dividends and Stock Splits play no part.
    assert bars == [
        Bar(symbol="7203.T", date=dt.date(2024, 3, 21), open=3640, high=3700, low=3630, close=3690, volume=28126400),
        Bar(symbol="7203.T", date=dt.date(2024, 3, 22), open=3716, high=3763, low=3706, close=3739, volume=30112600),
        Bar(symbol="7203.T", date=dt.date(2024, 3, 25), open=3745, high=3777, low=3706, close=3715, volume=22470300),
        Bar(symbol="7203.T", date=dt.date(2024, 3, 27), open=3800, high=3891, low=3790, close=3870, volume=35872100),
        Bar(symbol="7203.T", date=dt.date(2024, 3, 28), open=3806, high=3836, low=3780, close=3808, volume=27411500),
        Bar(symbol="7203.T", date=dt.date(2024, 3, 29), open=3810, high=3826, low=3776, close=3795, volume=21993000),
    ]


def test_fetch_asks_yfinance_for_the_period_of_unadjusted_daily_bars(ticker: FakeTicker) -> None:
    symbols: list[str] = []
    bars = provider_for(ticker, symbols).fetch("7203.T", "1mo")
    assert symbols == ["7203.T"]
    assert ticker.calls == [{"period": "1mo", "interval": "1d", "auto_adjust": False}]
    assert [b.date.day for b in bars] == [21, 22, 25, 27, 28, 29]


def test_fetch_with_an_end_date_asks_for_an_exclusive_end_one_day_later(ticker: FakeTicker) -> None:
    bars = provider_for(ticker).fetch("7203.T", "1mo", end=dt.date(2024, 3, 27))
    # 21 sessions back from 2024-03-27 starts on 2024-02-27 (Feb 23 and Mar 20 are holidays).
    assert ticker.calls == [{"start": "2024-02-27", "end": "2024-03-28", "interval": "1d", "auto_adjust": False}]
    assert bars[-1].date == dt.date(2024, 3, 27)


def test_an_unfinished_session_returned_by_yahoo_is_dropped(ticker: FakeTicker) -> None:
    # At 10:00 on Mar 29 that day's bar is still forming, so the last complete bar is Mar 28.
    provider = YFinanceProvider(ticker_factory=lambda _: ticker, clock=lambda: dt.datetime(2024, 3, 29, 10, tzinfo=JST))
    assert provider.fetch("7203.T", "1mo")[-1].date == dt.date(2024, 3, 28)


def test_an_empty_history_means_yahoo_has_no_data_for_the_symbol() -> None:
    empty = FakeTicker(FakeFrame(["Open", "High", "Low", "Close", "Volume"], [], []))
    with pytest.raises(PriceDataNotFoundError, match=r"no daily bars for 9999\.T"):
        provider_for(empty).fetch("9999.T", "1mo")


def test_a_plain_list_of_index_and_record_pairs_is_accepted() -> None:
    rows = [(dt.date(2024, 3, 21), {"Open": 10, "High": 11, "Low": 9, "Close": 10.5, "Volume": 300})]
    assert bars_from_history("7203.T", rows)[0].close == 10.5


def test_an_inconsistent_row_names_its_row_number_and_column() -> None:
    rows: list[tuple[object, HistoryRow]] = [
        (dt.date(2024, 3, 21), {"Open": 10, "High": 11, "Low": 9, "Close": 10, "Volume": 300}),
        (dt.date(2024, 3, 22), {"Open": 10, "High": 10.5, "Low": 9, "Close": 11, "Volume": 300}),
    ]
    with pytest.raises(BarParseError, match="row 2, column 'High'"):
        bars_from_history("7203.T", rows)


def test_a_history_without_a_volume_column_is_reported() -> None:
    rows: list[tuple[object, HistoryRow]] = [(dt.date(2024, 3, 21), {"Open": 1, "High": 1, "Low": 1, "Close": 1})]
    with pytest.raises(BarParseError, match="row 1, column 'Volume': missing column"):
        bars_from_history("7203.T", rows)


def test_without_the_yfinance_extra_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yfinance", None)  # makes "import yfinance" fail even where it is installed
    with pytest.raises(ProviderUnavailableError, match=r"pip install 'taskrunner\[yfinance\]'"):
        YFinanceProvider()


def test_the_provider_satisfies_the_price_provider_protocol(ticker: FakeTicker) -> None:
    assert isinstance(provider_for(ticker), PriceProvider)
    assert provider_for(ticker).name == "yfinance"
