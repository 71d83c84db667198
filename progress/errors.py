"""Exceptions raised by the progress core."""

from __future__ import annotations


class ProgressError(Exception):
    """Base class of the progress core's errors."""


class TaskNotFound(ProgressError, KeyError):
    """No record exists under that task id (never created, or removed by retention)."""

    def __init__(self, task_id: str) -> None:
        super().__init__(task_id)
        self.task_id = task_id

    def __str__(self) -> str:
        return f"task {self.task_id} not found"


class InvalidTransition(ProgressError, ValueError):
    """The requested status change is not allowed from the task's current status."""

    def __init__(self, task_id: str, current: str, requested: str) -> None:
        super().__init__(f"task {task_id}: cannot go from {current!r} to {requested!r}")
        self.task_id = task_id
        self.current = current
        self.requested = requested


class TaskCancelled(ProgressError):
    """Raised inside a running task at its next progress call after it was cancelled."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task {task_id} was cancelled")
        self.task_id = task_id


class TaskSuperseded(TaskCancelled):
    """Raised in an attempt whose task was started again by a newer attempt (its worker was presumed lost): its
    write was refused. The attempt must stop without ending the record, which belongs to the newer attempt."""

    def __init__(self, task_id: str, attempt: int = 0, newest: int = 0) -> None:
        ProgressError.__init__(self, task_id, attempt, newest)
        self.task_id = task_id
        self.attempt = attempt
        self.newest = newest

    def __str__(self) -> str:
        return f"task {self.task_id}: attempt {self.attempt} was superseded by attempt {self.newest}"


class InvalidValue(ProgressError, ValueError):
    """A write carried a value over the limits or not encodable (progress/limits.py); nothing was written."""

    def __init__(self, field: str, reason: str) -> None:
        # Both as args, so Celery can rebuild the exception from what it stores.
        super().__init__(field, reason)
        self.field = field
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class ProgressWriteError(ProgressError):
    """A status change or final state could not be written: Redis stayed unreachable past the retry window."""

    def __init__(self, task_id: str, cause: BaseException) -> None:
        super().__init__(f"task {task_id}: progress could not be written, Redis unreachable: {cause}")
        self.task_id = task_id


class NotReplicated(ProgressError, TimeoutError):
    """A write that must survive a failover reached fewer replicas than required in time (it is applied on the
    primary; retrying it is safe: creation is idempotent and a repeated final state is ignored)."""

    def __init__(self, task_id: str, acked: int, wanted: int, timeout_ms: int) -> None:
        super().__init__(f"task {task_id}: write confirmed by {acked} of {wanted} replica(s) within {timeout_ms} ms")
        self.task_id = task_id
