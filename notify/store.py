"""NotificationStore: per-user notifications in Redis (seed 003), synchronous. Every write is one round trip."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Generator, Iterable
from typing import Any, cast

import redis

from base.keys import AppKeys
from notify import ops, scripts
from notify.config import NotifyConfig
from notify.feed import Feed
from notify.models import Notification, NotificationCreate, NotificationType, check_notification_id, check_user_id
from progress.clients import require_decoded

Clock = Callable[[], float]


class NotificationStore:
    """Creates, lists and marks a user's notifications; publishes each new one on the user's channel.

    Each user keeps at most `config.max_per_user` notifications (the oldest are dropped) for `config.ttl_s`.
    """

    def __init__(self, client: redis.Redis, *, config: NotifyConfig | None = None, clock: Clock = time.time) -> None:
        require_decoded(client, "NotificationStore")
        self.redis = client
        self.config = config or NotifyConfig()
        self.keys = AppKeys(self.config.namespace)
        self._clock = clock
        self._scripts = {name: client.register_script(scripts.source(name)) for name in scripts.NAMES}

    @classmethod
    def from_url(cls, url: str, *, config: NotifyConfig | None = None) -> NotificationStore:
        """A store on a new client for `url`."""
        return cls(redis.Redis.from_url(url, decode_responses=True), config=config)

    def now_ms(self) -> int:
        """The store's clock in epoch milliseconds."""
        return int(self._clock() * 1000)

    def _run(self, call: ops.Call) -> Any:
        return self._scripts[call.script](keys=call.keys, args=call.args)

    # --- writes -------------------------------------------------------------------------------------------------

    def create(
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
        return self.create_from(spec)

    def create_from(self, spec: NotificationCreate) -> Notification:
        """Stores and publishes a validated create request (the REST API's entry point)."""
        now = self.now_ms()
        call, note = ops.create_call(self.config, self.keys, spec, ops.new_id(now), now)
        return ops.parse_create(self.config, note, self._run(call))

    def mark_read(self, user_id: str, ids: Iterable[str]) -> int:
        """Marks the user's own notifications among `ids` read (others' ids are ignored); returns how many changed."""
        return int(self._run(ops.mark_read_call(self.keys, user_id, ids, self.now_ms())))

    def mark_all_read(self, user_id: str) -> int:
        """Marks every unread notification of the user read; returns how many changed."""
        return int(self._run(ops.mark_read_call(self.keys, user_id, None, self.now_ms())))

    # --- reads --------------------------------------------------------------------------------------------------

    def get(self, user_id: str, notification_id: str) -> Notification | None:
        """One of the user's notifications (None if unknown, expired, or another user's)."""
        check_user_id(user_id)
        key = self.keys.notification(check_notification_id(notification_id))
        h = cast(dict[str, str], self.redis.hgetall(key))
        note = ops.from_hash(h, self.config.tz)
        return note if note is not None and note.user_id == user_id else None

    def unread_count(self, user_id: str) -> int:
        """How many of the user's notifications are unread."""
        return int(self.redis.zcount(*ops.unread_range(self.config, self.keys, user_id, self.now_ms())))

    def list(
        self, user_id: str, *, unread_only: bool = False, limit: int = 50, before: str | None = None
    ) -> builtins.list[Notification]:
        """A page of the user's notifications, newest first; `before` is the last id of the previous page."""
        call = ops.page_call(
            self.config, self.keys, user_id, unread_only=unread_only, limit=limit, before=before, now_ms=self.now_ms()
        )
        return ops.parse_page(self.config, self._run(call))

    # --- live delivery ------------------------------------------------------------------------------------------

    def subscribe(self, user_id: str) -> Feed:
        """The user's live notifications (`with store.subscribe(uid) as feed`); Pub/Sub drops what it misses."""
        return Feed(self.redis, channel=self.keys.user_channel(check_user_id(user_id)))

    def subscribe_all(self) -> Feed:
        """Every user's live notifications (one subscription per process, dispatched by `user_id`)."""
        return Feed(self.redis, pattern=self.keys.user_channel_pattern())

    def stream(self, user_id: str, *, unread_limit: int = 100) -> Generator[Notification, None, None]:
        """What a newly connected device needs: its unread ones (oldest first), then live ones, none twice."""
        with self.subscribe(user_id) as feed:
            # Subscribed before reading, so nothing published in between is lost; the overlap is skipped.
            unread = self.list(user_id, unread_only=True, limit=unread_limit)
            pending = {n.id for n in unread}
            yield from reversed(unread)
            for note in feed:
                if note.id in pending:
                    pending.discard(note.id)
                    continue
                yield note
