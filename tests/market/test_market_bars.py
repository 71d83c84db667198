"""Bar validation and seed-period parsing."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from market.bars import Bar, Period, period_trading_days
from market.errors import InvalidPeriodError, InvalidSymbolError


def bar(**changes: object) -> Bar:
    fields: dict[str, object] = {
        "symbol": "7203.T",
        "date": dt.date(2025, 6, 16),
        "open": 100.0,
        "high": 110.0,
        "low": 95.0,
        "close": 105.0,
        "volume": 1_000,
    }
    fields.update(changes)
    return Bar.model_validate(fields)


def test_a_consistent_bar_is_accepted_and_frozen() -> None:
    b = bar()
    assert (b.open, b.high, b.low, b.close, b.volume) == (100.0, 110.0, 95.0, 105.0, 1_000)
    with pytest.raises(ValidationError):
        b.close = 1.0  # type: ignore[misc]


def test_a_high_equal_to_the_close_and_a_low_equal_to_the_open_are_allowed() -> None:
    assert bar(high=105.0, low=100.0).high == 105.0


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"high": 104.0}, "high 104.0 is below max"),
        ({"low": 101.0}, "low 101.0 is above min"),
        ({"open": 0.0}, "greater than 0"),
        ({"close": -5.0}, "greater than 0"),
        ({"volume": -1}, "greater than or equal to 0"),
        ({"volume": 10.5}, "integer"),
        ({"close": float("nan")}, "finite"),
    ],
)
def test_an_inconsistent_bar_is_refused_with_the_reason(changes: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        bar(**changes)


def test_a_bar_refuses_a_datetime_where_the_trading_day_belongs() -> None:
    with pytest.raises(ValidationError, match="not a datetime"):
        bar(date=dt.datetime(2025, 6, 16, tzinfo=dt.UTC))


def test_a_bar_refuses_a_symbol_that_is_not_a_tse_code() -> None:
    with pytest.raises(ValidationError, match="AAPL"):
        bar(symbol="AAPL")


@pytest.mark.parametrize(
    ("text", "days"), [("1mo", 21), ("3mo", 63), ("6mo", 126), ("1y", 252), ("2y", 504), ("5y", 1260)]
)
def test_each_seed_period_maps_to_its_number_of_trading_days(text: str, days: int) -> None:
    assert Period.parse(text).trading_days == days
    assert period_trading_days(text) == days


def test_period_parsing_ignores_case_and_surrounding_spaces() -> None:
    assert Period.parse(" 1Y ") is Period.ONE_YEAR


@pytest.mark.parametrize("text", ["2w", "10y", "max", "", "1 y"])
def test_an_unknown_period_is_refused_with_the_list_of_accepted_ones(text: str) -> None:
    with pytest.raises(InvalidPeriodError, match=r"expected one of 1mo, 3mo, 6mo, 1y, 2y, 5y"):
        Period.parse(text)


def test_invalid_period_and_symbol_errors_are_value_errors_for_generic_callers() -> None:
    assert issubclass(InvalidPeriodError, ValueError)
    assert issubclass(InvalidSymbolError, ValueError)
