"""The throttled reporter: cheap updates, bounded writes, the final state always written, cancel and pause."""

from __future__ import annotations

import threading

import pytest
import redis

from progress import ProgressReporter, ProgressStore, ProgressWriteError, StepDefinition, TaskCancelled, TaskStatus
from tests.helpers import wait_until


class FakeClock:
    """A monotonic clock the test advances by hand, so throttling is checked without timing."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _running(store: ProgressStore, total: int = 0) -> tuple[str, ProgressReporter]:
    tid = store.create_task("fetch_data", total).task_id
    rep = ProgressReporter(store, tid, interval=1.0)
    rep.start(total=total)
    return tid, rep


def test_ten_thousand_updates_write_once_per_interval_and_end_exact(store: ProgressStore) -> None:
    clock = FakeClock()
    tid = store.create_task("fetch_data", 10_000).task_id
    rep = ProgressReporter(store, tid, interval=1.0, clock=clock)
    rep.start(total=10_000)

    for i in range(1, 10_001):
        clock.t += 0.001  # 10 s of simulated work in all
        rep.update(i, message=f"{i}/10000")
    rep.complete({"done": 10_000})

    # start + at most one write per simulated second (10 s -> <= 11) + the final write
    assert rep.writes <= 1 + 11 + 1
    rec = store.require(tid)
    assert rec.status is TaskStatus.COMPLETED
    assert (rec.progress.current, rec.progress.total, rec.progress.percentage) == (10_000, 10_000, 100.0)
    assert rec.current_status == "completed" and rec.results == {"done": 10_000}


def test_updates_within_the_interval_are_coalesced_and_the_latest_values_win(store: ProgressStore) -> None:
    clock = FakeClock()
    tid = store.create_task("fetch_data", 100).task_id
    rep = ProgressReporter(store, tid, interval=1.0, clock=clock)
    rep.start(total=100)
    rep.update(1, message="one")
    rep.update(2, message="two", details={"a": 1})
    assert store.require(tid).progress.current == 0  # nothing written inside the interval

    clock.t = 1.0
    rep.update(3, details={"b": 2})

    rec = store.require(tid)
    assert (rec.progress.current, rec.current_status, rec.processing_details) == (3, "two", {"a": 1, "b": 2})


def test_status_changes_and_the_end_are_written_immediately(store: ProgressStore) -> None:
    clock = FakeClock()
    tid = store.create_task("fetch_data", 5).task_id
    rep = ProgressReporter(store, tid, interval=100.0, clock=clock)
    rep.start(total=5)
    assert store.require(tid).status is TaskStatus.RUNNING
    rep.update(4)
    rep.fail("boom")
    rec = store.require(tid)
    assert (rec.status, rec.progress.current, rec.error_message) == (TaskStatus.ERROR, 4, "boom")


def test_a_cancelled_task_raises_at_its_next_write(store: ProgressStore) -> None:
    tid, rep = _running(store, 10)
    store.cancel_task(tid)
    with pytest.raises(TaskCancelled):
        rep.check()
    assert store.require(tid).status is TaskStatus.CANCELLED


def test_starting_a_task_cancelled_while_queued_raises(store: ProgressStore) -> None:
    tid = store.create_task("fetch_data", 1).task_id
    store.cancel_task(tid)
    with pytest.raises(TaskCancelled):
        ProgressReporter(store, tid).start()


def test_a_paused_task_waits_at_its_next_write_until_resumed(store: ProgressStore) -> None:
    tid, rep = _running(store, 10)
    store.pause_task(tid)
    done = threading.Event()

    def work() -> None:
        rep.check()  # blocks while paused
        rep.update(5)
        rep.complete()
        done.set()

    t = threading.Thread(target=work, daemon=True)
    t.start()
    wait_until(lambda: store.require(tid).updated_at is not None, what="pause recorded")
    assert not done.wait(0.3) and store.require(tid).status is TaskStatus.PAUSED

    store.resume_task(tid)
    assert done.wait(10)
    assert store.require(tid).status is TaskStatus.COMPLETED


def test_a_paused_task_that_is_cancelled_stops_waiting_and_raises(store: ProgressStore) -> None:
    tid, rep = _running(store, 10)
    store.pause_task(tid)
    raised: list[BaseException] = []

    def work() -> None:
        try:
            rep.check()
        except TaskCancelled as exc:
            raised.append(exc)

    t = threading.Thread(target=work, daemon=True)
    t.start()
    store.cancel_task(tid)
    t.join(10)
    assert raised and isinstance(raised[0], TaskCancelled)


def test_steps_record_their_status_times_and_errors(store: ProgressStore) -> None:
    tid, rep = _running(store)
    rep.define_steps([StepDefinition(name="download", estimated_ms=1000), "analyse"])
    with rep.step("download"):
        pass
    with pytest.raises(ValueError), rep.step("analyse"):
        raise ValueError("bad data")
    steps = {s.name: s for s in store.require(tid).steps}
    assert steps["download"].status == "success" and steps["download"].completed_at is not None
    assert steps["download"].estimated_ms == 1000
    assert steps["analyse"].status == "error" and steps["analyse"].error == "ValueError: bad data"
    assert [s.step for s in store.require(tid).steps] == [1, 2]


def test_eta_comes_from_step_estimates_before_items_are_counted(store: ProgressStore) -> None:
    tid, rep = _running(store)
    rep.define_steps([StepDefinition(name="a", estimated_ms=4000), StepDefinition(name="b", estimated_ms=6000)])
    rec = store.require(tid)
    assert rec.eta_seconds == pytest.approx(10.0)
    assert rec.estimated_completion is not None


def test_rate_and_eta_come_from_the_observed_item_rate(store: ProgressStore) -> None:
    now = [1000.0]
    st = ProgressStore(store.redis, clock=lambda: now[0])
    tid = st.create_task("fetch_data", 100).task_id
    st.update_progress(tid, "running", 0)
    now[0] += 10
    st.update_progress(tid, current_items=25)
    rec = st.require(tid)
    assert rec.rate_per_second == pytest.approx(2.5)
    assert rec.eta_seconds == pytest.approx(30.0)


def test_nothing_is_written_after_the_final_state(store: ProgressStore) -> None:
    tid, rep = _running(store, 3)
    rep.complete({"ok": True})
    writes = rep.writes
    rep.update(1)
    rep.flush()
    assert rep.writes == writes and store.require(tid).ignored_updates == 0


class FlakyStore:
    """The real store behind a switch that makes writes fail as if Redis were unreachable.

    A wrapper is enough here: the behaviour under test is the reporter's reaction to redis-py's ConnectionError,
    and the writes that do go through still land in the real Redis.
    """

    def __init__(self, store: ProgressStore, failures: int) -> None:
        self.store, self.failures, self.config = store, failures, store.config

    def write(self, task_id: str, change: dict[str, object]) -> object:
        if self.failures > 0:
            self.failures -= 1
            raise redis.ConnectionError("Connection refused (simulated restart)")
        return self.store.write(task_id, change)

    def apply(self, task_id: str, change: dict[str, object]) -> object:
        return self.store.apply(task_id, change)

    def watch(self, *a: object, **k: object) -> object:
        return self.store.watch(*a, **k)  # type: ignore[arg-type]


def test_the_final_state_is_retried_while_redis_is_unreachable_and_then_written(store: ProgressStore) -> None:
    tid = store.create_task("fetch_data", 5).task_id
    flaky = FlakyStore(store, failures=0)
    rep = ProgressReporter(flaky, tid, interval=0.0)  # type: ignore[arg-type]
    rep.start(total=5)
    flaky.failures = 3

    rep.complete({"records_saved": 5})

    rec = store.require(tid)
    assert rec.status is TaskStatus.COMPLETED and rec.results == {"records_saved": 5}


def test_routine_progress_survives_an_unreachable_redis_and_is_written_later(store: ProgressStore) -> None:
    tid = store.create_task("fetch_data", 10).task_id
    flaky = FlakyStore(store, failures=0)
    clock = FakeClock()
    rep = ProgressReporter(flaky, tid, interval=1.0, clock=clock)  # type: ignore[arg-type]
    rep.start(total=10)
    flaky.failures = 1
    clock.t = 1.0
    rep.update(4, message="four")  # this write fails: no exception, values kept
    assert store.require(tid).progress.current == 0
    clock.t = 2.0
    rep.update(5)
    rec = store.require(tid)
    assert (rec.progress.current, rec.current_status) == (5, "four")


def test_a_final_write_that_cannot_land_raises_instead_of_being_dropped(store: ProgressStore) -> None:
    tid = store.create_task("fetch_data", 1).task_id
    flaky = FlakyStore(store, failures=0)
    rep = ProgressReporter(flaky, tid, interval=0.0, final_write_timeout=0.3)  # type: ignore[arg-type]
    rep.start(total=1)
    flaky.failures = 10**6
    with pytest.raises(ProgressWriteError):
        rep.complete()
    assert store.require(tid).status is TaskStatus.RUNNING
