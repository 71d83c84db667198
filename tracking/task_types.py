"""A task's two names in its record: the seed's short `task_type` and Celery's full `task_name`."""

from __future__ import annotations

from typing import TypedDict


class RecordNames(TypedDict):
    """The two names, as `create_task` keyword arguments."""

    task_type: str
    task_name: str


def task_type_of(task_name: str) -> str:
    """The seed's short type of a Celery task name: `tasks.market_data.fetch_data` -> `fetch_data`."""
    return task_name.rsplit(".", 1)[-1]


def record_names(task_name: str) -> RecordNames:
    """`create_task` keyword arguments naming a task of this Celery name (short type and full name)."""
    return RecordNames(task_type=task_type_of(task_name), task_name=task_name)
