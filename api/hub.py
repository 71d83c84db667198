"""Hub: ONE Redis Pub/Sub connection per API process, fanning channel messages out to local sockets in memory.

A thousand sockets on one process cost one Redis subscription, not a thousand: each socket owns an Inbox (a
bounded queue) registered under the channels it cares about. Pub/Sub drops what is published while the
connection is down and disconnects slow readers, so the hub never blocks on a socket (a full inbox is told to
resync instead) and, each time its subscription is (re)established, tells every inbox to resync: consumers then
re-read durable state (the task's Redis Stream, the unread list), so nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class Resync:
    """Marker in an inbox: messages may have been missed; re-read the durable state."""

    def __repr__(self) -> str:
        return "RESYNC"


RESYNC = Resync()


@dataclass(frozen=True, slots=True)
class Message:
    """One Pub/Sub message as the hub received it."""

    channel: str
    data: str


class Inbox:
    """A socket's bounded queue of hub items; never blocks the hub (overflow becomes one RESYNC). One consumer.

    Built for a fan-out's per-socket cost: a push is a deque append and, when the consumer waits, one future's
    result; the quiet-spell timer is armed once and re-armed only when it fires early, instead of one timer (and
    `asyncio.timeout` context) scheduled and cancelled per message per socket.
    """

    def __init__(self, maxsize: int) -> None:
        self._items: deque[Any] = deque()
        self._maxsize = maxsize
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._quiet_at = 0.0  # loop time at which the current wait becomes a quiet spell

    def push(self, item: Any) -> None:
        """Queues an item; a full queue is emptied and left holding a single RESYNC."""
        if len(self._items) >= self._maxsize:
            self._items.clear()
            item = RESYNC
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self, timeout: float | None = None) -> Any:
        """The next item, or None after `timeout` seconds without one."""
        if self._items:
            return self._items.popleft()
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        if timeout is not None:
            self._quiet_at = loop.time() + timeout
            if self._timer is None or self._timer.when() > self._quiet_at:
                if self._timer is not None:
                    self._timer.cancel()
                self._timer = loop.call_at(self._quiet_at, self._on_timer, loop)
        try:
            await waiter
        finally:
            self._waiter = None
        return self._items.popleft() if self._items else None

    def _on_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return  # not waiting: the next get arms it again
        if loop.time() < self._quiet_at:  # this wait began after the timer was armed: wait out the rest
            self._timer = loop.call_at(self._quiet_at, self._on_timer, loop)
            return
        waiter.set_result(None)


class Tap(Protocol):
    """Sees every message (feeds over all tasks); neither method may block."""

    def on_message(self, message: Message) -> None:
        """One message on any channel."""

    def on_resync(self) -> None:
        """The subscription was (re)established: messages may have been missed."""


class Hub:
    """Subscribes to channel patterns (tasks', users', the app's: disjoint namespaces) on one connection and routes
    each message to the inboxes registered for its channel."""

    def __init__(self, client: aioredis.Redis, pattern: str | Sequence[str], *, retry_s: float = 0.5) -> None:
        self._client = client
        self._patterns = [pattern] if isinstance(pattern, str) else list(pattern)
        self._confirmed = 0
        self._retry_s = retry_s
        self._routes: dict[str, set[Inbox]] = {}
        self._taps: list[Tap] = []
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self.reconnects = 0

    @property
    def connected(self) -> bool:
        """Whether the subscription is live now."""
        return self._subscribed.is_set()

    def subscribe(self, channel: str, inbox: Inbox) -> None:
        """Routes `channel`'s messages to `inbox` (local only: the Redis subscription is the shared pattern)."""
        self._routes.setdefault(channel, set()).add(inbox)

    def unsubscribe(self, channel: str, inbox: Inbox) -> None:
        """Stops routing `channel` to `inbox`."""
        inboxes = self._routes.get(channel)
        if inboxes is not None:
            inboxes.discard(inbox)
            if not inboxes:
                del self._routes[channel]

    def add_tap(self, tap: Tap) -> None:
        """Shows `tap` every message and every resubscription."""
        self._taps.append(tap)

    def channel_counts(self) -> dict[str, int]:
        """Local inboxes per channel."""
        return {ch: len(boxes) for ch, boxes in self._routes.items()}

    async def start(self) -> None:
        """Starts the reader and waits (briefly) for the first subscription."""
        self._task = asyncio.create_task(self._run(), name="api-hub")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), 5.0)

    async def stop(self) -> None:
        """Stops the reader."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            pubsub = self._client.pubsub()
            try:
                self._confirmed = 0
                await pubsub.psubscribe(*self._patterns)
                while True:
                    msg = await pubsub.get_message(timeout=1.0)
                    if msg is not None:
                        self._handle(msg)
            except (RedisError, OSError) as exc:
                if self._subscribed.is_set():
                    log.warning("hub lost its Redis subscription (%s); reconnecting", exc)
                self._subscribed.clear()
                await asyncio.sleep(self._retry_s)
            finally:
                self._subscribed.clear()
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _handle(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "psubscribe":
            # One confirmation per pattern: the subscription is whole (and a resync due) with the last one.
            self._confirmed += 1
            if self._confirmed < len(self._patterns):
                return
            self.reconnects += 1
            self._subscribed.set()
            # Whatever was published while we were not subscribed is lost to Pub/Sub: every consumer re-reads.
            for inboxes in self._routes.values():
                for inbox in inboxes:
                    inbox.push(RESYNC)
            for tap in self._taps:
                tap.on_resync()
            return
        if kind != "pmessage":
            return
        message = Message(str(msg["channel"]), str(msg["data"]))
        for tap in self._taps:
            tap.on_message(message)
        for inbox in tuple(self._routes.get(message.channel, ())):
            inbox.push(message)
