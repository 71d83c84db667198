"""Repeated auth failures from one client address get 429 with Retry-After, counted in Redis so that every API
process shares the count (the `limits` package's moving window: at most N failures in any window of W seconds)."""

from __future__ import annotations

import logging
import math
import time

import redis.asyncio as aioredis
from limits import RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class AuthFailureLimiter:
    """Counts a client's failed authentications; says how long a client over the limit must wait."""

    def __init__(self, pool: aioredis.ConnectionPool, *, key_prefix: str, max_failures: int, window_s: int) -> None:
        # The API's own pool: the counters live on the Redis every API process already uses, with no extra sockets.
        # (limits documents `connection_pool` but types its **options as scalars.)
        storage = RedisStorage("async+redis://", implementation="redispy", key_prefix=key_prefix,
                               connection_pool=pool)  # type: ignore[arg-type]
        self._limiter = MovingWindowRateLimiter(storage)
        self._item = RateLimitItemPerSecond(max_failures, window_s)
        self._warned = False

    async def retry_after(self, client: str) -> int | None:
        """Seconds the client must wait before its next attempt is even checked; None while under the limit."""
        try:
            stats = await self._limiter.get_window_stats(self._item, client)
        except RedisError as exc:
            self._unavailable(exc)
            return None
        self._warned = False
        if stats.remaining > 0:
            return None
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def failed(self, client: str) -> None:
        """Counts one failed authentication of the client."""
        try:
            await self._limiter.hit(self._item, client)
        except RedisError as exc:
            self._unavailable(exc)

    def _unavailable(self, exc: RedisError) -> None:
        # Open rather than closed: a Redis outage must not lock every client out of an API that is otherwise up
        # (whatever needs Redis answers 503 on its own). Logged once per outage, not once per request.
        if not self._warned:
            log.warning("auth failure limiter unavailable, not limiting: %s: %s", type(exc).__name__, exc)
            self._warned = True
