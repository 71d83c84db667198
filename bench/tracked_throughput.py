"""tracked_throughput: tasks with the full progress lifecycle vs bare Celery no-op tasks, same worker, same run."""

from __future__ import annotations

import time

import redis

from bench.celery_runs import wait_all_stored
from bench.common import ScenarioResult, worker


def _batch(app: object, name: str, n: int, kwargs: dict[str, int] | None) -> float:
    """Tasks per second from the first publish until every result is stored."""
    task = app.tasks[name]  # type: ignore[attr-defined]
    t0 = time.monotonic()
    ids = [task.apply_async(kwargs=kwargs or {}, queue="ai_analysis").id for _ in range(n)]
    end = wait_all_stored(app, ids)
    return n / (end - t0)


def _rates(app: object, base_url: str, n: int, rounds: int, env: dict[str, str], name: str) -> tuple[float, float]:
    """Median bare and tracked rates, in alternating rounds on one worker started with `env`."""
    bare, tracked = [], []
    with worker(base_url, "ai_analysis", name=name, env=env):
        _batch(app, "tasks.diagnostics.noop", 50, None)  # warm-up both paths
        _batch(app, "tasks.diagnostics.tracked_noop", 50, {"updates": 10})
        for _ in range(rounds):
            bare.append(_batch(app, "tasks.diagnostics.noop", n, None))
            tracked.append(_batch(app, "tasks.diagnostics.tracked_noop", n, {"updates": 10}))
    return sorted(bare)[len(bare) // 2], sorted(tracked)[len(tracked) // 2]


def run(base_url: str, *, n: int = 600, rounds: int = 3) -> ScenarioResult:
    """Alternating rounds of bare and tracked batches on one worker (prefork -c 2); medians of the rates. Twice:
    with the default 1 s throttle (a no-op task's 10 updates make at most one routine write) and unthrottled
    (TASKRUNNER_PROGRESS_INTERVAL_S=0: all 10 are real writes), each against its own same-worker bare rate."""
    from worker import app, load_tasks

    load_tasks()
    b, t = _rates(app, base_url, n, rounds, {}, "bench-tp")
    ub, ut = _rates(app, base_url, n // 2, rounds, {"TASKRUNNER_PROGRESS_INTERVAL_S": "0"}, "bench-tp-unthrottled")
    redis.Redis.from_url(f"{base_url}/1").flushdb()
    return ScenarioResult(
        name="tracked_throughput",
        measured={"tracked_tasks_per_s": t, "unthrottled_tracked_tasks_per_s": ut, "unthrottled_ratio": ut / ub},
        baseline={"bare_tasks_per_s": b, "bare_tasks_per_s_unthrottled_run": ub},
        ratio=t / b,
        ratio_meaning="tracked tasks/s (created, running, 10 throttled updates, completed) / bare no-op tasks/s; "
                      "unthrottled_ratio: the same with 10 real writes per task",
        target=">= 0.9 of the bare rate throttled, >= 0.45 unthrottled (BullMQ's own: 0.42)",
        met=t / b >= 0.9 and ut / ub >= 0.45,
        notes=f"{rounds} alternating rounds of {n} tasks ({n // 2} unthrottled), one worker -c 2, publish to last "
              "stored result",
    )
