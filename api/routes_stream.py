"""Live progress: per-task WebSocket and SSE (current state, then every change, resumable by event id), and the
all-tasks stream that feeds the dashboard."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, WebSocket
from fastapi.responses import StreamingResponse

from api.auth import StreamCaller, forbidden, websocket_principal
from api.dashboard_feed import TaskFilter
from api.feeds import EVENT_ID, follow_task
from api.hub import Inbox, Resync
from api.routes_tasks import NOT_FOUND, TaskId, check_task_access
from api.shared_events import encoded_message
from api.sockets import TOKEN_EXPIRED, close, deny, receive_loop, run_socket, send_json, send_text
from api.state import ApiState, State, api_state
from progress import TaskNotFound, TaskStatus

router = APIRouter(tags=["streams"])

After = Annotated[
    str | None, Query(pattern=EVENT_ID.pattern, description="resume after this event id (the last one received)")
]
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


def _sse(event: str, data: Any, event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


async def until_expiry(lines: AsyncGenerator[str, None], expires_at: float | None) -> AsyncIterator[str]:
    """An SSE body until the caller's token expires; then a `token_expired` event, and the stream ends."""
    if expires_at is None:
        async for line in lines:
            yield line
        return
    deadline = asyncio.get_running_loop().time() + (expires_at - time.time())
    try:
        while True:
            try:
                # Only the wait for the next line is bounded: a line is never cut while it is being sent.
                async with asyncio.timeout_at(deadline):
                    line = await anext(lines)
            except StopAsyncIteration:
                return
            except TimeoutError:
                yield _sse("token_expired", {"detail": TOKEN_EXPIRED})
                return
            yield line
    finally:
        await lines.aclose()


async def _task_events(st: ApiState, task_id: str, after: str | None) -> AsyncIterator[dict[str, Any] | None]:
    """progress_update messages for one task (None on a quiet spell, for keep-alives)."""
    async for event in follow_task(
        st.store, st.hub, task_id, after, queue_size=st.settings.ws_queue_size,
        resync_s=min(st.settings.resync_interval_s, st.settings.sse_keepalive_s),
    ):
        yield None if event is None else event.to_message()


@router.websocket("/internal/ws/task/{task_id}")
async def task_socket(ws: WebSocket, task_id: str, after: str | None = None) -> None:
    """Seed 001's progress_update messages: the current state first (or every event after `?after=`), then each
    change until the task ends; auth by `Authorization: Bearer` or `?token=`."""
    st = api_state(ws)
    try:
        if after is not None and not EVENT_ID.fullmatch(after):  # fullmatch: `$` allows a final newline
            raise HTTPException(422, detail="after: must be an event id like 1700000000000-0")
        who = await websocket_principal(ws)
        record = await st.store.get_task_status(task_id)
        if record is None:
            raise HTTPException(404, detail=f"task {task_id} not found")
        check_task_access(who, record)
    except HTTPException as exc:
        await deny(ws, exc)
        return
    await ws.accept()

    async def produce() -> None:
        try:
            async for event in follow_task(
                st.store, st.hub, task_id, after, queue_size=st.settings.ws_queue_size,
                resync_s=st.settings.resync_interval_s,
            ):
                if event is not None and not await send_text(ws, encoded_message(event)):
                    return
        except TaskNotFound:
            await close(ws, 4404, f"task {task_id} was removed")
            return
        await close(ws, 1000, "task ended")

    with st.stats.socket("task"):
        await run_socket(ws, produce(), receive_loop(ws, st.settings.max_ws_message_bytes), expires_at=who.expires_at)


