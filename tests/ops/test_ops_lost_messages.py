"""The sweep's second half against a real Redis broker: a record left `created` whose message no broker holds any
more (lost in a failover) ends `error: message lost` after the grace; one whose message is queued, unacknowledged or
held by a worker, or that another producer created through the API, is left alone.

The broker is a real kombu Redis channel on db 3 (no worker consumes it); records live on db 0.
"""

from __future__ import annotations

import uuid

from celery import Celery

from base.queues import QUEUE_NAMES
from ops.broker_view import BrokerView
from ops.stale_sweep import LostMessageReport, sweep_lost_messages
from progress import ProgressStore, TaskStatus
from progress.models import TaskRecord

GRACE_S = 60.0


def _published(store: ProgressStore, broker_app: Celery, *, send: bool = True) -> str:
    """A record as the publish hook writes it, with (or without: lost) its message in the broker."""
    tid = f"lost-{uuid.uuid4()}"
    store.create_task("tasks.diagnostics.count", task_id=tid, message="queued", metadata={"queue": "backtest"})
    if send:
        broker_app.send_task("tasks.diagnostics.noop", task_id=tid, queue="backtest")
    return tid


def _sweep(store: ProgressStore, broker_app: Celery, held: set[str] | None = None, *, later_s: float = GRACE_S + 1,
           tracked: bool = True) -> LostMessageReport:
    def is_celery_task(rec: TaskRecord) -> bool:
        return tracked and "queue" in rec.metadata

    with BrokerView.open(broker_app) as broker:
        return sweep_lost_messages(store, broker, grace_s=GRACE_S, queues=QUEUE_NAMES, is_celery_task=is_celery_task,
                                   held_by_workers=lambda: held or set(),
                                   now_ms=store.now_ms() + int(later_s * 1000))


def test_a_created_record_whose_message_is_gone_ends_as_message_lost_after_the_grace(
    store: ProgressStore, broker_app: Celery
) -> None:
    tid = _published(store, broker_app, send=False)

    early = _sweep(store, broker_app, later_s=GRACE_S - 5)
    assert early.checked == 0 and store.require(tid).status is TaskStatus.CREATED

    report = _sweep(store, broker_app)
    assert report.lost == [tid]
    rec = store.require(tid)
    assert rec.status is TaskStatus.ERROR and rec.current_status == "message lost"
    assert rec.error_message is not None and rec.error_message.startswith("message lost: queued since ")


def test_a_created_record_whose_message_waits_in_its_queue_is_left_alone(
    store: ProgressStore, broker_app: Celery
) -> None:
    tid = _published(store, broker_app)

    report = _sweep(store, broker_app)

    assert report.waiting == [tid] and report.lost == []
    assert store.require(tid).status is TaskStatus.CREATED


def test_a_created_record_whose_message_a_worker_holds_unacknowledged_or_scheduled_is_left_alone(
    store: ProgressStore, broker_app: Celery
) -> None:
    unacked = _published(store, broker_app)
    with broker_app.connection_for_read() as conn:
        channel = conn.default_channel
        assert channel.basic_get("backtest", no_ack=False).headers["id"] == unacked
        channel.qos.restore_at_shutdown = False
    scheduled = _published(store, broker_app, send=False)  # an ETA task a live worker keeps in memory

    report = _sweep(store, broker_app, held={scheduled})

    assert sorted(report.waiting) == sorted([unacked, scheduled]) and report.lost == []


def test_a_record_another_producer_created_through_the_api_is_never_ended_by_the_sweep(
    store: ProgressStore, broker_app: Celery
) -> None:
    tid = _published(store, broker_app, send=False)

    report = _sweep(store, broker_app, tracked=False)

    assert report.checked == 0 and store.require(tid).status is TaskStatus.CREATED
