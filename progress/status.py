"""Task statuses (seed 001) and the transitions between them."""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    """Lifecycle of a tracked task."""

    #: recorded (usually when the Celery message is published), not yet picked up by a worker
    CREATED = "created"
    #: a worker is executing it
    RUNNING = "running"
    #: an operator paused it; the task waits at its next progress call
    PAUSED = "paused"
    #: finished with results (final)
    COMPLETED = "completed"
    #: failed, with an error message (final)
    ERROR = "error"
    #: cancelled by an operator or revoked (final)
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Whether no further change is accepted."""
        return self in TERMINAL


TERMINAL = frozenset({TaskStatus.COMPLETED, TaskStatus.ERROR, TaskStatus.CANCELLED})


def can_transition(old: TaskStatus, new: TaskStatus) -> bool:
    """Whether `old -> new` is allowed; update.lua enforces the same rule atomically (a test pins both)."""
    if old.is_terminal:
        return False
    return not (new is TaskStatus.CREATED and old is not TaskStatus.CREATED)