@router.get("/internal/sse/task/{task_id}", responses={**NOT_FOUND, 200: {"content": {"text/event-stream": {}}}})
async def task_events(
    task_id: TaskId,
    who: StreamCaller,
    st: State,
    after: After = None,
    last_event_id: Annotated[str | None, Header(pattern=EVENT_ID.pattern, description="sent by EventSource on "
                                                "reconnect")] = None,
) -> StreamingResponse:
    """The same progress_update events as Server-Sent Events (`id:` is the event id, so a reconnecting EventSource
    resumes where it stopped); ends with an `end` event when the task has ended."""
    record = await st.store.require(task_id)
    check_task_access(who, record)
    resume = last_event_id or after

    async def body() -> AsyncGenerator[str, None]:
        yield "retry: 2000\n\n"
        try:
            async for message in _task_events(st, task_id, resume):
                if message is None:
                    yield ": keep-alive\n\n"
                else:
                    yield _sse("progress_update", message, message["event_id"])
        except TaskNotFound:
            yield _sse("error", {"detail": f"task {task_id} was removed"})
        yield _sse("end", {"task_id": task_id})

    return StreamingResponse(until_expiry(body(), who.expires_at), media_type="text/event-stream",
                             headers=SSE_HEADERS)


async def _dashboard_messages(st: ApiState, flt: TaskFilter) -> AsyncIterator[dict[str, Any]]:
    """A tasks_snapshot, then progress_update messages (with the full record) for matching tasks; a new snapshot
    whenever updates may have been dropped."""
    inbox = Inbox(st.settings.ws_queue_size)
    st.dashboard.register(inbox, flt)  # before the snapshot: nothing falls between the two
    try:
        resync = True
        while True:
            if resync:
                page = await st.store.get_tasks_list(flt.status, flt.task_type, flt.symbol, 1,
                                                     st.settings.dashboard_page_size)
                yield {"type": "tasks_snapshot", **page.model_dump(mode="json")}
            item = await inbox.get(timeout=st.settings.sse_keepalive_s)
            resync = isinstance(item, Resync)
            if isinstance(item, dict):
                yield item
            elif item is None:
                yield {"type": "keep_alive"}
    finally:
        st.dashboard.unregister(inbox)


def _filter(status: str | None, task_type: str | None, symbol: str | None) -> TaskFilter:
    try:
        return TaskFilter(TaskStatus(status) if status else None, task_type or None, symbol or None)
    except ValueError:
        raise HTTPException(422, detail=f"status: must be one of {[s.value for s in TaskStatus]}") from None


@router.websocket("/internal/ws/tasks")
async def tasks_socket(
    ws: WebSocket, status: str | None = None, task_type: str | None = None, symbol: str | None = None
) -> None:
    """Every task's changes (optionally filtered by status, task_type, symbol): a tasks_snapshot first, then
    progress_update messages each carrying the task's full record. Operators only."""
    st = api_state(ws)
    try:
        flt = _filter(status, task_type, symbol)
        who = await websocket_principal(ws)
        if not who.is_operator:
            raise forbidden("the all-tasks stream needs the service token or an admin token")
    except HTTPException as exc:
        await deny(ws, exc)
        return
    await ws.accept()

    async def produce() -> None:
        async for message in _dashboard_messages(st, flt):
            if message.get("type") != "keep_alive" and not await send_json(ws, message):
                return

    with st.stats.socket("tasks"):
        await run_socket(ws, produce(), receive_loop(ws, st.settings.max_ws_message_bytes), expires_at=who.expires_at)


@router.get("/internal/sse/tasks", responses={200: {"content": {"text/event-stream": {}}}})
async def tasks_events(
    who: StreamCaller,
    st: State,
    status: Annotated[TaskStatus | None, Query()] = None,
    task_type: Annotated[str | None, Query(max_length=100)] = None,
    symbol: Annotated[str | None, Query(max_length=32)] = None,
) -> StreamingResponse:
    """The all-tasks stream as Server-Sent Events (operators only)."""
    if not who.is_operator:
        raise forbidden("the all-tasks stream needs the service token or an admin token")
    flt = TaskFilter(status, task_type or None, symbol or None)

    async def body() -> AsyncGenerator[str, None]:
        yield "retry: 2000\n\n"
        async for message in _dashboard_messages(st, flt):
            kind = str(message.get("type"))
            yield ": keep-alive\n\n" if kind == "keep_alive" else _sse(kind, message, message.get("event_id"))

    return StreamingResponse(until_expiry(body(), who.expires_at), media_type="text/event-stream",
                             headers=SSE_HEADERS)
