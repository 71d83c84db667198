"""update_cost: one unthrottled progress update (the reporter's write, and the seed API's `update_progress`) vs a raw
HSET+PUBLISH pipeline vs Celery's update_state; and the Redis server time of a routine write (progress.lua) vs the
same change through the full update.lua (the script every write ran before the routine one), in the same run."""

from __future__ import annotations

import itertools
from typing import Any

import redis

from bench.common import ScenarioResult, interleaved, median
from progress import ProgressReporter, ProgressStore, ops


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
    api_tid = store.create_task("bench", 10**9).task_id
    store.update_progress(api_tid, "running")
    counter = itertools.count()
    task = app.tasks["tasks.diagnostics.count"]
    celery_id = "bench-update-state"

    def ours() -> None:
        reporter.update(next(counter))

    def seed_api() -> None:
        store.update_progress(api_tid, current_items=next(counter))

    def raw() -> None:
        pipe = client.pipeline(transaction=False)
        pipe.hset("bench:raw", mapping={"cur": next(counter), "status": "running"})
        pipe.publish("bench:raw:chan", "x")
        pipe.execute()

    def celery_update_state() -> None:
        i = next(counter)
        task.update_state(task_id=celery_id, state="PROGRESS", meta={"current": i, "total": 10**9})

    s = interleaved({"progress_update": ours, "update_progress": seed_api, "raw_pipeline": raw,
                     "celery_update_state": celery_update_state}, rounds=rounds, per_round=per_round)
    us = {k: median(v) * 1e6 for k, v in s.items()}
    server = _server_time(client, store, reporter, rounds=max(5, rounds // 2), per_round=per_round)
    vs_raw = us["progress_update"] / us["raw_pipeline"]
    api_vs_raw = us["update_progress"] / us["raw_pipeline"]
    vs_celery = us["celery_update_state"] / us["progress_update"]
    server_ratio = server["routine"] / server["full"]
    return ScenarioResult(
        name="update_cost",
        measured={"progress_update_us": us["progress_update"], "x_raw_pipeline": vs_raw,
                  "update_progress_us": us["update_progress"], "update_progress_x_raw_pipeline": api_vs_raw,
                  "server_routine_us": server["routine"], "server_x_full_script": server_ratio,
                  "celery_over_progress": vs_celery},
        baseline={"raw_pipeline_us": us["raw_pipeline"], "server_full_script_us": server["full"],
                  "celery_update_state_us": us["celery_update_state"]},
        ratio=vs_raw,
        ratio_meaning="reporter write time / raw HSET+PUBLISH pipeline time",
        target="reporter <= 1.0x raw, update_progress <= 1.15x raw, server time <= 0.6x update.lua's",
        met=vs_raw <= 1.0 and api_vs_raw <= 1.15 and server_ratio <= 0.6,
        notes=f"{rounds} alternating rounds of {per_round} calls; medians. One EVALSHA per update on the store's held "
              "connection. Server time: INFO commandstats cmdstat_evalsha usec_per_call after CONFIG RESETSTAT, "
              "progress.lua vs update.lua on the same change, alternating rounds.",
    )


def _server_time(client: redis.Redis, store: ProgressStore, reporter: ProgressReporter, *, rounds: int,
                 per_round: int) -> dict[str, float]:
    """Median Redis-side us per EVALSHA of the reporter's routine write (progress.lua) and of the same change run
    through update.lua (the full script, kept as the server-side baseline)."""
    tid, attempt = reporter.task_id, reporter.attempt
    full = store._scripts["update"]
    counter = itertools.count()

    def change() -> dict[str, Any]:
        return {"current": next(counter), "status": "running", "soft": True, "attempt": attempt}

    def routine() -> None:
        store.write(tid, change())

    def full_script() -> None:
        call = ops.update_call(store.config, store.keys, tid, change(), store.now_ms(), store.publish)
        client.evalsha(full.sha, len(call.keys), *call.keys, *call.args)

    samples: dict[str, list[float]] = {"routine": [], "full": []}
    full_script()
    for _ in range(rounds):
        for name, fn in (("routine", routine), ("full", full_script)):
            client.config_resetstat()
            for _ in range(per_round):
                fn()
            stats: dict[str, Any] = client.info("commandstats")
            samples[name].append(float(stats["cmdstat_evalsha"]["usec_per_call"]))
    return {k: median(v) for k, v in samples.items()}
