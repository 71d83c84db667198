"""Periodic maintenance (run by Beat, see beat_schedule.py): market refresh trigger, progress cleanup, stale-task
sweep, system metrics. Expired analysis results are cleaned by tasks.analysis.cleanup_expired_analysis.

These are plain (untracked) tasks: they run every minute to every hour, and a progress record for each run would
bury the users' tasks in the list. Flower shows them, and each returns a small JSON report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from billiard.exceptions import WorkerLostError

from base.keys import AppKeys
from base.queues import QUEUE_NAMES
from base.settings import get_settings
from market.calendar import market_status
from ops.broker_view import BrokerView
from ops.metrics import collect_sample, record_sample
from ops.stale_sweep import held_by_workers, sweep_lost_messages, sweep_stale
from ops.step_timeouts import sweep_step_timeouts
from progress.models import TaskRecord
from tracking.task import ProgressTask
from worker import app
from worker.store import progress_store

UPDATE_ALL_PRICES = "tasks.market_data.update_all_stock_prices"


def market_refresh(at: dt.datetime, send: Callable[[str], str]) -> dict[str, Any]:
    """Sends the all-symbols price update through `send` (task name -> task id) if the TSE is open at `at`."""
    status = market_status(at)
    if not status.is_open:
        return {"dispatched": None, "session": status.session, "reason": status.reason,
                "next_open": status.next_open.isoformat()}
    return {"dispatched": send(UPDATE_ALL_PRICES), "session": status.session, "reason": status.reason}


@app.task(name="tasks.maintenance.refresh_market_data", internal="a Beat job")
def refresh_market_data() -> dict[str, Any]:
    """Starts the all-symbols price update while the TSE is open; does nothing outside market hours."""
    # By name: the market-data family owns that task, and its module may be deployed on other workers only.
    return market_refresh(dt.datetime.now(dt.UTC), lambda name: str(app.send_task(name).id))


@app.task(name="tasks.maintenance.cleanup_expired_progress", internal="a Beat job")
def cleanup_expired_progress() -> dict[str, int]:
    """Removes progress records that ended longer ago than the retention period (24 h)."""
    return {"progress_records": progress_store().cleanup()}


@app.task(name="tasks.maintenance.sweep_stale_tasks", internal="a Beat job")
def sweep_stale_tasks() -> dict[str, Any]:
    """Requeues or ends running tasks whose worker stopped sending heartbeats (see ops/stale_sweep.py), and flags
    running steps past their timeout (ops/step_timeouts.py)."""
    ops = get_settings()
    with BrokerView.open(app) as broker:
        report = sweep_stale(progress_store(), broker, stale_after_s=ops.stale_after_s, queues=QUEUE_NAMES,
                             scan_limit=ops.queue_scan_limit)
        lost_messages = sweep_lost_messages(
            progress_store(), broker, grace_s=ops.lost_message_grace_s, queues=QUEUE_NAMES,
            is_celery_task=_published_by_celery, held_by_workers=lambda: held_by_workers(
                app, timeout=ops.inspect_timeout_s), scan_limit=ops.queue_scan_limit)
    for task_id in report.lost:
        # Celery's own state would otherwise say STARTED/PROGRESS for ever (AsyncResult.get() would hang).
        app.backend.mark_as_failure(task_id, WorkerLostError("worker lost: no heartbeat; marked by the sweep"))
    for task_id in lost_messages.lost:
        # Otherwise PENDING for ever: the message that would have run it is gone.
        app.backend.mark_as_failure(task_id, RuntimeError("message lost: no broker holds it; marked by the sweep"))
    step_timeouts = sweep_step_timeouts(progress_store(), fails=ops.step_timeout_fails)
    return {**report.model_dump(), "message_lost": lost_messages.model_dump(),
            "step_timeouts": step_timeouts.model_dump()}


def _published_by_celery(rec: TaskRecord) -> bool:
    """Whether a record was created by the publish hook for a Celery message (not by another producer's API call)."""
    return isinstance(app.tasks.get(rec.task_type), ProgressTask) and "queue" in rec.metadata


@app.task(name="tasks.maintenance.collect_system_metrics", internal="a Beat job")
def collect_system_metrics() -> dict[str, Any]:
    """Samples queues, live workers, Redis and the progress summary into the capped metrics series."""
    ops = get_settings()
    store = progress_store()
    sample = collect_sample(app, store, QUEUE_NAMES, timeout=ops.inspect_timeout_s)
    entry = record_sample(store.redis, AppKeys(get_settings().namespace), sample, maxlen=ops.metrics_maxlen)
    return {"id": entry, **sample.model_dump(mode="json", exclude={"id"})}
