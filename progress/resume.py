"""The one stream-resume reader: a task's events after an event id, or a snapshot of its record first when that id
is no longer in the stream (trimmed or expired). `store.watch`, `aio.watch` and the API's task feeds all follow a
task through a Cursor and these plans (sans-I/O, see progress.plans), so they resume, dedupe and complete events
the same way.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from progress import ops
from progress.codec import carry, event_from_entry, snapshot_event
from progress.core import Emit, Plan, StoreCore, Stream
from progress.models import ProgressEvent
from progress.plans import require

# A stream entry id as Redis writes them: ms-seq, ASCII digits only (`\d` would take any script's digits) and at
# most 19 of each, so both fit the 64-bit integers of a Redis stream id: anything else is refused before a read.
# Anchored, so that it also serves as a `pattern` in HTTP parameters (use fullmatch: `$` allows a final newline).
EVENT_ID = re.compile(r"^[0-9]{1,19}-[0-9]{1,19}$")
#: `after` meaning "from the task's first event".
START = "0-0"
_XREAD_COUNT = 500


def stream_id(entry_id: str) -> tuple[int, int]:
    """A stream entry id as a comparable (ms, sequence) pair."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def check_event_id(after: str | None) -> None:
    """Raises ValueError unless `after` is None or a stream event id."""
    if after is not None and not EVENT_ID.fullmatch(after):
        raise ValueError(f"after must be a stream event id like 1700000000000-0, not {after!r}")


@dataclass(slots=True)
class Cursor:
    """Where a follower of one task is: the last event id it was given (None: none yet), the last event (which
    completes the next: events do not repeat an unchanged message), and whether the task has ended."""

    task_id: str
    last: str | None = None
    previous: ProgressEvent | None = None
    ended: bool = False


def catch_up(core: StoreCore, cursor: Cursor) -> Plan[list[ProgressEvent]]:
    """The events after the cursor (every one from the start for "0-0"), if the stream still holds that point;
    else the record as a snapshot (TaskNotFound if there is none). Advances the cursor past them."""
    stream = core.keys.events(cursor.task_id)
    after = cursor.last
    if after is not None:
        start = "-" if after == START else after
        entries: list[tuple[str, dict[str, str]]] = yield ops.Cmd("xrange", (stream, start, "+"))
        tz = core.config.tz
        if after == START and entries and entries[0][1].get("k") == "created":
            # The stream still begins with the creation: nothing was trimmed, the whole history is here.
            events = [event_from_entry(i, f, tz, cursor.task_id) for i, f in entries]
            return (yield from advance(core, cursor, events))
        if after != START and entries and entries[0][0] == after:
            anchor = event_from_entry(entries[0][0], entries[0][1], tz, cursor.task_id)
            cursor.ended = cursor.ended or anchor.status.is_terminal
            events = [event_from_entry(i, f, tz, cursor.task_id) for i, f in entries[1:]]
            return (yield from advance(core, cursor, events))
    # No id, or it was trimmed / expired: the record's current state stands in for what cannot be replayed.
    record = yield from require(core, cursor.task_id)
    return (yield from advance(core, cursor, [snapshot_event(record)]))


def advance(core: StoreCore, cursor: Cursor, events: list[ProgressEvent]) -> Plan[list[ProgressEvent]]:
    """The events newer than the cursor (a snapshot always is), each completed from the one before, up to the
    task's end; moves the cursor past them. Reads the record only when the first one lacks its message."""
    if needs_record(cursor, events):
        cursor.previous = snapshot_event((yield from require(core, cursor.task_id)))
    return advance_known(cursor, events)


def needs_record(cursor: Cursor, events: list[ProgressEvent]) -> bool:
    """Whether advancing over `events` must first read the record: the first new one lacks its message and there is
    no previous event to take it from."""
    if cursor.previous is not None or cursor.ended:
        return False
    first = next((e for e in events if is_new(cursor, e)), None)
    return first is not None and first.message is None


def is_new(cursor: Cursor, event: ProgressEvent) -> bool:
    """Whether the cursor has not yet passed `event` (a snapshot always is new)."""
    return cursor.last is None or event.kind == "snapshot" or stream_id(event.id) > stream_id(cursor.last)


def advance_known(
    cursor: Cursor, events: list[ProgressEvent], complete: Callable[[ProgressEvent, ProgressEvent | None],
                                                                    ProgressEvent] = carry,
) -> list[ProgressEvent]:
    """`advance` once the record is not needed (see needs_record), without I/O; `complete` is `carry` or a shared
    memo of it (the API completes one published event once for all the sockets following its task)."""
    out: list[ProgressEvent] = []
    for event in events:
        if cursor.ended:
            break
        if is_new(cursor, event):
            cursor.previous = complete(event, cursor.previous)
            cursor.last = event.id
            cursor.ended = event.status.is_terminal
            out.append(cursor.previous)
    return out


def watch(
    core: StoreCore, task_id: str, after: str | None = None, *, block_ms: int = 1000, timeout: float | None = None
) -> Stream:
    """Yields the task's changes until it ends (or `timeout` seconds pass); after=None starts with a snapshot, else
    resumes after that id ("0-0": from the first event). One blocking XREAD at a time: each watcher holds a Redis
    connection while it waits (the API's feeds share one Pub/Sub subscription instead, see api/feeds.py)."""
    check_event_id(after)
    stream = core.keys.events(task_id)
    deadline = None if timeout is None else time.monotonic() + timeout
    cursor = Cursor(task_id, after)
    for event in (yield from catch_up(core, cursor)):
        yield Emit(event)
    while not cursor.ended and (deadline is None or time.monotonic() < deadline):
        reply = yield ops.Cmd("xread", ({stream: cursor.last},), {"block": block_ms, "count": _XREAD_COUNT})
        if reply:
            tz = core.config.tz
            events = [event_from_entry(i, f, tz, task_id) for i, f in reply[0][1]]
            for event in (yield from advance(core, cursor, events)):
                yield Emit(event)
            continue
        rec = yield from require(core, task_id)
        if rec.status.is_terminal and stream_id(rec.last_event_id or START) <= stream_id(cursor.last or START):
            return  # ended and its stream expired or drained: nothing more will come


def event_from_published(data: str, tz: ZoneInfo) -> ProgressEvent | None:
    """A task channel's message ("<stream id> <event JSON>", as update.lua publishes it), or None if malformed."""
    return _event_from_published(data, tz)


@lru_cache(maxsize=4096)
def _event_from_published(data: str, tz: ZoneInfo) -> ProgressEvent | None:
    # Cached: one published message reaches every socket watching that task, and the (frozen) event is the same
    # for all of them, so a fan-out to 1,000 sockets parses it once.
    event_id, _, payload = data.partition(" ")
    if not EVENT_ID.fullmatch(event_id) or not payload:
        return None
    try:
        return event_from_entry(event_id, {"d": payload}, tz)
    except (ValueError, KeyError, TypeError):
        return None
