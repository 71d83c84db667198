"""The sans-I/O core's runtime, shared by both stores and every plan module: what a plan is (a generator of
requests, sent each reply), how one is run (Steps), and the state both stores carry besides their client
(StoreCore: configuration, key names, clock, publish command, index hints)."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from progress import ops
from progress.config import StoreConfig
from progress.hints import IndexHints
from progress.keys import Keys
from progress.models import ProgressEvent
from progress.status import TaskStatus

T = TypeVar("T")
#: An operation: yields requests, is sent each reply, returns the result.
Plan = Generator[ops.Request, Any, T]


@dataclass(frozen=True, slots=True)
class Emit:
    """Not a request: an event a streaming plan (a watch) hands to its caller before it goes on."""

    event: ProgressEvent


#: A streaming operation: yields requests and events (Emit), until it returns.
Stream = Generator[ops.Request | Emit, Any, None]


class Steps:
    """Runs a plan for a store: iterating gives its requests (and Emits), each after the outcome of the one before
    (`reply`, or `error`, thrown into the plan) went in; `result` is what the plan returned. The stores only send
    the requests, so how a plan is run is written once here."""

    __slots__ = ("_plan", "error", "reply", "result")

    def __init__(self, plan: Generator[ops.Request | Emit, Any, Any]) -> None:
        self._plan = plan
        self.reply: Any = None
        self.error: Exception | None = None
        self.result: Any = None

    def __iter__(self) -> Steps:
        return self

    def __next__(self) -> ops.Request | Emit:
        reply, error = self.reply, self.error
        self.reply = self.error = None
        try:
            return self._plan.send(reply) if error is None else self._plan.throw(error)
        except StopIteration as done:
            self.result = done.value
            raise


#: The store's clock: epoch seconds (time.time, or a test's own).
Clock = Callable[[], float]


class StoreCore:
    """What both stores are besides their client: the configuration, the key names, the clock, how events are
    published (`publish`: PUBLISH, or SPUBLISH where the client detected shard channels) and the index prefixes
    of the tasks this process moved (progress.hints)."""

    def __init__(self, config: StoreConfig | None = None, clock: Clock = time.time) -> None:
        self.config = config or StoreConfig()
        self.keys = Keys(self.config.namespace, self.config.buckets)
        self._clock = clock
        self.publish = ops.PUBLISH
        self.hints = IndexHints()

    def now_ms(self) -> int:
        """The store's clock in epoch milliseconds."""
        return int(self._clock() * 1000)

    def expect(self, task_id: str, task_type: str, *, task_name: str | None = None, symbol: str | None = None,
               metadata: dict[str, Any] | None = None, status: str = TaskStatus.CREATED.value) -> None:
        """Remembers the indexes a task created with these fields is in, so that this process's first move of it
        (a worker starting a task another process created) sends its index keys at once: one round trip instead
        of a 'keys' reply and a second call. A wrong guess costs only that second call (update.lua checks)."""
        b = self.keys.bucket(task_id)
        prefixes = ops.record_prefixes(self.keys, b, task_type, symbol, task_name, metadata or {})
        self.hints.note(task_id, tuple(prefixes), status)
