"""Operators' endpoints beyond seed 001: a task's detail and log, retry, search with a time range and an owner,
and bulk actions by filter (a dry run counts first)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.auth import Caller, Principal, StreamCaller
from api.errors import field_errors
from api.routes_enqueue import publish
from api.routes_stream import SSE_HEADERS, After, _sse, until_expiry
from api.routes_tasks import NOT_FOUND, REFUSED, TaskId, check_task_access, owner_of
from api.state import ApiState, State
from progress import TaskStatus
from progress.cascade import acancel_tree
from progress.detail import TaskDetail, atask_detail
from progress.links import retried_as_call, run_link
from progress.search import APPLIES_TO, TaskQuery, TaskSearch, amatching_ids, asearch
from progress.tasklog import LogLine, after_bound, parse_entries
from worker.retry import RetryRefused, retry_plan

router = APIRouter(prefix="/internal", tags=["operators"])
LOG_POLL_S = 0.5


def _invalid(exc: ValidationError | ValueError) -> HTTPException:
    """422 naming each bad filter and why."""
    if isinstance(exc, ValidationError):
        return HTTPException(422, detail="; ".join(f"{e['field']}: {e['error']}" for e in field_errors(exc.errors())))
    return HTTPException(422, detail=str(exc))


def scoped(who: Principal, query: TaskQuery) -> TaskQuery:
    """The query as the caller may run it: a plain user sees only their own tasks."""
    if who.is_operator:
        return query
    if query.user not in (None, who.user_id):
        raise HTTPException(403, detail=f"user {who.user_id} cannot list the tasks of user {query.user}")
    try:
        return TaskQuery(**{**query.model_dump(), "user": who.user_id})
    except ValidationError as exc:
        raise _invalid(exc) from None


def task_query(
    status: Annotated[TaskStatus | None, Query(description="only tasks in this status")] = None,
    task_type: Annotated[str | None, Query(max_length=100, description="short type (fetch_data)")] = None,
    symbol: Annotated[str | None, Query(max_length=32)] = None,
    task_name: Annotated[str | None, Query(max_length=200, description="full task name")] = None,
    user: Annotated[str | None, Query(max_length=200, description="owner (metadata.user_id); a user: themselves")]
    = None,
    parent: Annotated[str | None, Query(max_length=200, description="children of this batch")] = None,
    created_from: Annotated[datetime | None, Query(description="created at or after (ISO 8601)")] = None,
    created_to: Annotated[datetime | None, Query(description="created at or before (ISO 8601)")] = None,
) -> TaskQuery:
    """The search filters from the query string (422 naming the field when they do not combine)."""
    try:
        return TaskQuery(status=status, task_type=task_type or None, symbol=symbol or None,
                         task_name=task_name or None, user=user or None, parent=parent or None,
                         created_from=created_from, created_to=created_to)
    except ValidationError as exc:
        raise _invalid(exc) from None


Filters = Annotated[TaskQuery, Depends(task_query)]


@router.get("/tasks/search", response_model=TaskSearch)
async def search_tasks(
    who: Caller, st: State, query: Filters,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> TaskSearch:
    """A page of tasks matching the filters (a creation-time range too), newest first, with the store-wide summary
    and the matching tasks per status. A user's token lists only that user's tasks."""
    try:
        return await asearch(st.store, scoped(who, query), page, limit)
    except ValueError as exc:
        raise _invalid(exc) from None


@router.get("/task/{task_id}/detail", response_model=TaskDetail, responses=NOT_FOUND)
async def task_detail(task_id: TaskId, who: Caller, st: State) -> TaskDetail:
    """Arguments, results, error and traceback, attempts, steps, children, timeline and the log's tail."""
    record = await st.store.require(task_id)
    check_task_access(who, record)
    return await atask_detail(st.store, task_id)


class TaskLogPage(BaseModel):
    """Lines of a task's log after a given line."""

    task_id: str
    lines: list[LogLine]


async def _log_lines(st: ApiState, task_id: str, after: str | None, count: int) -> list[LogLine]:
    r: Any = st.store.redis
    entries = await r.xrange(st.store.keys.task_log(task_id), after_bound(after), "+", count=count)
    return parse_entries(entries, st.store.config.tz)


