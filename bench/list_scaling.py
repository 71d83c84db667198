"""list_scaling: a filtered page and the summary with 1,000 vs 100,000 stored tasks."""

from __future__ import annotations

import time

import redis

from bench.common import ScenarioResult, percentile
from progress import ProgressStore, TaskCreate, ops

STATUSES = ("running", "completed", "completed", "error", "completed")


def _fill(store: ProgressStore, start: int, stop: int) -> None:
    """Creates tasks start..stop-1 with mixed statuses, pipelined (one round trip per 1,000 scripts)."""
    create, update = store._scripts["create"], store._scripts["update"]
    now = store.now_ms()
    for chunk in range(start, stop, 1000):
        pipe = store.redis.pipeline(transaction=False)
        for i in range(chunk, min(chunk + 1000, stop)):
            spec = TaskCreate(task_type=("fetch_data", "backtest")[i % 2], total_items=10,
                              symbol=("7203.T", "6758.T", None)[i % 3])
            tid = f"bench-{i:07d}"
            c = ops.create_call(store.config, store.keys, spec, tid, now + i)
            create(keys=c.keys, args=c.args, client=pipe)
            u = ops.update_call(store.config, store.keys, tid, {"status": STATUSES[i % 5], "current": 5}, now + i)
            update(keys=u.keys, args=u.args, client=pipe)
        pipe.execute()


def _measure(store: ProgressStore, samples: int) -> tuple[float, float]:
    page, summ = [], []
    for _ in range(samples):
        t0 = time.perf_counter()
        lst = store.get_tasks_list(status="running", page=3, limit=20)
        page.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        store.summary()
        summ.append(time.perf_counter() - t0)
    assert len(lst.tasks) == 20
    return percentile(page, 50) * 1000, percentile(summ, 50) * 1000


def run(base_url: str, *, small: int = 1_000, large: int = 100_000, samples: int = 300) -> ScenarioResult:
    """Measures at `small` tasks, grows the store to `large`, measures again."""
    client = redis.Redis.from_url(f"{base_url}/3", decode_responses=True)
    client.flushdb()
    store = ProgressStore(client)
    _fill(store, 0, small)
    page_small, summary_small = _measure(store, samples)
    _fill(store, small, large)
    assert store.get_tasks_list(limit=1).pagination.total == large
    page_large, summary_large = _measure(store, samples)
    ratio = page_large / page_small
    return ScenarioResult(
        name="list_scaling",
        measured={"page_p50_ms_100k": page_large, "summary_p50_ms_100k": summary_large},
        baseline={"page_p50_ms_1k": page_small, "summary_p50_ms_1k": summary_small},
        ratio=ratio,
        ratio_meaning="p50 of a status-filtered page (20 records) at 100,000 tasks / at 1,000 tasks",
        target="<= 1.5x, p50 under 2 ms",
        met=ratio <= 1.5 and page_large < 2.0 and summary_large / summary_small <= 1.5,
        notes=f"{samples} samples each; page 3 of status=running; summary ratio "
              f"{summary_large / summary_small:.2f}",
    )
