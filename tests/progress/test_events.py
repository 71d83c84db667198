"""An event repeats no field that did not change: the stream entry and the published message carry the message
(and the error) only when it changed, and every reader rebuilds seed 001's full progress_update from the last
known state or the record."""

from __future__ import annotations

from typing import cast

import redis

from progress import ProgressStore

BIG = "phase one: " + "x" * 1_900


def _entries(client: redis.Redis, store: ProgressStore, tid: str) -> list[tuple[str, dict[str, str]]]:
    return cast(list[tuple[str, dict[str, str]]], client.xrange(store.keys.events(tid)))


def test_an_unchanged_message_is_stored_once_and_every_watcher_event_still_carries_it(
    store: ProgressStore, redis_client: redis.Redis
) -> None:
    tid = store.create_task("fetch_data", 20).task_id
    store.update_progress(tid, "running", 0, message=BIG)
    for i in range(1, 21):
        store.update_progress(tid, current_items=i)
    store.update_progress(tid, "completed", 20, message="done")

    entries = _entries(redis_client, store, tid)
    assert [f.get("m") for _, f in entries if "m" in f] == ["", BIG, "done"]  # created, set, changed
    assert sum(len(f.get("m", "")) for _, f in entries) < 2 * len(BIG)

    events = list(store.watch(tid, after=entries[0][0], timeout=5))
    assert [e.current for e in events] == [0, *range(1, 21), 20]
    assert [e.message for e in events] == [BIG] * 21 + ["done"]
    assert all(e.to_message()["message"] for e in events)


def test_a_watcher_resuming_after_an_event_without_the_message_gets_it_from_the_record(
    store: ProgressStore, redis_client: redis.Redis
) -> None:
    tid = store.create_task("fetch_data", 5).task_id
    store.update_progress(tid, "running", 0, message="counting")
    store.update_progress(tid, current_items=1)
    resume_at = _entries(redis_client, store, tid)[-1][0]
    store.update_progress(tid, current_items=2)
    store.update_progress(tid, "completed", 5)

    events = list(store.watch(tid, after=resume_at, timeout=5))

    assert ["m" in f for _, f in _entries(redis_client, store, tid)] == [True, True, False, False, False]
    assert [(e.current, e.message) for e in events] == [(2, "counting"), (5, "counting")]


def test_an_error_message_is_stored_once_and_carried_to_watchers(
    store: ProgressStore, redis_client: redis.Redis
) -> None:
    tid = store.create_task("fetch_data", 5).task_id
    store.update_progress(tid, "running", 1, message="m", error_message="upstream slow")
    store.update_progress(tid, current_items=2)
    store.update_progress(tid, "error", error_message="boom")

    entries = _entries(redis_client, store, tid)
    assert [f.get("e") for _, f in entries] == [None, "upstream slow", None, "boom"]
    events = list(store.watch(tid, after=entries[0][0], timeout=5))
    assert [(e.current, e.error_message, e.message) for e in events] == [
        (1, "upstream slow", "m"), (2, "upstream slow", "m"), (2, "boom", "m")]