@router.get("/task/{task_id}/logs", response_model=TaskLogPage, responses=NOT_FOUND)
async def task_logs(
    task_id: TaskId, who: Caller, st: State, after: After = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> TaskLogPage:
    """The task's log lines (oldest first) after `after` (a line id)."""
    check_task_access(who, await st.store.require(task_id))
    return TaskLogPage(task_id=task_id, lines=await _log_lines(st, task_id, after, limit))


@router.get("/sse/task/{task_id}/logs", responses={**NOT_FOUND, 200: {"content": {"text/event-stream": {}}}})
async def task_log_events(task_id: TaskId, who: StreamCaller, st: State, after: After = None) -> StreamingResponse:
    """The task's log live as Server-Sent Events (`log` events, `id:` the line id); an `end` event once the task
    has ended and its last lines were sent."""
    check_task_access(who, await st.store.require(task_id))

    async def body() -> AsyncGenerator[str, None]:
        yield "retry: 2000\n\n"
        last = after
        while True:
            record = await st.store.get_task_status(task_id)
            lines = await _log_lines(st, task_id, last, 500)
            for line in lines:
                last = line.id
                yield _sse("log", line.model_dump(mode="json"), line.id)
            if record is None or (record.status.is_terminal and not lines):
                break
            if not lines:
                # A short poll, not a blocking XREAD: a blocked read would hold a pooled connection per viewer.
                await asyncio.sleep(LOG_POLL_S)
        yield _sse("end", {"task_id": task_id})

    return StreamingResponse(until_expiry(body(), who.expires_at), media_type="text/event-stream",
                             headers=SSE_HEADERS)


class Retried(BaseModel):
    """The task that retries another."""

    task_id: str
    retry_of: str


async def retry_one(st: ApiState, who: Principal, task_id: str) -> str:
    """Publishes a retry of `task_id` for the caller (the enqueue path's checks); the new id."""
    record = await st.store.require(task_id)
    check_task_access(who, record)
    try:
        task, args = retry_plan(record, st.celery.tasks)
    except RetryRefused as exc:
        raise HTTPException(409, detail=str(exc)) from None
    new_id = await publish(st, who, task.name, args, retry_of=task_id, owner=owner_of(record))
    await run_link(st.store.redis, retried_as_call(st.store.keys, task_id, new_id))
    return new_id


@router.post("/task/{task_id}/retry", status_code=202, response_model=Retried, responses={
    **REFUSED, 403: {"description": "another user's task, or an internal task (not retryable over HTTP)"}})
async def retry_task(task_id: TaskId, who: Caller, st: State) -> Retried:
    """Enqueues the task again with its recorded arguments (error or cancelled tasks; 409 says why not); the new
    record names the original (`retry_of`) and the original the retry (`retried_as`)."""
    return Retried(task_id=await retry_one(st, who, task_id), retry_of=task_id)


class BulkRequest(BaseModel):
    """A bulk action on every task matching a filter; a dry run (the default) only counts."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["cancel", "retry", "delete"]
    filter: TaskQuery = Field(default_factory=TaskQuery)
    dry_run: bool = True
    max_tasks: int = Field(default=1000, ge=1, le=10_000, description="at most this many tasks are acted on")


class BulkResult(BaseModel):
    """What a bulk action matched and did."""

    action: str
    dry_run: bool
    matched: int = Field(description="tasks the action applies to (cancel: active; retry: error or cancelled; "
                                     "delete: ended)")
    task_ids: list[str] = Field(description="the first 100 of them")
    done: int = 0
    failed: dict[str, str] = Field(default_factory=dict, description="task id -> why it was not done")


@router.post("/tasks/bulk", response_model=BulkResult)
async def bulk_action(req: BulkRequest, who: Caller, st: State) -> BulkResult:
    """Cancels, retries or deletes every task matching the filter (a user: only their own). Send it first with
    `dry_run: true` (the default) to learn how many tasks it matches."""
    query = scoped(who, req.filter)
    ids = await amatching_ids(st.store, query, APPLIES_TO[req.action], req.max_tasks)
    result = BulkResult(action=req.action, dry_run=req.dry_run, matched=len(ids), task_ids=ids[:100])
    if req.dry_run:
        return result
    for tid in ids:
        try:
            if not await _act(st, who, req.action, tid):
                result.failed[tid] = "already changed"
                continue
            result.done += 1
        except HTTPException as exc:
            result.failed[tid] = str(exc.detail)
    return result


async def _act(st: ApiState, who: Principal, action: str, task_id: str) -> bool:
    if action == "retry":
        await retry_one(st, who, task_id)
        return True
    if action == "cancel":
        return (await acancel_tree(st.store, task_id, "cancelled by " + (who.user_id or "a service"))).result.applied
    record = await st.store.get_task_status(task_id)
    if record is None or not record.status.is_terminal:
        return False  # deleted meanwhile, or (a race) no longer ended: a running task's record is never removed
    deleted = await st.store.delete_task(task_id)
    await st.store.redis.delete(st.store.keys.task_log(task_id))
    return deleted

