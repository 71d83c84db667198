"""Load: thousands of tracked tasks of mixed sizes across the four queues, one worker per queue as in
docker-compose; measures throughput, Redis memory at the peak, and notification latency while CPU-bound backtests
saturate their worker. Nothing is asserted about speed: the figures go to test-artifacts/chaos.json.

The issue's 10,000 tasks by default (about 60 s here); TASKRUNNER_CHAOS_LOAD_TASKS=2000 for a quicker run.
"""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from collections import Counter
from typing import Any

import pytest

from base.queues import QUEUE_NAMES
from progress import TaskStatus
from tests.chaos.conftest import Cluster, Figures
from tests.helpers import wait_until

TASKS = int(os.environ.get("TASKRUNNER_CHAOS_LOAD_TASKS", "10000"))
pytestmark = [pytest.mark.chaos, pytest.mark.timeout(120 + TASKS // 25)]
PROBES = 25
FLOOD = 4  # CPU-bound backtests queued for the saturated measurement (two run at a time, two wait)
FLOOD_N = 2_500_000

NOTIFY = "tasks.notifications.send_realtime_notification"
COUNT = "tasks.diagnostics.count"
NOOP = "tasks.diagnostics.tracked_noop"


def _mix(rng: random.Random, i: int) -> tuple[str, dict[str, Any], str, Any]:
    """(task, kwargs, queue, expected results) for the i-th task of the mix."""
    roll = rng.random()
    if roll < 0.3:
        user = f"user{i % 50}"
        return NOTIFY, {"user_id": user, "title": f"load {i}", "message": "price alert"}, "notifications", user
    if roll < 0.6:
        n = rng.randint(1, 20)
        return COUNT, {"n": n, "symbol": f"{3000 + i % 900}.T"}, "market_data", n
    if roll < 0.9:
        return NOOP, {"updates": rng.randint(1, 50)}, "ai_analysis", None
    n = rng.randint(100, 20_000)
    return COUNT, {"n": n}, "backtest", n


def _result_ok(name: str, results: dict[str, Any], want: Any) -> bool:
    if name == NOTIFY:
        return results.get("user_id") == want and results.get("duplicate") is False
    if name == COUNT:
        return bool(results.get("counted") == want)
    return results == {"value": None}


class MemorySampler:
    """Samples Redis used_memory every 0.2 s in a thread; keeps the largest value."""

    def __init__(self, cluster: Cluster) -> None:
        self.client = cluster.store.redis
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, int(self.client.info("memory")["used_memory"]))

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _probe(cluster: Cluster, k: int) -> float:
    """Seconds from publishing one realtime notification until its result is stored."""
    t0 = time.monotonic()
    res = cluster.app.send_task(NOTIFY, kwargs={"user_id": "probe", "title": f"probe {k}", "message": "ping"})
    res.get(timeout=60)
    return time.monotonic() - t0


def _ms(xs: list[float], q: float) -> float:
    ordered = sorted(xs)
    return round(ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] * 1000, 1)


def test_thousands_of_mixed_tasks_across_the_four_queues_all_complete_and_the_figures_are_recorded(
    cluster: Cluster, figures: Figures, chaos_seed: int
) -> None:
    print(f"chaos load seed {chaos_seed}: {TASKS} tasks")
    rng = random.Random(chaos_seed)
    cluster.wait_ready([cluster.spawn(q, q, concurrency=2) for q in QUEUE_NAMES])
    store = cluster.store
    redis_client = store.redis
    expected: dict[str, tuple[str, Any]] = {}
    by_queue: Counter[str] = Counter()

    idle = [_probe(cluster, k) for k in range(PROBES)]
    base_memory = int(redis_client.info("memory")["used_memory"])

    # Throughput: publish the whole mix at once, then wait for every record to end.
    with MemorySampler(cluster) as mem:
        t0 = time.monotonic()
        for i in range(TASKS):
            name, kwargs, queue, want = _mix(rng, i)
            expected[cluster.app.send_task(name, kwargs=kwargs, queue=queue).id] = (name, want)
            by_queue[queue] += 1
        published_s = time.monotonic() - t0
        total = PROBES + TASKS

        def all_ended() -> bool:
            s = store.summary()
            return s.get("completed", 0) + s.get("error", 0) + s.get("cancelled", 0) >= total
        wait_until(all_ended, timeout=60 + TASKS // 25, interval=0.2, what=f"{TASKS} tasks to end")
        run_s = time.monotonic() - t0
    print(f"published in {published_s:.1f}s, all ended after {run_s:.1f}s")
    peak_memory = mem.peak

    # Latency: CPU-bound backtests occupy both backtest processes (and the CPUs) while notifications are sent.
    flood = [cluster.app.send_task(COUNT, kwargs={"n": FLOOD_N}, queue="backtest").id for _ in range(FLOOD)]
    wait_until(lambda: sum(store.require(t).status is TaskStatus.RUNNING for t in flood) == 2, timeout=60,
               what="two backtests running")
    busy = [_probe(cluster, PROBES + k) for k in range(PROBES)]
    saturated_to_the_end = sum(store.require(t).status is TaskStatus.RUNNING for t in flood) == 2
    for tid in flood:
        expected[tid] = (COUNT, FLOOD_N)
    wait_until(lambda: all(store.require(t).status.is_terminal for t in flood), timeout=120,
               what="the backtest flood to end")

    bad = {}
    for tid, (name, want) in expected.items():
        rec = store.require(tid)
        if rec.status is not TaskStatus.COMPLETED or not _result_ok(name, rec.results, want):
            bad[tid] = (name, rec.status.value, rec.results, rec.error_message)
    n_run = len(expected) + 2 * PROBES
    figures.add(
        "load",
        tasks_run=n_run,
        faults_injected=0,
        tasks_lost=len(bad),
        tasks_per_queue=dict(by_queue),
        workers="one per queue, prefork -c 2 each",
        publish_rate_tasks_per_s=round(TASKS / published_s, 1),
        throughput_tasks_per_s=round(TASKS / run_s, 1),
        seconds_for_the_mix=round(run_s, 1),
        redis_peak_memory_mb=round(peak_memory / 2**20, 1),
        redis_used_memory_peak_mb=round(int(redis_client.info("memory")["used_memory_peak"]) / 2**20, 1),
        redis_memory_before_mb=round(base_memory / 2**20, 1),
        notification_p50_ms_idle=_ms(idle, 50),
        notification_p95_ms_idle=_ms(idle, 95),
        notification_p50_ms_saturated=_ms(busy, 50),
        notification_p95_ms_saturated=_ms(busy, 95),
        notification_mean_ms_saturated=round(statistics.fmean(busy) * 1000, 1),
        notification_max_ms_saturated=_ms(busy, 100),
        backtests_saturated_through_every_probe=saturated_to_the_end,
    )

    assert bad == {}, f"seed {chaos_seed}"
    assert store.summary() == {**{s.value: 0 for s in TaskStatus}, "completed": n_run}
    assert redis_client.zcard(store.keys.heartbeats()) == 0
    assert cluster.drained(), "messages left in the broker after every task ended"
