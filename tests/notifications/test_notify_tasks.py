"""The notification tasks through the real session worker (it writes progress and notifications to db 2)."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections import Counter

import pytest

from notify import NotificationStore, NotificationType
from progress import ProgressStore, TaskStatus
from tasks.notifications.tasks import (
    daily_summary_report,
    send_batch_notifications,
    send_email_notification,
    send_realtime_notification,
)
from tracking.errors import InvalidTaskArguments

pytestmark = pytest.mark.integration
RESULT_TIMEOUT = 60


def uid() -> str:
    return f"u-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def nstore(worker_store: ProgressStore) -> NotificationStore:
    """Notifications where the worker puts them: the Redis of its progress records (TASKRUNNER_PROGRESS_URL)."""
    return NotificationStore(worker_store.redis)


def test_a_realtime_notification_reaches_every_device_of_the_user(nstore: NotificationStore,
                                                                  worker_store: ProgressStore) -> None:
    # Given a user connected on two devices
    user = uid()
    with nstore.subscribe(user) as phone, nstore.subscribe(user) as laptop:
        # When the worker sends a notification
        result = send_realtime_notification.delay(user_id=user, type="success", title="Backtest finished",
                                                  message="Sharpe 1.42", data={"backtest_id": "bt-1"})
        got_phone, got_laptop = phone.get(timeout=RESULT_TIMEOUT), laptop.get(timeout=RESULT_TIMEOUT)
        out = result.get(timeout=RESULT_TIMEOUT)

    # Then both devices got the stored notification, which is unread
    assert got_phone is not None and got_laptop is not None
    assert got_phone.id == got_laptop.id == out["notification_id"]
    assert (got_phone.title, got_phone.message, got_phone.type) == ("Backtest finished", "Sharpe 1.42",
                                                                    NotificationType.SUCCESS)
    assert got_phone.data == {"backtest_id": "bt-1"}
    [stored] = nstore.list(user, unread_only=True)
    assert stored == got_phone
    record = worker_store.require(result.id)
    assert record.status is TaskStatus.COMPLETED and record.progress.current == record.progress.total == 1


def test_bad_notification_arguments_are_refused_when_published(celery_worker: subprocess.Popen[bytes]) -> None:
    with pytest.raises(InvalidTaskArguments, match="title"):
        send_realtime_notification.delay(user_id=uid(), type="info", title="x" * 201, message="m")
    with pytest.raises(InvalidTaskArguments, match="type"):
        send_realtime_notification.delay(user_id=uid(), type="urgent", title="t", message="m")


def test_a_retried_batch_notifies_each_user_once(nstore: NotificationStore, worker_store: ProgressStore) -> None:
    # Given a batch sent to three users
    users = [uid() for _ in range(3)]
    args = {"type": "info", "title": "Maintenance tonight", "message": "TSE feed down 02:00-03:00 JST",
            "batch_id": f"maint-{uuid.uuid4().hex[:8]}"}
    first = send_batch_notifications.delay(user_ids=users, **args)
    out1 = first.get(timeout=RESULT_TIMEOUT)

    # When it runs again with the same batch_id (a retry), now also naming a fourth user
    late = uid()
    second = send_batch_notifications.delay(user_ids=[*users, late], **args)
    out2 = second.get(timeout=RESULT_TIMEOUT)

    # Then every user has exactly one notification
    assert (out1["sent"], out1["already_sent"]) == (3, 0)
    assert (out2["sent"], out2["already_sent"]) == (1, 3)
    for user in [*users, late]:
        notes = nstore.list(user)
        assert [n.title for n in notes] == ["Maintenance tonight"], user
        assert nstore.unread_count(user) == 1
    record = worker_store.require(second.id)
    assert record.status is TaskStatus.COMPLETED
    assert (record.progress.current, record.progress.total) == (4, 4)


def test_the_daily_summary_counts_the_last_24_hours_by_status_and_type(nstore: NotificationStore,
                                                                         worker_store: ProgressStore) -> None:
    # Given tasks created today in several statuses and types, and one created two days ago
    plan = [
        ("tasks.market_data.fetch_data", ["running", "completed"]),
        ("tasks.market_data.fetch_data", ["running", "completed"]),
        ("tasks.market_data.fetch_data", ["running", "error"]),
        ("tasks.analysis.technical", ["running"]),
        ("tasks.analysis.technical", ["cancelled"]),
        ("tasks.backtest.run", []),
    ]
    for task_type, statuses in plan:
        created = worker_store.create_task(task_type)
        for status in statuses:
            worker_store.update_progress(created.task_id, status=status)
    old_clock = ProgressStore(worker_store.redis, config=worker_store.config, clock=lambda: time.time() - 2 * 86_400)
    old_clock.create_task("tasks.backtest.run")
    expected_status = Counter(statuses[-1] if statuses else "created" for _, statuses in plan)
    expected_type = Counter(task_type for task_type, _ in plan)

    # When the report runs for a user
    user = uid()
    result = daily_summary_report.delay(user_id=user)
    out = result.get(timeout=RESULT_TIMEOUT)

    # Then the counts match the records of the last 24 h (the report's own record excluded)
    summary = out["summary"]
    assert summary["total"] == len(plan)
    assert summary["by_status"] == {s.value: expected_status.get(s.value, 0) for s in TaskStatus}
    assert summary["by_type"] == dict(expected_type)
    assert summary["by_type_status"]["tasks.market_data.fetch_data"] == {"completed": 2, "error": 1}
    # and the user got them as one notification (a warning: a task failed); no email was asked for
    [note] = nstore.list(user)
    assert note.type is NotificationType.WARNING
    assert note.id == out["notification_id"] and note.data["total"] == len(plan)
    assert "1 failed" in note.title and f"{len(plan)} tasks" in note.title
    assert out["email"] == "not requested"
    record = worker_store.require(result.id)
    assert [s.name for s in record.steps] == ["count", "notify", "email"]
    assert all(s.status == "success" for s in record.steps)


@pytest.mark.skipif(bool(os.environ.get("TASKRUNNER_SMTP_HOST")), reason="the worker has an SMTP server configured")
def test_an_email_without_smtp_configuration_fails_at_once_in_the_worker(worker_store: ProgressStore) -> None:
    result = send_email_notification.delay(to="trader@example.jp", subject="s", body="b")
    result.get(timeout=RESULT_TIMEOUT, propagate=False)

    assert result.failed()
    record = worker_store.require(result.id)
    assert record.status is TaskStatus.ERROR and record.attempt == 1
    assert record.error_message is not None and "TASKRUNNER_SMTP_HOST" in record.error_message
