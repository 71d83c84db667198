"""TSE calendar and session clock, checked against dates whose status is known from the JPX calendar."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.calendar import (
    JST,
    is_trading_day,
    last_completed_session,
    market_status,
    next_trading_day,
    previous_trading_day,
    previous_trading_days,
    trading_days,
)

UTC = dt.UTC


def jst(year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=JST)


# 2025-06-16 is a plain Monday with no holiday; 2025-06-17 is the next session day.
MONDAY = (2025, 6, 16)


def test_coming_of_age_day_2024_is_a_closed_holiday() -> None:
    status = market_status(jst(2024, 1, 8, 10))
    assert not status.is_open
    assert status.session == "holiday"
    assert "成人の日" in status.reason
    assert status.next_open == jst(2024, 1, 9, 9)
    assert not is_trading_day(dt.date(2024, 1, 8))


def test_january_2_2025_falls_in_the_year_end_closure_and_reopens_on_january_6() -> None:
    status = market_status(jst(2025, 1, 2, 10))
    assert not status.is_open
    assert status.session == "year_end_closure"
    # Jan 3 (Fri) is still closed, Jan 4-5 is a weekend, so trading resumes Monday Jan 6.
    assert status.next_open == jst(2025, 1, 6, 9)


def test_a_saturday_is_a_closed_weekend_day_reopening_on_monday() -> None:
    status = market_status(jst(2025, 6, 14, 11))
    assert not status.is_open
    assert status.session == "weekend"
    assert status.next_open == jst(*MONDAY, 9)


def test_11_45_is_the_lunch_break_and_the_market_reopens_at_12_30() -> None:
    status = market_status(jst(*MONDAY, 11, 45))
    assert not status.is_open
    assert status.session == "lunch_break"
    assert status.next_open == jst(*MONDAY, 12, 30)


def test_10_00_on_a_weekday_is_the_open_morning_session() -> None:
    status = market_status(jst(*MONDAY, 10))
    assert status.is_open
    assert status.session == "morning"


def test_15_29_is_still_open_because_the_close_moved_to_15_30() -> None:
    status = market_status(jst(*MONDAY, 15, 29))
    assert status.is_open
    assert status.session == "afternoon"


def test_15_31_is_after_hours_and_the_next_open_is_tomorrow_morning() -> None:
    status = market_status(jst(*MONDAY, 15, 31))
    assert not status.is_open
    assert status.session == "after_hours"
    assert status.next_open == jst(2025, 6, 17, 9)


@pytest.mark.parametrize(
    ("hour", "minute", "session"),
    [(8, 59, "pre_market"), (9, 0, "morning"), (11, 30, "lunch_break"), (12, 30, "afternoon"), (15, 30, "after_hours")],
)
def test_session_boundaries_are_half_open_intervals(hour: int, minute: int, session: str) -> None:
    assert market_status(jst(*MONDAY, hour, minute)).session == session


def test_an_aware_utc_instant_is_judged_in_tokyo_time() -> None:
    # 01:00 UTC is 10:00 JST; 23:00 UTC on Sunday is already 08:00 Monday in Tokyo.
    assert market_status(dt.datetime(2025, 6, 16, 1, 0, tzinfo=UTC)).session == "morning"
    sunday_night_utc = market_status(dt.datetime(2025, 6, 15, 23, 0, tzinfo=UTC))
    assert sunday_night_utc.session == "pre_market"
    assert sunday_night_utc.local_time == jst(*MONDAY, 8)
    assert sunday_night_utc.next_open == jst(*MONDAY, 9)


def test_a_naive_datetime_is_refused_because_its_zone_is_ambiguous() -> None:
    with pytest.raises(ValueError, match="naive"):
        market_status(dt.datetime(2025, 6, 16, 10, 0))


def test_trading_days_skip_the_year_end_closure_and_weekends() -> None:
    expected = [dt.date(2024, 12, 27), dt.date(2024, 12, 30), dt.date(2025, 1, 6), dt.date(2025, 1, 7)]
    assert trading_days(dt.date(2024, 12, 27), dt.date(2025, 1, 7)) == expected


def test_trading_days_skip_golden_week_including_the_substitute_holiday() -> None:
    # 2025: Apr 29 Showa Day, May 3-5 holidays on Sat-Mon, May 6 substitute holiday.
    expected = [dt.date(2025, 4, 28), dt.date(2025, 4, 30), dt.date(2025, 5, 1), dt.date(2025, 5, 2)]
    expected.append(dt.date(2025, 5, 7))
    assert trading_days(dt.date(2025, 4, 28), dt.date(2025, 5, 7)) == expected


def test_trading_days_of_a_reversed_range_is_empty() -> None:
    assert trading_days(dt.date(2025, 1, 7), dt.date(2025, 1, 6)) == []


def test_previous_trading_days_end_on_the_given_day_and_are_oldest_first() -> None:
    expected = [dt.date(2024, 12, 27), dt.date(2024, 12, 30), dt.date(2025, 1, 6)]
    assert previous_trading_days(dt.date(2025, 1, 6), 3) == expected
    assert previous_trading_days(dt.date(2025, 1, 5), 1) == [dt.date(2024, 12, 30)]
    assert previous_trading_days(dt.date(2025, 1, 6), 0) == []


def test_previous_trading_days_refuses_a_negative_count() -> None:
    with pytest.raises(ValueError, match="n must be"):
        previous_trading_days(dt.date(2025, 1, 6), -1)


def test_dec_31_is_closed_even_on_a_weekday_while_dec_30_trades() -> None:
    assert not is_trading_day(dt.date(2024, 12, 31))  # Tuesday
    assert is_trading_day(dt.date(2024, 12, 30))  # Monday, the last session of 2024


def test_is_trading_day_refuses_a_datetime_to_avoid_dropping_its_zone() -> None:
    with pytest.raises(TypeError):
        is_trading_day(jst(*MONDAY, 10))


def test_next_and_previous_trading_day_step_over_closures() -> None:
    assert next_trading_day(dt.date(2024, 12, 30)) == dt.date(2025, 1, 6)
    assert previous_trading_day(dt.date(2024, 1, 9)) == dt.date(2024, 1, 5)


def test_last_completed_session_is_today_only_after_the_close() -> None:
    assert last_completed_session(jst(*MONDAY, 15, 0)) == dt.date(2025, 6, 13)
    assert last_completed_session(jst(*MONDAY, 15, 30)) == dt.date(*MONDAY)
    assert last_completed_session(jst(2025, 1, 2, 12)) == dt.date(2024, 12, 30)


instants = st.datetimes(
    min_value=dt.datetime(2001, 1, 1), max_value=dt.datetime(2030, 12, 31), timezones=st.sampled_from([JST, UTC])
)


@settings(max_examples=200, database=None, deadline=None)
@given(at=instants)
def test_the_market_is_open_only_in_sessions_and_next_open_is_a_later_open_instant(at: dt.datetime) -> None:
    status = market_status(at)
    local = at.astimezone(JST)
    assert status.local_time == local
    assert status.is_open == (status.session in ("morning", "afternoon"))
    if status.is_open:
        assert is_trading_day(local.date())
    assert status.next_open > at
    assert status.next_open.astimezone(JST).time() in (dt.time(9, 0), dt.time(12, 30))
    assert market_status(status.next_open).is_open
