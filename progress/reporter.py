"""ProgressReporter: what a running task calls; coalesces frequent updates, never loses the final state."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

import redis

from progress.config import StoreConfig
from progress.errors import InvalidValue, ProgressWriteError, TaskCancelled, TaskSuperseded
from progress.limits import clip
from progress.models import StepDefinition, UpdateResult
from progress.ops import Written, to_result
from progress.status import TaskStatus
from progress.steps import step_change
from progress.tasklog import reporter_logger


class Writer(Protocol):
    """What the reporter needs from a store."""

    config: StoreConfig

    def write(self, task_id: str, change: dict[str, Any]) -> Written:
        """Applies one change in one round trip; the bare reply."""
        ...

    def apply(self, task_id: str, change: dict[str, Any]) -> UpdateResult:
        """Applies one change in one round trip; the seed's update response."""
        ...

    def watch(self, task_id: str, after: str | None = None, *, block_ms: int = ..., timeout: float | None = ...) -> Any:
        """Yields the task's events."""
        ...


OnWrite = Callable[[UpdateResult], None]
T = TypeVar("T")
log = logging.getLogger(__name__)
# What "Redis is unreachable right now" looks like from redis-py (a restart, a failover, a network blip), and Redis
# at maxmemory with noeviction refusing writes (OOM): both are waited out the same way.
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, ConnectionError, TimeoutError,
              redis.OutOfMemoryError)


def _waits_out(exc: Exception) -> bool:
    """An outage or OOM (Redis 6.2 reports OOM inside a script as a plain ResponseError)."""
    return isinstance(exc, REDIS_DOWN) or "OOM command not allowed" in str(exc)


