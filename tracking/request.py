"""The worker's request for tracked tasks: a hard time limit and a dying worker process end the record at once.

Celery handles both in the worker's parent process (the pool child is gone or about to be killed), where the task's
own code never runs again, so without this the record stays `running` until the stale sweep calls it `worker lost`.

- **Hard time limit.** `on_timeout(soft=False)`: the record ends `error: hard time limit of Ns exceeded` before
  Celery stores its FAILURE (TimeLimitExceeded) and the child is killed.
- **Poison pills.** A task whose process dies (os._exit, SIGKILL, a crash in a C extension) is requeued by Celery
  (`task_reject_on_worker_lost`) and would run, and die, for ever. Each death is counted per task id in Redis;
  at `max_worker_deaths` the record ends `error: worker process died N times (signal 9 (SIGKILL))`, the message
  goes to the dead-letter list and is acknowledged, and Celery stores FAILURE (WorkerDiedRepeatedly). Earlier
  deaths are noted on the record (`last_error`) before the message is requeued.

A whole worker killed with its pool (machine lost) has no parent left to count: the stale sweep handles it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import redis
from billiard.einfo import ExceptionInfo
from billiard.exceptions import WorkerLostError
from celery.worker import state as worker_state
from celery.worker.request import Request

from base.keys import AppKeys
from progress import ProgressError, ProgressStore
from tracking.bad_messages import dead_letter, end_record, raw_message
from tracking.errors import WorkerDiedRepeatedly
from tracking.registry import Tracking, tracking_of

log = logging.getLogger(__name__)
_STATUS = re.compile(r"(signal \d+(?: \(\w+\))?|exitcode -?\d+)")


class TrackedRequest(Request):
    """Celery's Request, ending the record itself on a hard time limit and on repeated worker deaths."""

    @property
    def _tracking(self) -> Tracking | None:
        return tracking_of(self.task.app)

    def on_timeout(self, soft: bool, timeout: float) -> None:
        """Celery's handling, preceded for the hard limit by the record's end (it names the limit)."""
        tracking = self._tracking
        if not soft and not worker_state.should_terminate and tracking is not None:
            self._hard_limit_hit = True  # the kill that follows is the limit's, not a death to count
            end_record(tracking.store(), self.id, f"hard time limit of {timeout:g}s exceeded",
                       message="time limit exceeded")
        super().on_timeout(soft, timeout)

    def on_failure(self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False) -> Any:
        """Celery's handling; a worker death is counted first, and at the limit ends the task for good."""
        status = self._death_status(exc_info.exception)
        tracking = self._tracking
        if status is not None and tracking is not None:
            exc_info = self._on_death(tracking, status) or exc_info
        return super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)

    def _death_status(self, exc: Any) -> str | None:
        """'signal 9 (SIGKILL)' / 'exitcode 3' when the pool process running this task died; else None."""
        exc = getattr(exc, "exc", exc)  # billiard's ExceptionWithTraceback
        if (getattr(self, "_hard_limit_hit", False) or getattr(self, "_already_cancelled", False)
                or getattr(self, "_already_revoked", False)
                or worker_state.should_terminate):  # a cold shutdown kills its pool: not the task's fault
            return None
        if isinstance(exc, WorkerLostError):
            found = _STATUS.search(str(exc))
            return found.group(1) if found else str(exc)
        if isinstance(exc, SystemExit):
            return f"exitcode {exc.code if isinstance(exc.code, int) else 1}"
        return None

    def _on_death(self, tracking: Tracking, status: str) -> ExceptionInfo | None:
        """Counts the death; at the limit ends the record, dead-letters the message and returns the error Celery
        must store (not a WorkerLostError, so Celery acknowledges instead of requeueing). None below the limit."""
        limit = tracking.settings().max_worker_deaths
        store = tracking.store()
        deaths = _count_death(store, self.id)
        if deaths is None or deaths < limit:
            noted = f"worker process died ({status}); {deaths or '?'} of {limit} deaths allowed"
            log.warning("task %s[%s]: %s; requeued", self.name, self.id, noted)
            _note(store, self.id, noted)
            return None
        reason = f"worker process died {deaths} times ({status})"
        log.error("task %s[%s]: %s; not run again", self.name, self.id, reason)
        end_record(store, self.id, reason, message="worker process died")
        dead_letter(raw_message(getattr(self, "_message", None)), reason, source="worker_deaths", task_id=self.id,
                    task_name=self.name, queue=self.delivery_info.get("routing_key"), end_task=False,
                    tracking=tracking)
        try:
            raise WorkerDiedRepeatedly(reason)
        except WorkerDiedRepeatedly:
            return ExceptionInfo()


def _count_death(store: ProgressStore, task_id: str) -> int | None:
    """This task's worker deaths so far, this one included (None when Redis refused to count)."""
    key = AppKeys(store.config.namespace).worker_deaths(task_id)
    try:
        pipe = store.redis.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, store.config.retention_s)
        deaths, _ = pipe.execute()
    except redis.RedisError as exc:
        log.error("could not count a worker death of %s: %s", task_id, exc)
        return None
    return int(deaths)


def _note(store: ProgressStore, task_id: str, last_error: str) -> None:
    try:
        store.apply(task_id, {"soft": True, "last_error": last_error})
    except (ProgressError, redis.RedisError) as exc:
        log.warning("could not note a worker death on %s: %s", task_id, exc)
