"""The Celery integration through a real worker: lifecycle, PROGRESS state, errors, retries, cancel and pause."""

from __future__ import annotations

import pytest
import redis
from celery.result import AsyncResult

from progress import ProgressStore, TaskStatus
from tests.helpers import wait_until
from tracking.errors import InvalidTaskArguments
from worker import app, load_tasks

load_tasks()
from tasks.maintenance.diagnostics import count, flaky  # noqa: E402

pytestmark = pytest.mark.integration


def _status(store: ProgressStore, tid: str) -> TaskStatus | None:
    rec = store.get_task_status(tid)
    return None if rec is None else rec.status


def test_the_record_is_created_at_publish_then_runs_and_completes_with_results(worker_store: ProgressStore) -> None:
    res = count.delay(n=30, delay=0.01, symbol="7203.T")

    assert res.get(timeout=30) == {"counted": 30, "symbol": "7203.T"}
    events = list(worker_store.watch(res.id, after="0-0", timeout=5))
    assert events[0].kind == "created" and events[0].message == "queued"
    assert [e.status for e in events if e.kind == "status"][:1] == [TaskStatus.RUNNING]
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.COMPLETED and rec.symbol == "7203.T"
    assert (rec.task_type, rec.task_name) == ("count", count.name)
    assert rec.results == {"counted": 30, "symbol": "7203.T"} and rec.progress.current == 30
    assert rec.attempt == 1 and rec.worker and rec.metadata["queue"] == "ai_analysis"


def test_a_running_task_reads_progress_through_async_result(worker_store: ProgressStore) -> None:
    res = count.delay(n=60, delay=0.05)

    def progress_info() -> dict[str, object] | None:
        r = AsyncResult(res.id, app=app)
        return r.info if r.state == "PROGRESS" and isinstance(r.info, dict) and r.info.get("current") else None

    info = wait_until(progress_info, timeout=20, what="PROGRESS state with numbers")
    assert info["total"] == 60 and 0 < int(info["current"]) <= 60  # type: ignore[call-overload]
    assert "percentage" in info
    res.get(timeout=30)
    assert AsyncResult(res.id, app=app).state == "SUCCESS"


def test_a_failing_task_records_its_error(worker_store: ProgressStore) -> None:
    res = count.delay(n=10, fail_at=4)
    with pytest.raises(RuntimeError):
        res.get(timeout=30, propagate=True)
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.ERROR and rec.error_message == "RuntimeError: failed at item 4"
    assert rec.progress.current == 3


def test_invalid_arguments_fail_in_the_caller_before_anything_is_sent(worker_store: ProgressStore) -> None:
    with pytest.raises(InvalidTaskArguments) as err:
        count.delay(n=-5)
    assert err.value.errors[0]["field"] == "n"
    assert worker_store.get_tasks_list().pagination.total == 0


def test_invalid_arguments_sent_by_name_fail_at_once_without_retry_and_name_the_field(
    worker_store: ProgressStore,
) -> None:
    res = app.send_task(count.name, kwargs={"n": "many"})
    with pytest.raises(Exception, match="n: Input should be a valid integer"):
        res.get(timeout=30)
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.ERROR and rec.attempt == 1
    assert rec.processing_details["validation_errors"][0]["field"] == "n"


def test_transient_failures_retry_with_backoff_and_the_record_shows_each_attempt(worker_store: ProgressStore) -> None:
    res = flaky.delay(failures=2)
    assert res.get(timeout=30) == {"attempts": 3}
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.COMPLETED and rec.attempt == 3
    assert rec.last_error == "TransientError: transient failure on attempt 2"


def test_cancelling_a_running_task_stops_it_as_cancelled(worker_store: ProgressStore) -> None:
    res = count.delay(n=400, delay=0.02)
    wait_until(lambda: _status(worker_store, res.id) is TaskStatus.RUNNING, what="task running")

    worker_store.cancel_task(res.id)

    wait_until(lambda: AsyncResult(res.id, app=app).state == "REVOKED", timeout=20, what="REVOKED state")
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.CANCELLED and rec.progress.current < 400


def test_a_task_cancelled_while_queued_never_runs(worker_store: ProgressStore) -> None:
    blocker = [count.apply_async(kwargs={"n": 60, "delay": 0.05}, queue="backtest") for _ in range(2)]
    wait_until(lambda: all(_status(worker_store, b.id) is TaskStatus.RUNNING for b in blocker), what="busy worker")
    queued = count.apply_async(kwargs={"n": 5}, queue="backtest")
    worker_store.cancel_task(queued.id)
    for b in blocker:
        worker_store.cancel_task(b.id)

    wait_until(lambda: AsyncResult(queued.id, app=app).state == "REVOKED", timeout=30, what="queued task skipped")
    rec = worker_store.require(queued.id)
    assert rec.status is TaskStatus.CANCELLED and rec.start_time is None and rec.progress.current == 0


def test_revoking_a_queued_task_marks_its_record_cancelled(worker_store: ProgressStore) -> None:
    blocker = [count.apply_async(kwargs={"n": 40, "delay": 0.05}, queue="backtest") for _ in range(2)]
    wait_until(lambda: all(_status(worker_store, b.id) is TaskStatus.RUNNING for b in blocker), what="busy worker")
    queued = count.apply_async(kwargs={"n": 5}, queue="backtest")
    app.control.revoke(queued.id)

    wait_until(lambda: _status(worker_store, queued.id) is TaskStatus.CANCELLED, timeout=30, what="revoked record")
    for b in blocker:
        b.get(timeout=30)


def test_a_paused_task_waits_and_finishes_after_resume(worker_store: ProgressStore) -> None:
    res = count.delay(n=100, delay=0.02)
    wait_until(lambda: _status(worker_store, res.id) is TaskStatus.RUNNING, what="task running")

    worker_store.pause_task(res.id)
    wait_until(lambda: (r := worker_store.require(res.id)).updated_at and r.status is TaskStatus.PAUSED, what="paused")
    held = worker_store.require(res.id).progress.current
    assert not res.ready()

    worker_store.resume_task(res.id)
    assert res.get(timeout=30) == {"counted": 100, "symbol": None}
    assert held < 100 and worker_store.require(res.id).status is TaskStatus.COMPLETED


def test_ten_thousand_updates_end_exact_with_writes_bounded_by_the_throttle(
    worker_store: ProgressStore, redis_base: str
) -> None:
    stats = redis.Redis.from_url(f"{redis_base}/0")

    def evalsha_calls() -> int:
        return int(stats.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))

    before = evalsha_calls()
    res = count.delay(n=10_000)
    res.get(timeout=60)
    writes = evalsha_calls() - before

    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.COMPLETED and rec.progress.current == 10_000 and rec.progress.percentage == 100
    elapsed_s = rec.processing_time_ms / 1000  # type: ignore[operator]
    interval = 0.2  # TASKRUNNER_PROGRESS_INTERVAL_S in tests
    # create at publish + start + one write per interval + the first update + the final write
    assert writes <= 4 + elapsed_s / interval + 1, (writes, elapsed_s)
