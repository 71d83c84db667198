"""Topics on one socket (seed 004's WebSocket manager): prices of a symbol, a user's analysis and backtest results,
system broadcasts; an app-level ping/pong heartbeat drops dead connections.

Client -> server: {"action": "subscribe" | "unsubscribe", "topic": "prices:7203.T" | "analysis:<user>" |
"backtest:<user>" | "system"}, {"action": "pong"} (answer to each ping), {"action": "ping"}.
Server -> client: welcome, subscribed, unsubscribed, error, ping, pong, resync (messages may have been dropped),
and price_update / analysis_result / backtest_result / system_notification {topic, data}.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, WebSocket

from api.auth import Principal, websocket_principal
from api.hub import Inbox, Message, Resync
from api.sockets import close, deny, receive_loop, run_socket, send_json
from api.state import ApiState, api_state

router = APIRouter(tags=["topics"])

TOPIC = re.compile(r"^(?:(prices):([A-Za-z0-9_.^=-]{1,32})|(analysis|backtest):([A-Za-z0-9_.@-]{1,128})|(system))$")
MESSAGE_TYPE = {"prices": "price_update", "analysis": "analysis_result", "backtest": "backtest_result",
                "system": "system_notification"}
MAX_TOPICS = 200


class TopicError(ValueError):
    """A subscription the client may not have."""


def topic_channel(st: ApiState, who: Principal, topic: str) -> str:
    """The Pub/Sub channel behind a topic; TopicError if malformed or another user's."""
    m = TOPIC.match(topic)
    if m is None:
        raise TopicError(f"unknown topic {topic!r}; use prices:<symbol>, analysis:<user>, backtest:<user> or system")
    if m.group(1):
        return st.keys.prices_channel(m.group(2))
    if m.group(3):
        if not who.may_act_for(m.group(4)):
            raise TopicError(f"topic {topic} belongs to another user")
        return st.keys.results_channel(m.group(3), m.group(4))
    return st.keys.broadcast_channel()


class TopicSession:
    """One client's subscriptions, inbox and heartbeat."""

    def __init__(self, ws: WebSocket, st: ApiState, who: Principal) -> None:
        self.ws, self.st, self.who = ws, st, who
        self.id = uuid.uuid4().hex
        self.inbox = Inbox(st.settings.ws_queue_size)
        self.topics: dict[str, str] = {}  # channel -> topic
        self.last_seen = time.monotonic()

    async def handle(self, data: dict[str, Any]) -> None:
        """One client message."""
        self.last_seen = time.monotonic()
        action = data.get("action") or data.get("type")
        topic = data.get("topic")
        if action == "pong":
            return
        if action == "ping":
            await send_json(self.ws, {"type": "pong", "timestamp": time.time()})
        elif action in ("subscribe", "unsubscribe") and isinstance(topic, str):
            try:
                channel = topic_channel(self.st, self.who, topic)
            except TopicError as exc:
                await send_json(self.ws, {"type": "error", "action": action, "topic": topic, "error": str(exc)})
                return
            if action == "subscribe":
                await self._subscribe(channel, topic)
            else:
                self._unsubscribe(channel)
                await send_json(self.ws, {"type": "unsubscribed", "topic": topic})
        else:
            await send_json(self.ws, {"type": "error", "error": "expected {action: subscribe|unsubscribe, topic} "
                                      "or {action: ping|pong}"})

    async def _subscribe(self, channel: str, topic: str) -> None:
        if channel not in self.topics:
            if len(self.topics) >= MAX_TOPICS:
                await send_json(self.ws, {"type": "error", "action": "subscribe", "topic": topic,
                                          "error": f"at most {MAX_TOPICS} topics per connection"})
                return
            self.topics[channel] = topic
            self.st.hub.subscribe(channel, self.inbox)
            self.st.stats.topic_added(topic)
        await send_json(self.ws, {"type": "subscribed", "topic": topic})

    def _unsubscribe(self, channel: str) -> None:
        topic = self.topics.pop(channel, None)
        if topic is not None:
            self.st.hub.unsubscribe(channel, self.inbox)
            self.st.stats.topic_removed(topic)

    def close_all(self) -> None:
        """Drops every subscription."""
        for channel in list(self.topics):
            self._unsubscribe(channel)

    async def pump(self) -> None:
        """Forwards hub messages for this client's topics."""
        while True:
            item = await self.inbox.get()
            if isinstance(item, Resync):
                ok = await send_json(self.ws, {"type": "resync"})
            elif isinstance(item, Message) and item.channel in self.topics:
                topic = self.topics[item.channel]
                ok = await send_json(self.ws, {"type": MESSAGE_TYPE[topic.split(":", 1)[0]], "topic": topic,
                                               "data": _decode(item.data)})
            else:
                continue
            if not ok:
                return

    async def heartbeat(self) -> None:
        """Pings every interval; a client silent for longer than the timeout is dropped."""
        interval, timeout = self.st.settings.heartbeat_interval_s, self.st.settings.heartbeat_timeout_s
        while True:
            await asyncio.sleep(min(interval, timeout))
            if time.monotonic() - self.last_seen > timeout:
                await close(self.ws, 4408, f"no pong for {timeout:g}s")
                return
            if not await send_json(self.ws, {"type": "ping", "timestamp": time.time()}):
                return


def _decode(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data


@router.websocket("/ws")
async def topics_socket(ws: WebSocket) -> None:
    """Subscribe to topics on one socket (see the module doc for the protocol); `?token=` or a bearer header."""
    st = api_state(ws)
    try:
        who = await websocket_principal(ws)
    except HTTPException as exc:
        await deny(ws, exc)
        return
    await ws.accept()
    session = TopicSession(ws, st, who)
    await send_json(ws, {"type": "welcome", "connection_id": session.id, "user_id": who.user_id,
                         "heartbeat_interval_s": st.settings.heartbeat_interval_s,
                         "topics": ["prices:<symbol>", "analysis:<user_id>", "backtest:<user_id>", "system"]})
    try:
        with st.stats.socket("topics"):
            await run_socket(ws, session.pump(), session.heartbeat(),
                             receive_loop(ws, st.settings.max_ws_message_bytes, session.handle),
                             expires_at=who.expires_at)
    finally:
        session.close_all()
