"""Enqueue over HTTP: any ProgressTask under tasks.*, its JSON arguments validated by the task's args_model."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Request
from kombu.exceptions import OperationalError
from pydantic import BaseModel
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool

from api.auth import Caller, Principal, forbidden
from api.state import ApiState, State
from worker.base import ProgressTask
from worker.queues import queue_for
from worker.task_types import record_names

router = APIRouter(prefix="/api", tags=["enqueue"])
log = logging.getLogger(__name__)
TaskName = Annotated[str, Path(max_length=200, pattern=r"^tasks\.[A-Za-z0-9_.]+$", description="Celery task name")]


class TaskInfo(BaseModel):
    """One task that can be enqueued, with the JSON schema of its arguments."""

    name: str
    queue: str
    description: str
    arguments: dict[str, Any]


class Enqueued(BaseModel):
    """Where to watch a task that was just queued."""

    task_id: str
    task_name: str
    queue: str
    status_url: str
    ws_url: str
    sse_url: str


def enqueueable(st: ApiState) -> dict[str, ProgressTask]:
    """The Celery app's tracked tasks under tasks.* that declare an args_model."""
    out: dict[str, ProgressTask] = {}
    for name, task in st.celery.tasks.items():
        if name.startswith("tasks.") and isinstance(task, ProgressTask) and task.args_model is not None:
            out[name] = task
    return out


@router.get("/tasks", response_model=list[TaskInfo])
async def list_enqueueable(_: Caller, st: State) -> list[TaskInfo]:
    """The tasks this API can enqueue and their argument schemas."""
    return [
        TaskInfo(name=name, queue=queue_for(name), description=(task.__doc__ or "").strip().split("\n")[0],
                 arguments=task.args_model.model_json_schema() if task.args_model else {})
        for name, task in sorted(enqueueable(st).items())
    ]


@router.post("/tasks/{name}", status_code=202, response_model=Enqueued, responses={
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
    """Validates the arguments, records the task (owned by the calling user) and publishes it."""
    task = enqueueable(st).get(name)
    if task is None:
        raise HTTPException(404, detail=f"no enqueueable task named {name}")
    model = task.args_model
    if who.user_id and model is not None and "user_id" in model.model_fields and arguments.get("user_id") is None:
        arguments = {**arguments, "user_id": who.user_id}  # a user's results go to their own channel by default
    params = task.validate_arguments((), arguments)  # InvalidTaskArguments: 422 naming each field (api.errors)
    kwargs = params.model_dump(mode="json")
    _check_owner(who, kwargs)
    task_id = str(uuid.uuid4())
    symbol = kwargs.get("symbol") if isinstance(kwargs.get("symbol"), str) else None
    # Created here, not only by the publish hook, so the record names its owner before anyone can watch it.
    metadata = {"queue": queue_for(name), "requested_via": "api"}
    if who.user_id:
        metadata["user_id"] = who.user_id
    await st.store.create_task(**record_names(name), symbol=symbol or None, metadata=metadata, task_id=task_id,
                               message="queued")
    try:
        await run_in_threadpool(task.apply_async, kwargs=kwargs, task_id=task_id)
    except (OperationalError, RedisError, OSError) as exc:
        reason = f"message broker unavailable, task not queued: {type(exc).__name__}: {exc}"
        log.error("enqueue %s failed: %s", name, reason)
        await st.store.update_progress(task_id, status="error", message="not queued", error_message=reason)
        raise HTTPException(503, detail=reason) from None
    return Enqueued(
        task_id=task_id, task_name=name, queue=queue_for(name),
        status_url=str(request.url_for("task_status", task_id=task_id)),
        ws_url=_ws(str(request.url_for("task_socket", task_id=task_id))),
        sse_url=str(request.url_for("task_events", task_id=task_id)),
    )


def _check_owner(who: Principal, kwargs: dict[str, Any]) -> None:
    """A user may only enqueue work on their own behalf (a `user_id` argument must be theirs)."""
    if who.is_operator or "user_id" not in kwargs or kwargs["user_id"] in (None, who.user_id):
        return
    raise forbidden(f"user {who.user_id} cannot enqueue work for user {kwargs['user_id']}")


def _ws(url: str) -> str:
    return "ws" + url[4:] if url.startswith("http") else url
