"""One stream-resume reader (progress.resume) for every caller: the stores' watch and the API's task feeds resume,
dedupe and fall back to a snapshot the same way, with one event-id pattern."""

from __future__ import annotations

import redis

from progress import ProgressStore, TaskStatus
from progress.resume import Cursor


def test_replaying_from_0_0_starts_with_a_snapshot_when_the_first_events_were_trimmed(
    store: ProgressStore, redis_client: redis.Redis
) -> None:
    tid = store.create_task("fetch_data", 5, message="queued").task_id
    for i in range(1, 5):
        store.update_progress(tid, "running", i, f"item {i}")
    first, *_ = redis_client.xrange(store.keys.events(tid), count=2)
    redis_client.xdel(store.keys.events(tid), first[0])  # the creation event is gone: 0-0 cannot be replayed

    events = list(store.watch(tid, after="0-0", timeout=0.2))

    assert events[0].kind == "snapshot" and events[0].current == 4
    assert [e.current for e in events[1:]] == []


def test_catch_up_and_advance_move_one_cursor_and_never_hand_out_an_event_twice(store: ProgressStore) -> None:
    tid = store.create_task("fetch_data", 3, message="queued").task_id
    one = store.update_progress(tid, "running", 1, "one").event_id
    cursor = Cursor(tid, one)
    store.update_progress(tid, current_items=2)

    caught = store.catch_up(cursor)
    again = store.advance(cursor, caught)  # a live copy of what the catch-up already gave: dropped by id
    store.update_progress(tid, "completed", 3)
    rest = store.catch_up(cursor)

    assert [(e.current, e.message) for e in caught] == [(2, "one")] and again == []
    assert [e.status for e in rest] == [TaskStatus.COMPLETED] and cursor.ended
