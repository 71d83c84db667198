"""Per-user notifications (seed 003): create, list unread, mark read (REST and a socket action), and
WS /ws/notifications/{user_id}: unread ones on connect, then live ones, to every device of that user.

Live delivery rides the process's hub (its Redis subscription covers every user's channel), so a notification
created through any API process or task reaches the user's sockets on every process.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Annotated, Any

import redis.asyncio as aioredis
from fastapi import APIRouter, HTTPException, Path, Query, WebSocket
from pydantic import BaseModel, Field, ValidationError

from api.auth import Caller, Principal, forbidden, websocket_principal
from api.hub import Inbox, Message, Resync
from api.sockets import deny, receive_loop, run_socket, send_json
from api.state import ApiState, State, api_state
from base.settings import Settings
from notify import AsyncNotificationStore, Notification, NotificationCreate, NotifyConfig
from notify.models import NOTIFICATION_ID_PATTERN, USER_ID_PATTERN, check_user_id

router = APIRouter(tags=["notifications"])
UserIdPath = Annotated[str, Path(pattern=USER_ID_PATTERN, description="the user")]
NotificationIdPath = Annotated[str, Path(pattern=NOTIFICATION_ID_PATTERN)]
UNREAD_ON_CONNECT = 100
_FORBIDDEN: dict[int | str, dict[str, Any]] = {403: {"description": "another user's notifications"}}


class MarkRead(BaseModel):
    """Which of the user's notifications to mark read: the ids given, or all of them."""

    ids: list[Annotated[str, Field(pattern=NOTIFICATION_ID_PATTERN)]] = Field(default_factory=list, max_length=1000)
    all: bool = False


class ReadResult(BaseModel):
    """How many changed, and how many stay unread."""

    user_id: str
    marked: int
    unread: int


class UnreadCount(BaseModel):
    """The user's unread count."""

    user_id: str
    unread: int


def open_store(core: Settings, client: aioredis.Redis) -> AsyncNotificationStore:
    """The notification store on the API's Redis client (the same database the tasks write to)."""
    return AsyncNotificationStore(client, config=NotifyConfig.from_settings(core))


def _store(st: ApiState) -> AsyncNotificationStore:
    store: AsyncNotificationStore = st.notifications
    return store


def _check(who: Principal, user_id: str) -> None:
    if not who.may_act_for(user_id):
        raise forbidden(f"user {who.user_id} cannot access the notifications of user {user_id}")


@router.post("/notifications", status_code=201, response_model=Notification, responses=_FORBIDDEN)
async def create_notification(spec: NotificationCreate, who: Caller, st: State) -> Notification:
    """Stores an unread notification and delivers it live to every device of the user (seed 003)."""
    _check(who, spec.user_id)
    return await _store(st).create_from(spec)


@router.get("/notifications/{user_id}", response_model=list[Notification], responses=_FORBIDDEN)
async def list_notifications(
    user_id: UserIdPath,
    who: Caller,
    st: State,
    unread_only: Annotated[bool, Query(description="seed 003 lists the unread ones")] = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    before: Annotated[str | None, Query(pattern=NOTIFICATION_ID_PATTERN, description="last id of the previous page")]
    = None,
) -> list[Notification]:
    """The user's notifications, newest first (unread only unless unread_only=false)."""
    _check(who, user_id)
    return await _store(st).list(user_id, unread_only=unread_only, limit=limit, before=before)


@router.get("/notifications/{user_id}/unread-count", response_model=UnreadCount, responses=_FORBIDDEN)
async def unread_count(user_id: UserIdPath, who: Caller, st: State) -> UnreadCount:
    """How many of the user's notifications are unread."""
    _check(who, user_id)
    return UnreadCount(user_id=user_id, unread=await _store(st).unread_count(user_id))


@router.post("/notifications/{user_id}/read", response_model=ReadResult, responses=_FORBIDDEN)
async def mark_read(user_id: UserIdPath, body: MarkRead, who: Caller, st: State) -> ReadResult:
    """Marks the given notifications (or all) read; ids of other users are ignored."""
    _check(who, user_id)
    return await _mark(st, user_id, body)


@router.post("/notifications/{user_id}/{notification_id}/read", response_model=ReadResult, responses={
    **_FORBIDDEN, 404: {"description": "no such notification for this user"}})
