"""Real workers die mid-task (SIGKILL) and health sees a stopped queue; nothing is left `running`.

The tests own the `backtest` queue: the session worker's consumer of it is cancelled for the module (and given
back after), so only the two workers started here (ops_a, ops_b, one process each) can take the tasks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from base.queues import QUEUE_NAMES
from ops.broker_view import BrokerView
from ops.stale_sweep import sweep_stale
from progress import ProgressStore, TaskStatus
from tests.conftest import ROOT, start_worker, stop_worker
from tests.helpers import wait_until
from worker import app, load_tasks

load_tasks()
from tasks.maintenance.diagnostics import count  # noqa: E402

pytestmark = pytest.mark.integration

QUEUE = "backtest"
NAMES = ("ops_a", "ops_b")
# Heartbeats every 0.3 s, so a sweep bound of 1.5 s holds several of them.
WORKER_ENV = {"TASKRUNNER_HEARTBEAT_INTERVAL_S": "0.3"}


def _consumers(queue: str) -> list[str]:
    replies = app.control.inspect(timeout=1.0).active_queues() or {}
    return [w for w, qs in replies.items() if any(q.get("name") == queue for q in qs or [])]


@pytest.fixture(scope="module")
def own_queue(celery_worker: subprocess.Popen[bytes]) -> Iterator[None]:
    """Takes `backtest` away from every other worker for the module, then gives it back."""
    others = _consumers(QUEUE)
    if others:
        app.control.cancel_consumer(QUEUE, destination=others, reply=True, timeout=2.0)
        wait_until(lambda: not _consumers(QUEUE), timeout=10, what="backtest to have no consumer")
    yield
    if others:
        app.control.add_consumer(QUEUE, destination=others, reply=True, timeout=2.0)


@pytest.fixture(scope="module")
def pool(own_queue: None) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """The test's workers by name; tests restart the ones an earlier test killed (see `_ensure`)."""
    procs: dict[str, subprocess.Popen[bytes]] = {}
    yield procs
    for proc in procs.values():
        stop_worker(proc)


def _ensure(pool: dict[str, subprocess.Popen[bytes]]) -> dict[str, subprocess.Popen[bytes]]:
    for name in NAMES:
        if name not in pool or pool[name].poll() is not None:
            pool[name] = start_worker(QUEUE, name=name, concurrency=1, extra_env=WORKER_ENV)
    return pool


def _owner(pool: dict[str, subprocess.Popen[bytes]], worker: str) -> str:
    return next(name for name in pool if worker.startswith(f"{name}@"))


def _running_attempt(store: ProgressStore, tid: str, attempt: int) -> str:
    """Waits until the task runs its `attempt`-th attempt on one of our workers; returns that worker's node name."""
    def running() -> str:
        rec = store.get_task_status(tid)
        if rec is None or rec.status is not TaskStatus.RUNNING or rec.attempt != attempt:
            return ""
        return rec.worker or ""
    return wait_until(running, timeout=30, what=f"attempt {attempt} of {tid} to run")


@pytest.mark.chaos  # kills processes: in `make chaos`, run by CI after `make test`
def test_a_task_whose_worker_process_is_killed_runs_again_and_completes(
    pool: dict[str, subprocess.Popen[bytes]], worker_store: ProgressStore
) -> None:
    _ensure(pool)
    res = count.apply_async(kwargs={"n": 8, "delay": 0.5}, queue=QUEUE)
    node = _running_attempt(worker_store, res.id, 1)
    # The heartbeat thread refreshes the task between its progress writes (score newer than the record's write).
    beats = worker_store.keys.heartbeats()

    def refreshed_between_writes() -> bool:
        updated = worker_store.require(res.id).updated_at
        last_write_ms = round(updated.timestamp() * 1000) if updated else 0
        return (worker_store.redis.zscore(beats, res.id) or 0) > last_write_ms
    wait_until(refreshed_between_writes, timeout=10, what="a heartbeat newer than the last progress write")

    # When the pool process running it is killed (the OOM killer's way)...
    def pool_process() -> int:
        active = app.control.inspect(destination=[node], timeout=1.0).active() or {}
        return next((int(t["worker_pid"]) for t in active.get(node, []) if t["id"] == res.id), 0)
    child = wait_until(pool_process, timeout=20, what="the pool process running the task")
    assert child != pool[_owner(pool, node)].pid
    os.kill(child, signal.SIGKILL)

    # ...the message is requeued (acks_late + reject_on_worker_lost) and a second attempt completes it.
    assert res.get(timeout=60) == {"counted": 8, "symbol": None}
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.COMPLETED and rec.attempt == 2 and rec.results["counted"] == 8
    assert worker_store.redis.zscore(beats, res.id) is None


