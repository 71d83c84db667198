"""A task's detail for operators: its record plus what the list leaves out.

Arguments (as recorded at enqueue, secrets already masked), the error with its traceback, every attempt (worker,
start, end, outcome; update.lua keeps them in the record's `att` field), the children of a batch or chord with their
states (the parent index), the links to and from a retry, the event timeline from the task's stream (kept a few
minutes after the end) and the newest lines of its log.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from progress import search
from progress.codec import at_ms, carry, event_from_entry
from progress.links import RETRIED_AS
from progress.models import JsonDict, ProgressEvent, ProgressInfo, Step, TaskRecord
from progress.search import RETRYABLE
from progress.status import TaskStatus
from progress.tasklog import LogLine, parse_entries

TIMELINE_MAX = 500
LOG_TAIL = 200
CHILDREN_MAX = 1000


class Attempt(BaseModel):
    """One run of the task by a worker."""

    attempt: int
    worker: str
    started_at: datetime
    ended_at: datetime | None = None
    outcome: str | None = Field(default=None, description="completed | error | cancelled | retry | lost; None: running")
    error: str | None = None


class ChildTask(BaseModel):
    """A child of a batch or chord, with its state."""

    task_id: str
    task_type: str
    task_name: str | None
    symbol: str | None
    status: TaskStatus
    progress: ProgressInfo
    error_message: str | None


class TaskError(BaseModel):
    """Why the task failed."""

    message: str | None
    traceback: str | None
    last_error: str | None = Field(description="the error of the last attempt that was retried")


class TaskDetail(BaseModel):
    """Everything an operator wants about one task."""

    task: TaskRecord
    arguments: JsonDict | None = Field(description="as enqueued (secret-looking keys masked); None: not recorded")
    owner: str | None
    parent_task_id: str | None
    retry_of: str | None
    retried_as: str | None
    retryable: bool = Field(description="ended as error or cancelled, with its arguments recorded")
    error: TaskError | None
    attempts: list[Attempt]
    steps: list[Step]
    children: list[ChildTask]
    timeline: list[ProgressEvent]
    logs: list[LogLine] = Field(description=f"the newest {LOG_TAIL} lines of its log, oldest first")


def arguments_of(record: TaskRecord) -> JsonDict | None:
    """The keyword arguments recorded at enqueue (metadata.args), if any."""
    args = record.metadata.get("args")
    return args if isinstance(args, dict) else None


def _text(meta: JsonDict, name: str) -> str | None:
    value = meta.get(name)
    return value if isinstance(value, str) else None


def queue_detail_reads(pipe: Any, store: Any, task_id: str) -> None:
    """Queues what the record does not carry: the attempts and retry link, the timeline and the log's tail."""
    pipe.hmget(store.keys.record(task_id), "att", RETRIED_AS)
    pipe.xrevrange(store.keys.events(task_id), "+", "-", count=TIMELINE_MAX)
    pipe.xrevrange(store.keys.task_log(task_id), "+", "-", count=LOG_TAIL)


def build_detail(record: TaskRecord, replies: list[Any], children: list[TaskRecord], store: Any) -> TaskDetail:
    """The detail from the record, the replies to `queue_detail_reads` and the children's records."""
    tz = store.config.tz
    (raw_attempts, retried_as), events, log_entries = replies
    timeline: list[ProgressEvent] = []
    previous: ProgressEvent | None = None
    for entry_id, fields in reversed(events):
        previous = carry(event_from_entry(entry_id, fields, tz, record.task_id), previous)
        timeline.append(previous)
    meta = record.metadata
    failed = record.error_message or record.last_error
    traceback = record.processing_details.get("traceback")
    return TaskDetail(
        task=record,
        arguments=arguments_of(record),
        owner=_text(meta, "user_id"),
        parent_task_id=_text(meta, "parent_task_id"),
        retry_of=_text(meta, "retry_of"),
        retried_as=retried_as or None,
        retryable=record.status in RETRYABLE and arguments_of(record) is not None,
        error=TaskError(message=record.error_message, last_error=record.last_error,
                        traceback=traceback if isinstance(traceback, str) else None) if failed else None,
        attempts=[_attempt(a, tz) for a in _attempts(raw_attempts)],
        steps=record.steps,
        children=[ChildTask(task_id=c.task_id, task_type=c.task_type, task_name=c.task_name, symbol=c.symbol,
                            status=c.status, progress=c.progress, error_message=c.error_message) for c in children],
        timeline=timeline,
        logs=parse_entries(list(reversed(log_entries)), tz),
    )


def _attempts(raw: str | None) -> list[dict[str, Any]]:
    try:
        decoded = json.loads(raw) if raw else []
    except ValueError:
        return []
    return [a for a in decoded if isinstance(a, dict) and "s" in a] if isinstance(decoded, list) else []


def _attempt(a: dict[str, Any], tz: Any) -> Attempt:
    """One entry of update.lua's attempt list (short member names, see the script's header)."""
    end = a.get("e")
    return Attempt(attempt=int(a.get("n") or 0), worker=str(a.get("w") or ""), started_at=at_ms(a["s"], tz),
                   ended_at=None if end is None else at_ms(end, tz), outcome=a.get("o"), error=a.get("x"))


def children_query(task_id: str) -> search.TaskQuery:
    """The query of a task's children."""
    return search.TaskQuery(parent=task_id)


def task_detail(store: Any, task_id: str) -> TaskDetail:
    """The detail of one task on a sync ProgressStore; raises TaskNotFound."""
    record = store.require(task_id)
    pipe = store.redis.pipeline(transaction=False)
    queue_detail_reads(pipe, store, task_id)
    replies = pipe.execute()
    children = search.search(store, children_query(task_id), 1, CHILDREN_MAX).tasks
    return build_detail(record, replies, children, store)


async def atask_detail(store: Any, task_id: str) -> TaskDetail:
    """The detail of one task on an AsyncProgressStore; raises TaskNotFound."""
    record = await store.require(task_id)
    pipe = store.redis.pipeline(transaction=False)
    queue_detail_reads(pipe, store, task_id)
    replies = await pipe.execute()
    children = (await search.asearch(store, children_query(task_id), 1, CHILDREN_MAX)).tasks
    return build_detail(record, replies, children, store)
