"""Notification tasks (seed 004, queue `notifications`): realtime, email, batch, and the daily summary.

Every notification a task creates carries an idempotency key derived from the task (its id, or batch id + user),
so a retried or redelivered task (acks_late) never notifies a user twice.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from base.settings import get_settings
from notify import NotificationStore, NotificationType, NotifyConfig
from notify.errors import TemporaryEmailError
from notify.models import IDEMPOTENCY_KEY_PATTERN, Message, NotificationData, Title
from notify.smtp import Address, EmailSpec, HeaderText, SmtpSettings, send_email
from notify.summary import daily_summary, render
from tracking.errors import TransientError
from tracking.ownership import OwnedUserId
from tracking.task import ProgressTask
from worker import app
from worker.store import progress_store

_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
_store: NotificationStore | None = None


def notification_store() -> NotificationStore:
    """This process's notification store, on the same Redis client as its progress store (per process)."""
    global _store
    client = progress_store().redis
    if _store is None or _store.redis is not client:
        _store = NotificationStore(client, config=NotifyConfig.from_settings(get_settings()))
    return _store


def _task_key(task: ProgressTask, suffix: str = "") -> str | None:
    """An idempotency key naming this task (the same across its retries); None for ids that cannot be keys."""
    key = f"task:{task.request.id}{suffix}"
    return key if _KEY.match(key) else None


# --- realtime ---------------------------------------------------------------------------------------------------


class RealtimeArgs(BaseModel):
    """Arguments of `send_realtime_notification`."""

    model_config = ConfigDict(extra="forbid")

    user_id: OwnedUserId
    type: NotificationType = NotificationType.INFO
    title: Title
    message: Message
    data: NotificationData | None = None


@app.task(base=ProgressTask, bind=True, name="tasks.notifications.send_realtime_notification",
          args_model=RealtimeArgs)
def send_realtime_notification(self: ProgressTask, user_id: str, type: str, title: str, message: str,
                               data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Stores the notification as unread and publishes it to every device of the user."""
    self.progress.update(0, total=1, message=f"notifying {user_id}")
    note = notification_store().create(user_id, type, title, message, data=data, idempotency_key=_task_key(self))
    self.progress.update(1, message="already sent" if note.duplicate else "stored and published")
    return {"notification_id": note.id, "user_id": user_id, "duplicate": note.duplicate}


# --- email ------------------------------------------------------------------------------------------------------


class EmailArgs(BaseModel):
    """Arguments of `send_email_notification` (a single address or a list)."""

    model_config = ConfigDict(extra="forbid")

    to: list[Address] | Address
    subject: HeaderText
    body: str = Field(max_length=1_000_000)
    html: str | None = Field(default=None, max_length=2_000_000)
    reply_to: Address | None = None


@app.task(base=ProgressTask, bind=True, name="tasks.notifications.send_email_notification", args_model=EmailArgs,
          autoretry_for=(TransientError,), retry_backoff=2, retry_backoff_max=600, retry_jitter=True,
          max_retries=6)
def send_email_notification(self: ProgressTask, to: list[str] | str, subject: str, body: str,
                            html: str | None = None, reply_to: str | None = None) -> dict[str, Any]:
    """Sends an email through the configured SMTP server; 4xx and network failures retry with backoff, 5xx fail."""
    spec = EmailSpec(to=to, subject=subject, body=body, html=html, reply_to=reply_to)
    settings = SmtpSettings()
    attempt = self.request.retries + 1
    self.progress.update(0, total=1, message=f"attempt {attempt}: sending to {len(spec.to)} recipient(s)")
    try:
        sent = send_email(spec, settings)
    except TemporaryEmailError as exc:
        raise TransientError(str(exc)) from exc
    self.progress.update(1, message=f"accepted for {sent.accepted} recipient(s)")
    return {"message_id": sent.message_id, "accepted": sent.accepted, "refused": sent.refused, "attempts": attempt}


# --- batch ------------------------------------------------------------------------------------------------------


class BatchArgs(BaseModel):
    """Arguments of `send_batch_notifications`."""

    model_config = ConfigDict(extra="forbid")

    user_ids: list[OwnedUserId] = Field(min_length=1, max_length=100_000)
    type: NotificationType = NotificationType.INFO
    title: Title
    message: Message
    batch_id: str = Field(pattern=r"^[A-Za-z0-9_.:@+-]{1,100}$", description="names the batch; retries reuse it")
    data: NotificationData | None = None


@app.task(base=ProgressTask, bind=True, name="tasks.notifications.send_batch_notifications", args_model=BatchArgs)
def send_batch_notifications(self: ProgressTask, user_ids: list[str], type: str, title: str, message: str,
                             batch_id: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Notifies every user once, even when the batch is run again with the same batch_id."""
    store = notification_store()
    users = list(dict.fromkeys(user_ids))
    self.progress.update(0, total=len(users), message=f"batch {batch_id}: {len(users)} users")
    sent = skipped = 0
    for i, user_id in enumerate(users, 1):
        note = store.create(user_id, type, title, message, data=data, idempotency_key=f"batch:{batch_id}:{user_id}")
        skipped += note.duplicate
        sent += not note.duplicate
        self.progress.update(i, message=f"{i}/{len(users)} users ({skipped} already notified)")
    return {"batch_id": batch_id, "users": len(users), "sent": sent, "already_sent": skipped}


# --- daily summary ----------------------------------------------------------------------------------------------


class DailySummaryArgs(BaseModel):
    """Arguments of `daily_summary_report`."""

    model_config = ConfigDict(extra="forbid")

    user_id: OwnedUserId
    email: Address | None = None
    scope_user_id: OwnedUserId | None = Field(
        default=None, description="count only this user's tasks; unset: every user's (over HTTP: the service token)"
    )


@app.task(base=ProgressTask, bind=True, name="tasks.notifications.daily_summary_report", args_model=DailySummaryArgs,
          autoretry_for=(TransientError,), retry_backoff=2, retry_backoff_max=600, retry_jitter=True,
          max_retries=6)
def daily_summary_report(self: ProgressTask, user_id: str, email: str | None = None,
                         scope_user_id: str | None = None) -> dict[str, Any]:
    """Counts the last 24 h of tasks (one user's, or everyone's) by status and type; sends them as a notification
    (and an email if asked)."""
    self.progress.define_steps(["count", "notify", "email"])
    with self.progress.step("count"):
        summary = daily_summary(progress_store(), exclude={str(self.request.id)}, owner=scope_user_id)
    kind, title, text = render(summary)
    with self.progress.step("notify"):
        # Keyed by the task, so a retry after a failed email does not notify twice.
        note = notification_store().create(
            user_id, kind, title, text,
            data={"report_task_id": self.request.id, "total": summary.total, "by_status": summary.by_status},
            idempotency_key=_task_key(self, ":summary"),
        )
    emailed: str | None = None
    with self.progress.step("email"):
        settings = SmtpSettings()
        if email and settings.configured:
            try:
                emailed = send_email(EmailSpec(to=[email], subject=title, body=text), settings).message_id
            except TemporaryEmailError as exc:
                raise TransientError(str(exc)) from exc
    return {
        "summary": summary.model_dump(mode="json"),
        "notification_id": note.id,
        "email": "sent" if emailed else ("not configured" if email else "not requested"),
    }
