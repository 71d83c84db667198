"""The routine write: which changes are a task's bare progress, and the progress.lua call that writes them.

Nearly every write a store makes is a running task's progress (current, total, message, details). progress.lua writes
those with a fraction of update.lua's server time (no transition table, no JSON decoding, four keys); anything
else (a status change, a step, a start, an end, an error, an increment) stays update.lua's, and so does a routine
change to a task that is not running or paused (progress.lua answers 'full' and writes nothing).
"""

from __future__ import annotations

from typing import Any

from progress import limits
from progress.config import StoreConfig
from progress.keys import Keys
from progress.ops import Call, ScriptArgs, check_count, encode_members

# The members a routine change may carry (None or False means absent, as in ops.encode_change).
_MEMBERS = frozenset({"current", "total", "message", "details", "attempt", "soft", "status"})
_RUNNING = "running"

#: progress.lua's reply code for a change it leaves to update.lua (nothing written).
FULL = "full"


def is_routine(change: dict[str, Any]) -> bool:
    """Whether `change` is bare progress: only current, total, message, details (and the writing attempt), with no
    status or a worker's soft "running" (which leaves a running or paused task's status as it is)."""
    for name, value in change.items():
        if name not in _MEMBERS and value is not None and value is not False:
            return False
    status = change.get("status")
    return status is None or (status == _RUNNING and bool(change.get("soft")))


def progress_call(
    cfg: StoreConfig, keys: Keys, task_id: str, change: dict[str, Any], now_ms: int, publish: str
) -> Call:
    """The progress.lua call writing a routine change (see the script's header); the members are checked against
    the limits first, as update.lua's are: InvalidValue names the first bad one and nothing is written."""
    call_keys, channel = keys.progress_names(task_id)
    lim = cfg.limits
    get = change.get
    attempt, current, total, message, details = get("attempt"), get("current"), get("total"), get("message"), \
        get("details")
    args: ScriptArgs = [
        now_ms,
        task_id,
        channel,
        cfg.events_maxlen,
        publish,
        "" if attempt is None else check_count("attempt", attempt),
        "" if current is None else check_count("current", current),
        "" if total is None else check_count("total", total),
    ]
    if message is not None:
        limits.check_text(message, "message", lim.max_message_chars)
        args += ["msg", message]
    if details is not None:
        for key, value in encode_members("details", details, lim).items():
            args += ["d:" + key, value]
    return Call("progress", call_keys, args, task_id, change)
