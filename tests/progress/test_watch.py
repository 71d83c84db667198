"""Live events: watch yields every change until the end and resumes after an event id without gaps."""

from __future__ import annotations

import asyncio
import threading

import redis

from progress import AsyncProgressStore, ProgressStore, StoreConfig, TaskStatus
from tests.progress.conftest import Backend


def _run_task(store: ProgressStore, tid: str, n: int) -> None:
    store.update_progress(tid, "running", 0)
    for i in range(1, n + 1):
        store.update_progress(tid, current_items=i, message=f"{i}")
    store.update_progress(tid, "completed", n)


def test_watch_starts_with_a_snapshot_then_yields_each_change_until_the_end(store: ProgressStore) -> None:
    tid = store.create_task("fetch_data", 20).task_id
    events = []
    started = threading.Event()

    def consume() -> None:
        for ev in store.watch(tid, block_ms=200, timeout=20):
            events.append(ev)
            started.set()

    t = threading.Thread(target=consume)
    t.start()
    started.wait(5)
    _run_task(store, tid, 20)
    t.join(20)

    assert events[0].kind == "snapshot" and events[0].status is TaskStatus.CREATED
    assert [e.current for e in events[1:] if e.kind == "progress"] == list(range(1, 21))
    assert events[-1].status is TaskStatus.COMPLETED


def test_resuming_after_an_event_id_yields_exactly_the_remaining_events(store: ProgressStore) -> None:
    tid = store.create_task("fetch_data", 30).task_id
    _run_task(store, tid, 30)
    full = list(store.watch(tid, after="0-0", timeout=5))
    ids = [e.id for e in full]
    assert len(ids) == len(set(ids)) and full[-1].status is TaskStatus.COMPLETED

    cut = 12
    resumed = list(store.watch(tid, after=ids[cut], timeout=5))

    assert [e.id for e in resumed] == ids[cut + 1 :]


def test_resuming_from_a_trimmed_id_starts_over_with_a_snapshot(redis_client: redis.Redis) -> None:
    st = ProgressStore(redis_client, config=StoreConfig(events_maxlen=10))
    tid = st.create_task("fetch_data", 500).task_id
    first = st.update_progress(tid, "running", 0).event_id
    for i in range(1, 400):
        st.update_progress(tid, current_items=i)
    assert first is not None and not redis_client.xrange(st.keys.events(tid), first, first)

    out = []
    for ev in st.watch(tid, after=first, block_ms=100, timeout=1):
        out.append(ev)
        break
    assert out[0].kind == "snapshot" and out[0].current == 399


def test_a_finished_task_is_watched_as_one_final_snapshot(store: ProgressStore) -> None:
    tid = store.create_task("fetch_data", 3).task_id
    _run_task(store, tid, 3)
    events = list(store.watch(tid))
    assert len(events) == 1 and events[0].status is TaskStatus.COMPLETED and events[0].current == 3


def test_the_async_store_watches_and_resumes_like_the_sync_one(backend: Backend, store: ProgressStore) -> None:
    tid = store.create_task("fetch_data", 10).task_id
    _run_task(store, tid, 10)

    async def main() -> tuple[list[str], list[str], int]:
        ast = AsyncProgressStore.from_url(backend.url, cluster=backend.cluster, config=backend.config())
        try:
            full = [e.id async for e in ast.watch(tid, after="0-0")]
            rest = [e.id async for e in ast.watch(tid, after=full[3])]
            lst = await ast.get_tasks_list(status="completed")
            return full, rest, lst.pagination.total
        finally:
            await ast.redis.aclose()

    full, rest, total = asyncio.run(main())
    assert rest == full[4:] and total == 1
