"""The operators' health document: seed 001's health plus live workers and depth per queue; `taskrunner health`.

Unhealthy when Redis does not answer, when the broker cannot be reached, when a queue has no live worker (its
tasks would wait for ever), or when Redis is at `maxmemory` (it refuses writes: tasks wait, publishes fail).
Workers are those answering `inspect().active_queues()` within the timeout. The dead-letter list is counted.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from typing import Literal

from celery import Celery
from pydantic import BaseModel, Field

from base.settings import get_settings
from ops.broker_view import BrokerView
from ops.stale_sweep import stale_candidates
from progress import ProgressStore
from progress.models import DependencyHealth, HealthReport
from tracking.dead_letters import configured_dead_letters


class QueueHealth(BaseModel):
    """One queue: who consumes it and how much waits in it."""

    status: Literal["ok", "no_workers", "unknown"]
    workers: list[str] = Field(description="live workers consuming this queue")
    depth: int | None = Field(description="messages waiting (None when the broker could not be read)")


class RedisMemory(BaseModel):
    """The progress store's Redis memory against its limit."""

    used_bytes: int
    maxmemory_bytes: int = Field(description="0: no limit")
    used_fraction: float | None = Field(description="used / maxmemory (None without a limit)")
    policy: str = Field(description="maxmemory-policy (noeviction: writes are refused at the limit)")

    @property
    def full(self) -> bool:
        """At the limit: with noeviction, Redis refuses writes."""
        return 0 < self.maxmemory_bytes <= self.used_bytes


class OpsHealth(HealthReport):
    """Seed 001's health document plus the queues, their workers and the count of stale running tasks."""

    queues: dict[str, QueueHealth]
    stale_tasks: int = Field(description="running tasks without a heartbeat for longer than the sweep's bound")
    dead_letters: int = Field(default=0, description="messages in the dead-letter list (`taskrunner dead-letters`)")
    redis_memory: RedisMemory | None = Field(default=None, description="None when Redis does not answer")
    problems: list[str] = Field(default_factory=list, description="why the status is unhealthy, if it is")


def workers_per_queue(app: Celery, queues: Iterable[str], *, timeout: float) -> dict[str, list[str]]:
    """Queue -> names of the live workers consuming it (those that answered within `timeout`)."""
    out: dict[str, list[str]] = {q: [] for q in queues}
    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    for worker, consumed in sorted(replies.items()):
        for q in consumed or []:
            name = q.get("name") if isinstance(q, dict) else None
            if name in out:
                out[name].append(worker)
    return out


def collect_health(app: Celery, store: ProgressStore, queues: Iterable[str], *, timeout: float) -> OpsHealth:
    """Measures everything now (waits `timeout` seconds for the workers' answers)."""
    queues = list(queues)
    base = store.health_check()
    problems = [] if base.status == "healthy" else ["redis (progress store) does not answer"]
    depths: dict[str, int] | None = None
    workers: dict[str, list[str]] | None = None
    broker = DependencyHealth(status="disconnected", response_time_ms=None)
    try:
        t0 = time.perf_counter()
        with BrokerView.open(app) as view:
            view.ping()
            broker = DependencyHealth(status="connected", response_time_ms=round((time.perf_counter() - t0) * 1e3, 3))
            depths = view.depths(queues)
        workers = workers_per_queue(app, queues, timeout=timeout)
    except Exception as exc:  # any broker failure is an unhealthy answer, never a crash of the health check
        problems.append(f"broker: {type(exc).__name__}: {exc}")
    per_queue: dict[str, QueueHealth] = {}
    for q in queues:
        live = None if workers is None else workers[q]
        status: Literal["ok", "no_workers", "unknown"] = "unknown" if live is None else ("ok" if live else "no_workers")
        if status == "no_workers":
            problems.append(f"queue {q} has no live worker")
        per_queue[q] = QueueHealth(status=status, workers=live or [], depth=None if depths is None else depths[q])
    stale = dead = 0
    memory = None
    if base.status == "healthy":
        stale = len(stale_candidates(store, store.now_ms() - int(get_settings().stale_after_s * 1000)))
        dead = configured_dead_letters(store.redis).count()
        memory = redis_memory(store)
        if memory.full:
            problems.append(f"redis is at maxmemory ({memory.used_bytes} of {memory.maxmemory_bytes} bytes, "
                            f"{memory.policy}): writes are refused, tasks wait and publishes fail")
    fields = base.model_dump()
    fields["status"] = "unhealthy" if problems else "healthy"
    fields["dependencies"]["broker"] = broker.model_dump()
    return OpsHealth(**fields, queues=per_queue, stale_tasks=stale, dead_letters=dead, redis_memory=memory,
                     problems=problems)


def redis_memory(store: ProgressStore) -> RedisMemory:
    """Used memory against `maxmemory` (INFO: allowed even when Redis refuses writes)."""
    info = store.redis.info("memory")
    used, limit = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))
    return RedisMemory(used_bytes=used, maxmemory_bytes=limit, used_fraction=round(used / limit, 4) if limit else None,
                       policy=str(info.get("maxmemory_policy", "?")))


def health_command(argv: list[str]) -> int:
    """`taskrunner health`: prints the health document as JSON; exit status 1 when unhealthy."""
    from base.queues import QUEUE_NAMES
    from worker import app
    from worker.store import progress_store

    parser = argparse.ArgumentParser(prog="taskrunner health", description=health_command.__doc__)
    parser.add_argument("--queues", default=",".join(QUEUE_NAMES),
                        help="comma-separated queues that must have a live worker (default: all)")
    parser.add_argument("--timeout", type=float, default=get_settings().inspect_timeout_s,
                        help="seconds to wait for the workers' answers")
    args = parser.parse_args(argv)
    queues = [q for q in args.queues.split(",") if q]
    report = collect_health(app, progress_store(), queues, timeout=args.timeout)
    sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    return 0 if report.status == "healthy" else 1
