"""Operators' views through a real worker: the traceback, attempt and log of a task, a retry linked both ways, a
cascading cancel that stops running and queued children, and the end of a cancelled task in Celery's event state
(what Flower shows)."""

from __future__ import annotations

import itertools
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from progress import ProgressStore, TaskStatus
from progress.cascade import cancel_tree
from progress.detail import task_detail
from tests.helpers import wait_until
from worker import app, load_tasks

load_tasks()
from tasks.maintenance.diagnostics import chatty, count  # noqa: E402
from worker.retry import RetryRefused, retry_task  # noqa: E402

pytestmark = pytest.mark.integration


def _ended(store: ProgressStore, task_id: str) -> Any:
    rec = store.get_task_status(task_id)
    return rec if rec is not None and rec.status.is_terminal else None


def test_a_failed_task_shows_its_traceback_attempt_and_log_and_its_retry_is_linked_both_ways(
    worker_store: ProgressStore,
) -> None:
    failed = count.delay(n=5, fail_at=2).id
    wait_until(lambda: _ended(worker_store, failed), timeout=30, what="the failing task to end")
    talker = chatty.delay(lines=4, delay=0, note="password=hunter2").id
    wait_until(lambda: _ended(worker_store, talker), timeout=30, what="the chatty task to end")

    d = task_detail(worker_store, failed)
    assert d.task.status is TaskStatus.ERROR and d.arguments == {"n": 5, "delay": 0.0, "fail_at": 2, "symbol": None}
    assert d.error is not None and d.error.traceback is not None
    assert "Traceback" in d.error.traceback and "RuntimeError: failed at item 2" in d.error.traceback
    assert [(a.attempt, a.outcome) for a in d.attempts] == [(1, "error")] and d.attempts[0].worker.startswith("w1@")
    assert [e.status.value for e in d.timeline if e.kind != "progress"] == ["created", "running", "error"]

    logs = task_detail(worker_store, talker).logs
    mine = [line for line in logs if line.message.startswith("line ")]
    assert [line.message for line in mine] == [f"line {i} of 4 password=***" for i in range(1, 5)]
    assert {line.logger for line in mine} == {"tasks.maintenance.diagnostics", "progress.task"}
    assert all("hunter2" not in line.message for line in logs)

    retry = retry_task(worker_store, app, failed)
    wait_until(lambda: _ended(worker_store, retry), timeout=30, what="the retry to end")
    assert task_detail(worker_store, retry).retry_of == failed
    assert task_detail(worker_store, failed).retried_as == retry
    assert task_detail(worker_store, retry).arguments == d.arguments
    with pytest.raises(RetryRefused, match="only error or cancelled"):
        retry_task(worker_store, app, talker)  # completed: nothing to retry


def test_cancelling_a_parent_stops_its_running_and_queued_children_then_ends_the_parent(
    worker_store: ProgressStore,
) -> None:
    parent = worker_store.create_task("batch", 3).task_id
    worker_store.update_progress(parent, "running")
    kids = []
    for _ in range(3):  # the session worker runs two at a time: the third waits in the queue
        cid = worker_store.create_task("count", metadata={"parent_task_id": parent}).task_id
        count.apply_async(kwargs={"n": 100_000, "delay": 0.05}, task_id=cid)
        kids.append(cid)
    wait_until(lambda: sum(worker_store.require(k).status is TaskStatus.RUNNING for k in kids) == 2, timeout=30,
               what="two children running")

    cascade = cancel_tree(worker_store, parent, on_cancelled=app.control.revoke)

    assert sorted(cascade.children) == sorted(kids) and cascade.result.status is TaskStatus.CANCELLED
    results = [app.AsyncResult(k) for k in kids]
    # Each child's worker stops: the running ones at their next progress write, the queued one without running
    wait_until(lambda: all(r.state == "REVOKED" for r in results), timeout=30, what="every child revoked in Celery")
    assert all(worker_store.require(k).progress.current < 100_000 for k in kids)


class EventState:
    """Celery's event state (what Flower builds its view from), fed by a receiver thread."""

    def __init__(self) -> None:
        self.state = app.events.State()
        #: every event received, in order
        self.received: list[dict[str, Any]] = []
        self._receiver: Any = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with app.connection_for_read() as conn:
            self._receiver = app.events.Receiver(conn, handlers={"*": self._event})
            self._receiver.capture(limit=None, timeout=None, wakeup=True)

    def _event(self, event: dict[str, Any]) -> None:
        self.received.append(event)
        self.state.event(event)

    def of(self, task_id: str, kind: str) -> list[dict[str, Any]]:
        """The events of this type received for the task."""
        return [e for e in self.received if e.get("uuid") == task_id and e.get("type") == kind]

    def __enter__(self) -> EventState:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._receiver is not None:
            self._receiver.should_stop = True
        self._thread.join(timeout=5)

    def task_state(self, task_id: str) -> str | None:
        """The task's state as the events tell it (None before its first event)."""
        task = self.state.tasks.get(task_id)
        return None if task is None else str(task.state)


