"""Following one task: current state first, then every change, resumable by event id, over the process's Hub.

Why not one blocking XREAD per socket (`AsyncProgressStore.watch`)? Each blocked XREAD holds its own Redis
connection, so 1,000 sockets would mean 1,000 Redis connections (and file descriptors) per API process. Here a
socket costs one short XRANGE when it connects (the catch-up from its last event id), then rides the hub's single
Pub/Sub subscription; messages carry their stream id, so duplicates between the catch-up and the live feed are
dropped by id. Whenever Pub/Sub may have lost something (hub reconnect, inbox overflow, or simply a quiet spell)
the socket re-reads the stream after the last id it sent, so it never misses an event either.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import lru_cache
from typing import cast
from zoneinfo import ZoneInfo

from api.hub import RESYNC, Hub, Inbox, Message
from progress import AsyncProgressStore, ProgressEvent
from progress.codec import carry, event_from_entry, snapshot_event
from progress.store import stream_id

# ASCII digits only (`\d` would take any script's digits) and at most 19 of them, so each part fits the 64-bit
# integers of a Redis stream id: anything else is a 422 here, never an XRANGE error.
EVENT_ID = re.compile(r"^[0-9]{1,19}-[0-9]{1,19}$")


def parse_published(data: str, store: AsyncProgressStore) -> ProgressEvent | None:
    """A task channel's message ("<stream id> <event JSON>", as update.lua publishes it), or None if malformed."""
    return _parse_published(data, store.config.tz)


@lru_cache(maxsize=4096)
def _parse_published(data: str, tz: ZoneInfo) -> ProgressEvent | None:
    # Cached: one published message reaches every socket watching that task, and the (frozen) event is the same
    # for all of them, so a fan-out to 1,000 sockets parses it once.
    event_id, _, payload = data.partition(" ")
    if not EVENT_ID.match(event_id) or not payload:
        return None
    try:
        return event_from_entry(event_id, {"d": payload}, tz)
    except (ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True, slots=True)
class Catchup:
    """What a watcher must send to be current: events in order, and whether the task has ended with them."""

    events: list[ProgressEvent]
    ended: bool
    idle: bool = False


async def read_since(store: AsyncProgressStore, task_id: str, after: str | None) -> Catchup:
    """Every event after `after` if the stream still holds that id; else a snapshot of the record (TaskNotFound)."""
    stream = store.keys.events(task_id)
    if after is not None:
        entries = cast(list[tuple[str, dict[str, str]]], await store.redis.xrange(stream, after, "+"))
        if entries and entries[0][0] == after:
            anchor = event_from_entry(entries[0][0], entries[0][1], store.config.tz, task_id)
            events = [event_from_entry(i, f, store.config.tz, task_id) for i, f in entries[1:]]
            ended = (events[-1] if events else anchor).status.is_terminal
            return Catchup(events, ended)
    # No id, or it was trimmed / expired: the record's current state stands in for what cannot be replayed.
    record = await store.require(task_id)
    return Catchup([snapshot_event(record)], record.status.is_terminal)


async def follow_task(
    store: AsyncProgressStore, hub: Hub, task_id: str, after: str | None, *, queue_size: int, resync_s: float
) -> AsyncIterator[ProgressEvent | None]:
    """The task's events after `after` (a snapshot first when None), then live ones, until it ends; None after
    each quiet spell of `resync_s` (callers send keep-alives)."""
    inbox = Inbox(queue_size)
    channel = store.keys.channel(task_id)
    # Registered before the catch-up read: anything published after it reaches the inbox, and ids dedupe overlap.
    hub.subscribe(channel, inbox)
    try:
        caught = await read_since(store, task_id, after)
        last = after
        # Events repeat no unchanged message: each is completed from the one sent before (the record, on a resume).
        previous: ProgressEvent | None = None
        while True:
            for event in caught.events:
                if last is None or event.kind == "snapshot" or stream_id(event.id) > stream_id(last):
                    if previous is None and event.message is None:
                        previous = snapshot_event(await store.require(task_id))
                    previous = carry(event, previous)
                    yield previous
                    last = event.id
            if caught.ended:
                return
            if caught.idle:
                yield None
            caught = await _next(store, task_id, inbox, last, resync_s)
    finally:
        hub.unsubscribe(channel, inbox)


async def _next(store: AsyncProgressStore, task_id: str, inbox: Inbox, last: str | None, resync_s: float) -> Catchup:
    """The next live event, or a re-read of the stream when the live feed may have missed something."""
    item = await inbox.get(timeout=resync_s)
    if isinstance(item, Message):
        event = parse_published(item.data, store)
        if event is not None:
            return Catchup([event], event.status.is_terminal)
        item = RESYNC
    # RESYNC, a malformed message, or a quiet spell: the stream is the truth.
    caught = await read_since(store, task_id, last)
    return Catchup(caught.events, caught.ended, idle=item is None)
