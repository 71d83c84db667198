"""The stale-task sweep against a real Redis: lost tasks end as error, queued or unacknowledged ones run again.

The broker here is a real kombu Redis channel on a database of its own (db 3), so no worker consumes the messages
these tests put in it; the records live in the progress store on db 0.
"""

from __future__ import annotations

import json
import uuid

import redis
from celery import Celery

from base.queues import QUEUE_NAMES
from ops.broker_view import BrokerView
from ops.stale_sweep import sweep_stale
from progress import ProgressStore, TaskStatus

STALE_S = 5.0


def _started(store: ProgressStore, worker: str = "ghost@lost-machine") -> str:
    """A tracked task whose worker started it (and then went silent)."""
    tid = f"ops-{uuid.uuid4()}"
    store.create_task("tasks.diagnostics.count", total_items=10, task_id=tid, metadata={"queue": "backtest"})
    store.apply(tid, {"status": "running", "start": True, "worker": worker, "message": "running"})
    return tid


def _later(store: ProgressStore) -> int:
    """A sweep time past the bound for everything written so far."""
    return store.now_ms() + int(STALE_S * 1000) + 1


def test_a_started_task_whose_message_is_gone_is_marked_error_worker_lost(
    store: ProgressStore, broker_app: Celery
) -> None:
    tid = _started(store)

    with BrokerView.open(broker_app) as broker:
        report = sweep_stale(store, broker, stale_after_s=STALE_S, queues=QUEUE_NAMES, now_ms=_later(store))

    assert report.lost == [tid] and report.stale == 1
    rec = store.require(tid)
    assert rec.status is TaskStatus.ERROR and rec.current_status == "worker lost"
    assert rec.error_message is not None and rec.error_message.startswith("worker lost: no heartbeat since ")
    assert "ghost@lost-machine" in rec.error_message
    assert store.redis.zscore(store.keys.heartbeats(), tid) is None


def test_a_task_with_a_recent_heartbeat_is_left_alone(store: ProgressStore, broker_app: Celery) -> None:
    tid = _started(store)

    with BrokerView.open(broker_app) as broker:
        report = sweep_stale(store, broker, stale_after_s=STALE_S, queues=QUEUE_NAMES)

    assert report.stale == 0 and report.lost == []
    assert store.require(tid).status is TaskStatus.RUNNING


def test_a_lost_task_whose_message_waits_in_its_queue_stays_running_with_a_note(
    store: ProgressStore, broker_app: Celery
) -> None:
    tid = _started(store)
    broker_app.send_task("tasks.diagnostics.noop", task_id=tid, queue="backtest")  # untracked: no record written

    with BrokerView.open(broker_app) as broker:
        report = sweep_stale(store, broker, stale_after_s=STALE_S, queues=QUEUE_NAMES, now_ms=_later(store))

    assert report.queued == [tid] and report.lost == []
    rec = store.require(tid)
    assert rec.status is TaskStatus.RUNNING and "waiting in its queue" in rec.current_status
    assert rec.last_error is not None and rec.last_error.startswith("worker lost: no heartbeat since")


def test_a_lost_task_whose_message_is_unacknowledged_goes_back_to_its_queue_now(
    store: ProgressStore, broker_app: Celery
) -> None:
    tid = _started(store)
    broker_app.send_task("tasks.diagnostics.noop", task_id=tid, queue="backtest")
    # Given a consumer that took the message (acks_late) and died before acknowledging it.
    with broker_app.connection_for_read() as conn:
        channel = conn.default_channel
        assert channel.basic_get("backtest", no_ack=False).headers["id"] == tid
        channel.qos.restore_at_shutdown = False  # a killed process restores nothing
    raw_broker = redis.Redis.from_url(broker_app.conf.broker_url)
    assert raw_broker.hlen("unacked") == 1 and raw_broker.llen("backtest") == 0

    with BrokerView.open(broker_app) as broker:
        report = sweep_stale(store, broker, stale_after_s=STALE_S, queues=QUEUE_NAMES, now_ms=_later(store))

    assert report.requeued == [tid] and report.lost == []
    assert raw_broker.hlen("unacked") == 0
    waiting = [json.loads(m) for m in raw_broker.lrange("backtest", 0, -1)]
    assert [m["headers"]["id"] for m in waiting] == [tid]
    assert waiting[0]["headers"]["redelivered"] is True
    rec = store.require(tid)
    assert rec.status is TaskStatus.RUNNING and "requeued" in rec.current_status


