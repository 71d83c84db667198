"""The synthetic provider: deterministic across instances and processes, and realistic enough to test on."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.bars import Bar
from market.calendar import JST, is_trading_day, previous_trading_days
from market.errors import InvalidSymbolError, OutOfRangeError
from market.providers import PriceProvider
from market.synthetic import SyntheticProvider

END = dt.date(2025, 6, 13)  # a Friday session
symbols = st.from_regex(r"[0-9]{4}\.T", fullmatch=True)


def test_two_instances_return_identical_bars() -> None:
    assert SyntheticProvider().fetch("7203.T", "6mo", END) == SyntheticProvider().fetch("7203.T", "6mo", END)


def test_another_process_with_a_different_hash_seed_returns_identical_bars() -> None:
    # A fresh interpreter with another PYTHONHASHSEED would expose any use of the salted built-in hash().
    code = (
        "import datetime, json; from market.synthetic import SyntheticProvider; "
        "bars = SyntheticProvider().fetch('6758.T', '1mo', datetime.date(2025, 6, 13)); "
        "print(json.dumps([b.model_dump(mode='json') for b in bars]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    here = [b.model_dump(mode="json") for b in SyntheticProvider().fetch("6758.T", "1mo", END)]
    assert json.loads(out) == here


def test_the_provider_satisfies_the_price_provider_protocol() -> None:
    provider = SyntheticProvider()
    assert isinstance(provider, PriceProvider)
    assert provider.name == "synthetic"


def test_the_bars_cover_exactly_the_last_trading_days_of_the_period() -> None:
    bars = SyntheticProvider().fetch("7203.T", "3mo", END)
    assert [b.date for b in bars] == previous_trading_days(END, 63)
    assert bars[-1].date == END


def test_an_end_on_a_holiday_ends_at_the_previous_session() -> None:
    bars = SyntheticProvider().fetch("7203.T", "1mo", dt.date(2024, 1, 8))  # Coming of Age Day
    assert bars[-1].date == dt.date(2024, 1, 5)
    assert dt.date(2024, 1, 2) not in {b.date for b in bars}


def test_a_bar_does_not_depend_on_the_window_it_was_fetched_in() -> None:
    provider = SyntheticProvider()
    short = provider.fetch("9984.T", "1mo", END)
    long_by_date = {b.date: b for b in provider.fetch("9984.T", "1y", dt.date(2025, 6, 20))}
    assert all(long_by_date[b.date] == b for b in short)


def test_different_symbols_get_different_prices() -> None:
    provider = SyntheticProvider()
    toyota, sony = provider.fetch("7203.T", "1mo", END), provider.fetch("6758.T", "1mo", END)
    assert [b.close for b in toyota] != [b.close for b in sony]


def test_without_an_end_the_last_bar_is_the_last_completed_session() -> None:
    # Monday 10:00 JST: Monday's bar is still forming, so Friday's is the latest.
    provider = SyntheticProvider(clock=lambda: dt.datetime(2025, 6, 16, 10, 0, tzinfo=JST))
    assert provider.fetch("7203.T", "1mo")[-1].date == END


def test_a_window_reaching_before_the_synthetic_history_is_refused() -> None:
    with pytest.raises(OutOfRangeError, match="starts on 2000-01-01"):
        SyntheticProvider().fetch("7203.T", "5y", dt.date(2003, 6, 2))


@pytest.mark.parametrize("symbol", ["7203", "AAPL", "7203.TX", "72030.T", " 7203.T", "7203.t"])
def test_a_malformed_symbol_is_refused_naming_it(symbol: str) -> None:
    with pytest.raises(InvalidSymbolError, match=repr(symbol).replace(".", r"\.")):
        SyntheticProvider().fetch(symbol, "1mo", END)


def _on_tick(price: float) -> bool:
    # Below 1,000 yen prices are in 0.1-yen steps, from 1,000 yen whole yen.
    step = 0.1 if price < 1000 else 1.0
    return abs(price / step - round(price / step)) < 1e-6


@settings(max_examples=25, database=None, deadline=None)
@given(symbol=symbols)
def test_every_symbol_gets_consistent_plausible_bars_on_trading_days(symbol: str) -> None:
    bars = SyntheticProvider().fetch(symbol, "1y", END)
    assert len(bars) == 252
    dates = [b.date for b in bars]
    assert dates == sorted(set(dates))
    for b in bars:
        assert isinstance(b, Bar)
        assert is_trading_day(b.date)
        assert b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high
        assert all(_on_tick(p) for p in (b.open, b.high, b.low, b.close))
        assert 1 <= b.close <= 200_000
        assert b.volume > 0 and b.volume % 100 == 0
    for before, after in itertools.pairwise(bars):
        # A 30% day-over-day move would be a limit-up/limit-down event, not everyday noise.
        assert abs(after.close / before.close - 1) < 0.30
