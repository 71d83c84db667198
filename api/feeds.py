"""Following one task: current state first, then every change, resumable by event id, over the process's Hub.

Why not one blocking XREAD per socket (`AsyncProgressStore.watch`)? Each blocked XREAD holds its own Redis
connection, so 1,000 sockets would mean 1,000 Redis connections (and file descriptors) per API process. Here a
socket costs one short XRANGE when it connects (the catch-up from its last event id), then rides the hub's single
Pub/Sub subscription; messages carry their stream id, so duplicates between the catch-up and the live feed are
dropped by id. Whenever Pub/Sub may have lost something (hub reconnect, inbox overflow, or simply a quiet spell)
the socket re-reads the stream after the last id it sent, so it never misses an event either.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from api.hub import Hub, Inbox, Message
from api.shared_events import completed
from progress import AsyncProgressStore, ProgressEvent
from progress.resume import EVENT_ID, Cursor, advance_known, event_from_published, needs_record

__all__ = ["EVENT_ID", "follow_task", "parse_published"]


def parse_published(data: str, store: AsyncProgressStore) -> ProgressEvent | None:
    """A task channel's message ("<stream id> <event JSON>", as update.lua publishes it), or None if malformed."""
    return event_from_published(data, store.config.tz)


async def follow_task(
    store: AsyncProgressStore, hub: Hub, task_id: str, after: str | None, *, queue_size: int, resync_s: float
) -> AsyncIterator[ProgressEvent | None]:
    """The task's events after `after` (a snapshot first when None), then live ones, until it ends; None after
    each quiet spell of `resync_s` (callers send keep-alives). Resumes, dedupes by id and completes events with the
    store's stream-resume reader (progress.resume), as `store.watch` does."""
    inbox = Inbox(queue_size)
    channel = store.keys.channel(task_id)
    cursor = Cursor(task_id, after)
    # Registered before the catch-up read: anything published after it reaches the inbox, and ids dedupe overlap.
    hub.subscribe(channel, inbox)
    try:
        for event in await store.catch_up(cursor):
            yield event
        while not cursor.ended:
            item = await inbox.get(timeout=resync_s)
            live = parse_published(item.data, store) if isinstance(item, Message) else None
            if live is not None:
                # The live path stays synchronous (no plan driver) and shares the completed event with every other
                # socket on this task; only a cursor with nothing to complete from reads the record.
                batch = [live]
                sent_now = await store.advance(cursor, batch) if needs_record(cursor, batch) else \
                    advance_known(cursor, batch, completed)
                for sent in sent_now:
                    yield sent
                continue
            # RESYNC, a malformed message, or a quiet spell: the stream is the truth.
            for sent in await store.catch_up(cursor):
                yield sent
            if item is None and not cursor.ended:
                yield None
    finally:
        hub.unsubscribe(channel, inbox)
