"""AsyncNotificationStore: the asyncio twin of NotificationStore, sharing its sans-I/O halves (notify.ops)."""

from __future__ import annotations

import builtins
import time
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import Any, cast

import redis.asyncio as aioredis

from base.keys import AppKeys
from notify import ops, scripts
from notify.config import NotifyConfig
from notify.feed import AsyncFeed
from notify.models import Notification, NotificationCreate, NotificationType, check_notification_id, check_user_id
from progress.clients import require_decoded


class AsyncNotificationStore:
    """The same operations as NotificationStore, for async code (the HTTP API and its WebSockets)."""

    def __init__(
        self, client: aioredis.Redis, *, config: NotifyConfig | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        require_decoded(client, "AsyncNotificationStore")
        self.redis = client
        self.config = config or NotifyConfig()
        self.keys = AppKeys(self.config.namespace)
        self._clock = clock
        self._scripts = {name: client.register_script(scripts.source(name)) for name in scripts.NAMES}

    @classmethod
    def from_url(cls, url: str, *, config: NotifyConfig | None = None) -> AsyncNotificationStore:
        """A store on a new asyncio client for `url`."""
        return cls(aioredis.Redis.from_url(url, decode_responses=True), config=config)

    def now_ms(self) -> int:
        """The store's clock in epoch milliseconds."""
        return int(self._clock() * 1000)

    async def _run(self, call: ops.Call) -> Any:
        return await self._scripts[call.script](keys=call.keys, args=call.args)

    async def create(
        self,
        user_id: str,
        type: NotificationType | str,
        title: str,
        message: str,
        *,
        data: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Notification:
        """Stores an unread notification and publishes it, in one round trip (idempotent with a key)."""
        spec = NotificationCreate(
            user_id=user_id, type=NotificationType(type), title=title, message=message, data=data or {},
            idempotency_key=idempotency_key,
        )
        return await self.create_from(spec)

    async def create_from(self, spec: NotificationCreate) -> Notification:
        """Stores and publishes a validated create request (the REST API's entry point)."""
        now = self.now_ms()
        call, note = ops.create_call(self.config, self.keys, spec, ops.new_id(now), now)
        return ops.parse_create(self.config, note, await self._run(call))

    async def mark_read(self, user_id: str, ids: Iterable[str]) -> int:
        """Marks the user's own notifications among `ids` read (others' ids are ignored); returns how many changed."""
        return int(await self._run(ops.mark_read_call(self.keys, user_id, ids, self.now_ms())))

    async def mark_all_read(self, user_id: str) -> int:
        """Marks every unread notification of the user read; returns how many changed."""
        return int(await self._run(ops.mark_read_call(self.keys, user_id, None, self.now_ms())))

    async def get(self, user_id: str, notification_id: str) -> Notification | None:
        """One of the user's notifications (None if unknown, expired, or another user's)."""
        check_user_id(user_id)
        key = self.keys.notification(check_notification_id(notification_id))
        h = cast(dict[str, str], await self.redis.hgetall(key))
        note = ops.from_hash(h, self.config.tz)
        return note if note is not None and note.user_id == user_id else None

    async def unread_count(self, user_id: str) -> int:
        """How many of the user's notifications are unread."""
        return int(await self.redis.zcount(*ops.unread_range(self.config, self.keys, user_id, self.now_ms())))

    async def list(
        self, user_id: str, *, unread_only: bool = False, limit: int = 50, before: str | None = None
    ) -> builtins.list[Notification]:
        """A page of the user's notifications, newest first; `before` is the last id of the previous page."""
        call = ops.page_call(
            self.config, self.keys, user_id, unread_only=unread_only, limit=limit, before=before, now_ms=self.now_ms()
        )
        return ops.parse_page(self.config, await self._run(call))

    def subscribe(self, user_id: str) -> AsyncFeed:
        """The user's live notifications (`async with store.subscribe(uid) as feed`); Pub/Sub drops what it misses."""
        return AsyncFeed(self.redis, channel=self.keys.user_channel(check_user_id(user_id)))

    def subscribe_all(self) -> AsyncFeed:
        """Every user's live notifications (one subscription per API process, dispatched by `user_id`)."""
        return AsyncFeed(self.redis, pattern=self.keys.user_channel_pattern())

    async def stream(self, user_id: str, *, unread_limit: int = 100) -> AsyncGenerator[Notification, None]:
        """What a newly connected WebSocket needs: its unread ones (oldest first), then live ones, none twice."""
        async with self.subscribe(user_id) as feed:
            # Subscribed before reading, so nothing published in between is lost; the overlap is skipped.
            unread = await self.list(user_id, unread_only=True, limit=unread_limit)
            pending = {n.id for n in unread}
            for note in reversed(unread):
                yield note
            async for note in feed:
                if note.id in pending:
                    pending.discard(note.id)
                    continue
                yield note
