"""Live notifications over Redis Pub/Sub: one user's channel, or every user's (one subscription per API process).

Pub/Sub is fire-and-forget: a subscriber that is not connected when a notification is published never gets it.
Clients therefore subscribe first, then fetch the unread ones (`stream()` does both, skipping the overlap).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any

import redis
import redis.asyncio as aioredis
from pydantic import ValidationError

from notify.models import Notification

log = logging.getLogger(__name__)
_CONFIRMATIONS = ("subscribe", "psubscribe")
_DATA = ("message", "pmessage")
SUBSCRIBE_TIMEOUT_S = 10.0


def parse_message(message: dict[str, Any] | None) -> Notification | None:
    """The notification carried by a Pub/Sub message (None for confirmations and foreign payloads)."""
    if not message or message.get("type") not in _DATA:
        return None
    try:
        return Notification.model_validate_json(message["data"])
    except ValidationError:
        # Another publisher on a matching channel: not ours to deliver.
        log.warning("ignoring a message that is not a notification on %s", message.get("channel"))
        return None


class Feed:
    """A synchronous subscription: `with store.subscribe(uid) as feed: for n in feed: ...` (subscribed on entry)."""

    def __init__(self, client: redis.Redis, *, channel: str | None = None, pattern: str | None = None) -> None:
        if (channel is None) == (pattern is None):
            raise ValueError("give exactly one of channel or pattern")
        self._client, self._channel, self._pattern = client, channel, pattern
        self._pubsub: Any = None

    def __enter__(self) -> Feed:
        self._pubsub = self._client.pubsub()  # type: ignore[no-untyped-call]
        if self._channel is not None:
            self._pubsub.subscribe(self._channel)
        else:
            self._pubsub.psubscribe(self._pattern)
        # Wait for the server's confirmation: only messages published after it are delivered.
        deadline = time.monotonic() + SUBSCRIBE_TIMEOUT_S
        while time.monotonic() < deadline:
            msg = self._pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
            if msg and msg.get("type") in _CONFIRMATIONS:
                return self
        self.close()
        raise TimeoutError("Redis did not confirm the subscription")

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def get(self, timeout: float) -> Notification | None:
        """The next notification, or None if none came within `timeout` seconds."""
        if self._pubsub is None:
            raise RuntimeError("use the feed inside a `with` block")
        deadline = time.monotonic() + timeout
        while True:
            note = parse_message(self._pubsub.get_message(timeout=max(0.0, deadline - time.monotonic())))
            if note is not None:
                return note
            if time.monotonic() >= deadline:
                return None

    def __iter__(self) -> Iterator[Notification]:
        if self._pubsub is None:
            raise RuntimeError("use the feed inside a `with` block")
        while True:
            note = parse_message(self._pubsub.get_message(timeout=None))
            if note is not None:
                yield note

    def close(self) -> None:
        """Unsubscribes and returns the connection."""
        if self._pubsub is not None:
            self._pubsub.close()
            self._pubsub = None


class AsyncFeed:
    """An asyncio subscription: `async with store.subscribe(uid) as feed: async for n in feed: ...`."""

    def __init__(self, client: aioredis.Redis, *, channel: str | None = None, pattern: str | None = None) -> None:
        if (channel is None) == (pattern is None):
            raise ValueError("give exactly one of channel or pattern")
        self._client, self._channel, self._pattern = client, channel, pattern
        self._pubsub: Any = None

    async def __aenter__(self) -> AsyncFeed:
        self._pubsub = self._client.pubsub()
        if self._channel is not None:
            await self._pubsub.subscribe(self._channel)
        else:
            await self._pubsub.psubscribe(self._pattern)
        deadline = time.monotonic() + SUBSCRIBE_TIMEOUT_S
        while time.monotonic() < deadline:
            msg = await self._pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
            if msg and msg.get("type") in _CONFIRMATIONS:
                return self
        await self.aclose()
        raise TimeoutError("Redis did not confirm the subscription")

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def get(self, timeout: float) -> Notification | None:
        """The next notification, or None if none came within `timeout` seconds."""
        if self._pubsub is None:
            raise RuntimeError("use the feed inside an `async with` block")
        deadline = time.monotonic() + timeout
        while True:
            msg = await self._pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
            note = parse_message(msg)
            if note is not None:
                return note
            if time.monotonic() >= deadline:
                return None

    async def __aiter__(self) -> AsyncIterator[Notification]:
        if self._pubsub is None:
            raise RuntimeError("use the feed inside an `async with` block")
        while True:
            # timeout=None blocks until a message arrives, without polling.
            note = parse_message(await self._pubsub.get_message(timeout=None))
            if note is not None:
                yield note

    async def aclose(self) -> None:
        """Unsubscribes and returns the connection."""
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None
