"""price_alert_monitor through the real session worker: alerts fire once and notify their user."""

from __future__ import annotations

import datetime as dt
from functools import partial

import pytest
from celery import group

from market import evaluate
from progress import ProgressStore, TaskRecord, TaskStatus
from tasks.market.alerts import PriceAlert, add_alert, fired_alerts
from tasks.market.store import LastPrice, bar_store
from tasks.market.tasks import NOTIFY_TASK, price_alert_monitor
from tests.helpers import wait_until

pytestmark = pytest.mark.integration

DAY = dt.date(2024, 6, 28)
PRICES = {"7203.T": 2500.0, "6758.T": 1100.0}
ALERTS = [
    PriceAlert(id="a-above", user_id="alice", symbol="7203.T", kind="above", threshold=2000),
    PriceAlert(id="a-below", user_id="alice", symbol="7203.T", kind="below", threshold=2000),
    PriceAlert(id="b-rise", user_id="bob", symbol="6758.T", kind="percent_change", threshold=5, reference_price=1000),
    PriceAlert(id="b-fall", user_id="bob", symbol="6758.T", kind="percent_change", threshold=-5, reference_price=1000),
    PriceAlert(id="c-noprice", user_id="carol", symbol="9984.T", kind="above", threshold=1),
]


def _ended(store: ProgressStore, task_id: str) -> TaskRecord | None:
    rec = store.get_task_status(task_id)
    return rec if rec is not None and rec.status.is_terminal else None


def test_alerts_fire_once_across_monitor_runs_and_each_notifies_its_user(worker_store: ProgressStore) -> None:
    # Given latest prices and stored alerts; which fire is computed from the pure evaluation
    now = dt.datetime.now(dt.UTC)
    for symbol, price in PRICES.items():
        bar_store().set_last_price(LastPrice(symbol=symbol, price=price, date=DAY, updated_at=now))
    for alert in ALERTS:
        add_alert(alert)
    should_fire = {a.id: evaluate(a, PRICES[a.symbol]) for a in ALERTS if a.symbol in PRICES}
    should_fire = {k: v for k, v in should_fire.items() if v.fired}
    assert set(should_fire) == {"a-above", "b-rise"}

    # When two monitors run at the same time
    first, second = group(price_alert_monitor.s(), price_alert_monitor.s()).apply_async().get(timeout=30)

    # Then each firing alert fired in exactly one of them, with the evaluation's message
    fired = {**first["fired"], **second["fired"]}
    assert len(first["fired"]) + len(second["fired"]) == len(should_fire)
    assert {k: v["message"] for k, v in fired.items()} == {k: v.message for k, v in should_fire.items()}
    assert first["no_price"] == second["no_price"] == {"c-noprice": "9984.T"}
    assert set(fired_alerts()) == set(should_fire)

    # And each user got a notification through the notifications task
    for alert_id, entry in fired.items():
        rec = wait_until(partial(_ended, worker_store, entry["notification_task_id"]), timeout=30,
                         what=f"notification of {alert_id}")
        assert rec is not None and rec.task_name == NOTIFY_TASK and rec.status is TaskStatus.COMPLETED
        assert rec.results["user_id"] == entry["user_id"] == next(a.user_id for a in ALERTS if a.id == alert_id)

    # When the monitor runs again, nothing fires a second time
    third = price_alert_monitor.delay().get(timeout=30)
    assert third["fired"] == {} and third["already_fired"] == len(should_fire)
    assert worker_store.get_tasks_list(task_type=NOTIFY_TASK).pagination.total == len(should_fire)
