"""TrackedCelery: a Celery app class that also tracks publishes by name and survives Redis at maxmemory.

Optional: `install(app)` is all a plain Celery app needs for its ProgressTasks. An app of this class adds three
things: a publish by name (`app.send_task("...")`) is recorded like a publish by object; a publish that fails
ends the record `error` instead of leaving it `created` for ever; and a Redis result backend retries a write
refused at maxmemory like a lost connection. With the Celery setting `taskrunner_celery_progress = "record"` (the
project's app sets it), its Redis result backend reads running states from the progress record
(tracking/result_backend.py) and progress writes are no longer mirrored into Celery.
"""

from __future__ import annotations

from typing import Any

import redis
from celery import Celery
from celery.app import backends
from celery.backends.redis import RedisBackend
from celery.utils import uuid
from kombu.exceptions import OperationalError

from tracking.errors import is_out_of_memory
from tracking.registry import publishing, tracking_of
from tracking.result_backend import record_reading
from tracking.task import mark_not_queued, tracked_task

#: The Celery setting choosing where AsyncResult reads a running task's state: "record" (the progress record) or
#: anything else / unset (Celery's own backend, progress mirrored into it by update_state).
CELERY_PROGRESS_SETTING = "taskrunner_celery_progress"


class BrokerOutOfMemory(OperationalError):
    """A publish Redis refused because it is at maxmemory (OOM): nothing was queued; retry once memory frees."""


class TrackedCelery(Celery):
    """Celery whose publishes never leave a progress record saying `created` for a message that was not sent."""

    # Celery's own parameters are forwarded unchanged through **options (the stubs spell out thirty of them).
    def send_task(self, name: str, args: Any = None, kwargs: Any = None,  # type: ignore[override]
                  **options: Any) -> Any:
        """Sends by name (every publish, by object or by name, ends here); a failed publish ends the record as
        `error` and re-raises, so the caller gets a clear error and the record does not wait for ever."""
        options["task_id"] = options.get("task_id") or uuid()
        try:
            with publishing(self):
                return super().send_task(name, args, kwargs, **options)
        except Exception as exc:
            tracking = tracking_of(self)
            if tracking is not None and tracked_task(tracking, name) is not None:
                mark_not_queued(tracking.store(), str(options["task_id"]), exc)
            if is_out_of_memory(exc):
                raise BrokerOutOfMemory(f"task not queued: Redis is out of memory (maxmemory reached, it refuses "
                                        f"writes until memory frees): {exc}") from exc
            raise

    def _get_backend(self) -> Any:
        # Celery 5.7's _get_backend, with a Redis result backend that also retries a write refused at maxmemory.
        found: Any = backends.by_url(self.backend_cls or self.conf.result_backend, self.loader)  # (class, url)
        backend, url = found
        if self.conf.get(CELERY_PROGRESS_SETTING) == "record":
            backend = record_reading(backend)
        if isinstance(backend, type) and issubclass(backend, RedisBackend):
            backend = type(backend.__name__, (_RetriesOutOfMemory, backend), {})
        return backend(app=self, url=url)


class _RetriesOutOfMemory:
    """Makes a Redis result backend treat OOM like a lost connection: with `result_backend_always_retry`, Celery
    then retries the write with backoff (bounded by `result_backend_max_retries`) instead of failing the task."""

    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        """Connection errors (Celery's own rule) and Redis refusing writes at maxmemory."""
        return isinstance(exc, redis.OutOfMemoryError) or super().exception_safe_to_retry(exc)  # type: ignore[misc]
