"""This project's Celery app: created, configured from Settings, tracked, tasks included. Kept thin on purpose."""

from __future__ import annotations

from typing import Any

from base.connections import ConnectionSettingError
from base.queues import queue_for
from base.settings import get_settings
from tracking import TrackedCelery, install
from worker.config import celery_config
from worker.store import progress_store


class TaskrunnerCelery(TrackedCelery):
    """This project's app class: tracked on the project's store, priorities in the broker's own convention."""

    amqp_cls = "worker.publish:TaskrunnerAMQP"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Every app of this class (tests build more, on other brokers) records into the configured progress store.
        install(self, store=progress_store, settings=get_settings, queue_of=queue_for)


app = TaskrunnerCelery("taskrunner")
try:
    app.config_from_object(celery_config(get_settings()))
except ConnectionSettingError as exc:
    # One line naming the setting (a worker, Beat or Flower started with a bad location), not a traceback.
    raise SystemExit(f"taskrunner: {exc}") from None


def load_tasks() -> None:
    """Imports the task modules (`include`), as the worker does at start; clients need it to publish by object."""
    app.loader.import_default_modules()


import worker.task_logs  # noqa: E402,F401  (per-task logs and JSON log lines in this project's workers)
