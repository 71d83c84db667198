"""Exceptions of the Celery integration."""

from __future__ import annotations

import redis
from pydantic import ValidationError


class InvalidTaskArguments(ValueError):
    """A task was given arguments that fail its model; never retried. `errors` names each bad field."""

    def __init__(self, task_name: str, errors: list[dict[str, str]]) -> None:
        self.task_name = task_name
        self.errors = errors
        detail = "; ".join(f"{e['field']}: {e['error']}" for e in errors)
        super().__init__(f"invalid arguments for {task_name}: {detail}")

    @classmethod
    def from_validation(cls, task_name: str, exc: ValidationError) -> InvalidTaskArguments:
        """Builds the error from pydantic's, one entry per failing field."""
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or "(arguments)", "error": e["msg"]} for e in exc.errors()
        ]
        return cls(task_name, errors)

    def __reduce__(self) -> tuple[type[InvalidTaskArguments], tuple[str, list[dict[str, str]]]]:
        # Celery pickles/serialises exceptions to report them; keep them reconstructible.
        return (self.__class__, (self.task_name, self.errors))


class TransientError(Exception):
    """A failure worth retrying with backoff (a provider timeout, an SMTP 4xx)."""


class UndeliverableMessage(Exception):
    """A task's message could not be run as sent (garbage, or its worker process kept dying); Celery's FAILURE."""


class WorkerDiedRepeatedly(Exception):
    """A task's worker process died `max_worker_deaths` times running it (a poison pill); it is not run again."""


def is_out_of_memory(exc: BaseException) -> bool:
    """Redis refused a write at maxmemory (noeviction), directly or wrapped by kombu (its cause)."""
    return any(isinstance(e, redis.OutOfMemoryError) for e in (exc, exc.__cause__, exc.__context__))
