"""Per-task logs: the log records a task emits, kept in a capped, expiring Redis stream per task (secrets masked).

A stream (not a list) because readers follow it live and resume after the last entry id they saw, exactly like the
task's event stream; `MAXLEN ~` keeps its size bounded and a TTL, renewed by every append, removes it after the
task is gone. Writing is the job of `TaskLogHandler`, a logging handler: whatever a task logs (its own logger, and
`ProgressReporter.log`) lands in its log, and the task never fails because its log could not be written.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from progress.codec import at_ms
from progress.keys import Keys
from progress.limits import clip

#: Name of the logger `ProgressReporter.log` writes to (kept at INFO, whatever the root logger's level).
REPORTER_LOGGER = "progress.task"
#: Longest message kept per line (a traceback included); longer ones are clipped.
MAX_LINE_CHARS = 8_000
# A `name=value` or `name: value` whose name says secret (password, token, api_key, ...), quoted or bare.
_SECRET_ASSIGNMENT = re.compile(
    r"""(?ix)
    (\b[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|credentials?|authorization|private[_-]?key)
     [\w.-]*["']?\s*[=:]\s*)
    ("[^"]*"|'[^']*'|[^\s,;&}\]]+)
    """
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@\s]+)(@)", re.IGNORECASE)


def redact_text(text: str) -> str:
    """`text` with credential-looking values masked: `password=...`, `"token": "..."`, `Bearer ...`, and passwords
    inside URLs (redis://:pw@host) become ***."""
    text = _BEARER.sub(lambda m: m[1] + " ***", text)
    text = _SECRET_ASSIGNMENT.sub(lambda m: m[1] + "***", text)
    return _URL_PASSWORD.sub(lambda m: m[1] + "***" + m[3], text)


class LogLine(BaseModel):
    """One record of a task's log."""

    id: str
    timestamp: datetime
    level: str
    logger: str
    message: str


def parse_entries(entries: Sequence[tuple[Any, dict[Any, Any]]], tz: ZoneInfo) -> list[LogLine]:
    """Stream entries (XRANGE / XREAD replies) as log lines."""
    out: list[LogLine] = []
    for entry_id, fields in entries:
        eid = str(entry_id)
        out.append(LogLine(id=eid, timestamp=at_ms(int(eid.split("-", 1)[0]), tz), level=str(fields.get("l", "INFO")),
                           logger=str(fields.get("n", "")), message=str(fields.get("m", ""))))
    return out


def entry_fields(level: str, message: str, logger: str) -> dict[str, str]:
    """What one stream entry holds: the level, the logger's name, and the message clipped and masked."""
    return {"l": level, "n": logger, "m": redact_text(clip(message, MAX_LINE_CHARS))}


def after_bound(after: str | None) -> str:
    """XRANGE's lower bound for the lines after `after` (all of them for None)."""
    return "-" if not after else f"({after}"


class TaskLog:
    """Appends to and reads the per-task logs on a (decoding) sync client."""

    def __init__(self, client: Any, keys: Keys, *, maxlen: int = 1_000, ttl_s: int = 86_400,
                 tz: ZoneInfo | None = None) -> None:
        self.redis = client
        self.keys = keys
        self.maxlen = maxlen
        self.ttl_s = ttl_s
        self.tz = tz or ZoneInfo("UTC")

    def append(self, task_id: str, level: str, message: str, logger: str = "") -> str:
        """Adds one line (trimming the oldest beyond `maxlen`, renewing the TTL) in one round trip; its id."""
        key = self.keys.task_log(task_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.xadd(key, entry_fields(level, message, logger), maxlen=self.maxlen, approximate=True)
        pipe.expire(key, self.ttl_s)
        entry_id, _ = pipe.execute()
        return str(entry_id)

    def read(self, task_id: str, after: str | None = None, count: int = 1_000) -> list[LogLine]:
        """The lines after `after` (from the oldest kept), at most `count`."""
        entries = self.redis.xrange(self.keys.task_log(task_id), after_bound(after), "+", count=count)
        return parse_entries(entries, self.tz)

    def follow(self, task_id: str, after: str | None = None, *, block_ms: int = 1_000,
               done: Callable[[], bool] = lambda: False) -> Iterator[LogLine]:
        """Every line after `after`, then new ones as they come, until `done()` is true after a quiet wait."""
        yield from (lines := self.read(task_id, after))
        last = lines[-1].id if lines else (after or "0-0")
        while True:
            reply = self.redis.xread({self.keys.task_log(task_id): last}, block=block_ms, count=500)
            if not reply:
                if done():
                    return
                continue
            for line in parse_entries(reply[0][1], self.tz):
                last = line.id
                yield line

    def delete(self, task_ids: Sequence[str]) -> None:
        """Removes these tasks' logs (their records were deleted)."""
        if task_ids:
            self.redis.delete(*(self.keys.task_log(t) for t in task_ids))


class TaskLogHandler(logging.Handler):
    """Sends each record emitted inside a tracked task to that task's log.

    The task is the record's `task_id` attribute (`ProgressReporter.log` sets it) or, failing that, what
    `current_task()` says runs in this thread. A record that cannot be written is dropped and counted: logging must
    never fail or stall the task.
    """

    def __init__(self, log: Callable[[], TaskLog], current_task: Callable[[], str | None],
                 level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self._log = log
        self._current_task = current_task
        self._busy = threading.local()
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        """Appends the record to its task's log (no-op outside a task, or while already writing one)."""
        if getattr(self._busy, "on", False):
            return  # a record logged by the write itself (redis-py), never sent back into the log
        task_id = getattr(record, "task_id", None) or self._current_task()
        if not task_id:
            return
        self._busy.on = True
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            self._log().append(str(task_id), record.levelname, message, record.name)
        except Exception:
            self.dropped += 1
        finally:
            self._busy.on = False


def reporter_logger() -> logging.Logger:
    """The logger `ProgressReporter.log` writes to, at INFO so its lines reach the task's log whatever the root's
    level is."""
    logger = logging.getLogger(REPORTER_LOGGER)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return logger

