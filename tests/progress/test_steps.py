"""Steps as seed 002 means them: defined timeouts kept, live elapsed time, percentage from steps, late steps flagged.

The store's clock is set by hand (a store built with `clock=`), so durations are exact and nothing depends on timing.
"""

from __future__ import annotations

import redis

from progress import ProgressReporter, ProgressStore, StepDefinition, TaskStatus


class Clock:
    """Epoch seconds the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def _store(client: redis.Redis, clock: Clock) -> ProgressStore:
    return ProgressStore(client, clock=clock)


def _running(st: ProgressStore, steps: list[StepDefinition | str]) -> tuple[str, ProgressReporter]:
    tid = st.create_task("fetch_data").task_id
    rep = ProgressReporter(st, tid, interval=1.0)
    rep.start()
    rep.define_steps(steps)
    return tid, rep


def _step(st: ProgressStore, tid: str, name: str) -> dict[str, object]:
    return next(s for s in st.require(tid).model_dump()["steps"] if s["name"] == name)


def test_a_step_started_without_a_timeout_keeps_the_timeout_defined_for_it(redis_client: redis.Redis) -> None:
    st = _store(redis_client, Clock())
    tid, rep = _running(st, [StepDefinition(name="download", timeout_ms=300_000), "store"])

    with rep.step("download"):
        assert _step(st, tid, "download")["timeout_ms"] == 300_000
    with rep.step("store", timeout_ms=5_000):  # a timeout given at the start is the step's from then on
        pass

    assert _step(st, tid, "download")["timeout_ms"] == 300_000
    assert _step(st, tid, "store")["timeout_ms"] == 5_000


def test_a_running_steps_elapsed_ms_follows_the_clock_and_an_ended_steps_stays_as_stored(
    redis_client: redis.Redis,
) -> None:
    clock = Clock()
    st = _store(redis_client, clock)
    tid, _ = _running(st, ["download", "store"])
    st.apply(tid, {"step": {"action": "start", "name": "download"}})

    clock.t += 2.5
    assert _step(st, tid, "download")["elapsed_ms"] == 2_500
    clock.t += 1.0
    assert _step(st, tid, "download")["elapsed_ms"] == 3_500

    st.apply(tid, {"step": {"action": "complete", "name": "download"}})
    clock.t += 60.0
    assert _step(st, tid, "download")["elapsed_ms"] == 3_500
    assert _step(st, tid, "store")["elapsed_ms"] == 0  # never started


def test_a_task_that_counts_no_items_takes_its_percentage_from_its_steps(redis_client: redis.Redis) -> None:
    st = _store(redis_client, Clock())
    tid, rep = _running(st, ["a", "b", "c", "d"])
    assert st.require(tid).progress.percentage == 0.0

    with rep.step("a"):
        pass
    assert st.require(tid).progress.percentage == 25.0
    try:
        with rep.step("b"):
            raise ValueError("bad data")
    except ValueError:
        pass
    assert st.require(tid).progress.percentage == 50.0  # an ended step counts, as in seed 002, whatever its end

    listed = st.get_tasks_list().tasks[0]
    assert listed.task_id == tid and listed.progress.percentage == 50.0
    assert (listed.progress.current, listed.progress.total) == (0, 0)  # the item counts stay what they are

    st.update_progress(tid, current_items=1, total_items=10)  # once it counts items, they give the percentage
    assert st.require(tid).progress.percentage == 10.0


def test_a_step_completed_after_its_timeout_ends_timeout_not_success(redis_client: redis.Redis) -> None:
    clock = Clock()
    st = _store(redis_client, clock)
    tid, _ = _running(st, [StepDefinition(name="slow", timeout_ms=1_000), StepDefinition(name="quick",
                                                                                         timeout_ms=1_000)])
    st.apply(tid, {"step": {"action": "start", "name": "slow"}})
    clock.t += 2.0
    st.apply(tid, {"step": {"action": "complete", "name": "slow"}})
    st.apply(tid, {"step": {"action": "start", "name": "quick"}})
    clock.t += 0.5
    st.apply(tid, {"step": {"action": "complete", "name": "quick"}})

    slow, quick = _step(st, tid, "slow"), _step(st, tid, "quick")
    assert slow["status"] == "timeout" and slow["elapsed_ms"] == 2_000 and slow["completed_at"] is not None
    assert quick["status"] == "success" and quick["elapsed_ms"] == 500
    assert st.require(tid).status is TaskStatus.RUNNING
