"""Seed 002's step endpoints: `GET /api/progress/{id}` (a task's steps, percentage, remaining time) and
`POST /api/progress/{id}/update` (start or complete a step), on the progress core's steps.

The seed's session is a task here: its id is the task id, its steps the record's steps (numbered from 1, named).
Access is the task endpoints' (api/routes_tasks.py): the service token any task, a user only their own.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Caller
from api.routes_tasks import check_task_access
from api.state import State
from progress import InvalidValue, Step, TaskRecord, TaskStatus
from progress.models import MAX_ERROR_CHARS, MAX_MESSAGE_CHARS
from progress.steps import StepAction, all_succeeded, current_step, step_change

router = APIRouter(prefix="/api/progress", tags=["steps"])
TaskId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$", description="task id")]

RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "unknown task (seed 002's body: status `not_found`)"},
    409: {"description": "the task has ended, or the step has not started"},
}


class ProgressResponse(BaseModel):
    """Seed 002's progress response for one task."""

    session_id: str = Field(description="the task id")
    current_step: int = Field(default=0, description="the step started last; 0 before any")
    total_steps: int = 0
    status: str = Field(description="pending (created), running, paused, completed, error, cancelled; not_found")
    steps: list[Step] = Field(default_factory=list, description="every step, pending ones included")
    percentage: int = Field(default=0, description="items done when the task counts items, else steps ended")
    estimated_remaining_ms: int | None = Field(
        default=None, description="from the item rate or the steps' estimates; null when nothing tells"
    )


class UpdateProgressRequest(BaseModel):
    """Seed 002's update request: start or complete step `step`."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["start", "complete"]
    step: int = Field(ge=1, le=10_000, description="the step's number (from 1)")
    timeout_ms: int | None = Field(default=None, ge=0, le=10**12,
                                   description="start: replaces the step's timeout; omitted: the defined one stays")
    success: bool = Field(default=True, description="complete: false ends the step `error`")
    message: str = Field(default="", max_length=MAX_MESSAGE_CHARS)
    error: str = Field(default="", max_length=MAX_ERROR_CHARS)
    name: str | None = Field(default=None, min_length=1, max_length=200,
                             description="start of a step not defined yet (the next number): its name "
                                         "(default STEP<n>)")


class UpdateProgressResponse(BaseModel):
    """Seed 002's update response."""

    success: bool
    session_id: str


def progress_response(record: TaskRecord) -> ProgressResponse:
    """A record in seed 002's shape."""
    if record.status.is_terminal:
        remaining: int | None = 0
    else:
        remaining = None if record.eta_seconds is None else round(record.eta_seconds * 1000)
    return ProgressResponse(
        session_id=record.task_id,
        current_step=current_step(record.steps),
        total_steps=len(record.steps),
        status="pending" if record.status is TaskStatus.CREATED else record.status.value,
        steps=record.steps,
        percentage=int(record.progress.percentage),  # seed 002 floors it
        estimated_remaining_ms=remaining,
    )


@router.get("/{task_id}", response_model=ProgressResponse, responses=RESPONSES)
async def get_progress(task_id: TaskId, who: Caller, st: State) -> ProgressResponse | JSONResponse:
    """The task's steps, percentage and remaining time (seed 002)."""
    record = await st.store.get_task_status(task_id)
    if record is None:
        body = ProgressResponse(session_id=task_id, status="not_found").model_dump(mode="json")
        return JSONResponse({**body, "detail": f"task not found: {task_id}"}, status_code=404)
    check_task_access(who, record)
    return progress_response(record)


@router.post("/{task_id}/update", response_model=UpdateProgressResponse, responses=RESPONSES)
async def update_progress(
    task_id: TaskId, req: UpdateProgressRequest, who: Caller, st: State
) -> UpdateProgressResponse | JSONResponse:
    """Starts or completes one step (seed 002); the last step completed successfully completes the task."""
    record = await st.store.require(task_id)
    check_task_access(who, record)
    if record.status.is_terminal:
        return _conflict(f"task {task_id} has ended ({record.status.value})", record.status)
    name = _step_name(record, req)
    if req.action == "start":
        # Like a worker's step: the task is running from its first step on (a paused one stays paused).
        change = {"status": TaskStatus.RUNNING.value, "soft": True, "message": name,
                  "step": step_change("start", name, timeout_ms=req.timeout_ms, message=req.message or None)}
    else:
        started = next(s for s in record.steps if s.step == req.step)
        if started.started_at is None:
            return _conflict(f"step: step {req.step} ({name!r}) has not started", record.status)
        action: StepAction = "complete" if req.success else "fail"
        change = {"step": step_change(action, name, message=req.message or None, error=req.error or None)}
    result = await st.store.apply(task_id, change)
    if not result.applied:
        return _conflict(f"task {task_id} has ended ({result.status.value})", result.status)
    if req.action == "complete" and req.success:
        # Seed 002: the session completes once every step has. Read after the write, so of two last steps
        # completed at once at least one sees both done (a second completion is ignored).
        after = await st.store.require(task_id)
        if not after.status.is_terminal and all_succeeded(after.steps):
            await st.store.apply(task_id, {"status": TaskStatus.COMPLETED.value, "message": "completed"})
    return UpdateProgressResponse(success=True, session_id=task_id)


def _step_name(record: TaskRecord, req: UpdateProgressRequest) -> str:
    """The name of step `req.step`: a defined one's, or the next number's (start only); 422 names the field."""
    by_number = {s.step: s for s in record.steps}
    if req.step in by_number:
        defined = by_number[req.step].name
        if req.name is not None and req.name != defined:
            raise _invalid("name", f"step {req.step} is {defined!r}, not {req.name!r}")
        return defined
    if req.action != "start" or req.step != len(record.steps) + 1:
        raise _invalid("step", f"step {req.step} is not defined (the task has {len(record.steps)} steps; "
                               f"a new one starts as step {len(record.steps) + 1})")
    name = req.name or f"STEP{req.step}"
    if any(s.name == name for s in record.steps):
        raise _invalid("name", f"a step named {name!r} exists already")
    return name


def _invalid(field: str, reason: str) -> InvalidValue:
    """422 naming the field, in the shape of a validation error (api/errors.py)."""
    return InvalidValue(field, reason)


def _conflict(detail: str, current: TaskStatus) -> JSONResponse:
    return JSONResponse({"detail": detail, "current_status": current.value}, status_code=409)