@pytest.fixture
def events(celery_worker: subprocess.Popen[bytes]) -> Iterator[EventState]:
    """A running event receiver, warmed up until it has seen a task's events."""
    with EventState() as ev:
        def warm() -> bool:
            # Events sent before the receiver listens are lost for good: warm-up tasks until one is seen.
            res = count.delay(n=1)
            res.get(timeout=30)
            return _quiet_wait(lambda: ev.task_state(res.id) == "SUCCESS", 3)

        wait_until(warm, timeout=60, interval=0.1, what="the receiver to see a warm-up task")
        yield ev


def _quiet_wait(predicate: Any, timeout: float) -> bool:
    try:
        wait_until(predicate, timeout=timeout)
    except AssertionError:
        return False
    return True


def test_a_cooperatively_cancelled_task_ends_revoked_in_flowers_event_state(
    events: EventState, worker_store: ProgressStore,
) -> None:
    task_id = count.delay(n=100_000, delay=0.05).id
    wait_until(lambda: events.task_state(task_id) == "PROGRESS", timeout=30, what="PROGRESS in the event state")

    worker_store.cancel_task(task_id, reason="cancelled by ops")

    wait_until(lambda: events.task_state(task_id) == "REVOKED", timeout=30, what="REVOKED in the event state")
    assert app.AsyncResult(task_id).state == "REVOKED"


def test_flower_gets_at_most_one_progress_event_a_second_however_often_the_record_is_written(
    events: EventState, worker_store: ProgressStore,
) -> None:
    # The suite's worker writes progress every 0.2 s: about 12 writes in this task's 2.5 s, 3 seconds of events.
    res = count.delay(n=50, delay=0.05)
    res.get(timeout=30)
    wait_until(lambda: events.task_state(res.id) == "SUCCESS", timeout=10, what="the end in the event state")

    progress = events.of(res.id, "task-progress")
    written = worker_store.redis.xlen(worker_store.keys.events(res.id))  # one stream entry per record write
    assert written >= 8, written
    assert 1 <= len(progress) <= 4, [e["current"] for e in progress]
    gaps = [b["timestamp"] - a["timestamp"] for a, b in itertools.pairwise(progress)]
    assert all(g >= 0.9 for g in gaps), gaps


def test_arguments_too_big_or_too_deep_for_the_record_are_left_out_saying_why() -> None:
    from tracking.enqueue_metadata import MAX_ARGUMENT_BYTES, enqueue_metadata

    deep: dict[str, Any] = {}
    cur = deep
    for _ in range(40):
        cur["a"] = {}
        cur = cur["a"]
    assert enqueue_metadata({"n": 1, "parent_task_id": "p1"}, retry_of="t0", owner="alice") == {
        "args": {"n": 1, "parent_task_id": "p1"}, "parent_task_id": "p1", "retry_of": "t0", "user_id": "alice"}
    assert "bytes" in enqueue_metadata({"blob": "x" * MAX_ARGUMENT_BYTES})["args_omitted"]
    assert "nested deeper" in enqueue_metadata({"deep": deep})["args_omitted"]


def test_with_the_json_format_a_tasks_log_lines_are_json_objects_carrying_its_id(
    progress_redis: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io
    import json
    import logging

    from base.settings import get_settings
    from worker.task_logs import _format_worker_logs, install_task_log_handler

    monkeypatch.setenv("TASKRUNNER_LOG_FORMAT", "json")
    get_settings.cache_clear()
    stream = io.StringIO()
    logger = logging.getLogger("tasks.maintenance.diagnostics")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    root_before = list(logging.getLogger().handlers)
    try:
        _format_worker_logs(logger=logger)  # what Celery's after_setup_logger signal does in a worker
        install_task_log_handler()
        res = chatty.apply(kwargs={"lines": 3, "delay": 0})  # runs the task here, through Celery's tracer
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)
        logging.getLogger().handlers[:] = root_before
        monkeypatch.delenv("TASKRUNNER_LOG_FORMAT")
        get_settings.cache_clear()
    assert [(x["task_id"], x["level"], x["message"].strip()) for x in lines] == [
        (res.id, "WARNING", "line 1 of 3"), (res.id, "WARNING", "line 3 of 3")]
    store = ProgressStore(progress_redis)
    assert [line.message.strip() for line in task_detail(store, res.id).logs] == [
        "line 1 of 3", "line 2 of 3", "line 3 of 3"]
