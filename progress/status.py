"""Task statuses (seed 001) and the transitions between them, read from the Lua table update.lua enforces."""

from __future__ import annotations

import re
from enum import StrEnum
from importlib import resources


class TaskStatus(StrEnum):
    """Lifecycle of a tracked task."""

    #: recorded (usually when the Celery message is published), not yet picked up by a worker
    CREATED = "created"
    #: a worker is executing it
    RUNNING = "running"
    #: an operator paused it; the task waits at its next progress call
    PAUSED = "paused"
    #: finished with results (final)
    COMPLETED = "completed"
    #: failed, with an error message (final)
    ERROR = "error"
    #: cancelled by an operator or revoked (final)
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Whether no further change is accepted."""
        return self in TERMINAL


_TABLE = re.compile(r"^local MAY_BECOME = \{\n(.*?)^\}", re.MULTILINE | re.DOTALL)
_ROW = re.compile(r"^\s*(\w+)\s*=\s*'([^']*)',?\s*$", re.MULTILINE)


def parse_transitions(lua: str) -> dict[str, frozenset[str]]:
    """The `MAY_BECOME` table of a Lua source (status -> the statuses it may move to); raises ValueError if the
    source has none."""
    block = _TABLE.search(lua)
    if block is None:
        raise ValueError("no `local MAY_BECOME = {` table in the Lua source")
    return {status: frozenset(row.split()) for status, row in _ROW.findall(block.group(1))}


def check_statuses(table: dict[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    """The table, if it names exactly the TaskStatus values (as rows and as targets); else ValueError says which."""
    known = {s.value for s in TaskStatus}
    named = set(table).union(*table.values())
    if set(table) != known or not named <= known:
        raise ValueError(f"the Lua transition table's statuses {sorted(named)} are not TaskStatus's {sorted(known)}")
    return table


# The transition table is written once, in Lua (update.lua enforces it atomically); Python reads that file.
MAY_BECOME = check_statuses(
    parse_transitions(resources.files("progress").joinpath("lua", "_common.lua").read_text(encoding="utf-8"))
)
TERMINAL = frozenset(TaskStatus(s) for s, row in MAY_BECOME.items() if not row)


def can_transition(old: TaskStatus, new: TaskStatus) -> bool:
    """Whether `old -> new` is allowed: the table update.lua enforces (a final status accepts no change)."""
    return new.value in MAY_BECOME[old.value]
