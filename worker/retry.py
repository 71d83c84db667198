"""Retrying an ended task with the arguments recorded at its enqueue.

A retry is a new task (new id, new record) whose metadata names the original (`retry_of`); the original's record
names the retry (`retried_as`). Only tasks that ended `error` or `cancelled` (a lost worker ends `error`) are
retried, only tracked tasks whose arguments were recorded, and never with masked secrets: a `***` the store put in
place of a secret would be sent as the value.
"""

from __future__ import annotations

import uuid
from typing import Any

from progress import ProgressStore, TaskRecord
from progress.detail import arguments_of
from progress.links import retried_as_call, run_link
from progress.models import is_secret_key
from progress.search import RETRYABLE
from tracking.enqueue_metadata import OWNER_HEADER, RETRY_OF_HEADER
from tracking.task import ProgressTask


class RetryRefused(ValueError):
    """The task cannot be retried; the message says why."""


def _masked(value: Any) -> list[str]:
    """The secret-looking keys whose value the store masked."""
    if isinstance(value, dict):
        found = [k for k, v in value.items() if is_secret_key(k) and v == "***"]
        return found + [k for v in value.values() for k in _masked(v)]
    if isinstance(value, list):
        return [k for v in value for k in _masked(v)]
    return []


def retry_plan(record: TaskRecord, tasks: dict[str, Any]) -> tuple[ProgressTask, dict[str, Any]]:
    """The task to publish and its arguments; raises RetryRefused saying why not."""
    if record.status not in RETRYABLE:
        raise RetryRefused(f"task {record.task_id} is {record.status.value}: only error or cancelled tasks are "
                           "retried")
    name = record.task_name or record.task_type
    task = tasks.get(name)
    if not isinstance(task, ProgressTask):
        raise RetryRefused(f"task {record.task_id}: {name} is not a tracked task of this app")
    args = arguments_of(record)
    if args is None:
        why = record.metadata.get("args_omitted") or "they were not recorded when it was enqueued"
        raise RetryRefused(f"task {record.task_id}: its arguments are not available ({why})")
    secrets = _masked(args)
    if secrets:
        raise RetryRefused(f"task {record.task_id}: argument {secrets[0]} was a secret and is not stored; "
                           "enqueue it again with the value")
    return task, args


def link_retry(store: ProgressStore, original: str, retry: str) -> None:
    """Records on the original which task retried it."""
    run_link(store.redis, retried_as_call(store.keys, original, retry))


def retry_task(store: ProgressStore, app: Any, task_id: str) -> str:
    """Publishes a retry of `task_id` (see the module's rules); the new task's id."""
    from worker.celery_app import load_tasks

    record = store.require(task_id)
    load_tasks()
    task, args = retry_plan(record, app.tasks)
    new_id = str(uuid.uuid4())
    headers = {RETRY_OF_HEADER: task_id}
    owner = record.metadata.get("user_id")
    if isinstance(owner, str):
        headers[OWNER_HEADER] = owner  # the retry belongs to whoever owned the original
    task.apply_async(kwargs=args, task_id=new_id, headers=headers)
    link_retry(store, task_id, new_id)
    return new_id
