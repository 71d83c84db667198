"""RabbitMQ as the broker, against a real node: depths, health, the sweep, redelivery after a SIGKILL, priorities
in the same order as on Redis, and the demo's task families. Results and progress stay on the session Redis.

The tests without a consumer come first (messages must stay in their queues); the module's worker, consuming every
queue, starts with the first test that asks for it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
import redis
from celery import Celery

from base.queues import ALL_QUEUES, QUEUE_NAMES, QUEUES
from ops.broker_view import BrokerView
from ops.stale_sweep import sweep_lost_messages, sweep_stale
from progress import ProgressStore, TaskStatus
from taskrunner.processes import stop_process_group
from tests.brokers import ROOT, start_broker_worker
from tests.helpers import wait_until
from tests.rabbitmq.conftest import broker_app, broker_env

pytestmark = pytest.mark.integration
STALE_S = 5.0


@pytest.fixture(scope="module")
def amqp(rabbitmq_url: str, redis_base: str) -> Iterator[Celery]:
    """This process's app on the RabbitMQ broker."""
    app = broker_app(rabbitmq_url, redis_base)
    yield app
    app.close()


@pytest.fixture
def records(progress_redis: redis.Redis) -> ProgressStore:
    """The progress store the workers write to (the session's progress database, emptied)."""
    from worker.store import progress_store

    return progress_store()


def _purge(app: Celery) -> None:
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for q in app.amqp.queues.values():
            q.bind(channel).declare()
            q.bind(channel).purge()


