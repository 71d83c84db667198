"""The step-timeout sweep against a real Redis: a running step past its timeout is flagged `timeout` in the record
and the event stream; with TASKRUNNER_STEP_TIMEOUT_FAILS its task ends `error` and its worker stops.

The store's clock is set by hand, so "past its timeout" is exact and nothing depends on timing.
"""

from __future__ import annotations

import time

import pytest
import redis

from ops.step_timeouts import sweep_step_timeouts
from progress import ProgressReporter, ProgressStore, StepDefinition, TaskCancelled, TaskStatus


class Clock:
    """Epoch seconds the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def _in_step(st: ProgressStore, timeout_ms: int | None = 1_000) -> tuple[str, ProgressReporter]:
    """A running task (its reporter) inside step `download`, whose defined timeout is `timeout_ms`."""
    tid = st.create_task("fetch_data").task_id
    rep = ProgressReporter(st, tid, interval=1.0)
    rep.start()
    rep.define_steps([StepDefinition(name="download", timeout_ms=timeout_ms), "store"])
    st.apply(tid, {"step": {"action": "start", "name": "download"}})
    return tid, rep


def _download(st: ProgressStore, tid: str) -> dict[str, object]:
    return next(s for s in st.require(tid).model_dump()["steps"] if s["name"] == "download")


def test_a_running_step_past_its_timeout_is_flagged_in_the_record_and_the_event_stream_and_its_task_runs_on(
    redis_client: redis.Redis,
) -> None:
    clock = Clock()
    st = ProgressStore(redis_client, clock=clock)
    tid, rep = _in_step(st)
    before = st.require(tid).last_event_id
    clock.t += 1.5

    report = sweep_step_timeouts(st, fails=False)

    assert report.flagged == {tid: ["download"]} and report.failed == []
    step = _download(st, tid)
    assert step["status"] == "timeout" and step["completed_at"] is None and step["elapsed_ms"] == 1_500
    assert "timed out" in str(step["error"]) and "1000 ms" in str(step["error"])
    rec = st.require(tid)
    assert rec.status is TaskStatus.RUNNING and "download" in rec.current_status
    events = list(st.watch(tid, after=before, timeout=0.5))
    flagged = [e for e in events if e.step == "download"]
    assert len(flagged) == 1 and flagged[0].status is TaskStatus.RUNNING
    assert flagged[0].message is not None and "timed out" in flagged[0].message

    # Flagged once: the next pass finds nothing new; the step then ends and keeps its flag.
    clock.t += 60
    assert sweep_step_timeouts(st, fails=False).flagged == {}
    with rep.step("store"):
        pass
    rep.complete()
    assert st.require(tid).status is TaskStatus.COMPLETED and _download(st, tid)["status"] == "timeout"


def test_a_step_within_its_timeout_or_without_one_is_left_running(redis_client: redis.Redis) -> None:
    clock = Clock()
    st = ProgressStore(redis_client, clock=clock)
    within, _ = _in_step(st, timeout_ms=10_000)
    without, _ = _in_step(st, timeout_ms=None)
    clock.t += 5

    assert sweep_step_timeouts(st, fails=True).flagged == {}
    assert _download(st, within)["status"] == "running" and _download(st, without)["status"] == "running"
    assert st.require(within).status is TaskStatus.RUNNING


def test_a_paused_task_is_left_alone(redis_client: redis.Redis) -> None:
    clock = Clock()
    st = ProgressStore(redis_client, clock=clock)
    tid, _ = _in_step(st)
    st.pause_task(tid)
    clock.t += 5

    assert sweep_step_timeouts(st, fails=True).flagged == {}
    assert st.require(tid).status is TaskStatus.PAUSED and _download(st, tid)["status"] == "running"


def test_with_timeouts_failing_tasks_the_task_ends_error_naming_the_step_and_its_worker_stops(
    redis_client: redis.Redis,
) -> None:
    clock = Clock()
    st = ProgressStore(redis_client, clock=clock)
    tid, rep = _in_step(st)
    clock.t += 2

    report = sweep_step_timeouts(st, fails=True)

    assert report.failed == [tid] and report.flagged == {tid: ["download"]}
    rec = st.require(tid)
    assert rec.status is TaskStatus.ERROR and rec.error_message is not None
    assert rec.error_message.startswith("step 'download' timed out")
    assert _download(st, tid)["status"] == "timeout"
    with pytest.raises(TaskCancelled):  # the worker learns at its next progress write, as with a cancel
        rep.check()


def test_the_beat_job_flags_step_timeouts_and_the_setting_makes_them_fail_the_task(
    progress_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from base.settings import get_settings
    from tasks.maintenance.tasks import sweep_stale_tasks

    # Written a minute ago by a store whose clock is behind, so the job's real clock finds the steps overdue.
    past = ProgressStore(progress_redis, clock=lambda: time.time() - 60)
    flagged, _ = _in_step(past)
    result = sweep_stale_tasks.apply().get()
    assert result["step_timeouts"]["flagged"] == {flagged: ["download"]}
    assert past.require(flagged).status is TaskStatus.RUNNING

    monkeypatch.setenv("TASKRUNNER_STEP_TIMEOUT_FAILS", "true")
    get_settings.cache_clear()
    try:
        failed, _ = _in_step(past)
        result = sweep_stale_tasks.apply().get()
    finally:
        monkeypatch.delenv("TASKRUNNER_STEP_TIMEOUT_FAILS")
        get_settings.cache_clear()
    assert result["step_timeouts"]["failed"] == [failed]
    assert past.require(failed).status is TaskStatus.ERROR
