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

from base.settings import get_settings
from tracking.task import ProgressTask
from worker.store import progress_store

log = logging.getLogger(__name__)

_running: set[str] = set()
_lock = threading.Lock()
_thread_pid: int | None = None


def running_tasks() -> set[str]:
    """Ids of the tracked tasks this process runs now."""
    with _lock:
        return set(_running)


def beat_once() -> int:
    """Refreshes the heartbeat of every task this process runs; returns how many were refreshed."""
    ids = running_tasks()
    if not ids:
        return 0
    store = progress_store()
    now = store.now_ms()
    changed = store.redis.zadd(store.keys.heartbeats(), dict.fromkeys(ids, now), xx=True, ch=True)
    return int(changed or 0)


def _loop(interval: float) -> None:
    while True:
        time.sleep(interval)
        try:
            beat_once()
        except Exception:  # a Redis outage must not kill the thread: the next beat may succeed
            log.warning("task heartbeat failed", exc_info=True)


def _ensure_thread() -> None:
    """Starts this process's heartbeat thread once (after fork: a prefork child starts its own)."""
    global _thread_pid
    if _thread_pid == os.getpid():
        return
    with _lock:
        if _thread_pid == os.getpid():
            return
        _running.clear()  # ids inherited from a parent across fork are not ours
        interval = get_settings().heartbeat_interval_s
        threading.Thread(target=_loop, args=(interval,), name="task-heartbeat", daemon=True).start()
        _thread_pid = os.getpid()


@task_prerun.connect
def _task_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id and isinstance(task, ProgressTask):
        _ensure_thread()
        with _lock:
            _running.add(task_id)


@task_postrun.connect
def _task_ended(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        with _lock:
            _running.discard(task_id)
