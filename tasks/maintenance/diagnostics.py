"""Small tasks that exercise the progress lifecycle end to end (used by tests, benchmarks and operators)."""

from __future__ import annotations

import logging
import os
import signal
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tracking.errors import TransientError
from tracking.task import ProgressTask
from worker import app

log = logging.getLogger(__name__)


class CountArgs(BaseModel):
    """Arguments of `count`."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(ge=0, le=10_000_000, description="items to count")
    delay: float = Field(default=0.0, ge=0, le=60, description="seconds per item")
    fail_at: int | None = Field(default=None, ge=0, description="raise at this item (tests)")
    symbol: str | None = Field(default=None, max_length=32)


@app.task(base=ProgressTask, bind=True, name="tasks.diagnostics.count", args_model=CountArgs)
def count(self: ProgressTask, n: int, delay: float = 0.0, fail_at: int | None = None,
          symbol: str | None = None) -> dict[str, Any]:
    """Counts to n, reporting each item (the reporter throttles the writes)."""
    self.progress.update(0, total=n, message=f"counting to {n}")
    for i in range(1, n + 1):
        if delay:
            time.sleep(delay)
        if fail_at is not None and i == fail_at:
            raise RuntimeError(f"failed at item {i}")
        self.progress.update(i, message=f"{i}/{n}")
    return {"counted": n, "symbol": symbol}


class FlakyArgs(BaseModel):
    """Arguments of `flaky`."""

    model_config = ConfigDict(extra="forbid")

    failures: int = Field(ge=0, le=5, description="attempts that fail before one succeeds")


# Celery takes a fractional backoff factor (tenths of a second here); the stubs allow only whole seconds.
_FAST_RETRY: dict[str, Any] = {"autoretry_for": (TransientError,), "retry_backoff": 0.1, "retry_backoff_max": 1,
                               "retry_jitter": False, "max_retries": 5}


@app.task(base=ProgressTask, bind=True, name="tasks.diagnostics.flaky", args_model=FlakyArgs, **_FAST_RETRY)
def flaky(self: ProgressTask, failures: int) -> dict[str, Any]:
    """Fails with a transient error `failures` times, then succeeds (exercises retry with backoff)."""
    attempt = self.request.retries + 1
    self.progress.update(attempt, total=failures + 1, message=f"attempt {attempt}")
    if attempt <= failures:
        raise TransientError(f"transient failure on attempt {attempt}")
    return {"attempts": attempt}


class ChattyArgs(BaseModel):
    """Arguments of `chatty`."""

    model_config = ConfigDict(extra="forbid")

    lines: int = Field(default=10, ge=0, le=100_000, description="log lines to write")
    delay: float = Field(default=0.2, ge=0, le=60, description="seconds between lines")
    note: str = Field(default="", max_length=200, description="text added to each line (redaction demos)")


@app.task(base=ProgressTask, bind=True, name="tasks.diagnostics.chatty", args_model=ChattyArgs)
def chatty(self: ProgressTask, lines: int = 10, delay: float = 0.2, note: str = "") -> dict[str, Any]:
    """Writes numbered lines to its log (its logger and the reporter's), one every `delay` seconds."""
    for i in range(1, lines + 1):
        if delay:
            time.sleep(delay)
        if i % 2:
            log.warning("line %d of %d %s", i, lines, note)
        else:
            self.progress.log(f"line {i} of {lines} {note}")
        self.progress.update(i, total=lines)
    return {"lines": lines}


@app.task(bind=True, name="tasks.diagnostics.noop")
def noop(self: Any) -> None:
    """An untracked no-op (the benchmark's bare-Celery baseline)."""
    return None


class TrackedNoopArgs(BaseModel):
    """Arguments of `tracked_noop`."""

    updates: int = Field(default=10, ge=0, le=1_000_000)


@app.task(base=ProgressTask, bind=True, name="tasks.diagnostics.tracked_noop", args_model=TrackedNoopArgs)
def tracked_noop(self: ProgressTask, updates: int = 10) -> None:
    """A no-op with the full progress lifecycle and `updates` progress calls (benchmarks)."""
    for i in range(updates):
        self.progress.update(i + 1, total=updates)


# Deliberately without an args_model: the HTTP API enqueues only tasks that declare one, so this is never a button
# that kills workers; operators and tests send it by name.
@app.task(base=ProgressTask, bind=True, name="tasks.diagnostics.crash")
def crash(self: ProgressTask, how: str = "exit", code: int = 3) -> None:
    """Kills its own worker process on every run (a poison pill): os._exit(code), or SIGKILL when how="kill"."""
    self.progress.update(0, total=1, message=f"about to die ({how})")
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(code)
