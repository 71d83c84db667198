"""What a tracked task tells Flower and operators beyond Celery's own events and states.

Flower builds task state from worker events only. A cooperatively cancelled task ends by raising Celery's `Ignore`,
for which Celery sends no event, so Flower kept showing its last `task-progress` (PROGRESS) for ever. The worker
now sends `task-revoked`, the event Celery sends for a revoke, which Flower (celery.events.state) turns into REVOKED.

The event also carries `state="REVOKED"`: celery.events.state ranks states, and an unknown state such as PROGRESS
outranks REVOKED, so a bare `task-revoked` after `task-progress` would only be merged into the task, its state left
at PROGRESS. Every field of an event is copied onto the task (REVOKED has no merge rule restricting them), so the
explicit state is what ends it there.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

log = logging.getLogger(__name__)
#: A traceback is clipped to its last lines within this many characters (the record's details carry it).
MAX_TRACEBACK_CHARS = 16_000


def send_revoked_event(task: Any) -> None:
    """Sends `task-revoked` for the running task when the app sends task events (never fails the task)."""
    if not task.app.conf.worker_send_task_events:
        return
    try:
        task.send_event("task-revoked", terminated=False, signum=None, expired=False, state="REVOKED")
    except Exception as exc:  # an event is a courtesy to Flower: the record already says cancelled
        log.warning("could not send task-revoked for %s: %s", task.request.id, exc)


def send_progress_event(task: Any, meta: dict[str, Any]) -> None:
    """Sends `task-progress` (Flower's PROGRESS) for the running task; never fails it and never waits out an
    outage: the record is the task's state, and the next event (or Celery's own end event) follows."""
    try:
        task.send_event("task-progress", retry=False, **meta)
    except Exception as exc:  # a courtesy to Flower, like task-revoked: a broker outage must not end the task
        log.warning("could not send task-progress for %s: %s", task.request.id, exc)


def traceback_text(exc: BaseException) -> str:
    """The exception's traceback as text, its end kept when it is long (the end names where it failed)."""
    text = "".join(traceback.format_exception(exc))
    return text if len(text) <= MAX_TRACEBACK_CHARS else "...\n" + text[-MAX_TRACEBACK_CHARS:]
