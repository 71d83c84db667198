"""Celery signal handlers: create the record when a message is published; cancel it when revoked."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from celery.signals import before_task_publish, task_revoked

from progress import InvalidTransition, ProgressError, TaskNotFound
from progress.models import is_symbol
from worker.base import ProgressTask
from worker.enqueue_metadata import OWNER_HEADER, RETRY_OF_HEADER, enqueue_metadata
from worker.queues import queue_for
from worker.store import progress_store
from worker.task_types import record_names

log = logging.getLogger(__name__)


def _tracked(name: str | None) -> ProgressTask | None:
    from worker.celery_app import app, load_tasks

    if name and name not in app.tasks:
        load_tasks()  # a client that published by name without importing the task modules
    task = app.tasks.get(name) if name else None
    return task if isinstance(task, ProgressTask) else None


@before_task_publish.connect
def create_record_on_publish(sender: str | None = None, headers: dict[str, Any] | None = None,
                             body: Any = None, **_: Any) -> None:
    """The record exists (status `created`) from the moment the message is sent, so a queued task is visible."""
    if _tracked(sender) is None or not headers or not headers.get("id"):
        return
    kwargs = body[1] if isinstance(body, list | tuple) and len(body) > 1 and isinstance(body[1], dict) else {}
    symbol = kwargs.get("symbol")
    try:
        progress_store().create_task(
            **record_names(str(sender)),
            symbol=symbol if is_symbol(symbol) else None,
            task_id=str(headers["id"]),
            message="queued",
            metadata={"queue": queue_for(str(sender)),
                      **enqueue_metadata(kwargs, retry_of=headers.get(RETRY_OF_HEADER),
                                         owner=headers.get(OWNER_HEADER))},
        )
    except (ProgressError, ValueError) as exc:
        # Never block a publish on bookkeeping: the worker creates the record when it starts the task.
        log.warning("could not create progress record for %s: %s", headers.get("id"), exc)


@task_revoked.connect
def cancel_record_on_revoke(request: Any = None, terminated: bool = False, **_: Any) -> None:
    """A revoked task (queued or terminated) ends as `cancelled` in its record."""
    task_id = getattr(request, "id", None)
    if not task_id:
        return
    with contextlib.suppress(TaskNotFound, InvalidTransition):
        progress_store().cancel_task(task_id, reason="revoked" + (" (terminated)" if terminated else ""))
