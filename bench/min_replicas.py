"""min_replicas: what TASKRUNNER_REDIS_MIN_REPLICAS=1 costs a task's durable writes (creation and final state).

A real primary and its replica (taskrunner.sentinel_cluster, sentinels included but unused: the stores connect to
the primary directly, so only WAIT differs). One lifecycle is create, start, complete: with MIN_REPLICAS=1 the
creation and the end each carry a WAIT in the same round trip, so they return once the replica acknowledged them.
Both stores run in alternating rounds in the same process against the same servers.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import redis

from bench.common import ScenarioResult, interleaved, median
from progress import ProgressStore
from progress.config import StoreConfig
from taskrunner.sentinel_cluster import SentinelCluster


def run(base_url: str, *, rounds: int = 11, per_round: int = 200) -> ScenarioResult:
    """Lifecycles per second with and without waiting for the replica; the ratio of their per-lifecycle times."""
    del base_url  # this scenario needs a replica: it starts its own pair
    cluster = SentinelCluster(Path(tempfile.mkdtemp(prefix="taskrunner-bench-ha-"))).start()
    try:
        client = redis.Redis(port=cluster.primary_port(), db=2, decode_responses=True)
        stores = {n: ProgressStore(client, config=StoreConfig(namespace=f"b{n}", min_replicas=n)) for n in (0, 1)}
        counter = itertools.count()

        def lifecycle(store: ProgressStore) -> None:
            tid = f"bench-{next(counter)}"
            store.create_task("bench.min_replicas", 10, task_id=tid)
            store.apply(tid, {"status": "running", "start": True, "worker": "bench"})
            store.apply(tid, {"status": "completed", "current": 10, "results": {"ok": True}})

        s = interleaved({"min_replicas_0": lambda: lifecycle(stores[0]),
                         "min_replicas_1": lambda: lifecycle(stores[1])}, rounds=rounds, per_round=per_round)
    finally:
        cluster.stop()
    us = {k: median(v) * 1e6 for k, v in s.items()}
    ratio = us["min_replicas_1"] / us["min_replicas_0"]
    return ScenarioResult(
        name="min_replicas",
        measured={"lifecycle_us_min_replicas_1": us["min_replicas_1"], "per_s": 1e6 / us["min_replicas_1"]},
        baseline={"lifecycle_us_min_replicas_0": us["min_replicas_0"], "per_s": 1e6 / us["min_replicas_0"]},
        ratio=ratio,
        ratio_meaning="task lifecycle time (create, start, complete) with MIN_REPLICAS=1 / with 0",
        target="reported (the price of losing no acknowledged state in a failover); <= 2x on loopback",
        met=ratio <= 2.0,
        notes=f"{rounds} alternating rounds of {per_round} lifecycles; medians; loopback primary and replica.",
    )
