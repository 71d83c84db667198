"""What a worker does with a message it must not run: log it once, dead-letter it, end the task it names.

Called from the broker transport (tracking/transport.py: garbage that is not a kombu message), from Celery's consumer
(the `task_rejected` / `task_unknown` signals: a message Celery cannot route) and from the parent's failure
handling (tracking/request.py: a poison pill). Each caller has already taken the message off the broker, so this
must not raise: a Redis that refuses the dead-letter write (down, or out of memory) costs the entry, which is
then in the log with its raw body, never the worker.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis
from celery.signals import task_rejected, task_unknown

from progress import ProgressError, ProgressStore, TaskNotFound
from tracking.dead_letters import RAW_MAX_CHARS, Source, configured_dead_letters
from tracking.errors import UndeliverableMessage
from tracking.registry import Tracking, tracking_of, worker_tracking

log = logging.getLogger(__name__)


def message_ids(raw: bytes | str) -> tuple[str | None, str | None]:
    """(task id, task name) from a raw message's Celery headers, when it has them."""
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None, None
    headers = payload.get("headers") if isinstance(payload, dict) else None
    if not isinstance(headers, dict):
        return None, None
    task_id, name = headers.get("id"), headers.get("task")
    return (task_id if isinstance(task_id, str) and task_id else None,
            name if isinstance(name, str) and name else None)


def dead_letter(raw: bytes | str, reason: str, *, source: Source, queue: str | None = None,
                task_id: str | None = None, task_name: str | None = None, end_task: bool = True,
                tracking: Tracking | None = None) -> None:
    """Logs the message once, moves it to the dead-letter list and, if it names a task, ends that task `error`.

    `tracking`: that of the app whose worker got the message (default: this process's worker app).
    """
    if task_id is None and task_name is None:
        task_id, task_name = message_ids(raw)
    shown = raw if len(raw) <= 512 else raw[:512]
    log.error("dead-lettered a message from %s (task %s %s): %s; raw: %r", queue or "?", task_name or "-",
              task_id or "-", reason, shown)
    tracking = tracking or worker_tracking()
    if tracking is None:  # no tracked app in this process: the log line above is all there is
        return
    store = tracking.store()
    try:
        configured_dead_letters(store.redis, tracking.settings()).add(
            source=source, reason=reason, raw=raw, now_ms=store.now_ms(), queue=queue, task_id=task_id,
            task_name=task_name)
    except redis.RedisError as exc:
        log.error("could not store the dead letter (%s); its raw body (first %d chars) is in this log: %r",
                  exc, RAW_MAX_CHARS, raw[:RAW_MAX_CHARS])
    if task_id and end_task:
        end_with_error(tracking, task_id, reason, message="not run: dead-lettered")


def raw_message(message: Any) -> str:
    """A kombu message as the broker held it (its payload as JSON), for the dead-letter list."""
    payload = getattr(message, "_raw", None)
    if payload is None:
        body = getattr(message, "body", b"")
        payload = {"headers": getattr(message, "headers", None),
                   "body": body.decode("utf-8", "replace") if isinstance(body, bytes) else body}
    return json.dumps(payload, default=str)


def _rejected(sender: Any = None, message: Any = None, exc: BaseException | None = None, **_: Any) -> None:
    """Celery's consumer dropped a message it cannot route (no task header, invalid, disallowed content)."""
    tracking = tracking_of(getattr(sender, "app", None))  # the sender is the consumer of the worker's app
    if message is not None and tracking is not None:
        reason = f"rejected by the worker: {type(exc).__name__}: {exc}" if exc else "rejected by the worker: " \
            "not a Celery task message"
        dead_letter(raw_message(message), reason, source="consumer",
                    queue=(getattr(message, "delivery_info", None) or {}).get("routing_key"), tracking=tracking)


def _unknown(sender: Any = None, message: Any = None, name: str | None = None, id: str | None = None,
             **_: Any) -> None:
    """Celery's consumer dropped a message naming a task this worker does not have (Celery stored FAILURE)."""
    tracking = tracking_of(getattr(sender, "app", None))
    if message is not None and tracking is not None:
        dead_letter(raw_message(message), f"unknown task {name!r}: not registered in this worker",
                    source="consumer", queue=(getattr(message, "delivery_info", None) or {}).get("routing_key"),
                    task_id=id, task_name=name, tracking=tracking)


def connect() -> None:
    """Connects the consumer's handlers (once per process, whatever the number of apps)."""
    task_rejected.connect(_rejected, weak=False, dispatch_uid="tracking.rejected")
    task_unknown.connect(_unknown, weak=False, dispatch_uid="tracking.unknown")


def end_record(store: ProgressStore, task_id: str, error_message: str, *, message: str) -> bool | None:
    """Ends the task's record `error`: True if this call ended it, False if an end was there first (or Redis
    refused the write, logged), None if there is no record. Never raises."""
    try:
        return store.apply(task_id, {"status": "error", "message": message,
                                      "error_message": error_message}).applied
    except TaskNotFound:
        return None
    except (ProgressError, redis.RedisError) as exc:
        log.error("could not end the record of %s (%s): %s", task_id, error_message, exc)
        return False


def end_with_error(tracking: Tracking, task_id: str, error_message: str, *, message: str) -> None:
    """Ends the task's record `error` and stores Celery's FAILURE, unless another attempt had ended the record."""
    if end_record(tracking.store(), task_id, error_message, message=message) is False:
        return
    try:
        tracking.app.backend.mark_as_failure(task_id, UndeliverableMessage(error_message))
    except Exception as exc:  # a failed result write must not stop the consumer
        log.error("could not store Celery's FAILURE for %s: %s", task_id, exc)
