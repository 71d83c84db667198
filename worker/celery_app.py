"""The Celery application: created, configured from Settings, tasks included. Kept thin on purpose."""

from __future__ import annotations

from celery import Celery

from taskrunner.settings import get_settings
from worker.config import celery_config

app = Celery("taskrunner")
app.config_from_object(celery_config(get_settings()))

import worker.heartbeat  # noqa: E402  (refreshes the heartbeats of the tasks each worker process runs)
import worker.signals  # noqa: E402,F401  (connects the publish/revoke handlers to this app)


def load_tasks() -> None:
    """Imports the task modules (`include`), as the worker does at start; clients need it to publish by object."""
    app.loader.import_default_modules()
