"""Sans-I/O halves of the notification store: what to send to Redis and how to read the answer.

NotificationStore and AsyncNotificationStore share these, so the two differ only in how they wait for Redis.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from base.keys import AppKeys
from notify.config import NotifyConfig
from notify.models import Notification, NotificationCreate, NotificationType, check_notification_id, check_user_id
from progress.jsonutil import dumps

ScriptArgs = list[str | int]
MAX_PAGE = 1_000
MAX_IDS_PER_CALL = 1_000
_sequence = itertools.count()


@dataclass(frozen=True, slots=True)
class Call:
    """One script invocation: which script, its KEYS and its ARGV."""

    script: str
    keys: list[str]
    args: ScriptArgs


def new_id(now_ms: int) -> str:
    """A fresh id, 32 hex digits: creation ms, a process-wide sequence, then randomness.

    Ids of one user's sorted sets that share a score (same millisecond) are ordered by member, so ids that sort
    by creation keep "newest first" and "drop the oldest" right even within a millisecond.
    """
    return f"{now_ms & 0xFFFFFFFFFFFF:012x}{next(_sequence) & 0xFFFF:04x}{uuid.uuid4().hex[:16]}"


def from_ms(ms: int, tz: ZoneInfo) -> datetime:
    """Epoch milliseconds as an aware datetime in `tz`."""
    return datetime.fromtimestamp(ms / 1000.0, tz)


def oldest_kept_ms(cfg: NotifyConfig, now_ms: int) -> int:
    """Creation time of the oldest notification that has not expired."""
    return now_ms - cfg.ttl_s * 1000


def create_call(cfg: NotifyConfig, keys: AppKeys, spec: NotificationCreate, nid: str, now_ms: int) -> tuple[
    Call, Notification
]:
    """The create.lua call for a validated request, and the notification it stores and publishes."""
    note = Notification(
        id=nid, user_id=spec.user_id, type=spec.type, title=spec.title, message=spec.message, data=spec.data,
        created_at=from_ms(now_ms, cfg.tz),
    )
    redis_keys = [keys.notification(nid), keys.user_notifications(spec.user_id), keys.user_unread(spec.user_id)]
    if spec.idempotency_key is not None:
        redis_keys.append(keys.user_notification_dedup(spec.user_id, spec.idempotency_key))
    args: ScriptArgs = [
        now_ms, nid, spec.user_id, spec.type.value, spec.title, spec.message, dumps(spec.data), cfg.ttl_s,
        cfg.max_per_user, oldest_kept_ms(cfg, now_ms), keys.user_channel(spec.user_id), note.model_dump_json(),
        keys.notification_prefix(), spec.idempotency_key or "",
    ]
    return Call("create", redis_keys, args), note


def parse_create(cfg: NotifyConfig, note: Notification, reply: list[Any]) -> Notification:
    """The stored notification, or the earlier one when the idempotency key was already used."""
    if int(reply[0]) == 1:
        return note
    earlier = from_flat(reply[2], cfg.tz) if len(reply) > 2 and reply[2] else None
    if earlier is None:
        # The earlier one was capped away or expired: only its id is left to report.
        return note.model_copy(update={"id": str(reply[1]), "duplicate": True})
    return earlier.model_copy(update={"duplicate": True})


def page_call(
    cfg: NotifyConfig, keys: AppKeys, user_id: str, *, unread_only: bool, limit: int, before: str | None, now_ms: int
) -> Call:
    """The page.lua call for one page of a user's notifications, newest first."""
    check_user_id(user_id)
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    if before is not None:
        check_notification_id(before)
    index = keys.user_unread(user_id) if unread_only else keys.user_notifications(user_id)
    return Call("page", [index], [oldest_kept_ms(cfg, now_ms), before or "", limit, keys.notification_prefix()])


def parse_page(cfg: NotifyConfig, reply: list[Any]) -> list[Notification]:
    """The notifications of a page.lua reply."""
    return [n for n in (from_flat(h, cfg.tz) for h in reply) if n is not None]


def mark_read_call(keys: AppKeys, user_id: str, ids: Iterable[str] | None, now_ms: int) -> Call:
    """The mark_read.lua call for these ids (None: every unread one of the user)."""
    check_user_id(user_id)
    head: ScriptArgs = [user_id, now_ms, keys.notification_prefix()]
    if ids is None:
        return Call("mark_read", [keys.user_unread(user_id)], [*head, "all"])
    wanted = list(dict.fromkeys(check_notification_id(i) for i in ids))
    if len(wanted) > MAX_IDS_PER_CALL:
        raise ValueError(f"at most {MAX_IDS_PER_CALL} ids per call")
    return Call("mark_read", [keys.user_unread(user_id)], [*head, "ids", *wanted])


def unread_range(cfg: NotifyConfig, keys: AppKeys, user_id: str, now_ms: int) -> tuple[str, int, str]:
    """ZCOUNT arguments counting a user's unread notifications that have not expired."""
    return keys.user_unread(check_user_id(user_id)), oldest_kept_ms(cfg, now_ms), "+inf"


def from_hash(h: dict[str, str], tz: ZoneInfo) -> Notification | None:
    """A notification from its stored hash (None for an empty hash: expired or removed)."""
    if not h:
        return None
    read_at = h.get("read_at")
    return Notification(
        id=h["id"],
        user_id=h["user"],
        type=NotificationType(h["type"]),
        title=h.get("title", ""),
        message=h.get("msg", ""),
        data=_object(h.get("data")),
        read=h.get("read") == "1",
        created_at=from_ms(int(h["created"]), tz),
        read_at=from_ms(int(read_at), tz) if read_at else None,
    )


def from_flat(flat: list[Any], tz: ZoneInfo) -> Notification | None:
    """A notification from HGETALL's flat reply inside a script (field, value, field, value, ...)."""
    return from_hash({str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}, tz)


def _object(text: str | None) -> dict[str, Any]:
    value = json.loads(text) if text else {}
    return value if isinstance(value, dict) else {}
