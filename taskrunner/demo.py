"""`taskrunner demo`: the main job on the embedded default — Redis, a worker, real jobs, live bars, results."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.panel import Panel

from base.connections import ConnectionSettingError, location, progress_client, require_reachable
from base.queues import QUEUE_NAMES
from base.settings import get_settings
from taskrunner.processes import start_celery_worker, stop_process_group
from taskrunner.redis_server import EmbeddedRedis
from taskrunner.run_logs import run_log

console = Console()
# The demo runs offline: it chooses made-up prices, for its fetch and for the analyses that find no stored bars.
DEMO_PROVIDER = "synthetic"


@dataclass(frozen=True)
class DemoJob:
    """One job the demo enqueues."""

    label: str
    task: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None


def demo_jobs() -> list[DemoJob]:
    """The jobs, one family per queue (real task families where they are registered)."""
    from worker import app, load_tasks

    load_tasks()
    wanted = [
        DemoJob("fetch 7203.T 5y", "tasks.market_data.fetch_data",
                {"symbol": "7203.T", "period": "5y", "provider": DEMO_PROVIDER}),
        DemoJob("technical 6758.T", "tasks.analysis.stock_technical_analysis", {"symbol": "6758.T"}),
        DemoJob("backtest 9984.T SMA 5y", "tasks.backtest.strategy_backtest",
                {"symbol": "9984.T", "strategy": "sma_crossover", "period": "5y"}),
        DemoJob("monte carlo 7203.T", "tasks.backtest.monte_carlo_simulation",
                {"symbol": "7203.T", "n_paths": 2_000_000, "batch_size": 50_000, "path_stats": True,
                 "horizon_days": 60}),
        DemoJob("notify user demo", "tasks.notifications.send_realtime_notification",
                {"user_id": "demo", "type": "success", "title": "Demo", "message": "taskrunner demo finished"}),
    ]
    jobs = [j for j in wanted if j.task in app.tasks]
    if len(jobs) < len(wanted):  # task families not installed: show the lifecycle with the diagnostics task
        have = {j.task for j in jobs}
        for q in QUEUE_NAMES:
            if not any(j.task.startswith(f"tasks.{q.replace('ai_', '')}") for j in jobs) or not have:
                jobs.append(DemoJob(f"count on {q}", "tasks.diagnostics.count", {"n": 40, "delay": 0.05}, q))
    return jobs


def run_demo(*, keep_redis: bool = False) -> int:
    """Runs the demo; returns the exit code (0 when every job completed)."""
    settings = get_settings()
    started_redis = False
    url = settings.redis_url
    if not url:
        url, started_redis = EmbeddedRedis(settings.home).ensure()
        os.environ["REDIS_URL"] = url
        get_settings.cache_clear()
    settings = get_settings()
    try:
        require_reachable(location(settings, "progress"), progress_client(settings))
        broker = location(settings, "broker")
    except ConnectionSettingError as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    shown = location(settings, "redis").redacted() + (" (embedded, started now)" if started_redis else "")
    if broker.is_amqp:
        shown += f"\nbroker: {broker.redacted()}"
    console.print(Panel.fit(f"Redis: {shown}"))

    worker = _start_worker()
    try:
        return _run_jobs()
    finally:
        stop_process_group(worker)
        if started_redis and not keep_redis:
            EmbeddedRedis(get_settings().home).stop()


def _start_worker() -> subprocess.Popen[bytes]:
    # One log per run under the project's data folder: two demos never write to the same file.
    log = run_log(get_settings().home, "demo-worker")
    console.print(f"starting a worker on all four queues (log: {log}; prices: {DEMO_PROVIDER}, made up)")
    return start_celery_worker(name=f"demo-{os.getpid()}", log=log,
                               env={"TASKRUNNER_MARKET_PROVIDER": DEMO_PROVIDER})


def _run_jobs() -> int:
    from taskrunner.connect import open_store
    from taskrunner.views import watch_bars
    from worker import app

    store = open_store()
    labels: dict[str, str] = {}
    for job in demo_jobs():
        options: dict[str, Any] = {"queue": job.queue} if job.queue else {}
        result = app.tasks[job.task].apply_async(kwargs=job.kwargs, **options)
        labels[result.id] = f"{job.label:<22}"
    final = watch_bars(store, list(labels), labels=labels, timeout=120)
    ok = True
    for tid, rec in final.items():
        ok &= rec.status.value == "completed"
        body = rec.results if rec.status.value == "completed" else {"error": rec.error_message}
        console.print(Panel(_headline(body), title=f"{labels[tid].strip()} — {rec.status.value} "
                            f"in {rec.processing_time_ms} ms", expand=False))
    console.print("summary: " + ", ".join(f"{k}={v}" for k, v in store.summary().items() if v))
    return 0 if ok and len(final) == len(labels) else 1


def _headline(data: dict[str, Any], limit: int = 9) -> str:
    """The result's top-level figures for the terminal (lists such as equity curves are left to `status`)."""
    lines = []
    for key, value in data.items():
        if isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= 40):
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            lines.append(f"{key}: {shown}")
        if len(lines) == limit:
            break
    return "\n".join(lines) or json.dumps(data, ensure_ascii=False)[:300]
