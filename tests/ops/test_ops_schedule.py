"""The periodic jobs as data, their wiring into Celery, the market-hours guard and the progress cleanup."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from base.queues import QUEUE_NAMES
from beat_schedule import JOBS, celery_beat_schedule
from progress import ProgressStore, TaskStatus
from tasks.maintenance.tasks import UPDATE_ALL_PRICES, cleanup_expired_progress, market_refresh
from worker import app, load_tasks
from worker.store import progress_store

JST = ZoneInfo("Asia/Tokyo")
load_tasks()


def test_every_job_names_a_registered_task_and_a_real_queue() -> None:
    for name, job in JOBS.items():
        assert job["task"] in app.tasks, f"{name}: no task {job['task']}"
        assert job["queue"] in QUEUE_NAMES, f"{name}: no queue {job['queue']}"
        assert 0 < job["fast_every_s"] <= 5 < job["every_s"]
    assert UPDATE_ALL_PRICES in app.tasks


def test_the_seed_periods_are_kept() -> None:
    periods = {job["task"]: job["every_s"] for job in JOBS.values()}
    assert periods["tasks.maintenance.refresh_market_data"] == 5 * 60
    assert periods["tasks.maintenance.collect_system_metrics"] == 30 * 60
    # Retention is 24 h; cleaning hourly keeps every record within an hour of it.
    assert periods["tasks.maintenance.cleanup_expired_progress"] <= 60 * 60
    assert periods["tasks.analysis.cleanup_expired_analysis"] <= 60 * 60
    assert periods["tasks.maintenance.sweep_stale_tasks"] == 60


def test_the_app_runs_the_schedule_with_redbeat_and_each_message_expires_after_its_period() -> None:
    conf = app.conf
    assert conf.beat_scheduler == "redbeat.RedBeatScheduler"
    assert conf.redbeat_lock_timeout > conf.beat_max_loop_interval
    assert conf.beat_schedule == celery_beat_schedule(fast=False, sweep_every_s=60.0)
    for entry in celery_beat_schedule(fast=True).values():
        assert entry["options"]["expires"] == entry["schedule"]


def test_the_market_refresh_does_nothing_outside_tse_hours() -> None:
    sent: list[str] = []

    def send(name: str) -> str:
        sent.append(name)
        return "tid-1"

    saturday = market_refresh(dt.datetime(2025, 6, 7, 10, 0, tzinfo=JST), send)
    lunch = market_refresh(dt.datetime(2025, 6, 10, 12, 0, tzinfo=JST), send)
    evening = market_refresh(dt.datetime(2025, 6, 10, 18, 0, tzinfo=JST), send)

    assert sent == [] and saturday["dispatched"] is None and lunch["dispatched"] is None
    assert evening["dispatched"] is None and saturday["session"] == "weekend"
    assert saturday["next_open"] == "2025-06-09T09:00:00+09:00"


def test_the_market_refresh_starts_the_price_update_while_the_tse_is_open() -> None:
    sent: list[str] = []

    def send(name: str) -> str:
        sent.append(name)
        return "tid-1"

    # Tuesday 10 June 2025, 10:00 JST: a trading day (no holiday), morning session.
    report = market_refresh(dt.datetime(2025, 6, 10, 1, 0, tzinfo=dt.UTC), send)

    assert sent == [UPDATE_ALL_PRICES] and report == {"dispatched": "tid-1", "session": "morning",
                                                      "reason": report["reason"]}


def test_the_progress_cleanup_removes_records_ended_before_the_retention_period_only() -> None:
    store = progress_store()
    store.redis.flushdb()
    day_and_a_bit_ago = store.now_ms() / 1000 - store.config.retention_s - 60
    past = ProgressStore(store.redis, config=store.config, clock=lambda: day_and_a_bit_ago)
    old, recent, running = (f"ops-{uuid.uuid4()}" for _ in range(3))
    for tid in (old, recent, running):
        (past if tid == old else store).create_task("tasks.diagnostics.count", task_id=tid)
    past.update_progress(old, TaskStatus.COMPLETED)
    store.update_progress(recent, TaskStatus.COMPLETED)
    store.update_progress(running, TaskStatus.RUNNING)

    assert cleanup_expired_progress() == {"progress_records": 1}

    assert store.get_task_status(old) is None
    assert store.require(recent).status is TaskStatus.COMPLETED
    assert store.require(running).status is TaskStatus.RUNNING
