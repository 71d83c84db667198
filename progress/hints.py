"""What a store process remembers of the tasks it wrote, so that a status move sends its index keys at once.

A move between statuses touches the task's indexes (prefix + old status, prefix + new status for each prefix of the
record's `sidx`). Redis Cluster requires a script to be given every key it touches, and only the record knows its
prefixes: a process that has not seen the task sends the change without them, the script answers 'keys' with the
prefixes and writes nothing, and the change is sent again with them (two round trips, once per task and process).
This cache makes every later move one round trip. Routine progress never moves, so it never needs them.
"""

from __future__ import annotations

from progress.status import TERMINAL

_FINAL = frozenset(s.value for s in TERMINAL)


class IndexHints:
    """task id -> (index prefixes, last known status), for at most `size` tasks (the oldest are forgotten)."""

    __slots__ = ("known", "size")

    def __init__(self, size: int = 10_000) -> None:
        self.known: dict[str, tuple[tuple[str, ...], str]] = {}
        self.size = size

    def learn(self, task_id: str, sidx: str, status: str) -> None:
        """Remembers a task's prefixes (`sidx`, "\\n"-joined, as stored) and its status."""
        self.note(task_id, prefixes_of(sidx), status)

    def note(self, task_id: str, prefixes: tuple[str, ...], status: str) -> None:
        """Remembers a task's prefixes and status (a final status: forgets it, it will not move again)."""
        known = self.known
        if status in _FINAL:
            known.pop(task_id, None)
            return
        if task_id not in known and len(known) >= self.size:
            del known[next(iter(known))]
        known[task_id] = (prefixes, status)

    def seen(self, task_id: str, status: str) -> None:
        """Updates the status of a known task after a write."""
        known = self.known.get(task_id)
        if known is not None and known[1] != status:
            self.note(task_id, known[0], status)

    def move_keys(self, task_id: str, new: str | None) -> list[str]:
        """The index keys a move of the task to `new` needs, if its prefixes and status are known and differ."""
        known = self.known.get(task_id)
        if known is None or not new or known[1] == new:
            return []
        return index_keys(known[0], known[1], new)


def prefixes_of(sidx: str | None) -> tuple[str, ...]:
    """A record's index prefixes from its stored `sidx` ("\\n"-joined)."""
    return tuple(p for p in (sidx or "").split("\n") if p)


def index_keys(prefixes: tuple[str, ...], *statuses: str) -> list[str]:
    """The index key of each status for each prefix (what a move or a delete must pass to its script)."""
    return [p + status for status in statuses for p in prefixes]
