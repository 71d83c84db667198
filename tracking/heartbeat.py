"""Heartbeats of running tasks: a small thread in each worker process refreshes the tasks it runs.

A task that reports progress refreshes its heartbeat with every write; one that computes silently for minutes would
look dead to the stale-task sweep (ops/stale_sweep.py). So every worker process keeps the ids of the tracked
tasks it is running and, every `heartbeat_interval_s`, moves their score in the heartbeats sorted set to now.

`ZADD XX` only updates members that are there: the core removes a task when it ends, and a late heartbeat can
never bring an ended task back.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from celery.signals import task_postrun, task_prerun

from tracking.registry import Tracking, tracking_of
from tracking.task import ProgressTask

log = logging.getLogger(__name__)

# Task id -> the tracking of its app (each app's tasks are refreshed in that app's store).
_running: dict[str, Tracking] = {}
_lock = threading.Lock()
_thread_pid: int | None = None


def running_tasks() -> set[str]:
    """Ids of the tracked tasks this process runs now."""
    with _lock:
        return set(_running)


def beat_once() -> int:
    """Refreshes the heartbeat of every task this process runs; returns how many were refreshed."""
    with _lock:
        running = dict(_running)
    by_app: dict[int, tuple[Tracking, list[str]]] = {}
    for task_id, tracking in running.items():
        by_app.setdefault(id(tracking), (tracking, []))[1].append(task_id)
    changed = 0
    for tracking, ids in by_app.values():
        store = tracking.store()
        now = store.now_ms()
        changed += int(store.redis.zadd(store.keys.heartbeats(), dict.fromkeys(ids, now), xx=True, ch=True) or 0)
    return changed


def _loop(interval: float) -> None:
    while True:
        time.sleep(interval)
        try:
            beat_once()
        except Exception:  # a Redis outage must not kill the thread: the next beat may succeed
            log.warning("task heartbeat failed", exc_info=True)


def _ensure_thread(interval: float) -> None:
    """Starts this process's heartbeat thread once (after fork: a prefork child starts its own)."""
    global _thread_pid
    if _thread_pid == os.getpid():
        return
    with _lock:
        if _thread_pid == os.getpid():
            return
        _running.clear()  # ids inherited from a parent across fork are not ours
        threading.Thread(target=_loop, args=(interval,), name="task-heartbeat", daemon=True).start()
        _thread_pid = os.getpid()


def _task_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    tracking = tracking_of(getattr(task, "app", None)) if isinstance(task, ProgressTask) else None
    if task_id and tracking is not None:
        _ensure_thread(tracking.settings().heartbeat_interval_s)
        with _lock:
            _running[task_id] = tracking


def _task_ended(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        with _lock:
            _running.pop(task_id, None)


def connect() -> None:
    """Connects the handlers (once per process, whatever the number of apps)."""
    task_prerun.connect(_task_started, weak=False, dispatch_uid="tracking.heartbeat_started")
    task_postrun.connect(_task_ended, weak=False, dispatch_uid="tracking.heartbeat_ended")
