"""The periodic jobs, as plain data: what runs, how often, on which queue.

Why celery-redbeat and not a lock per job: redbeat keeps the schedule and each job's `last_run_at` in Redis and lets
exactly one Beat process run the schedule while it holds a Redis lock (renewed every tick; a second Beat waits as a
hot standby and takes over when the lock is released, or expires after `beat_lock_timeout_s` if its holder was
killed). A per-job lock would need its own TTL per period and still let two Beats disagree about `last_run_at`;
redbeat's stored `last_run_at` also means a restarted Beat does not fire every job again at start.

Why each job's message expires after one period: a job that no worker took within its period is replaced by the
next one, so a stopped queue does not pile up stale refreshes that all run when it comes back.

Cleanup runs hourly, not daily: records are kept 24 h (seed 001's retention), and an hourly pass keeps any record
from outliving that by more than an hour (seed 004's daily pass would keep some for 48 h).
"""

from __future__ import annotations

from typing import Any, TypedDict


class Job(TypedDict):
    """One periodic job: its task name, its period in seconds (normal and fast mode) and its queue."""

    task: str
    every_s: float
    fast_every_s: float
    queue: str


JOBS: dict[str, Job] = {
    # Seed 004: market data every 5 minutes; the task does nothing outside TSE hours.
    "refresh-market-data": {
        "task": "tasks.maintenance.refresh_market_data", "every_s": 300.0, "fast_every_s": 1.0, "queue": "market_data",
    },
    # Seed 004: system metrics every 30 minutes.
    "collect-system-metrics": {
        "task": "tasks.maintenance.collect_system_metrics", "every_s": 1_800.0, "fast_every_s": 2.0,
        "queue": "market_data",
    },
    # Seeds 001/004: ended progress records past retention, and expired analysis results (the analysis family's
    # own tracked task, referred to by name).
    "cleanup-expired-progress": {
        "task": "tasks.maintenance.cleanup_expired_progress", "every_s": 3_600.0, "fast_every_s": 2.0,
        "queue": "market_data",
    },
    "cleanup-expired-analysis": {
        "task": "tasks.analysis.cleanup_expired_analysis", "every_s": 3_600.0, "fast_every_s": 2.0,
        "queue": "ai_analysis",
    },
    # Stale-task recovery: the fast lane, so a saturated analysis or backtest pool never delays it.
    "sweep-stale-tasks": {
        "task": "tasks.maintenance.sweep_stale_tasks", "every_s": 60.0, "fast_every_s": 1.0, "queue": "notifications",
    },
}


def celery_beat_schedule(*, fast: bool = False, sweep_every_s: float | None = None) -> dict[str, dict[str, Any]]:
    """Celery's `beat_schedule` for these jobs (fast: periods of seconds, for tests and demos)."""
    out: dict[str, dict[str, Any]] = {}
    for name, job in JOBS.items():
        every = job["fast_every_s"] if fast else job["every_s"]
        if name == "sweep-stale-tasks" and sweep_every_s is not None and not fast:
            every = sweep_every_s
        out[name] = {
            "task": job["task"],
            "schedule": every,
            "options": {"queue": job["queue"], "expires": every},
        }
    return out
