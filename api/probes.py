"""Liveness and readiness, split as orchestrators expect them.

`/livez` answers 200 whenever the process serves requests, Redis or not: restarting an API process does not bring
Redis back, so a Redis outage must never get it killed. `/readyz` answers 503 while the progress store's Redis does
not answer, so a load balancer sends traffic elsewhere until it does. Both are open (no token), like health.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from api.state import State

router = APIRouter(tags=["operations"])
READY_TIMEOUT_S = 1.0


@router.get("/livez")
async def livez() -> dict[str, str]:
    """200 while the process serves requests (Redis is not checked)."""
    return {"status": "alive"}


@router.get("/readyz", responses={503: {"description": "Redis does not answer"}})
async def readyz(st: State) -> JSONResponse:
    """200 when the progress store's Redis answers a PING within a second; 503 with the reason otherwise."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            await st.store.redis.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        return JSONResponse({"status": "not ready", "reason": f"redis: {type(exc).__name__}: {exc}"}, status_code=503)
    return JSONResponse({"status": "ready"})
