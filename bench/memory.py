"""memory: Redis memory per completed task record, with its indexes and events; Celery's result meta as baseline."""

from __future__ import annotations

import time

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


def run(base_url: str, *, n: int = 5_000) -> ScenarioResult:
    """Bytes per task from used_memory deltas: while the ended tasks' event streams are kept, and after."""
    from worker import app, load_tasks

    load_tasks()
    client = redis.Redis.from_url(f"{base_url}/4", decode_responses=True)
    client.flushdb()
    store = ProgressStore(client, config=StoreConfig(events_ttl_after_end_s=3))
    for i in range(100):  # the first keys of each kind allocate structures once
        _lifecycle(store, i)
    base = int(client.info("memory")["used_memory"])
    t_end = time.monotonic()
    for i in range(n):
        _lifecycle(store, i)
    with_events = (int(client.info("memory")["used_memory"]) - base) / n
    time.sleep(max(0.0, 3.5 - (time.monotonic() - t_end)))
    deadline = time.monotonic() + 30
    while client.dbsize() > 2 * (n + 100) and time.monotonic() < deadline:  # expired streams reclaimed lazily
        time.sleep(0.5)
    steady = (int(client.info("memory")["used_memory"]) - base) / n

    # Baseline: what Celery itself keeps per finished task in the same Redis (result meta, result_extended on).
    celery_base = int(client.info("memory")["used_memory"])
    backend = app.backend
    task = app.tasks["tasks.diagnostics.count"]
    for i in range(n):
        task.update_state(task_id=f"bench-meta-{i}", state="SUCCESS",
                          meta={"records_saved": 100, "records_skipped": 0, "success_rate": 100})
    celery_per_task = (int(backend.client.info("memory")["used_memory"]) - celery_base) / n
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
