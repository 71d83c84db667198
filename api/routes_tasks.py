"""Seed 001's progress endpoints (create, update, status, list, cancel / pause / resume, health) on the core."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response
from fastapi.responses import JSONResponse
from pydantic import model_validator

from api.auth import Caller, Operator, Principal, forbidden
from api.state import ApiState, State
from progress import CreatedTask, HealthReport, TaskCreate, TaskList, TaskRecord, TaskStatus, TaskUpdate, UpdateResult
from progress.cascade import acancel_tree

router = APIRouter(prefix="/internal", tags=["tasks"])
TaskId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$", description="task id")]

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "unknown task"}}
REFUSED: dict[int | str, dict[str, Any]] = {**NOT_FOUND, 409: {"description": "not allowed in the task's status"}}


class UpdateRequest(TaskUpdate):
    """Seed 001's update request; at least one member must be given."""

    @model_validator(mode="after")
    def _not_empty(self) -> UpdateRequest:
        if not self.model_fields_set:
            raise ValueError("an update needs at least one of: " + ", ".join(TaskUpdate.model_fields))
        return self


class ApiHealth(HealthReport):
    """Seed 001's health document plus this process's live connections."""

    websockets: dict[str, Any]
    hub: dict[str, Any]


def owner_of(record: TaskRecord) -> str | None:
    """The user a task was enqueued for (metadata.user_id), if any."""
    owner = record.metadata.get("user_id")
    return owner if isinstance(owner, str) else None


def check_task_access(who: Principal, record: TaskRecord) -> None:
    """Operators see every task; a user only the tasks enqueued for them (403 otherwise)."""
    if not who.is_operator and (owner_of(record) is None or owner_of(record) != who.user_id):
        raise forbidden(f"task {record.task_id} does not belong to user {who.user_id}")


@router.post("/create-task", status_code=201, response_model=CreatedTask,
             responses={200: {"description": "a task with this task_id already existed", "model": CreatedTask}})
async def create_task(spec: TaskCreate, response: Response, _: Operator, st: State) -> CreatedTask:
    """Records a new task in status `created` (seed 001); an existing task_id is left as it is (200)."""
    created = await st.store.create(spec)
    if not created.created:
        response.status_code = 200
    return created


@router.put("/task/{task_id}/update", response_model=UpdateResult, responses=REFUSED)
async def update_task(task_id: TaskId, upd: UpdateRequest, _: Operator, st: State) -> UpdateResult:
    """Applies one progress change (seed 001); after the end it is ignored and `applied` is false."""
    return await st.store.update(task_id, upd)


@router.get("/task/{task_id}/status", response_model=TaskRecord, responses=NOT_FOUND)
async def task_status(task_id: TaskId, who: Caller, st: State) -> TaskRecord:
    """The task's full record (seed 001's status response, plus rate, ETA and steps)."""
    record = await st.store.require(task_id)
    check_task_access(who, record)
    return record


@router.get("/tasks", response_model=TaskList)
async def list_tasks(
    _: Operator,
    st: State,
    status: Annotated[TaskStatus | None, Query(description="only tasks in this status")] = None,
    task_type: Annotated[str | None, Query(max_length=100, description="only tasks of this type (fetch_data)")] = None,
    symbol: Annotated[str | None, Query(max_length=32, description="only tasks for this symbol")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    task_name: Annotated[str | None, Query(max_length=200, description="only tasks of this full task name "
                                           "(tasks.market_data.fetch_data); not combined with symbol")] = None,
) -> TaskList:
    """One page of tasks, newest first, with pagination and the per-status summary (seed 001)."""
    try:
        return await st.store.get_tasks_list(status, task_type or None, symbol or None, page, limit,
                                             task_name=task_name or None)
    except ValueError as exc:
        raise HTTPException(422, detail=str(exc)) from None


async def _operate(st: ApiState, who: Principal, task_id: str, action: str) -> UpdateResult | JSONResponse:
    record = await st.store.require(task_id)
    check_task_access(who, record)
    if action == "resume" and record.status is not TaskStatus.PAUSED:
        return _conflict(f"cannot resume a task in status {record.status.value}", record.status)
    if action == "cancel":
        # Children of a batch or chord first (progress.cascade), then the task itself.
        result = (await acancel_tree(st.store, task_id, "cancelled by " + (who.user_id or "a service"))).result
    elif action == "pause":
        result = await st.store.pause_task(task_id)
    else:
        result = await st.store.resume_task(task_id)
    if not result.applied:
        return _conflict(f"cannot {action} a task in status {result.status.value}", result.status)
    return result


def _conflict(detail: str, current: TaskStatus) -> JSONResponse:
    return JSONResponse({"detail": detail, "current_status": current.value}, status_code=409)


@router.post("/task/{task_id}/cancel", response_model=UpdateResult, responses=REFUSED)
async def cancel_task(task_id: TaskId, who: Caller, st: State) -> UpdateResult | JSONResponse:
    """Ends the task as `cancelled`; a running worker stops at its next progress write (409 once ended)."""
    return await _operate(st, who, task_id, "cancel")


@router.post("/task/{task_id}/pause", response_model=UpdateResult, responses=REFUSED)
async def pause_task(task_id: TaskId, who: Caller, st: State) -> UpdateResult | JSONResponse:
    """Pauses the task; its worker waits at its next progress write until resumed."""
    return await _operate(st, who, task_id, "pause")


@router.post("/task/{task_id}/resume", response_model=UpdateResult, responses=REFUSED)
async def resume_task(task_id: TaskId, who: Caller, st: State) -> UpdateResult | JSONResponse:
    """Resumes a paused task (409 unless paused)."""
    return await _operate(st, who, task_id, "resume")


@router.get("/health", response_model=ApiHealth, responses={503: {"description": "Redis is unreachable"}})
async def health(st: State) -> JSONResponse:
    """Seed 001's health document (no token needed), with WebSocket counts per endpoint and topic."""
    report = await st.store.health_check()
    body = ApiHealth(
        **report.model_dump(),
        websockets={**st.stats.snapshot(), "dashboard_sockets": st.dashboard.sockets},
        hub={"connected": st.hub.connected, "subscriptions": st.hub.reconnects,
             "channels": len(st.hub.channel_counts())},
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if report.status == "healthy" else 503)
