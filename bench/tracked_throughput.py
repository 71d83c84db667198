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


def run(base_url: str, *, n: int = 600, rounds: int = 3) -> ScenarioResult:
    """Alternating rounds of bare and tracked batches on one worker (prefork -c 2); medians of the rates."""
    from worker import app, load_tasks

    load_tasks()
    bare, tracked = [], []
    with worker(base_url, "ai_analysis", name="bench-tp"):
        _batch(app, "tasks.diagnostics.noop", 50, None)  # warm-up both paths
        _batch(app, "tasks.diagnostics.tracked_noop", 50, {"updates": 10})
        for _ in range(rounds):
            bare.append(_batch(app, "tasks.diagnostics.noop", n, None))
            tracked.append(_batch(app, "tasks.diagnostics.tracked_noop", n, {"updates": 10}))
    redis.Redis.from_url(f"{base_url}/1").flushdb()
    b, t = sorted(bare)[len(bare) // 2], sorted(tracked)[len(tracked) // 2]
    return ScenarioResult(
        name="tracked_throughput",
        measured={"tracked_tasks_per_s": t},
        baseline={"bare_tasks_per_s": b},
        ratio=t / b,
        ratio_meaning="tracked tasks/s (created, running, 10 updates, completed) / bare no-op tasks/s",
        target=">= 0.8 of the bare rate",
        met=t / b >= 0.8,
        notes=f"{rounds} alternating rounds of {n} tasks, one worker -c 2, publish to last stored result",
    )