@pytest.mark.chaos  # kills processes: in `make chaos`, run by CI after `make test`
def test_a_task_whose_whole_worker_is_killed_is_requeued_by_the_sweep_and_completes(
    pool: dict[str, subprocess.Popen[bytes]], worker_store: ProgressStore
) -> None:
    _ensure(pool)
    res = count.apply_async(kwargs={"n": 6, "delay": 0.5}, queue=QUEUE)
    node = _running_attempt(worker_store, res.id, 1)
    victim = _owner(pool, node)

    # The machine is lost: the worker and its pool die at once, the message stays unacknowledged in the broker.
    stop_worker(pool[victim], signal.SIGKILL)

    def swept() -> list[str]:
        with BrokerView.open(app) as broker:
            report = sweep_stale(worker_store, broker, stale_after_s=1.5, queues=QUEUE_NAMES)
        assert report.lost == [], "a task whose message is still in the broker must not be declared lost"
        return report.requeued

    assert wait_until(swept, timeout=30, interval=0.3, what="the sweep to requeue the lost task") == [res.id]
    survivor = next(n for n in NAMES if n != victim)
    assert _running_attempt(worker_store, res.id, 2).startswith(f"{survivor}@")
    assert res.get(timeout=60) == {"counted": 6, "symbol": None}
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.COMPLETED and rec.attempt == 2
    assert rec.last_error is not None and rec.last_error.startswith("worker lost: no heartbeat since")
    assert worker_store.summary()["running"] == 0


def _health() -> tuple[int, dict[str, object]]:
    """Runs `taskrunner health` as an operator would; its exit status and JSON."""
    done = subprocess.run([sys.executable, "-m", "taskrunner.cli", "health"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False, env={**os.environ, "TASKRUNNER_INSPECT_TIMEOUT_S": "1.0"})
    return done.returncode, json.loads(done.stdout)


def test_health_reports_a_queue_whose_workers_stopped_as_unhealthy(
    pool: dict[str, subprocess.Popen[bytes]], worker_store: ProgressStore
) -> None:
    _ensure(pool)
    code, doc = _health()
    assert code == 0 and doc["status"] == "healthy", doc
    queues = doc["queues"]
    assert isinstance(queues, dict)
    assert sorted(w.split("@")[0] for w in queues[QUEUE]["workers"]) == sorted(NAMES)
    assert set(queues) == set(QUEUE_NAMES) and all(q["depth"] == 0 for q in queues.values())
    deps = doc["dependencies"]
    assert isinstance(deps, dict) and deps["redis"]["status"] == "connected" and deps["broker"]["status"] == "connected"
    for key in ("version", "active_tasks", "total_tasks_today", "memory_usage"):
        assert key in doc

    for name in NAMES:
        stop_worker(pool[name])
    code, doc = _health()

    assert code == 1 and doc["status"] == "unhealthy"
    queues = doc["queues"]
    assert isinstance(queues, dict)
    assert queues[QUEUE] == {"status": "no_workers", "workers": [], "depth": 0}
    assert all(queues[q]["status"] == "ok" for q in QUEUE_NAMES if q != QUEUE)
    assert doc["problems"] == [f"queue {QUEUE} has no live worker"]