def test_a_requeued_message_gets_a_new_delivery_tag_so_the_old_attempts_late_ack_cannot_drop_it(
    store: ProgressStore, broker_app: Celery
) -> None:
    tid = _started(store)
    broker_app.send_task("tasks.diagnostics.noop", task_id=tid, queue="backtest")
    # Given a consumer that took the message and hung (not died): it still holds the old delivery tag.
    with broker_app.connection_for_read() as conn:
        hung = conn.default_channel
        old_tag = hung.basic_get("backtest", no_ack=False).delivery_tag
        hung.qos.restore_at_shutdown = False
        with BrokerView.open(broker_app) as broker:
            sweep_stale(store, broker, stale_after_s=STALE_S, queues=QUEUE_NAMES, now_ms=_later(store))
        # When the next attempt takes the requeued message, and then the hung consumer wakes and acks its own tag,
        with broker_app.connection_for_read() as conn2:
            nxt = conn2.default_channel
            new_tag = nxt.basic_get("backtest", no_ack=False).delivery_tag
            nxt.qos.restore_at_shutdown = False
            hung.qos.ack(old_tag)
    raw_broker = redis.Redis.from_url(broker_app.conf.broker_url)

    # Then the next attempt's delivery is still recorded, so its own death could be recovered too.
    assert new_tag != old_tag
    assert raw_broker.hexists("unacked", new_tag)


def test_a_task_paused_before_any_worker_started_it_is_not_declared_lost(
    store: ProgressStore, broker_app: Celery
) -> None:
    tid = f"ops-{uuid.uuid4()}"
    store.create_task("tasks.diagnostics.count", task_id=tid)
    store.pause_task(tid)

    with BrokerView.open(broker_app) as broker:
        report = sweep_stale(store, broker, stale_after_s=STALE_S, queues=QUEUE_NAMES, now_ms=_later(store))

    assert report.skipped == [tid] and report.lost == []
    assert store.require(tid).status is TaskStatus.PAUSED


def test_a_running_task_paused_past_the_stale_bound_is_never_presumed_lost(
    store: ProgressStore, broker_app: Celery
) -> None:
    tid = _started(store)
    store.pause_task(tid)  # its worker waits at its next progress call, for as long as the operator likes

    with BrokerView.open(broker_app) as broker:
        report = sweep_stale(store, broker, stale_after_s=STALE_S, queues=QUEUE_NAMES, now_ms=_later(store))

    assert report.skipped == [tid] and report.lost == [] and report.requeued == []
    rec = store.require(tid)
    assert rec.status is TaskStatus.PAUSED and rec.error_message is None and rec.last_error is None


def test_queue_depths_count_every_priority_list(broker_app: Celery) -> None:
    for priority in (0, 3, 9):
        broker_app.send_task("tasks.diagnostics.noop", queue="market_data", priority=priority)
    broker_app.send_task("tasks.diagnostics.noop", queue="notifications")

    with BrokerView.open(broker_app) as broker:
        depths = broker.depths(QUEUE_NAMES)
        lists = broker.queue_lists("market_data")

    assert depths == {"notifications": 1, "market_data": 3, "ai_analysis": 0, "backtest": 0}
    # kombu's naming with sep ':' and steps 0..9 (checked against the transport, not formatted here).
    assert lists == ["market_data"] + [f"market_data:{p}" for p in range(1, 10)]
