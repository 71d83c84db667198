"""Tracking is a library: installed on one app it records that app's tasks, and leaves every other app alone."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from kombu.exceptions import OperationalError

from progress import ProgressStore, TaskStatus
from tests.helpers import script_replies
from tracking import ProgressTask, heartbeat, install
from tracking.enqueue_metadata import OWNER_HEADER
from worker import app as project_app
from worker import load_tasks
from worker.store import progress_store

ROOT = Path(__file__).resolve().parents[2]
TRACKED_NAME = "tasks.diagnostics.count"  # a ProgressTask of the project's app


@pytest.fixture
def other_app(redis_base: str) -> Iterator[Celery]:
    """An unrelated app in the same process, on its own broker database, that nobody installed tracking on."""
    load_tasks()
    app = Celery("unrelated", broker=f"{redis_base}/3", backend=f"{redis_base}/3", set_as_current=False)
    yield app
    app.close()


def test_a_second_unrelated_app_in_the_same_process_is_left_alone(
    other_app: Celery, progress_redis: redis.Redis
) -> None:
    # Given: the project's app is tracked, and an unrelated app has a plain task under a name the project tracks
    assert isinstance(project_app.tasks[TRACKED_NAME], ProgressTask)
    seen_running: list[set[str]] = []

    @other_app.task(name=TRACKED_NAME)
    def lookalike(n: int) -> int:
        seen_running.append(heartbeat.running_tasks())
        return n * 2

    # When: it publishes by name and by object, and runs its task
    by_name = other_app.send_task(TRACKED_NAME, kwargs={"n": 1})
    by_object = lookalike.delay(n=2)
    ran = lookalike.apply(kwargs={"n": 3})

    # Then: nothing of it is recorded, its task is its own, and no tracking ran around it
    store = progress_store()
    assert store.get_task_status(by_name.id) is None and store.get_task_status(by_object.id) is None
    assert store.get_task_status(ran.id) is None and sum(store.summary().values()) == 0
    assert not isinstance(lookalike, ProgressTask) and ran.get() == 6
    assert seen_running == [set()]
    # ...while the project's app still records its own publish
    tracked = project_app.tasks[TRACKED_NAME].apply_async(kwargs={"n": 1}, queue="backtest")
    rec = store.require(tracked.id)
    assert rec.status is TaskStatus.CREATED and rec.metadata["queue"] == "ai_analysis"


def test_an_app_installed_with_its_own_store_records_there_and_nowhere_else(
    other_app: Celery, redis_client: redis.Redis, progress_redis: redis.Redis
) -> None:
    own_store = ProgressStore(redis_client)
    install(other_app, store=own_store)

    @other_app.task(base=ProgressTask, bind=True, name="unrelated.job")
    def job(self: Any, n: int) -> int:
        return n

    sent = job.delay(n=1)

    rec = own_store.require(sent.id)
    assert rec.status is TaskStatus.CREATED and rec.task_name == "unrelated.job"
    assert rec.metadata["queue"] == "celery"  # the routing key it was published with
    assert progress_store().get_task_status(sent.id) is None


def test_importing_the_integration_builds_no_celery_app_and_connects_no_handler() -> None:
    probe = (
        "import celery._state as s, celery.signals as sig\n"
        "import tracking, tracking.app_class, tracking.bad_messages, tracking.heartbeat, tracking.request, "
        "tracking.signals, tracking.transport\n"
        "apps = list(s._get_active_apps())\n"
        "assert apps == [], apps\n"
        "assert not sig.before_task_publish.receivers and not sig.task_prerun.receivers, 'handlers connected'\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.integration
def test_the_own_app_example_runs_a_tracked_task_on_the_embedded_redis_and_exits_0(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TASKRUNNER_PROGRESS_URL")}
    env["TASKRUNNER_HOME"] = str(tmp_path)  # its own embedded Redis, started and stopped by the example

    done = subprocess.run([sys.executable, "examples/own_app.py"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert '"status": "completed"' in done.stdout and '"current": 1000' in done.stdout
    assert not (tmp_path / "redis" / "server.json").exists()  # the Redis it started is stopped again


def test_a_worker_starts_a_task_the_publisher_recorded_in_one_script_call(
    other_app: Celery, redis_client: redis.Redis, progress_redis: redis.Redis
) -> None:
    # Given a task published (and so recorded) with a symbol, a parent batch and an owner
    own_store = ProgressStore(redis_client)
    install(other_app, store=own_store)

    @other_app.task(base=ProgressTask, bind=True, name="unrelated.fetch")
    def fetch(self: Any, symbol: str, parent_task_id: str) -> str:
        return symbol

    kwargs = {"symbol": "7203.T", "parent_task_id": "batch-1"}
    sent = fetch.apply_async(kwargs=kwargs, headers={OWNER_HEADER: "alice"})
    assert own_store.require(sent.id).metadata["user_id"] == "alice"
    # When a worker runs it (here in this process, on a store that never moved it)
    replies = script_replies(own_store)
    fetch.apply(kwargs=kwargs, task_id=sent.id, headers={OWNER_HEADER: "alice"})
    # Then no write had to ask for the record's index keys: the start was one call, as was the end
    assert "keys" not in replies and replies, replies
    assert own_store.require(sent.id).status is TaskStatus.COMPLETED
    done = own_store.get_tasks_list(status="completed", symbol="7203.T")
    assert [t.task_id for t in done.tasks] == [sent.id]


def test_a_task_whose_record_was_lost_recreates_it_through_a_redis_outage_at_its_start(
    other_app: Celery, redis_client: redis.Redis, progress_redis: redis.Redis
) -> None:
    # Given a store whose first creation meets a dropped connection (a failover lost the publisher's record, and
    # Redis is still settling when the worker starts the task)
    class Settling(ProgressStore):
        drops = 1

        def create_task(self, *args: Any, **kwargs: Any) -> Any:
            if self.drops:
                self.drops -= 1
                raise redis.ConnectionError("Connection reset by peer")
            return super().create_task(*args, **kwargs)

    store = Settling(redis_client)
    install(other_app, store=store)

    @other_app.task(base=ProgressTask, bind=True, name="unrelated.settling")
    def job(self: Any, n: int) -> int:
        return n

    # When the worker starts a task that has no record
    ran = job.apply(kwargs={"n": 7}, task_id="lost-record-1")
    # Then the creation was waited out: the task ran, and its record exists and ended
    assert store.drops == 0 and ran.get() == 7
    assert store.require("lost-record-1").status is TaskStatus.COMPLETED


def test_a_task_whose_progress_events_cannot_be_sent_still_completes(
    redis_base: str, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an app whose events cannot be published (the broker refuses them), while its progress store and results
    # are up. The refusal is raised where kombu raises it; a real outage (each connection attempt then takes
    # redis-py's retries, seconds) is the chaos suite's (tests/chaos/test_chaos_redis_restart.py).
    app = Celery("events-refused", broker=f"{redis_base}/3", backend=f"{redis_base}/3", set_as_current=False)
    app.conf.worker_send_task_events = True
    store = ProgressStore(redis_client)
    install(app, store=store)
    sent: list[dict[str, Any]] = []

    @app.task(base=ProgressTask, bind=True, name="events_refused.job")
    def job(self: Any, n: int) -> int:
        for i in range(1, n + 1):
            self.progress.update(i, total=n)
            self.progress.flush()  # a real write each time: the first one sends task-progress
        return n

    def refused(self: Any, type_: str, retry: bool = True, **fields: Any) -> None:
        sent.append({"type": type_, "retry": retry})
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(type(app.tasks["events_refused.job"]), "send_event", refused)  # this task's own class
    # When it runs and reports progress
    ran = job.apply(kwargs={"n": 3}, task_id="events-refused-1")
    # Then the refusal costs it nothing: it completed, in its record and in Celery's result; the event was tried
    # once, without waiting out an outage
    assert ran.get() == 3
    record = store.require("events-refused-1")
    assert record.status is TaskStatus.COMPLETED and record.progress.current == 3
    assert sent == [{"type": "task-progress", "retry": False}]
    app.close()
