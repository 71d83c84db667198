"""update_cost: one unthrottled progress update vs a raw HSET+PUBLISH pipeline vs Celery's update_state."""

from __future__ import annotations

import itertools

import redis

from bench.common import ScenarioResult, interleaved, median
from progress import ProgressReporter, ProgressStore


def run(base_url: str, *, rounds: int = 15, per_round: int = 300) -> ScenarioResult:
    """Same Redis, same process, alternating rounds; medians of per-call time."""
    from worker import app, load_tasks

    load_tasks()
    client = redis.Redis.from_url(f"{base_url}/2", decode_responses=True)
    client.flushdb()
    store = ProgressStore(client)
    tid = store.create_task("bench", 10**9).task_id
    reporter = ProgressReporter(store, tid, interval=0.0)  # unthrottled: every call writes
    reporter.start(total=10**9)
    counter = itertools.count()
    task = app.tasks["tasks.diagnostics.count"]
    celery_id = "bench-update-state"

    def ours() -> None:
        reporter.update(next(counter))

    def raw() -> None:
        pipe = client.pipeline(transaction=False)
        pipe.hset("bench:raw", mapping={"cur": next(counter), "status": "running"})
        pipe.publish("bench:raw:chan", "x")
        pipe.execute()

    def celery_update_state() -> None:
        i = next(counter)
        task.update_state(task_id=celery_id, state="PROGRESS", meta={"current": i, "total": 10**9})

    s = interleaved({"progress_update": ours, "raw_pipeline": raw, "celery_update_state": celery_update_state},
                    rounds=rounds, per_round=per_round)
    us = {k: median(v) * 1e6 for k, v in s.items()}
    vs_raw = us["progress_update"] / us["raw_pipeline"]
    vs_celery = us["celery_update_state"] / us["progress_update"]
    return ScenarioResult(
        name="update_cost",
        measured={"progress_update_us": us["progress_update"], "x_raw_pipeline": vs_raw,
                  "celery_over_progress": vs_celery},
        baseline={"raw_pipeline_us": us["raw_pipeline"], "celery_update_state_us": us["celery_update_state"]},
        ratio=vs_raw,
        ratio_meaning="progress update time / raw HSET+PUBLISH pipeline time",
        target="<= 1.3x the raw pipeline and >= 2.5x cheaper than update_state",
        met=vs_raw <= 1.3 and vs_celery >= 2.5,
        notes=f"{rounds} alternating rounds of {per_round} calls; medians. One EVALSHA per update.",
    )
