"""Concurrent writers on one task: the end is final and the counts stay exact."""

from __future__ import annotations

import threading

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from progress import InvalidTransition, ProgressStore, TaskStatus


def test_concurrent_updaters_never_overwrite_the_final_state(store: ProgressStore) -> None:
    tid = store.create_task("fetch_data", 1000).task_id
    store.update_progress(tid, "running", 0)
    start = threading.Barrier(5)

    def updater(offset: int) -> None:
        start.wait()
        for i in range(300):
            store.update_progress(tid, "running", offset + i)

    def finisher() -> None:
        start.wait()
        store.update_progress(tid, "completed", 1000, results={"final": True})

    threads = [threading.Thread(target=updater, args=(k * 1000,)) for k in range(4)]
    threads.append(threading.Thread(target=finisher))
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    rec = store.require(tid)
    assert rec.status is TaskStatus.COMPLETED and rec.results == {"final": True} and rec.progress.current == 1000
    assert store.summary()["completed"] == 1 and store.summary()["running"] == 0


OPS = st.lists(
    st.tuples(st.sampled_from(["create", "update", "cancel", "delete"]), st.integers(0, 7),
              st.sampled_from(list(TaskStatus))),
    max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_the_summary_always_equals_the_records_by_status(store: ProgressStore, ops: list[tuple[str, int, TaskStatus]]
                                                         ) -> None:
    store.redis.flushdb()
    ids: list[str] = []
    for op, k, status in ops:
        if op == "create" or not ids:
            ids.append(store.create_task("t", 5, symbol=("A.T", None)[k % 2]).task_id)
            continue
        tid = ids[k % len(ids)]
        try:
            if op == "update":
                store.update_progress(tid, status, k)
            elif op == "cancel":
                store.cancel_task(tid)
            else:
                store.delete_task(tid)
        except (InvalidTransition, KeyError):
            pass

    records = [r for r in (store.get_task_status(i) for i in set(ids)) if r is not None]
    by_status = {s.value: sum(1 for r in records if r.status is s) for s in TaskStatus}
    assert store.summary() == by_status
    for s in TaskStatus:
        assert store.get_tasks_list(status=s, limit=1000).pagination.total == by_status[s.value]
