"""tracked_throughput: tasks with the full progress lifecycle vs bare Celery no-op tasks, same worker, same run."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from bench.celery_runs import wait_all_stored
from bench.common import ScenarioResult, median, worker
from bench.cpu import cpu_seconds, process_tree, redis_cpu_seconds

PARTS = ("worker", "publisher", "redis")


@dataclass(frozen=True)
class Batch:
    """One batch: its rate, and the CPU milliseconds each part spent per task."""

    rate: float
    cpu_ms: dict[str, float]


#: Each part's CPU seconds so far.
Meters = dict[str, Callable[[], float]]


def _batch(app: object, name: str, n: int, kwargs: dict[str, int] | None, meters: Meters) -> Batch:
    """Tasks per second from the first publish until every result is stored, and each part's CPU per task."""
    task = app.tasks[name]  # type: ignore[attr-defined]
    before = {part: meter() for part, meter in meters.items()}
    t0 = time.monotonic()
    ids = [task.apply_async(kwargs=kwargs or {}, queue="ai_analysis").id for _ in range(n)]
    end = wait_all_stored(app, ids)
    cpu = {part: (meter() - before[part]) * 1000 / n for part, meter in meters.items()}
    return Batch(n / (end - t0), cpu)


def _rates(app: object, base_url: str, n: int, rounds: int, env: dict[str, str],
           name: str) -> tuple[list[Batch], list[Batch]]:
    """Bare and tracked batches, in alternating rounds on one worker started with `env`."""
    bare, tracked = [], []
    with worker(base_url, "ai_analysis", name=name, env=env) as proc:
        meters: Meters = {"publisher": lambda: cpu_seconds([os.getpid()]),
                          "redis": lambda: redis_cpu_seconds([f"{base_url}/0"])}
        _batch(app, "tasks.diagnostics.noop", 50, None, meters)  # warm-up both paths (and the pool's children)
        _batch(app, "tasks.diagnostics.tracked_noop", 50, {"updates": 10}, meters)
        tree = process_tree(proc.pid)
        meters["worker"] = lambda: cpu_seconds(tree)
        for _ in range(rounds):
            bare.append(_batch(app, "tasks.diagnostics.noop", n, None, meters))
            tracked.append(_batch(app, "tasks.diagnostics.tracked_noop", n, {"updates": 10}, meters))
    return bare, tracked


def _rate(batches: list[Batch]) -> float:
    return median([b.rate for b in batches])


def _cpu(batches: list[Batch], prefix: str) -> dict[str, float]:
    """Median CPU ms per task of each part, and their sum."""
    parts = {f"{prefix}_cpu_ms_{part}": median([b.cpu_ms[part] for b in batches]) for part in PARTS}
    return {**parts, f"{prefix}_cpu_ms_total": sum(parts.values())}


def run(base_url: str, *, n: int = 600, rounds: int = 3) -> ScenarioResult:
    """Alternating rounds of bare and tracked batches on one worker (prefork -c 2); medians of the rates. Twice:
    with the default 1 s throttle (a no-op task's 10 updates make at most one routine write) and unthrottled
    (TASKRUNNER_PROGRESS_INTERVAL_S=0: all 10 are real writes), each against its own same-worker bare rate."""
    from worker import app, load_tasks

    load_tasks()
    bare, tracked = _rates(app, base_url, n, rounds, {}, "bench-tp")
    ubare, utracked = _rates(app, base_url, n // 2, rounds, {"TASKRUNNER_PROGRESS_INTERVAL_S": "0"},
                             "bench-tp-unthrottled")
    redis.Redis.from_url(f"{base_url}/1").flushdb()
    b, t, ub, ut = _rate(bare), _rate(tracked), _rate(ubare), _rate(utracked)
    return ScenarioResult(
        name="tracked_throughput",
        measured={"tracked_tasks_per_s": t, "unthrottled_tracked_tasks_per_s": ut, "unthrottled_ratio": ut / ub,
                  **_cpu(tracked, "tracked")},
        baseline={"bare_tasks_per_s": b, "bare_tasks_per_s_unthrottled_run": ub, **_cpu(bare, "bare")},
        ratio=t / b,
        ratio_meaning="tracked tasks/s (created, running, 10 throttled updates, completed) / bare no-op tasks/s; "
                      "unthrottled_ratio: the same with 10 real writes per task",
        target=">= 0.9 of the bare rate throttled, >= 0.45 unthrottled (BullMQ's own: 0.42)",
        met=t / b >= 0.9 and ut / ub >= 0.45,
        notes=f"{rounds} alternating rounds of {n} tasks ({n // 2} unthrottled), one worker -c 2, publish to last "
              "stored result; *_cpu_ms_*: CPU milliseconds per task (throttled phase) of the worker's processes, the "
              "publishing bench process and the Redis server (from /proc)",
    )