async def mark_one_read(user_id: UserIdPath, notification_id: NotificationIdPath, who: Caller, st: State) -> ReadResult:
    """Marks one notification read (seed 003's mark-as-read)."""
    _check(who, user_id)
    if await _store(st).get(user_id, notification_id) is None:
        raise HTTPException(404, detail=f"notification {notification_id} not found for user {user_id}")
    return await _mark(st, user_id, MarkRead(ids=[notification_id]))


async def _mark(st: ApiState, user_id: str, body: MarkRead) -> ReadResult:
    store = _store(st)
    marked = await store.mark_all_read(user_id) if body.all else await store.mark_read(user_id, body.ids)
    return ReadResult(user_id=user_id, marked=marked, unread=await store.unread_count(user_id))


class NotificationSession:
    """One device's socket: unread on connect, then live, none twice; handles mark_read actions."""

    def __init__(self, ws: WebSocket, st: ApiState, user_id: str) -> None:
        self.ws, self.st, self.user_id = ws, st, user_id
        self.inbox = Inbox(st.settings.ws_queue_size)
        self.sent: OrderedDict[str, None] = OrderedDict()

    async def _send(self, note: Notification) -> bool:
        if note.id in self.sent:
            return True
        self.sent[note.id] = None
        if len(self.sent) > 10_000:
            self.sent.popitem(last=False)
        return await send_json(self.ws, note.model_dump(mode="json"))

    async def _send_unread(self) -> bool:
        unread = await _store(self.st).list(self.user_id, unread_only=True, limit=UNREAD_ON_CONNECT)
        for note in reversed(unread):  # oldest first, as they happened
            if not await self._send(note):
                return False
        return True

    async def pump(self) -> None:
        """Unread ones, then live ones; after a possible loss (hub reconnect, overflow) the unread list again."""
        if not await self._send_unread():
            return
        while True:
            item = await self.inbox.get()
            if isinstance(item, Resync):
                ok = await self._send_unread()
            elif isinstance(item, Message):
                try:
                    note = Notification.model_validate_json(item.data)
                except ValidationError:
                    continue
                ok = note.user_id != self.user_id or await self._send(note)
            else:
                continue
            if not ok:
                return

    async def handle(self, data: dict[str, Any]) -> None:
        """Client actions: mark_read {notification_id | ids}, mark_all_read."""
        action = data.get("action")
        if action not in ("mark_read", "mark_all_read"):
            await send_json(self.ws, {"event": "error", "error": "expected action mark_read or mark_all_read"})
            return
        raw = data.get("ids")
        ids: list[Any] = raw if isinstance(raw, list) else [data.get("notification_id")]
        try:
            body = MarkRead(ids=[i for i in ids if i is not None], all=action == "mark_all_read")
        except ValidationError as exc:
            await send_json(self.ws, {"event": "error", "error": f"invalid ids: {exc.errors()[0]['msg']}"})
            return
        result = await _mark(self.st, self.user_id, body)
        await send_json(self.ws, {"event": "marked_read", "ids": body.ids, **result.model_dump()})


@router.websocket("/ws/notifications/{user_id}")
async def notifications_socket(ws: WebSocket, user_id: str) -> None:
    """Seed 003's socket: the user's unread notifications on connect (oldest first), then live ones."""
    st = api_state(ws)
    try:
        who = await websocket_principal(ws)
        if not _valid_user(user_id):
            raise HTTPException(422, detail=f"user_id: must match {USER_ID_PATTERN}")
        _check(who, user_id)
    except HTTPException as exc:
        await deny(ws, exc)
        return
    await ws.accept()
    session = NotificationSession(ws, st, user_id)
    channel = st.keys.user_channel(user_id)
    st.hub.subscribe(channel, session.inbox)  # before the unread read: nothing falls between the two
    try:
        with st.stats.socket("notifications"):
            await run_socket(ws, session.pump(), receive_loop(ws, st.settings.max_ws_message_bytes, session.handle),
                             expires_at=who.expires_at)
    finally:
        st.hub.unsubscribe(channel, session.inbox)


def _valid_user(user_id: str) -> bool:
    try:
        check_user_id(user_id)
    except ValueError:
        return False
    return True
