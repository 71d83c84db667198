"""hot_loop: 1,000,000 throttled update() calls vs the same loop without them."""

from __future__ import annotations

import time

import redis

from bench.common import ScenarioResult
from progress import ProgressReporter, ProgressStore, TaskStatus


def run(base_url: str, *, n: int = 1_000_000, repeats: int = 3) -> ScenarioResult:
    """Best of `repeats` for both loops; the final state is checked in Redis."""
    client = redis.Redis.from_url(f"{base_url}/2", decode_responses=True)
    store = ProgressStore(client)
    best_with, best_without, writes = float("inf"), float("inf"), 0
    final_ok = True
    for _ in range(repeats):
        sink = 0
        t0 = time.perf_counter()
        for i in range(n):
            sink += i
        best_without = min(best_without, time.perf_counter() - t0)

        tid = store.create_task("bench_hot_loop", n).task_id
        rep = ProgressReporter(store, tid, interval=1.0)
        rep.start(total=n)
        update = rep.update
        sink = 0
        t0 = time.perf_counter()
        for i in range(n):
            sink += i
            update(i + 1)
        best_with = min(best_with, time.perf_counter() - t0)
        rep.complete({"n": n})
        writes = rep.writes
        rec = store.require(tid)
        final_ok &= rec.status is TaskStatus.COMPLETED and rec.progress.current == n
    per_call_us = (best_with - best_without) / n * 1e6
    return ScenarioResult(
        name="hot_loop",
        measured={"loop_with_updates_s": best_with, "amortised_us_per_update": per_call_us,
                  "redis_writes": float(writes), "final_state_correct": float(final_ok)},
        baseline={"loop_without_updates_s": best_without},
        ratio=best_with / best_without,
        ratio_meaning="loop time with update() / the same loop without",
        target="< 1 us per call amortised, final state correct",
        met=per_call_us < 1.0 and final_ok,
        notes=f"{n:,} calls, interval 1 s, best of {repeats}",
    )
