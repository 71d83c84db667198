"""memory: Redis memory per completed task record, with its indexes and events; Celery's result meta as baseline."""

from __future__ import annotations

import time
from typing import Any, cast

import redis

from bench.common import ScenarioResult
from progress import ProgressReporter, ProgressStore, StoreConfig


def _lifecycle(store: ProgressStore, i: int) -> None:
    tid = store.create_task("fetch_data", 100, ("7203.T", "6758.T", None)[i % 3], {"period": "1y"}).task_id
    rep = ProgressReporter(store, tid, interval=0.0)
    rep.start(total=100, worker="bench@host")
    for k in range(1, 11):
        rep.update(k * 10, message=f"{k * 10}/100")
    rep.complete({"records_saved": 100, "records_skipped": 0, "success_rate": 100})


def _bytes_per_task(client: redis.Redis, store: ProgressStore, n: int) -> int:
    """used_memory before n lifecycles (after a warm-up) and after; returns the base to diff against."""
    for i in range(100):  # the first keys of each kind allocate structures once
        _lifecycle(store, i)
    base = int(client.info("memory")["used_memory"])
    for i in range(n):
        _lifecycle(store, i)
    return base


def run(base_url: str, *, n: int = 5_000) -> ScenarioResult:
    """Bytes per task from used_memory deltas: while ended tasks' event streams are kept (5 min by default) and
    after they expired (the steady state of a 24 h retention)."""
    from worker import app, load_tasks

    load_tasks()
    # While the streams are kept: the default 5-minute grace is far longer than this measurement.
    client = redis.Redis.from_url(f"{base_url}/4", decode_responses=True)
    client.flushdb()
    store = ProgressStore(client)
    base = _bytes_per_task(client, store, n)
    with_events = (int(client.info("memory")["used_memory"]) - base) / n
    client.flushdb()

    # Steady state: the same with a 1-second grace, measured once the streams have expired.
    store = ProgressStore(client, config=StoreConfig(events_ttl_after_end_s=1))
    base = _bytes_per_task(client, store, n)
    deadline = time.monotonic() + 60
    while client.dbsize() > 3 * (n + 100) and time.monotonic() < deadline:  # expired keys are reclaimed lazily
        time.sleep(0.5)
    steady = (int(client.info("memory")["used_memory"]) - base) / n

    # Baseline: what Celery itself keeps per finished task in the same Redis (result meta, result_extended on).
    celery_base = int(client.info("memory")["used_memory"])
    backend = app.backend
    task = app.tasks["tasks.diagnostics.count"]
    for i in range(n):
        task.update_state(task_id=f"bench-meta-{i}", state="SUCCESS",
                          meta={"records_saved": 100, "records_skipped": 0, "success_rate": 100})
    celery_per_task = (int(cast(Any, backend).client.info("memory")["used_memory"]) - celery_base) / n
    return ScenarioResult(
        name="memory",
        measured={"bytes_per_task_steady": steady, "bytes_per_task_with_events": with_events},
        baseline={"celery_result_meta_bytes_per_task": celery_per_task},
        ratio=steady / celery_per_task if celery_per_task > 0 else None,
        ratio_meaning="bytes per completed record (steady state) / bytes of Celery's result meta per task",
        target="< 1.5 KB per completed task record including indexes and events",
        met=steady < 1536,
        notes=f"{n:,} tasks: create, start, 10 updates, complete. 'with_events' is while each ended task's event "
              "stream is still kept for late watchers (5 min by default); 'steady' after it expired.",
    )
