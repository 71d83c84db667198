"""Bad days a worker must survive: garbage on a queue, Redis out of memory, a poison pill, a hard time limit.

Each test starts its own real worker on the module's private Redis (tests/chaos/conftest.py) and injects one fault
the way it happens in production: raw LPUSHes onto a queue's list, `CONFIG SET maxmemory` with noeviction, a task
whose process dies on every run, a task that outlives its hard time limit. The figures go to chaos.json.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import pytest
import redis
from celery import states

from ops.broker_view import BrokerView
from progress import TaskStatus
from tests.chaos.conftest import Cluster, Figures
from tests.helpers import wait_until
from tracking.dead_letters import configured_dead_letters

pytestmark = pytest.mark.chaos


def _status(cluster: Cluster, task_id: str) -> TaskStatus | None:
    rec = cluster.store.get_task_status(task_id)
    return None if rec is None else rec.status


def _published_message(cluster: Cluster, queue: str, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    """A genuine Celery message for `count`, taken off `queue` (which no worker consumes) before anyone runs it."""
    res = cluster.app.send_task("tasks.diagnostics.count", kwargs=kwargs, queue=queue)
    with BrokerView.open(cluster.app) as view:
        for name in view.queue_lists(queue):
            raw = view.client.rpop(name)
            if raw:
                return res.id, json.loads(raw)
    raise AssertionError(f"the message published to {queue} is not in its lists")


def test_garbage_on_a_queue_is_dead_lettered_and_the_worker_keeps_consuming_without_rerunning_its_task(
    cluster: Cluster, figures: Figures
) -> None:
    cluster.start("garbage", "backtest", concurrency=2)
    proc = cluster.workers["garbage"]
    store = cluster.store
    letters = configured_dead_letters(store.redis)
    before = letters.count()
    in_flight = cluster.app.send_task("tasks.diagnostics.count", kwargs={"n": 20, "delay": 0.1}, queue="backtest")
    wait_until(lambda: _status(cluster, in_flight.id) is TaskStatus.RUNNING, timeout=30, what="the task to run")

    # A real message with its `properties` torn off still names its task: that task must end `error`.
    named_id, message = _published_message(cluster, "notifications", n=1)
    del message["properties"]
    # A well-formed message for a task this worker does not have: Celery's consumer drops it; it is kept here.
    unknown_id, unknown = _published_message(cluster, "notifications", n=1)
    unknown["headers"]["task"] = "tasks.diagnostics.no_such_task"
    garbage = [b"\xff\xfe not json {", b"[1, 2, 3]", b'"just a string"', json.dumps(message).encode(),
               json.dumps(unknown).encode()]
    with BrokerView.open(cluster.app) as view:
        target = view.queue_lists("backtest")[0]
        for item in garbage:
            view.client.lpush(target, item)

    wait_until(lambda: letters.count() - before == len(garbage), timeout=30, what="every garbage item dead-lettered")
    after = cluster.app.send_task("tasks.diagnostics.count", kwargs={"n": 2}, queue="backtest")
    wait_until(lambda: _status(cluster, after.id) is TaskStatus.COMPLETED and
               _status(cluster, in_flight.id) is TaskStatus.COMPLETED, timeout=30, what="both tasks to complete")

    reasons = [d.reason for d in letters.latest(len(garbage))]
    named = store.require(named_id)
    running = store.require(in_flight.id)
    figures.add("garbage", tasks_run=2, faults_injected=len(garbage), tasks_lost=0,
                messages_dead_lettered=letters.count() - before, worker_exits=0 if proc.poll() is None else 1,
                in_flight_task_runs=running.attempt)
    assert proc.poll() is None, "the worker exited"
    assert running.attempt == 1 and running.results == {"counted": 20, "symbol": None}, "the in-flight task reran"
    assert any(r.startswith("not JSON") for r in reasons)
    assert "not a kombu message: a JSON array" in reasons and "not a kombu message: a JSON string" in reasons
    assert "not a kombu message: no `properties` object" in reasons
    assert named.status is TaskStatus.ERROR and named.error_message == "not a kombu message: no `properties` object"
    assert cluster.app.AsyncResult(named_id).state == states.FAILURE
    assert "unknown task 'tasks.diagnostics.no_such_task': not registered in this worker" in reasons
    assert store.require(unknown_id).status is TaskStatus.ERROR
    assert cluster.app.AsyncResult(unknown_id).state == states.FAILURE
    assert {d.task_id for d in letters.latest(len(garbage)) if d.task_id} == {named_id, unknown_id}
    cluster.stop("garbage")


def test_redis_out_of_memory_is_waited_out_and_every_task_completes_on_the_same_workers(
    cluster: Cluster, figures: Figures
) -> None:
    from ops.health import collect_health
    from worker import app

    cluster.start("oom", "market_data", concurrency=2)
    proc = cluster.workers["oom"]
    pids = {proc.pid, *cluster.pool_children("oom")}
    store = cluster.store
    expected: dict[str, dict[str, Any]] = {}
    running = cluster.app.send_task("tasks.diagnostics.count", kwargs={"n": 30, "delay": 0.1, "symbol": "3000.T"},
                                    queue="market_data")
    expected[running.id] = {"counted": 30, "symbol": "3000.T"}
    wait_until(lambda: _status(cluster, running.id) is TaskStatus.RUNNING, timeout=30, what="the task to run")
    # A message that reaches the queue just as memory runs out: the idle pool slot's BRPOP pops it at once, and
    # Redis then refuses to record its delivery. It is a genuine message, moved there by a script whose first
    # write frees memory (Redis lets a script that has written go on writing).
    held_id, held = _published_message(cluster, "notifications", n=3, symbol="3001.T")
    expected[held_id] = {"counted": 3, "symbol": "3001.T"}
    admin = redis.Redis.from_url(f"{cluster.base}/1")
    admin.set("chaos-oom-pad", "x" * 1000)
    with BrokerView.open(cluster.app) as view:
        target = view.queue_lists("market_data")[0]

    admin.config_set("maxmemory", 1)  # every write is refused from now on (the server runs with noeviction)
    try:
        with cluster.app.connection_for_write() as conn, pytest.raises(Exception, match="out of memory") as refused:
            app.send_task("tasks.diagnostics.count", kwargs={"n": 1}, queue="market_data", connection=conn)
        admin.eval("redis.call('DEL', KEYS[1]); return redis.call('LPUSH', KEYS[2], ARGV[1])", 2, "chaos-oom-pad",
                   target, json.dumps(held))
        time.sleep(4)  # the running task reaches its end, the held message waits, while Redis refuses writes
        during = {t: _status(cluster, t) for t in expected}
        health = collect_health(cluster.app, store, ["market_data"], timeout=0.5)
        alive_during = proc.poll() is None
    finally:
        admin.config_set("maxmemory", 0)
    for i in range(4):  # published once memory frees: the same workers run them
        res = cluster.app.send_task("tasks.diagnostics.count", kwargs={"n": 3, "symbol": f"{3010 + i}.T"},
                                    queue="market_data")
        expected[res.id] = {"counted": 3, "symbol": f"{3010 + i}.T"}

    wait_until(lambda: all(_status(cluster, t) is TaskStatus.COMPLETED for t in expected), timeout=120,
               what="every task to complete after memory freed")
    wrong = {t: (r.status.value, r.results) for t in expected if (r := store.require(t)).results != expected[t]}

    def celery_results_wrong() -> dict[str, str]:
        return {t: cluster.app.AsyncResult(t).state for t in expected
                if cluster.app.AsyncResult(t).result != expected[t]}

    # Celery stores its result after the record ends; a result write refused during the OOM is retried with backoff
    # (up to 2 s between tries), so it may land a moment after the records: wait for it, within that retry budget.
    with contextlib.suppress(AssertionError):
        wait_until(lambda: not celery_results_wrong(), timeout=30, what="Celery's results after memory freed")
    celery_wrong = celery_results_wrong()
    pids_after = {proc.pid, *cluster.pool_children("oom")}
    figures.add("oom", tasks_run=len(expected), faults_injected=1, tasks_lost=len(wrong),
                celery_results_wrong=len(celery_wrong), workers_restarted=0 if pids_after == pids else 1,
                publish_error=str(refused.value)[:120])
    assert alive_during and proc.poll() is None, "the worker exited"
    # Nothing failed during the OOM, and the held message did not run before its delivery could be recorded.
    assert TaskStatus.ERROR not in during.values() and during[held_id] is TaskStatus.CREATED, during
    assert wrong == {} and celery_wrong == {}
    assert store.require(held_id).attempt == 1 and store.require(running.id).attempt == 1
    assert pids_after == pids, "a worker process was replaced"
    assert health.redis_memory is not None and health.redis_memory.full and health.status == "unhealthy"
    assert any("maxmemory" in p for p in health.problems)
    assert cluster.drained(), "messages left in the broker after every task ended"
    cluster.stop("oom")


def test_a_poison_pill_dies_a_bounded_number_of_times_then_ends_in_error_and_other_tasks_never_notice(
    cluster: Cluster, figures: Figures
) -> None:
    cluster.start("pill", "ai_analysis", concurrency=1, extra_env={"TASKRUNNER_MAX_WORKER_DEATHS": "3"})
    proc = cluster.workers["pill"]
    store = cluster.store
    letters = configured_dead_letters(store.redis)
    before = letters.count()
    pill = cluster.app.send_task("tasks.diagnostics.crash", kwargs={"how": "kill"}, queue="ai_analysis")
    other = cluster.app.send_task("tasks.diagnostics.count", kwargs={"n": 3}, queue="ai_analysis")

    wait_until(lambda: _status(cluster, pill.id) is TaskStatus.ERROR, timeout=60, what="the poison pill to end")
    wait_until(lambda: _status(cluster, other.id) is TaskStatus.COMPLETED, timeout=30, what="the other task")
    rec = store.require(pill.id)
    meta = cluster.app.AsyncResult(pill.id)
    wait_until(lambda: meta.state in states.READY_STATES, timeout=10, what="Celery's end of the pill")
    dead = [d for d in letters.latest(letters.count() - before) if d.task_id == pill.id]
    figures.add("poison_pill", tasks_run=2, faults_injected=rec.attempt, tasks_lost=0, deaths_before_error=rec.attempt,
                error=rec.error_message)
    assert rec.error_message == "worker process died 3 times (signal 9 (SIGKILL))"
    assert rec.attempt == 3
    assert meta.state == states.FAILURE and "worker process died 3 times" in str(meta.result)
    assert len(dead) == 1 and dead[0].source == "worker_deaths" and pill.id in dead[0].raw
    assert proc.poll() is None
    assert cluster.drained(), "the pill's message is still in the broker"
    cluster.stop("pill")


def test_a_hard_time_limit_ends_the_record_naming_the_limit_long_before_the_stale_sweep_would(
    cluster: Cluster, figures: Figures
) -> None:
    # No soft limit (0): the task gets no warning, only the kill, as a task stuck in C code or ignoring its soft limit.
    cluster.start("limit", "notifications", concurrency=1,
                  extra_env={"TASKRUNNER_TIME_LIMIT_S": "2", "TASKRUNNER_SOFT_TIME_LIMIT_S": "0",
                             "TASKRUNNER_STALE_AFTER_S": "300", "TASKRUNNER_HEARTBEAT_INTERVAL_S": "15"})
    store = cluster.store
    slow = cluster.app.send_task("tasks.diagnostics.count", kwargs={"n": 100, "delay": 0.1}, queue="notifications")
    wait_until(lambda: _status(cluster, slow.id) is TaskStatus.RUNNING, timeout=30, what="the task to run")
    started = time.monotonic()
    wait_until(lambda: _status(cluster, slow.id) is TaskStatus.ERROR, timeout=60, what="the record to end")
    seconds = time.monotonic() - started
    rec = store.require(slow.id)
    meta = cluster.app.AsyncResult(slow.id)
    wait_until(lambda: meta.state in states.READY_STATES, timeout=10, what="Celery's end of the task")
    figures.add("hard_limit", tasks_run=1, faults_injected=1, tasks_lost=0, hard_limit_s=2,
                seconds_from_running_to_error=round(seconds, 1))
    assert rec.error_message == "hard time limit of 2s exceeded"
    assert rec.attempt == 1 and meta.state == states.FAILURE
    cluster.stop("limit")
