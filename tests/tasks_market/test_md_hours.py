"""market_hours_check through the real session worker, on instants whose answer is known."""

from __future__ import annotations

import pytest

from progress import ProgressStore, TaskStatus
from tasks.market.tasks import market_hours_check
from worker import app

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("at", "is_open", "session", "next_open"),
    [
        # Constitution Memorial Day (Golden Week): closed, next open the following Tuesday morning
        ("2024-05-03T10:00:00+09:00", False, "holiday", "2024-05-07T09:00:00+09:00"),
        # A Tuesday at noon, given in UTC: the lunch break, reopening at 12:30
        ("2024-05-07T03:00:00+00:00", False, "lunch_break", "2024-05-07T12:30:00+09:00"),
        # The same Tuesday at 10:30 JST: the morning session is open
        ("2024-05-07T10:30:00+09:00", True, "morning", "2024-05-07T12:30:00+09:00"),
    ],
)
def test_market_hours_check_knows_holidays_the_lunch_break_and_open_sessions(
    worker_store: ProgressStore, at: str, is_open: bool, session: str, next_open: str
) -> None:
    res = market_hours_check.delay(at=at)
    status = res.get(timeout=30)

    assert (status["is_open"], status["session"], status["next_open"]) == (is_open, session, next_open)
    assert status["local_time"].endswith("+09:00")
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.COMPLETED and rec.results == status


def test_a_naive_instant_is_refused_at_once_naming_the_field(worker_store: ProgressStore) -> None:
    res = app.send_task(market_hours_check.name, kwargs={"at": "2024-05-07T10:30:00"})

    with pytest.raises(Exception, match="invalid arguments"):
        res.get(timeout=30)
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.ERROR and rec.processing_details["validation_errors"][0]["field"] == "at"
