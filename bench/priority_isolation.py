"""priority_isolation: notification latency while the backtest queue is saturated vs on an idle system."""

from __future__ import annotations

import time

import redis

from bench.common import ScenarioResult, percentile, worker


def _latencies(app: object, n: int) -> list[float]:
    task = app.tasks["tasks.diagnostics.count"]  # type: ignore[attr-defined]
    out = []
    for _ in range(n):
        t0 = time.monotonic()
        task.apply_async(kwargs={"n": 1}, queue="notifications").get(timeout=60)
        out.append(time.monotonic() - t0)
    return out


def run(base_url: str, *, n: int = 40, flood: int = 30) -> ScenarioResult:
    """One worker per queue (as in docker-compose); backtests are CPU-bound counting tasks."""
    from worker import app, load_tasks

    load_tasks()
    with worker(base_url, "notifications", name="bench-notif", concurrency=1), \
            worker(base_url, "backtest", name="bench-bt", concurrency=1, nice=10):
        _latencies(app, 5)
        idle = _latencies(app, n)
        heavy = [app.tasks["tasks.diagnostics.count"].apply_async(kwargs={"n": 3_000_000}, queue="backtest")
                 for _ in range(flood)]
        time.sleep(0.5)
        busy = _latencies(app, n)
        for r in heavy:
            r.revoke()
        app.control.purge()
    redis.Redis.from_url(f"{base_url}/1").flushdb()
    p50_idle, p50_busy = percentile(idle, 50) * 1000, percentile(busy, 50) * 1000
    return ScenarioResult(
        name="priority_isolation",
        measured={"notification_p50_ms_saturated": p50_busy, "notification_p95_ms_saturated":
                  percentile(busy, 95) * 1000},
        baseline={"notification_p50_ms_idle": p50_idle, "notification_p95_ms_idle": percentile(idle, 95) * 1000},
        ratio=p50_busy / p50_idle,
        ratio_meaning="p50 publish-to-result latency of a notification task, backtest saturated / idle",
        target="<= 1.5x",
        met=p50_busy / p50_idle <= 1.5,
        notes=f"{n} sequential notification tasks each; {flood} CPU-bound backtest tasks queued; "
              "one worker per queue, -c 1 each; the backtest pool runs at nice 10 (docker-compose: cpu_shares), "
              "so on 2 cores it takes the idle CPU but yields it to the notification pool",
    )
