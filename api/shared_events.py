"""Per-message work done once per API process, however many sockets follow the task.

One published progress event reaches every socket watching its task. Parsing it is already cached (progress.resume);
this completes it (fills an unchanged message from the event before, `carry`) and encodes its progress_update text
once, keyed by object identity: the parse cache hands every socket the same event object, so a lookup costs a
dict probe instead of hashing a pydantic model per socket.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Generic, TypeVar

from progress import ProgressEvent
from progress.codec import carry

K = TypeVar("K")
V = TypeVar("V")
#: Recent entries kept: far more than the messages in flight at once (a fan-out ends before the next begins).
CAPACITY = 4096


class Recent(Generic[K, V]):
    """A bounded map keeping the most recently added entries (the oldest go first)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._capacity = capacity

    def get(self, key: K) -> V | None:
        """The value for `key`, if still kept."""
        return self._entries.get(key)

    def put(self, key: K, value: V) -> V:
        """Keeps `value` under `key` (evicting the oldest entry when full); returns it."""
        self._entries[key] = value
        if len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
        return value


# Values hold the key objects themselves: an id() is only unique while its object lives.
_completed: Recent[tuple[int, str | None, str | None], tuple[ProgressEvent, ProgressEvent]] = Recent()
_encoded: Recent[int, tuple[ProgressEvent, str]] = Recent()


def completed(event: ProgressEvent, previous: ProgressEvent | None) -> ProgressEvent:
    """`carry(event, previous)`, the same object for every socket (carry reads only previous's message and
    error)."""
    tail = (None, None) if previous is None else (previous.message, previous.error_message)
    key = (id(event), *tail)
    hit = _completed.get(key)
    if hit is not None and hit[0] is event:
        return hit[1]
    return _completed.put(key, (event, carry(event, previous)))[1]


def encoded_message(event: ProgressEvent) -> str:
    """An event's progress_update message as JSON text, encoded once however many sockets it goes to."""
    hit = _encoded.get(id(event))
    if hit is not None and hit[0] is event:
        return hit[1]
    text = json.dumps(event.to_message(), ensure_ascii=False, separators=(",", ":"))
    return _encoded.put(id(event), (event, text))[1]
