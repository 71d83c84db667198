"""A Celery result backend that reads a tracked task's state from its progress record until Celery stores the end.

Before it, every throttled progress write was mirrored into Celery (`update_state(PROGRESS)`: about 1.2 ms of
worker CPU a write), and the two states disagreed after a cancel. With this backend the record is the one state
while a task runs: `AsyncResult(id).state` / `.info` say PROGRESS with the record's numbers while it runs or is
paused, and REVOKED as soon as it is cancelled. Celery still stores each task's end once (SUCCESS, FAILURE,
REVOKED), and that stored end is returned as before, so `.get()` (its pub/sub consumer), groups, chords and
Flower work unchanged. Only a client's read of a state that is not final is overridden (`get_task_meta`: the
worker's own reads before it stores an end never pay for the record), and the worker skips Celery's read-before-store
when the attempt's own end on the record proves nothing was stored before it (`_store_result`, `ENDED_HERE`).
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import states
from celery.backends.redis import RedisBackend, SentinelBackend
from celery.exceptions import BackendStoreError, TaskRevokedError
from kombu.utils.encoding import bytes_to_str

from progress import ProgressError, TaskRecord, TaskStatus
from tracking.registry import tracking_of

PROGRESS_STATE = "PROGRESS"
#: The record statuses answered as PROGRESS (an ended record whose Celery end is not stored yet reads as its last
#: progress: the stored end follows within the task's own return).
_PROGRESS_STATUSES = (TaskStatus.RUNNING, TaskStatus.PAUSED, TaskStatus.COMPLETED, TaskStatus.ERROR)
#: The attribute of a task's request that names the Celery state (SUCCESS or FAILURE) whose end this attempt wrote
#: to a record it found at its start (set by ProgressTask; see `_store_result`).
ENDED_HERE = "record_ended_here"
log = logging.getLogger(__name__)


def progress_meta(record: TaskRecord) -> dict[str, Any]:
    """A record's progress as Celery's PROGRESS info (the shape the mirror wrote, plus the message)."""
    return {"current": record.progress.current, "total": record.progress.total,
            "percentage": record.progress.percentage, "status": record.status.value, "message": record.current_status}


class RecordReadingBackend(RedisBackend):
    """Celery's Redis result backend, whose states before a task's end come from the task's progress record."""

    #: Tells ProgressTask that Celery reads the record, so routine progress writes are not mirrored (tracking/task.py).
    reads_progress_record = True
    app: Any  # set by Celery's Backend.__init__

    def get_task_meta(self, task_id: str, cache: bool = True) -> dict[str, Any]:
        """Celery's stored meta when it is final; else the record's state (PENDING while there is none)."""
        meta: dict[str, Any] = super().get_task_meta(task_id, cache)
        if meta["status"] in states.READY_STATES:
            return meta
        record = self._record(task_id)
        if record is None or record.status in (TaskStatus.CREATED,):
            return meta  # queued (PENDING) or retrying (Celery's RETRY): Celery already says so
        if record.status is TaskStatus.CANCELLED:
            # Shaped as Celery stores a revoke: `.get()` raises TaskRevokedError, as once the worker stores it.
            return {**meta, "task_id": task_id, "status": states.REVOKED, "traceback": None,
                    "result": TaskRevokedError("cancelled")}
        if record.status in _PROGRESS_STATUSES:
            return {**meta, "task_id": task_id, "status": PROGRESS_STATE, "result": progress_meta(record)}
        return meta

    def _store_result(self, task_id: str, result: Any, state: str, traceback: Any = None, request: Any = None,
                      **kwargs: Any) -> Any:
        """Celery's store, without its read of the stored state when this attempt's own end on the record says
        no SUCCESS can be stored: Celery reads first so that a lost worker's late copy never overwrites a
        SUCCESS, and the record already fences that (an end is applied once; a SUCCESS is stored only after its
        attempt's end was applied, and a record never leaves an end). One round trip a task, not two."""
        if getattr(request, ENDED_HERE, None) != state:
            return super()._store_result(task_id, result, state, traceback, request, **kwargs)  # type: ignore[misc]
        # Celery 5.x's _store_result from here on, less the read (celery/backends/base.py).
        celery: Any = self  # Celery's private helpers, not in its stubs
        meta = celery._get_result_meta(result=result, state=state, traceback=traceback, request=request)
        meta["task_id"] = bytes_to_str(task_id)
        try:
            celery._set_with_state(self.get_key_for_task(task_id), self.encode(meta), state)
        except BackendStoreError as ex:
            # Celery 5 takes these keywords; its stubs lag behind.
            raise BackendStoreError(str(ex), state=state, task_id=task_id) from ex  # type: ignore[call-arg]
        return result

    def _record(self, task_id: str) -> TaskRecord | None:
        """The task's record (one round trip), or None: no record, an app without tracking, or the store unreachable."""
        tracking = tracking_of(self.app)
        if tracking is None:
            return None
        try:
            return tracking.store().get_task_status(task_id)
        except (ProgressError, redis.RedisError, OSError) as exc:
            # Celery's own state is still an answer; `.get()` must keep waiting for the stored end.
            log.warning("progress record of %s unreadable, answering Celery's state: %s", task_id, exc)
            return None


class RecordReadingSentinelBackend(RecordReadingBackend, SentinelBackend):
    """The same, on Redis Sentinel (`sentinel://` result locations)."""


def record_reading(backend: type[Any]) -> type[Any]:
    """The record-reading version of Celery's Redis or Sentinel backend class (any other class unchanged)."""
    if backend is SentinelBackend:
        return RecordReadingSentinelBackend
    if backend is RedisBackend:
        return RecordReadingBackend
    return backend


def reads_record(backend: Any) -> bool:
    """Whether an app's backend answers running states from the record (then nothing is mirrored into it)."""
    return bool(getattr(backend, "reads_progress_record", False))
