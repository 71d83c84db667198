"""Celery signal handlers: create the record when a message is published; cancel it when revoked.

Connected by `tracking.install`; each acts only for an app tracking was installed on.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from celery.signals import after_task_publish, before_task_publish, task_revoked

from progress import InvalidTransition, ProgressError, TaskNotFound
from progress.models import is_symbol
from tracking.enqueue_metadata import OWNER_HEADER, RETRY_OF_HEADER, enqueue_metadata
from tracking.registry import publishing_tracking, tracking_of
from tracking.task import tracked_task
from tracking.task_types import record_names

log = logging.getLogger(__name__)


def create_record_on_publish(sender: str | None = None, headers: dict[str, Any] | None = None,
                             body: Any = None, routing_key: str | None = None, **_: Any) -> None:
    """The record exists (status `created`) from the moment the message is sent, so a queued task is visible."""
    tracking = publishing_tracking()
    if tracking is None or tracked_task(tracking, sender) is None or not headers or not headers.get("id"):
        return
    kwargs = body[1] if isinstance(body, list | tuple) and len(body) > 1 and isinstance(body[1], dict) else {}
    symbol = kwargs.get("symbol")
    queue = tracking.queue_of(str(sender)) if tracking.queue_of is not None else routing_key
    try:
        # Sent without waiting for the answer, which is read once the message is out (read_creation_on_publish): the
        # creation's round trip overlaps the publish's. It is on the wire before the message is, so the worker that
        # receives the message finds the record (were it not there yet, the worker creates it when it starts).
        tracking.store().send_create_task(
            **record_names(str(sender)),
            symbol=symbol if is_symbol(symbol) else None,
            task_id=str(headers["id"]),
            message="queued",
            metadata={**({"queue": queue} if queue else {}),
                      **enqueue_metadata(kwargs, retry_of=headers.get(RETRY_OF_HEADER),
                                         owner=headers.get(OWNER_HEADER))},
        )
    except (ProgressError, ValueError) as exc:
        # Never block a publish on bookkeeping: the worker creates the record when it starts the task.
        log.warning("could not create progress record for %s: %s", headers.get("id"), exc)


def read_creation_on_publish(sender: str | None = None, headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Reads the answer to the record's creation sent before the message (a failure is logged, as above)."""
    tracking = publishing_tracking()
    if tracking is not None and tracked_task(tracking, sender) is not None:
        tracking.store().read_sent()


def cancel_record_on_revoke(sender: Any = None, request: Any = None, terminated: bool = False, **_: Any) -> None:
    """A revoked task (queued or terminated) ends as `cancelled` in its record."""
    task_id = getattr(request, "id", None)
    tracking = tracking_of(getattr(sender, "app", None))
    if not task_id or tracking is None:
        return
    with contextlib.suppress(TaskNotFound, InvalidTransition):
        tracking.store().cancel_task(task_id, reason="revoked" + (" (terminated)" if terminated else ""))


def connect() -> None:
    """Connects the handlers (once per process, whatever the number of apps)."""
    before_task_publish.connect(create_record_on_publish, weak=False, dispatch_uid="tracking.create_record")
    after_task_publish.connect(read_creation_on_publish, weak=False, dispatch_uid="tracking.read_creation")
    task_revoked.connect(cancel_record_on_revoke, weak=False, dispatch_uid="tracking.cancel_record")