class ProgressReporter:
    """Throttled progress for one task attempt: `update` is nearly free; status changes and the end are written at once.

    At most one routine write per `interval` seconds (seed 001: 1 s). Each write also learns whether an operator
    cancelled (raises TaskCancelled) or paused (blocks until resumed) the task. Every write after `start` carries
    this attempt's number: once a newer attempt has started (this one's worker was presumed lost), the write is
    refused and TaskSuperseded raised, and this attempt must stop without ending the record.
    """

    def __init__(
        self,
        store: Writer,
        task_id: str,
        *,
        interval: float = 1.0,
        total: int | None = None,
        on_write: OnWrite | None = None,
        clock: Callable[[], float] = time.monotonic,
        final_write_timeout: float = 120.0,
    ) -> None:
        self.store = store
        self.task_id = task_id
        self.interval = interval
        self.total = total
        self.on_write = on_write
        self._clock = clock
        self.final_write_timeout = final_write_timeout
        self._next_write = 0.0
        self._pending: dict[str, Any] = {}
        self.current = 0
        self.writes = 0
        self.calls = 0
        self.finished = False
        self.last: Written | None = None
        #: this attempt's number, learnt from `start` (None before: writes then carry no attempt)
        self.attempt: int | None = None
        #: a newer attempt started: every write of this one is refused
        self.superseded = False

    # --- lifecycle ----------------------------------------------------------------------------------------------

    def start(self, total: int | None = None, message: str = "running", *, worker: str | None = None) -> Written:
        """Marks a new attempt running (attempt count +1); raises TaskCancelled if it was cancelled meanwhile."""
        if total is not None:
            self.total = total
        self.attempt = None  # a start begins a new attempt; its number is in the reply
        result = self._write_retrying(
            {"status": TaskStatus.RUNNING.value, "start": True, "total": self.total, "message": message,
             "worker": worker},
            soft=True,
        )
        self.attempt = result.attempt or None
        return result

    def update(
        self,
        current: int,
        total: int | None = None,
        message: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Records progress; writes at most once per interval (the latest values win)."""
        self.current = current
        self.calls += 1
        pending = self._pending
        pending["current"] = current
        if total is not None:
            self.total = total
            pending["total"] = total
        if message is not None:
            pending["message"] = message
        if details is not None:
            pending.setdefault("details", {}).update(details)
        # The cheap path: one clock read and a comparison, so tight loops can call this freely.
        if self._clock() >= self._next_write:
            self.flush()

    def advance(self, n: int = 1, message: str | None = None) -> None:
        """Adds `n` done items."""
        self.update(self.current + n, message=message)

    def flush(self) -> Written | None:
        """Writes the coalesced values now, if any. If Redis is unreachable the values stay pending for the next
        interval: routine progress never fails the task (status changes and the end are retried instead)."""
        if not self._pending or self.finished:
            return None
        change, self._pending = self._pending, {}
        change["status"] = TaskStatus.RUNNING.value
        try:
            return self._mirror(self._write(change, soft=True))
        except (*REDIS_DOWN, redis.ResponseError) as exc:
            if not _waits_out(exc):
                raise
            log.warning("progress of %s not written (%s); kept for the next write", self.task_id, exc)
            change.pop("status", None)
            change.pop("soft", None)
            self._pending = {**change, **self._pending}
            self._next_write = self._clock() + self.interval
            return None

    def check(self) -> Written:
        """Writes whatever is pending (or a heartbeat) now, to learn of a cancel or pause at once."""
        change, self._pending = self._pending, {}
        change["status"] = TaskStatus.RUNNING.value
        return self._mirror(self._write_retrying(change, soft=True))

    def complete(self, results: dict[str, Any] | None = None, message: str = "completed") -> Written | None:
        """Writes the final state: all pending values, the results, status `completed`."""
        return self._finish(TaskStatus.COMPLETED, {"results": results or {}, "message": message})

    def fail(
        self, error_message: str, message: str = "error", details: dict[str, Any] | None = None
    ) -> Written | None:
        """Writes the final state as `error` with its message (and details, e.g. which fields were invalid)."""
        limit = self.store.config.limits.max_error_chars
        return self._finish(TaskStatus.ERROR, {"error_message": clip(error_message, limit), "message": message,
                                               "details": details})

    def cancelled(self, message: str = "cancelled") -> Written | None:
        """Writes the final state as `cancelled` (a no-op if an operator already cancelled it)."""
        return self._finish(TaskStatus.CANCELLED, {"message": message})

    def handoff(self) -> None:
        """Leaves the record unfinished on purpose: another task (a chord callback) will write its end."""
        self.flush()
        self.finished = True

    def retrying(self, error: str, countdown: float | None = None) -> Written | None:
        """Records that this attempt failed and another is scheduled; the task stays non-final."""
        when = "" if countdown is None else f" in {countdown:g}s"
        limits = self.store.config.limits
        change = {**self._pending, "status": TaskStatus.RUNNING.value,
                  "last_error": clip(error, limits.max_error_chars),
                  "message": clip(f"retrying{when}: {error}", limits.max_message_chars)}
        self._pending = {}
        return self._write_retrying(change, soft=True, raise_on_cancel=False)

    def log(self, message: str, level: int = logging.INFO) -> None:
        """Adds a line to the task's own log (`taskrunner logs ID`, the dashboard's detail view): a record on the
        `progress.task` logger naming this task, which the worker's task-log handler keeps."""
        reporter_logger().log(level, message, extra={"task_id": self.task_id})

    # --- steps --------------------------------------------------------------------------------------------------

    def define_steps(self, steps: Sequence[StepDefinition | str]) -> Written:
        """Declares the planned steps (pending), which gives an ETA before items can be counted."""
        defs = [s if isinstance(s, StepDefinition) else StepDefinition(name=s) for s in steps]
        return self._write_retrying({"step": {"action": "define", "steps": [d.model_dump() for d in defs]}}, soft=True)

    @contextmanager
    def step(self, name: str, *, timeout_ms: int | None = None) -> Iterator[None]:
        """Runs a block as a named step: started, then success (timeout if it ran past its timeout), or error with the
        exception's text."""
        # Without a timeout here, the step keeps the one define_steps gave it.
        self._write_retrying({**self._take(), "step": step_change("start", name, timeout_ms=timeout_ms),
                              "message": name}, soft=True)
        try:
            yield
        except TaskCancelled:
            raise
        except BaseException as exc:
            error = clip(f"{type(exc).__name__}: {exc}", self.store.config.limits.max_error_chars)
            self._write_retrying({"step": step_change("fail", name, error=error)},
                                 soft=True, raise_on_cancel=False)
            raise
        self._write_retrying({**self._take(), "step": step_change("complete", name)}, soft=True)

    # --- internals ----------------------------------------------------------------------------------------------

    def _mirror(self, result: Written) -> Written:
        """Hands a routine progress write to `on_write` (the Celery mirror runs at the throttled rate only)."""
        if self.on_write is not None and result.applied:
            self.on_write(to_result(self.store.config, self.task_id, result))
        return result

    def _take(self) -> dict[str, Any]:
        pending, self._pending = self._pending, {}
        return pending

    def _finish(self, status: TaskStatus, extra: dict[str, Any]) -> Written | None:
        if self.finished:
            return None
        change = {**self._take(), **extra, "status": status.value}
        try:
            result = self._write_retrying(change, soft=False, raise_on_cancel=False)
        except InvalidValue as exc:
            # The end is written whatever the task handed over (a result too big, too deep, not JSON): as `error`
            # naming what was refused, so the record never stays running. A refused result is the task's failure.
            reason = clip(f"the end could not be recorded as {status.value}: {exc}",
                          self.store.config.limits.max_error_chars)
            result = self._write_retrying({"status": TaskStatus.ERROR.value, "message": "error",
                                           "error_message": reason}, soft=False, raise_on_cancel=False)
            self.finished = True
            if status is TaskStatus.COMPLETED:
                raise
            return result
        self.finished = True
        return result

    def _write_retrying(self, change: dict[str, Any], *, soft: bool, raise_on_cancel: bool = True) -> Written:
        """A write that must not be lost (a status change, the end): retried with backoff while Redis is
        unreachable, for up to `final_write_timeout` seconds; then ProgressWriteError says so loudly."""
        return self.outlasting(lambda: self._write(dict(change), soft=soft, raise_on_cancel=raise_on_cancel))

    def outlasting(self, call: Callable[[], T]) -> T:
        """Runs a store call that must not be lost (the task's writes, or creating its record when the publisher's
        creation was lost), waiting out an outage or a failover like the status writes do."""
        deadline = time.monotonic() + self.final_write_timeout
        delay = 0.1
        while True:
            try:
                return call()
            except (*REDIS_DOWN, redis.ResponseError) as exc:
                if not _waits_out(exc):
                    raise
                if time.monotonic() + delay > deadline:
                    raise ProgressWriteError(self.task_id, exc) from exc
                log.warning("progress of %s: Redis unreachable (%s); retrying in %.1fs", self.task_id, exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _write(self, change: dict[str, Any], *, soft: bool, raise_on_cancel: bool = True) -> Written:
        if soft:
            change["soft"] = True
        if self.attempt is not None:
            change["attempt"] = self.attempt
        try:
            result = self.store.write(self.task_id, change)
        except TaskSuperseded:
            self.finished = self.superseded = True
            raise
        self.writes += 1
        self.last = result
        self._next_write = self._clock() + self.interval
        if result.status is TaskStatus.CANCELLED or (result.status.is_terminal and not result.applied):
            self.finished = True
            if raise_on_cancel:
                raise TaskCancelled(self.task_id)
        if result.status is TaskStatus.PAUSED and raise_on_cancel:
            self._wait_while_paused(result.event_id)
        return result

    def _wait_while_paused(self, after: str | None) -> None:
        """Blocks until the task leaves `paused`; raises TaskCancelled if it was cancelled instead."""
        for event in self.store.watch(self.task_id, after=after, block_ms=1000):
            if event.status is TaskStatus.PAUSED:
                continue
            if event.status is TaskStatus.CANCELLED or event.status.is_terminal:
                self.finished = True
                raise TaskCancelled(self.task_id)
            return
