"""Tokyo Stock Exchange trading calendar and session clock."""

from __future__ import annotations

import bisect
import datetime as dt
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import jpholiday
from pydantic import AwareDatetime, BaseModel, ConfigDict

JST = ZoneInfo("Asia/Tokyo")

MORNING_OPEN = dt.time(9, 0)
MORNING_CLOSE = dt.time(11, 30)
AFTERNOON_OPEN = dt.time(12, 30)
# TSE moved the close from 15:00 to 15:30 on 2024-11-05 (arrowhead 4.0); only the current rule is modelled.
AFTERNOON_CLOSE = dt.time(15, 30)

Session = Literal[
    "morning", "afternoon", "lunch_break", "pre_market", "after_hours", "holiday", "weekend", "year_end_closure"
]

# The longest real closure was 10 days (Golden Week 2019, imperial succession); the bound only
# turns a calendar bug into an error instead of an endless loop.
_MAX_CLOSED_RUN = 31


# Phases of a trading day as half-open intervals [previous bound, until): at 11:30:00 and 15:30:00
# the continuous session is already over.
_DAY_PHASES: tuple[tuple[dt.time, Session, str], ...] = (
    (MORNING_OPEN, "pre_market", "closed: before the 09:00 morning open"),
    (MORNING_CLOSE, "morning", "open: morning session 09:00-11:30"),
    (AFTERNOON_OPEN, "lunch_break", "closed: lunch break 11:30-12:30"),
    (AFTERNOON_CLOSE, "afternoon", "open: afternoon session 12:30-15:30"),
)


class MarketStatus(BaseModel):
    """Whether the TSE is open at an instant, which session applies, and when it next opens."""

    model_config = ConfigDict(frozen=True)

    is_open: bool
    session: Session
    reason: str
    next_open: AwareDatetime
    local_time: AwareDatetime


def is_year_end_closure(d: dt.date) -> bool:
    """Return True for Dec 31 - Jan 3, when the TSE is closed whatever the weekday."""
    return (d.month == 12 and d.day == 31) or (d.month == 1 and d.day <= 3)


def _is_trading_day_uncached(d: dt.date) -> bool:
    return d.weekday() < 5 and not is_year_end_closure(d) and not jpholiday.is_holiday(d)


@lru_cache(maxsize=256)
def _trading_days_of_year(year: int) -> tuple[dt.date, ...]:
    # Cached per year because providers enumerate decades of days on every fetch.
    day = dt.date(year, 1, 1)
    days: list[dt.date] = []
    while day.year == year:
        if _is_trading_day_uncached(day):
            days.append(day)
        day += dt.timedelta(days=1)
    return tuple(days)


def is_trading_day(d: dt.date) -> bool:
    """Return True if the TSE holds sessions on ``d`` (a weekday, not a holiday, not Dec 31 - Jan 3)."""
    if isinstance(d, dt.datetime):
        # datetime is a date subclass; silently dropping the time (and zone) would hide a caller bug.
        raise TypeError("is_trading_day() takes a date, not a datetime; use market_status() for instants")
    days = _trading_days_of_year(d.year)
    i = bisect.bisect_left(days, d)
    return i < len(days) and days[i] == d


def closure_reason(d: dt.date) -> tuple[Session, str] | None:
    """Return the (session, reason) explaining why ``d`` has no sessions, or None on a trading day."""
    # Year end first: Jan 1 is also a public holiday, but the exchange rule is the more specific reason.
    if is_year_end_closure(d):
        return "year_end_closure", "year-end/new-year closure (Dec 31 - Jan 3)"
    if d.weekday() >= 5:
        return "weekend", d.strftime("%A")
    name = jpholiday.is_holiday_name(d)
    if name is not None:
        return "holiday", f"Japanese public holiday: {name}"
    return None


def trading_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """Return the trading days from ``start`` to ``end`` inclusive, oldest first (empty if start > end)."""
    days: list[dt.date] = []
    for year in range(start.year, end.year + 1):
        of_year = _trading_days_of_year(year)
        lo = bisect.bisect_left(of_year, start)
        hi = bisect.bisect_right(of_year, end)
        days.extend(of_year[lo:hi])
    return days


def previous_trading_days(end: dt.date, n: int) -> list[dt.date]:
    """Return the last ``n`` trading days on or before ``end``, oldest first."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    days: list[dt.date] = []
    year = end.year
    while len(days) < n:
        of_year = _trading_days_of_year(year)
        hi = bisect.bisect_right(of_year, end)
        days[:0] = of_year[max(0, hi - (n - len(days))) : hi]
        year -= 1
        if year < dt.MINYEAR:
            raise ValueError(f"fewer than {n} trading days exist before {end}")
    return days


def next_trading_day(d: dt.date) -> dt.date:
    """Return the first trading day strictly after ``d``."""
    day = d
    for _ in range(_MAX_CLOSED_RUN):
        day += dt.timedelta(days=1)
        if is_trading_day(day):
            return day
    raise RuntimeError(f"no trading day within {_MAX_CLOSED_RUN} days after {d}")


def previous_trading_day(d: dt.date) -> dt.date:
    """Return the last trading day strictly before ``d``."""
    day = d
    for _ in range(_MAX_CLOSED_RUN):
        day -= dt.timedelta(days=1)
        if is_trading_day(day):
            return day
    raise RuntimeError(f"no trading day within {_MAX_CLOSED_RUN} days before {d}")


def _to_jst(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        # Servers and Celery workers usually run in UTC; guessing the zone of a naive value would
        # shift the answer by nine hours without any error, so the caller must say which zone they mean.
        raise ValueError(
            f"naive datetime {at.isoformat()} refused: its time zone is ambiguous; "
            "pass an aware datetime such as datetime.now(market.calendar.JST)"
        )
    return at.astimezone(JST)


def _open_at(d: dt.date, t: dt.time) -> dt.datetime:
    return dt.datetime.combine(d, t, tzinfo=JST)


def market_status(at: dt.datetime) -> MarketStatus:
    """Return the TSE status at the aware instant ``at``; ``next_open`` is the next session start after it."""
    local = _to_jst(at)
    today = local.date()
    now = local.time()
    next_day_open = _open_at(next_trading_day(today), MORNING_OPEN)

    closed = closure_reason(today)
    if closed is not None:
        closed_session, why_closed = closed
        return MarketStatus(
            is_open=False,
            session=closed_session,
            reason=f"closed: {why_closed}",
            next_open=next_day_open,
            local_time=local,
        )

    session: Session = "after_hours"
    reason = "closed: after the 15:30 close"
    for until, phase, why in _DAY_PHASES:
        if now < until:
            session, reason = phase, why
            break
    if now < MORNING_OPEN:
        next_open = _open_at(today, MORNING_OPEN)
    elif now < AFTERNOON_OPEN:
        next_open = _open_at(today, AFTERNOON_OPEN)
    else:
        next_open = next_day_open
    is_open = session in ("morning", "afternoon")
    return MarketStatus(is_open=is_open, session=session, reason=reason, next_open=next_open, local_time=local)


def last_completed_session(at: dt.datetime) -> dt.date:
    """Return the latest trading day whose afternoon session had closed by the aware instant ``at``."""
    local = _to_jst(at)
    today = local.date()
    # Before today's close the day's bar is still forming, so the last complete daily bar is an earlier day.
    if is_trading_day(today) and local.time() >= AFTERNOON_CLOSE:
        return today
    return previous_trading_day(today)
