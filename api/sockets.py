"""WebSocket plumbing shared by the socket endpoints: refusing before accept, and running until either side ends."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import HTTPException, WebSocket
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketDisconnect, WebSocketState

Handler = Callable[[dict[str, Any]], Awaitable[None]]
#: What escapes a send to a client that went away (Starlette, or the server's closed transport).
GONE = (WebSocketDisconnect, RuntimeError, OSError)


async def deny(ws: WebSocket, exc: HTTPException) -> None:
    """Refuses the handshake with the HTTP status (401, 403, 404, 422) where the server can, else a 4xxx close."""
    try:
        await ws.send_denial_response(JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                                                   headers=exc.headers))
    except RuntimeError:  # the server has no denial-response extension: close with 4000 + status before accept
        await ws.close(code=4000 + exc.status_code, reason=str(exc.detail)[:120])


async def send_json(ws: WebSocket, payload: Any) -> bool:
    """Sends one JSON message; False when the client has gone."""
    return await send_text(ws, json.dumps(payload, ensure_ascii=False, separators=(",", ":")))


async def send_text(ws: WebSocket, text: str) -> bool:
    """Sends one text message (already encoded, e.g. shared by a fan-out); False when the client has gone."""
    try:
        await ws.send_text(text)
    except GONE:
        return False
    return True


async def receive_loop(ws: WebSocket, max_bytes: int, handler: Handler | None = None) -> None:
    """Reads client messages until it disconnects: oversized ones close 1009, bad JSON gets an error message."""
    while True:
        try:
            msg = await ws.receive()
        except GONE:
            return
        if msg["type"] == "websocket.disconnect":
            return
        raw = msg.get("text")
        if raw is None:
            raw = (msg.get("bytes") or b"").decode("utf-8", errors="replace")
        if len(raw.encode("utf-8")) > max_bytes:
            await close(ws, 1009, f"message larger than the limit of {max_bytes} bytes")
            return
        if handler is None:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            await send_json(ws, {"type": "error", "error": "messages must be JSON objects"})
            continue
        await handler(data)


TOKEN_EXPIRED_CODE = 4401  # 4000 + HTTP 401, as `deny` closes; the dashboard asks for a new token on it
TOKEN_EXPIRED = "token expired"


async def close_at_expiry(ws: WebSocket, expires_at: float) -> None:
    """Closes the socket with 4401 "token expired" when the caller's token expires."""
    await asyncio.sleep(max(0.0, expires_at - time.time()))
    await close(ws, TOKEN_EXPIRED_CODE, TOKEN_EXPIRED)


async def run_socket(ws: WebSocket, *jobs: Coroutine[Any, Any, None], expires_at: float | None = None) -> None:
    """Runs the socket's jobs until the first one ends (the producer finished, the client left, or the caller's
    token expired at `expires_at`), then closes."""
    if expires_at is not None:
        jobs = (*jobs, close_at_expiry(ws, expires_at))
    tasks = [asyncio.create_task(job) for job in jobs]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, *GONE):
                await task
        await close(ws, 1000, "done")


async def close(ws: WebSocket, code: int, reason: str) -> None:
    """Closes the socket unless it already is."""
    if ws.application_state == WebSocketState.CONNECTED and ws.client_state == WebSocketState.CONNECTED:
        with contextlib.suppress(*GONE):
            await ws.close(code=code, reason=reason)
