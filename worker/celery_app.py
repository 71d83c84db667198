"""The Celery application: created, configured from Settings, tasks included. Kept thin on purpose."""

from __future__ import annotations

from typing import Any

import redis
from celery import Celery
from celery.app import backends
from celery.backends.redis import RedisBackend
from celery.utils import uuid
from kombu.exceptions import OperationalError

from taskrunner.connections import ConnectionSettingError
from taskrunner.settings import get_settings
from worker.config import celery_config
from worker.errors import is_out_of_memory


class BrokerOutOfMemory(OperationalError):
    """A publish Redis refused because it is at maxmemory (OOM): nothing was queued; retry once memory frees."""


class TaskrunnerCelery(Celery):  # type: ignore[misc]
    """Celery whose publishes never leave a progress record saying `created` for a message that was not sent."""

    # Priorities in the broker's own convention (worker/publish.py).
    amqp_cls = "worker.publish:TaskrunnerAMQP"

    def send_task(self, name: str, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        """Sends by name (every publish, by object or by name, ends here); a failed publish ends the record as
        `error` and re-raises, so the caller gets a clear error and the record does not wait for ever."""
        options["task_id"] = options.get("task_id") or uuid()
        try:
            return super().send_task(name, args, kwargs, **options)
        except Exception as exc:
            from worker.base import ProgressTask, mark_not_queued

            if isinstance(self.tasks.get(name), ProgressTask):
                mark_not_queued(str(options["task_id"]), exc)
            if is_out_of_memory(exc):
                raise BrokerOutOfMemory(f"task not queued: Redis is out of memory (maxmemory reached, it refuses "
                                        f"writes until memory frees): {exc}") from exc
            raise

    def _get_backend(self) -> Any:
        # Celery 5.7's _get_backend, with a Redis result backend that also retries a write refused at maxmemory.
        backend, url = backends.by_url(self.backend_cls or self.conf.result_backend, self.loader)
        if isinstance(backend, type) and issubclass(backend, RedisBackend):
            backend = type(backend.__name__, (_RetriesOutOfMemory, backend), {})
        return backend(app=self, url=url)


class _RetriesOutOfMemory:
    """Makes a Redis result backend treat OOM like a lost connection: with `result_backend_always_retry`, Celery
    then retries the write with backoff (bounded by `result_backend_max_retries`) instead of failing the task."""

    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        """Connection errors (Celery's own rule) and Redis refusing writes at maxmemory."""
        return isinstance(exc, redis.OutOfMemoryError) or super().exception_safe_to_retry(exc)  # type: ignore[misc]


app = TaskrunnerCelery("taskrunner")
try:
    app.config_from_object(celery_config(get_settings()))
except ConnectionSettingError as exc:
    # One line naming the setting (a worker, Beat or Flower started with a bad location), not a traceback.
    raise SystemExit(f"taskrunner: {exc}") from None

import worker.bad_messages  # noqa: E402  (dead-letters what Celery's consumer cannot route)
import worker.heartbeat  # noqa: E402  (refreshes the heartbeats of the tasks each worker process runs)
import worker.signals  # noqa: E402  (connects the publish/revoke handlers to this app)
import worker.task_logs  # noqa: E402,F401  (per-task logs, JSON log lines)


def load_tasks() -> None:
    """Imports the task modules (`include`), as the worker does at start; clients need it to publish by object."""
    app.loader.import_default_modules()
