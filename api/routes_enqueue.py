"""Enqueue over HTTP: any ProgressTask under tasks.*, its JSON arguments validated by the task's args_model."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Request
from kombu.exceptions import OperationalError
from pydantic import BaseModel, Field
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool

from api.auth import Caller, Principal, forbidden
from api.ownership import check_references, with_caller_defaults
from api.state import ApiState, State
from base.queues import queue_for
from tracking.enqueue_metadata import enqueue_metadata
from tracking.ownership import internal_reason
from tracking.task import ProgressTask
from tracking.task_types import record_names

router = APIRouter(prefix="/api", tags=["enqueue"])
log = logging.getLogger(__name__)
TaskName = Annotated[str, Path(max_length=200, pattern=r"^tasks\.[A-Za-z0-9_.]+$", description="Celery task name")]


class TaskInfo(BaseModel):
    """One task, with the JSON schema of its arguments (fields marked `x-owned` are checked against the caller)."""

    name: str
    queue: str
    description: str
    arguments: dict[str, Any]
    enqueueable: bool = Field(default=True, description="false: an internal task; POST answers 403 with the reason")
    internal: str | None = Field(default=None, description="why the task is internal (run only by the system)")


class Enqueued(BaseModel):
    """Where to watch a task that was just queued."""

    task_id: str
    task_name: str
    queue: str
    status_url: str
    ws_url: str
    sse_url: str


def enqueueable(st: ApiState) -> dict[str, ProgressTask]:
    """The Celery app's tracked tasks under tasks.* that declare an args_model and are not internal."""
    return {name: task for name, task in _tracked(st).items() if internal_reason(task) is None}


def _tracked(st: ApiState) -> dict[str, ProgressTask]:
    out: dict[str, ProgressTask] = {}
    for name, task in st.celery.tasks.items():
        if name.startswith("tasks.") and isinstance(task, ProgressTask) and task.args_model is not None:
            out[name] = task
    return out


def _internal(st: ApiState) -> dict[str, str]:
    """Every task under tasks.* marked internal (tracked or not), with the reason."""
    reasons = {name: internal_reason(task) for name, task in st.celery.tasks.items() if name.startswith("tasks.")}
    return {name: reason for name, reason in reasons.items() if reason is not None}


@router.get("/tasks", response_model=list[TaskInfo])
async def list_enqueueable(_: Caller, st: State) -> list[TaskInfo]:
    """The tracked tasks and their argument schemas; internal ones (chord callbacks, Beat jobs) are listed with
    `enqueueable: false` and the reason, and POST refuses them."""
    internal = _internal(st)
    infos = {
        name: TaskInfo(name=name, queue=queue_for(name), description=_summary(task),
                       arguments=task.args_model.model_json_schema() if task.args_model else {},
                       enqueueable=name not in internal, internal=internal.get(name))
        for name, task in _tracked(st).items()
    }
    for name, reason in internal.items():
        infos.setdefault(name, TaskInfo(name=name, queue=queue_for(name), description=_summary(st.celery.tasks[name]),
                                        arguments={}, enqueueable=False, internal=reason))
    return [infos[name] for name in sorted(infos)]


def _summary(task: Any) -> str:
    return (task.__doc__ or "").strip().split("\n")[0]


@router.post("/tasks/{name}", status_code=202, response_model=Enqueued, responses={
    403: {"description": "an internal task, or an argument names another user or another user's task"},
    404: {"description": "no such enqueueable task"},
    422: {"description": "arguments fail the task's model (each field and reason listed)"},
    503: {"description": "the message broker is unreachable; nothing was queued"},
})
async def enqueue(
    name: TaskName,
    request: Request,
    who: Caller,
    st: State,
    arguments: Annotated[dict[str, Any], Body(description="the task's keyword arguments")],
) -> Enqueued:
    """Validates the arguments, checks every task and user they name against the caller, records the task (owned
    by the calling user) and publishes it."""
    task_id = await publish(st, who, name, arguments)
    return Enqueued(
        task_id=task_id, task_name=name, queue=queue_for(name),
        status_url=str(request.url_for("task_status", task_id=task_id)),
        ws_url=_ws(str(request.url_for("task_socket", task_id=task_id))),
        sse_url=str(request.url_for("task_events", task_id=task_id)),
    )


async def publish(st: ApiState, who: Principal, name: str, arguments: dict[str, Any], *,
                  retry_of: str | None = None, owner: str | None = None) -> str:
    """Enqueues task `name` for the caller as POST /api/tasks/{name} does (403 internal, 404 unknown, 422 bad
    arguments, 403 foreign references, 503 broker down); the new task's id. A retry names the task it replaces and
    keeps its owner."""
    why = _internal(st).get(name)
    if why is not None:
        raise forbidden(f"{name} is internal ({why}); it cannot be enqueued over HTTP")
    task = enqueueable(st).get(name)
    if task is None or task.args_model is None:
        raise HTTPException(404, detail=f"no enqueueable task named {name}")
    arguments = with_caller_defaults(who, task.args_model, arguments)  # a user's results go to them by default
    params = task.validate_arguments((), arguments)  # InvalidTaskArguments: 422 naming each field (api.errors)
    await check_references(who, params, st.store)
    kwargs = params.model_dump(mode="json")
    task_id = str(uuid.uuid4())
    symbol = kwargs.get("symbol") if isinstance(kwargs.get("symbol"), str) else None
    # Created here, not only by the publish hook, so the record names its owner before anyone can watch it.
    metadata = {"queue": queue_for(name), "requested_via": "api",
                **enqueue_metadata(kwargs, retry_of=retry_of, owner=owner or who.user_id)}
    await st.store.create_task(**record_names(name), symbol=symbol or None, metadata=metadata, task_id=task_id,
                               message="queued")
    try:
        await run_in_threadpool(task.apply_async, kwargs=kwargs, task_id=task_id)
    except (OperationalError, RedisError, OSError) as exc:
        reason = f"message broker unavailable, task not queued: {type(exc).__name__}: {exc}"
        log.error("enqueue %s failed: %s", name, reason)
        await st.store.update_progress(task_id, status="error", message="not queued", error_message=reason)
        raise HTTPException(503, detail=reason) from None
    return task_id


def _ws(url: str) -> str:
    return "ws" + url[4:] if url.startswith("http") else url
