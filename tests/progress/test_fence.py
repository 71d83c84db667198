"""Fenced attempts: once a newer attempt has started, every write of an older one is refused in update.lua (nothing
written) and the older attempt's reporter stops it; writes with no attempt (seed API, HTTP) are accepted as before;
what watchers see of `current` never goes backwards across attempts."""

from __future__ import annotations

import itertools
import threading

import pytest
import redis

from progress import ProgressReporter, ProgressStore, TaskCancelled, TaskStatus, TaskSuperseded
from tests.helpers import wait_until


def _two_attempts(store: ProgressStore) -> tuple[str, ProgressReporter, ProgressReporter]:
    """A task whose first attempt reported 50 of 100, then (its worker presumed lost) a second attempt started."""
    tid = store.create_task("fetch_data", 100).task_id
    old = ProgressReporter(store, tid, interval=0.0)
    old.start(total=100)
    old.update(50, message="old at 50")
    new = ProgressReporter(store, tid, interval=0.0)
    new.start(total=100)
    return tid, old, new


def test_each_start_is_a_new_attempt_and_the_reporter_learns_its_number(store: ProgressStore) -> None:
    tid, old, new = _two_attempts(store)

    assert (old.attempt, new.attempt) == (1, 2)
    assert store.require(tid).attempt == 2


def test_a_write_from_an_older_attempt_is_refused_in_lua_and_writes_nothing(
    store: ProgressStore, redis_client: redis.Redis
) -> None:
    tid, _, _ = _two_attempts(store)
    before = (redis_client.hgetall(store.keys.record(tid)), redis_client.xlen(store.keys.events(tid)))

    with pytest.raises(TaskSuperseded) as refused:
        store.apply(tid, {"current": 60, "message": "late", "attempt": 1, "soft": True, "status": "running"})

    assert (refused.value.attempt, refused.value.newest) == (1, 2)
    assert (redis_client.hgetall(store.keys.record(tid)), redis_client.xlen(store.keys.events(tid))) == before
    assert store.health_check().superseded_writes == 1


def test_the_newer_attempt_and_writes_without_an_attempt_are_accepted(store: ProgressStore) -> None:
    tid, _, new = _two_attempts(store)

    new.update(70, message="new at 70")
    assert store.require(tid).progress.current == 70
    store.update_progress(tid, message="an operator's note")  # seed API: no attempt
    assert store.require(tid).current_status == "an operator's note"
    new.complete({"ok": True})
    assert store.require(tid).status is TaskStatus.COMPLETED


def test_the_older_attempts_next_progress_call_stops_it_without_ending_the_record(store: ProgressStore) -> None:
    tid, old, _ = _two_attempts(store)

    with pytest.raises(TaskSuperseded):
        old.update(60, message="old at 60")
    assert old.finished and old.superseded
    # As a cancel does: task code that stops on TaskCancelled stops on this too.
    assert issubclass(TaskSuperseded, TaskCancelled)

    rec = store.require(tid)
    assert rec.status is TaskStatus.RUNNING and rec.current_status != "old at 60"
    assert old.complete({"late": True}) is None  # finished: nothing more is even tried
    assert store.require(tid).status is TaskStatus.RUNNING


def test_an_older_attempts_final_write_is_refused_even_after_the_newer_one_ended(store: ProgressStore) -> None:
    tid, old, new = _two_attempts(store)
    new.complete({"winner": "new"})

    with pytest.raises(TaskSuperseded):
        old.fail("the old attempt's error")

    rec = store.require(tid)
    assert rec.status is TaskStatus.COMPLETED and rec.results == {"winner": "new"} and rec.error_message is None
    assert rec.ignored_updates == 0  # refused by the fence, not counted as a late update


def test_current_seen_by_a_watcher_never_goes_backwards_across_a_supersede(store: ProgressStore) -> None:
    tid = store.create_task("fetch_data", 100).task_id
    seen: list[int] = []
    watching = threading.Event()

    def watch() -> None:
        for i, event in enumerate(store.watch(tid, block_ms=100, timeout=30)):
            if i == 0:
                watching.set()
            seen.append(event.current)

    watcher = threading.Thread(target=watch)
    watcher.start()
    assert watching.wait(10)

    old = ProgressReporter(store, tid, interval=0.0)
    old.start(total=100)
    for i in range(1, 41):
        old.update(i)
    new = ProgressReporter(store, tid, interval=0.0)  # the sweep requeued it: the work restarts from zero
    new.start(total=100)
    for i in range(1, 101):
        if i == 10:  # the hung attempt wakes up and reports its own count
            with pytest.raises(TaskSuperseded):
                old.update(41)
        new.update(i)
    new.complete()
    watcher.join(30)

    assert seen[-1] == 100 and len(seen) > 100
    assert all(a <= b for a, b in itertools.pairwise(seen)), seen
    assert store.require(tid).progress.current == 100


def test_a_paused_attempt_superseded_while_waiting_stops_when_resumed(store: ProgressStore) -> None:
    tid = store.create_task("fetch_data", 10).task_id
    old = ProgressReporter(store, tid, interval=0.0)
    old.start(total=10)
    store.pause_task(tid)
    outcome: list[BaseException] = []

    def run_old() -> None:
        try:
            old.update(1)  # recorded, then waits while paused
            old.update(2)
        except BaseException as exc:
            outcome.append(exc)

    threading.Thread(target=run_old, daemon=True).start()
    wait_until(lambda: store.require(tid).progress.current == 1, timeout=10)
    new = ProgressReporter(store, tid, interval=0.0)
    starting = threading.Thread(target=new.start, kwargs={"total": 10}, daemon=True)
    starting.start()  # an operator's pause holds: the new attempt waits too
    wait_until(lambda: store.require(tid).attempt == 2, timeout=10)
    assert store.require(tid).status is TaskStatus.PAUSED

    store.resume_task(tid)

    wait_until(lambda: bool(outcome), timeout=10)
    assert isinstance(outcome[0], TaskSuperseded)
    starting.join(10)
    new.update(5)
    rec = store.require(tid)
    assert rec.status is TaskStatus.RUNNING and rec.progress.current == 5
