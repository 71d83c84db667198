"""JSON log lines (`TASKRUNNER_LOG_FORMAT=json`): one object per record, with the task it belongs to.

Log shippers (Loki, Elasticsearch, CloudWatch) index fields, so a task's lines are found by `task_id` instead of by
grepping. The task is the record's `task_id` attribute or what a resolver says runs in this thread (the worker's
current task).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

TaskResolver = Callable[[], str | None]


def _no_task() -> str | None:
    return None


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, message, task_id (null outside a task), and the
    exception's traceback when there is one."""

    def __init__(self, current_task: TaskResolver = _no_task) -> None:
        super().__init__()
        self._current_task = current_task

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON text (never raises: an odd message is rendered with str)."""
        task_id = getattr(record, "task_id", None) or self._current_task()
        body = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "task_id": task_id,
            "process": record.process,
        }
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False, default=str)


def use_json(loggers: Iterable[logging.Logger], current_task: TaskResolver = _no_task) -> None:
    """Gives every handler of these loggers the JSON formatter."""
    formatter = JsonFormatter(current_task)
    for logger in loggers:
        for handler in logger.handlers:
            handler.setFormatter(formatter)