def _health(rabbitmq_url: str, redis_base: str, *queues: str) -> tuple[int, dict[str, object]]:
    env = {**os.environ, **broker_env(rabbitmq_url, redis_base)}
    done = subprocess.run([sys.executable, "-m", "taskrunner.cli", "health", "--timeout", "2",
                           "--queues", ",".join(queues or QUEUE_NAMES)],
                          check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_queue_depths_on_rabbitmq_come_from_a_passive_declare(amqp: Celery) -> None:
    _purge(amqp)
    for _ in range(3):
        amqp.send_task("tasks.diagnostics.noop", queue="backtest")
    amqp.send_task("tasks.diagnostics.noop", queue="notifications")

    with BrokerView.open(amqp) as view:
        view.ping()
        assert view.transport == "amqp"
        assert view.depths([*QUEUE_NAMES, "never_declared"]) == {
            "notifications": 1, "market_data": 0, "ai_analysis": 0, "backtest": 3, "never_declared": 0}


def test_taskrunner_health_on_rabbitmq_names_the_queues_without_a_worker_and_their_depth(
    amqp: Celery, rabbitmq_url: str, redis_base: str
) -> None:
    _purge(amqp)
    amqp.send_task("tasks.diagnostics.noop", queue="backtest")

    code, doc = _health(rabbitmq_url, redis_base)

    assert code == 1
    assert doc["dependencies"]["broker"]["status"] == "connected"  # type: ignore[index]
    assert doc["queues"]["backtest"] == {"status": "no_workers", "workers": [], "depth": 1}  # type: ignore[index]
    assert "queue backtest has no live worker" in doc["problems"]  # type: ignore[operator]


def test_the_sweep_on_rabbitmq_leaves_a_stale_task_while_its_queue_holds_messages_and_ends_it_when_none_does(
    amqp: Celery, records: ProgressStore
) -> None:
    _purge(amqp)
    tid = f"amqp-{uuid.uuid4()}"
    records.create_task("tasks.diagnostics.count", task_id=tid, metadata={"queue": "backtest"})
    records.apply(tid, {"status": "running", "start": True, "worker": "ghost@lost"})
    later = records.now_ms() + int(STALE_S * 1000) + 1
    amqp.send_task("tasks.diagnostics.noop", task_id=tid, queue="backtest")  # RabbitMQ gave its message back

    with BrokerView.open(amqp) as broker:
        first = sweep_stale(records, broker, stale_after_s=STALE_S, queues=QUEUE_NAMES, now_ms=later)
    assert first.queued == [tid] and first.requeued == [] and first.lost == []
    assert records.require(tid).status is TaskStatus.RUNNING

    _purge(amqp)  # the message is gone (consumed and acknowledged by a worker that then died, say)
    with BrokerView.open(amqp) as broker:
        second = sweep_stale(records, broker, stale_after_s=STALE_S, queues=QUEUE_NAMES,
                             now_ms=records.now_ms() + int(STALE_S * 1000) + 1)
    assert second.lost == [tid]
    assert records.require(tid).status is TaskStatus.ERROR


def test_the_sweep_on_rabbitmq_ends_a_created_record_whose_message_is_gone(
    amqp: Celery, records: ProgressStore
) -> None:
    _purge(amqp)
    tid = f"amqp-{uuid.uuid4()}"
    records.create_task("tasks.diagnostics.count", task_id=tid, message="queued", metadata={"queue": "backtest"})

    with BrokerView.open(amqp) as broker:
        report = sweep_lost_messages(records, broker, grace_s=1, queues=QUEUE_NAMES,
                                     is_celery_task=lambda rec: True, held_by_workers=set,
                                     now_ms=records.now_ms() + 2_000)

    assert report.lost == [tid]
    assert records.require(tid).current_status == "message lost"


@pytest.mark.parametrize("transport", ["redis", "amqp"])
def test_priorities_order_the_same_on_both_brokers_notifications_ahead_of_backtests(
    transport: str, rabbitmq_url: str, redis_base: str, records: ProgressStore
) -> None:
    broker = rabbitmq_url if transport == "amqp" else f"{redis_base}/4"
    if transport == "redis":
        redis.Redis.from_url(broker).flushdb()
    app = broker_app(broker, redis_base)
    if transport == "amqp":
        _purge(app)
    by_queue = {q.name: q.default_message_priority for q in QUEUES}
    # Published lowest first into one queue nobody consumes yet: backtest's priority, then notification's.
    sent = [(name, app.send_task("tasks.diagnostics.count", kwargs={"n": 1}, queue="market_data",
                                 priority=by_queue[name]).id)
            for name in ("backtest", "backtest", "notifications", "notifications")]
    worker = start_broker_worker(app, broker_env(broker, redis_base), name=f"prio-{transport}",
                                 queues="market_data", concurrency=1)
    try:
        wait_until(lambda: all(records.require(t).status is TaskStatus.COMPLETED for _, t in sent), timeout=60,
                   what="every task to complete")
    finally:
        stop_process_group(worker)
        app.close()
    started = sorted(sent, key=lambda s: records.require(s[1]).start_time)  # type: ignore[arg-type,return-value]
    assert [name for name, _ in started] == ["notifications", "notifications", "backtest", "backtest"]


@pytest.mark.chaos  # kills processes: in `make chaos`, run by CI after `make test`
def test_a_task_whose_worker_is_sigkilled_on_rabbitmq_completes_on_another(
    amqp: Celery, rabbitmq_url: str, redis_base: str, records: ProgressStore
) -> None:
    _purge(amqp)
    env = broker_env(rabbitmq_url, redis_base)
    first = start_broker_worker(amqp, env, name="amqp-doomed", queues="backtest")
    second = None
    try:
        tid = amqp.send_task("tasks.diagnostics.count", kwargs={"n": 40, "delay": 0.1}, queue="backtest").id
        wait_until(lambda: (r := records.get_task_status(tid)) is not None and r.progress.current > 3, timeout=30,
                   what="the first attempt to be under way")
        stop_process_group(first, signal.SIGKILL)  # the whole worker: its connection drops, RabbitMQ requeues
        second = start_broker_worker(amqp, env, name="amqp-rescuer", queues="backtest")
        rec = wait_until(lambda: (r := records.require(tid)).status.is_terminal and r, timeout=60,
                         what="the task to end on the second worker")
    finally:
        stop_process_group(first, signal.SIGKILL)
        if second is not None:
            stop_process_group(second)
    assert rec.status is TaskStatus.COMPLETED and rec.results == {"counted": 40, "symbol": None}
    assert rec.attempt == 2 and rec.worker is not None and rec.worker.startswith("amqp-rescuer@")


@pytest.fixture(scope="module")
def amqp_worker(amqp: Celery, rabbitmq_url: str, redis_base: str) -> Iterator[subprocess.Popen[bytes]]:
    """One worker consuming every queue from RabbitMQ for the rest of the module."""
    _purge(amqp)
    proc = start_broker_worker(amqp, broker_env(rabbitmq_url, redis_base), name="amqp-all", queues=ALL_QUEUES,
                               concurrency=2)
    yield proc
    stop_process_group(proc)


def test_on_rabbitmq_the_demos_task_families_complete(
    amqp: Celery, amqp_worker: subprocess.Popen[bytes], records: ProgressStore
) -> None:
    from taskrunner.demo import demo_jobs

    ids = {}
    for job in demo_jobs():
        kwargs = dict(job.kwargs)
        if "n_paths" in kwargs:
            kwargs.update(n_paths=100_000, batch_size=25_000)  # the same task, smaller: this checks the broker
        ids[job.task] = amqp.send_task(job.task, kwargs=kwargs, **({"queue": job.queue} if job.queue else {})).id
    assert {t.split(".")[1] for t in ids} == {"market_data", "analysis", "backtest", "notifications"}

    wait_until(lambda: all(records.require(t).status.is_terminal for t in ids.values()), timeout=90,
               what="every demo job to end")
    assert {t: records.require(i).status for t, i in ids.items()} == dict.fromkeys(ids, TaskStatus.COMPLETED)
    assert amqp.AsyncResult(ids["tasks.backtest.strategy_backtest"]).get(timeout=10)["symbol"] == "9984.T"


def test_taskrunner_health_on_rabbitmq_is_healthy_with_a_worker_on_every_queue(
    amqp_worker: subprocess.Popen[bytes], rabbitmq_url: str, redis_base: str
) -> None:
    code, doc = _health(rabbitmq_url, redis_base)

    assert code == 0, doc
    assert doc["status"] == "healthy" and doc["problems"] == []
    for q in QUEUE_NAMES:
        entry = doc["queues"][q]  # type: ignore[index]
        assert entry["status"] == "ok" and entry["depth"] == 0 and entry["workers"][0].startswith("amqp-all@")


def test_the_metrics_sample_on_rabbitmq_has_every_queues_depth_and_worker(
    amqp: Celery, amqp_worker: subprocess.Popen[bytes], records: ProgressStore
) -> None:
    from ops.metrics import collect_sample

    sample = collect_sample(amqp, records, QUEUE_NAMES, timeout=2)

    assert {q: s.depth for q, s in sample.queues.items()} == dict.fromkeys(QUEUE_NAMES, 0)
    assert all(s.workers and s.workers[0].startswith("amqp-all@") for s in sample.queues.values())
