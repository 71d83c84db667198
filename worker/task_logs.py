"""Per-task logs and JSON log lines in the worker: what a tracked task logs goes to its own capped log.

A `TaskLogHandler` on the root logger of every worker process keeps the records emitted while a tracked task runs
(its logger, `self.progress.log(...)`, Celery's own line about its end) in that task's log (progress.tasklog).
With `TASKRUNNER_LOG_FORMAT=json` the worker's handlers write JSON lines carrying the task_id.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_task
from celery.signals import after_setup_logger, after_setup_task_logger, worker_process_init

from base.json_logs import use_json
from base.settings import get_settings
from progress.tasklog import TaskLog, TaskLogHandler, reporter_logger
from worker.store import progress_store

_logs: dict[int, TaskLog] = {}


def running_task_id() -> str | None:
    """The id of the tracked task running in this thread, if any."""
    from tracking.task import ProgressTask

    # current_task is a proxy: the object behind it (None outside a task), which the stubs do not describe.
    task = current_task._get_current_object()  # type: ignore[attr-defined]
    if task is None or not isinstance(task, ProgressTask) or task.request.called_directly:
        return None
    tid = task.request.id
    return str(tid) if tid else None


def task_log() -> TaskLog:
    """This process's task-log writer (on the process's progress store connection)."""
    store = progress_store()
    found = _logs.get(id(store))
    if found is None:
        settings = get_settings()
        found = TaskLog(store.redis, store.keys, maxlen=settings.task_log_max_lines, ttl_s=settings.task_log_ttl_s,
                        tz=store.config.tz)
        _logs.clear()
        _logs[id(store)] = found
    return found


def install_task_log_handler() -> None:
    """Adds the task-log handler to the root logger once per process."""
    root = logging.getLogger()
    if not any(isinstance(h, TaskLogHandler) for h in root.handlers):
        root.addHandler(TaskLogHandler(task_log, running_task_id))
    reporter_logger()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _format_worker_logs(logger: logging.Logger | None = None, **_: Any) -> None:
    # Celery replaces the root logger's handlers when it sets up logging: the task-log handler goes back on.
    install_task_log_handler()
    if logger is not None and get_settings().log_format == "json":
        use_json([logger], running_task_id)


@worker_process_init.connect
def _on_process_start(**_: Any) -> None:
    install_task_log_handler()


# Not installed at import: a root logger that already has a handler is one Celery takes as configured, and it would
# then add none of its own (Beat's and the worker's log lines would go nowhere). The signals above install it once
# Celery has set up logging.
