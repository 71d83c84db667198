"""The Celery application: created, configured from Settings, tasks included. Kept thin on purpose."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.utils import uuid

from taskrunner.connections import ConnectionSettingError
from taskrunner.settings import get_settings
from worker.config import celery_config


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
            raise


app = TaskrunnerCelery("taskrunner")
try:
    app.config_from_object(celery_config(get_settings()))
except ConnectionSettingError as exc:
    # One line naming the setting (a worker, Beat or Flower started with a bad location), not a traceback.
    raise SystemExit(f"taskrunner: {exc}") from None

import worker.heartbeat  # noqa: E402  (refreshes the heartbeats of the tasks each worker process runs)
import worker.signals  # noqa: E402,F401  (connects the publish/revoke handlers to this app)


def load_tasks() -> None:
    """Imports the task modules (`include`), as the worker does at start; clients need it to publish by object."""
    app.loader.import_default_modules()
