"""ProgressStore: the synchronous Redis-backed store of tracked tasks (seed 001's operations).

A thin I/O shell: every operation is a plan in progress.plans / progress.resume (what to send, how to read the
answer), which this store runs on a blocking client. AsyncProgressStore runs the same plans on an asyncio client.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, Concatenate, ParamSpec, TypeVar

import redis
from redis.cluster import RedisCluster

from progress import layout, ops, plans, replication, resume, routine, scripts
from progress.clients import check_replication, detect_publish, is_cluster, require_decoded, sync_client
from progress.config import StoreConfig
from progress.core import Clock, Emit, Plan, Steps, StoreCore, Stream
from progress.held import HeldConnection, pooled
from progress.models import ProgressEvent
from progress.resume import stream_id

# stream_id stays importable from here (its home before progress.resume).
__all__ = ["ProgressStore", "blocking", "stream_id", "streaming"]

log = logging.getLogger("progress.store")
P = ParamSpec("P")
T = TypeVar("T")


def blocking(plan: Callable[Concatenate[StoreCore, P], Plan[T]]) -> Callable[Concatenate[ProgressStore, P], T]:
    """The store method running `plan` (its signature and docstring), waiting for each reply."""

    def method(self: ProgressStore, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._run(plan(self, *args, **kwargs))

    functools.update_wrapper(method, plan)
    return method


def streaming(plan: Callable[Concatenate[StoreCore, P], Stream]) -> Callable[Concatenate[ProgressStore, P],
                                                                             Iterator[ProgressEvent]]:
    """The store method iterating over the events `plan` emits."""

    def method(self: ProgressStore, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[ProgressEvent]:
        return self._drive(Steps(plan(self, *args, **kwargs)))

    functools.update_wrapper(method, plan)
    return method


class ProgressStore(StoreCore):
    """Creates, updates, lists and watches tracked tasks in Redis; every update is one round trip."""

    def __init__(
        self, client: redis.Redis | RedisCluster, *, config: StoreConfig | None = None, clock: Clock = time.time
    ) -> None:
        # Replies are read as text: the client must decode responses.
        require_decoded(client, "ProgressStore")
        super().__init__(config, clock)
        check_replication(client, self.config.min_replicas)
        # Typed as the plain client for the app's code that borrows it: a cluster client has the same commands.
        self.redis: redis.Redis = client  # type: ignore[assignment]
        # redis-py's reply types are unions that ignore decode_responses; replies are parsed by progress.codec.
        self._r: Any = client
        self._scripts = {name: client.register_script(scripts.source(name)) for name in scripts.NAMES}
        # A cluster runs MULTI only within one slot: with one bucket every read of a page is in one.
        self._transactions = not is_cluster(client) or self.keys.buckets == 1
        self.publish = detect_publish(client)
        # Script calls go out on a connection the store holds (progress.held). Not on a cluster client: it routes
        # each call to the node owning the task's bucket, so it keeps redis-py's path.
        self._held = None if is_cluster(client) else HeldConnection(client)  # type: ignore[arg-type]

    @classmethod
    def from_url(
        cls, url: str, *, config: StoreConfig | None = None, clock: Clock = time.time, cluster: bool = False
    ) -> ProgressStore:
        """A store on a new client for `url` (redis://, rediss:// or unix://; with `cluster`, any node of a Redis
        Cluster)."""
        return cls(sync_client(url, cluster=cluster), config=config, clock=clock)

    def write(self, task_id: str, change: dict[str, Any]) -> ops.Written:
        """Applies a raw change in one round trip and returns the bare reply (the reporter's hot path: plans.write
        inlined, without the cost of running a plan). A dropped connection raises (redis.ConnectionError): the
        reporter waits outages out, and the next write takes a new connection."""
        if routine.is_routine(change):
            call = routine.progress_call(self.config, self.keys, task_id, change, self.now_ms(), self.publish)
            reply = self._hot(call)
            if reply[0] != routine.FULL:
                return ops.check_update(task_id, change, reply)
        hints = self.hints
        known = task_id in hints.known  # usually not: only a process that moved the task before knows its indexes
        move = hints.move_keys(task_id, change.get("status")) if known else None
        call = ops.update_call(self.config, self.keys, task_id, change, self.now_ms(), self.publish, move)
        reply = self._hot(call)
        if reply[0] == "keys":
            reply = self._run(plans.settle(self, call, reply))
        elif known:
            hints.seen(task_id, reply[1])
        return ops.check_update(task_id, change, reply)

    def send_create_task(
        self,
        task_type: str,
        total_items: int = 0,
        symbol: str | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        task_id: str | None = None,
        message: str = "",
        task_name: str | None = None,
    ) -> None:
        """create_task without waiting for Redis's answer (a publish overlaps its record's creation with sending the
        message): the call goes out on the held connection, its reply is read at the store's next script call or
        `read_sent()`, and a failure then logged. Bad arguments raise at once. Where the store cannot send without
        waiting (a cluster client, replicas to wait for, another thread on the connection), it is create_task."""
        spec = plans.create_spec(task_type, total_items, symbol, metadata, task_id=task_id, message=message,
                                 task_name=task_name)
        call = plans.creation(self, spec)
        held = self._held
        if held is not None and not replication.must_replicate(self.config, call):
            try:
                if held.send(self._scripts["create"], call.keys, call.args, partial(_created, call.task_id)):
                    return
            except (redis.ConnectionError, redis.TimeoutError):
                pass  # the held connection was dropped: this once, the client's own path (see _call)
        self._call(call)

    def read_sent(self) -> None:
        """Reads the answer to a call sent without waiting (send_create_task), if one is still unread."""
        if self._held is not None:
            self._held.read_sent()

    create_task = blocking(plans.create_task)
    create = blocking(plans.create)
    update_progress = blocking(plans.update_progress)
    update = blocking(plans.update)
    apply = blocking(plans.apply)
    cancel_task = blocking(plans.cancel_task)
    pause_task = blocking(plans.pause_task)
    resume_task = blocking(plans.resume_task)
    define_steps = blocking(plans.define_steps)
    delete_task = blocking(plans.delete_task)
    cleanup = blocking(plans.cleanup)
    get_task_status = blocking(plans.get_task_status)
    require = blocking(plans.require)
    get_tasks_list = blocking(plans.get_tasks_list)
    summary = blocking(plans.summary)
    health_check = blocking(plans.health_check)
    check_layout = blocking(layout.check_layout)
    watch = streaming(resume.watch)
    catch_up = blocking(resume.catch_up)
    advance = blocking(resume.advance)

    # --- the I/O ----------------------------------------------------------------------------------------------------

    def _run(self, plan: Plan[T]) -> T:
        """Runs a plan to its result."""
        steps = Steps(plan)
        for _ in self._drive(steps):
            raise TypeError("a plan run for its result emitted an event")
        return steps.result  # type: ignore[no-any-return]

    def _drive(self, steps: Steps) -> Iterator[ProgressEvent]:
        """Sends the plan's requests, yielding the events it emits."""
        for step in steps:
            if isinstance(step, Emit):
                yield step.event
                continue
            try:
                steps.reply = self._send(step)
            except Exception as exc:
                steps.error = exc

    def _send(self, request: ops.Request) -> Any:
        if isinstance(request, ops.Call):
            return self._call(request)
        if isinstance(request, ops.Cmd):
            return getattr(self._r, request.name)(*request.args, **(request.kwargs or {}))
        pipe = self._r.pipeline(transaction=request.transaction and self._transactions)
        for cmd in request.commands:
            getattr(pipe, cmd.name)(*cmd.args, **(cmd.kwargs or {}))
        return pipe.execute()

    def _hot(self, call: ops.Call) -> Any:
        """The reporter's call: on the held connection, whose drop the caller handles (see `write`)."""
        held = self._held
        if held is None or replication.must_replicate(self.config, call, call.change):
            return self._call(call)
        return held.evalsha(self._scripts[call.script], call.keys, call.args)

    def _call(self, call: ops.Call) -> Any:
        script = self._scripts[call.script]
        if replication.must_replicate(self.config, call, call.change):
            return replication.run(self.redis, script, call, self.config, call.task_id)
        held = self._held
        if held is not None:
            try:
                return held.evalsha(script, call.keys, call.args)
            except (redis.ConnectionError, redis.TimeoutError):
                # The held connection was dropped (a restart, a blip) and is gone: callers of the store's plans have
                # no outage handling of their own, so this once the call takes the client's own path, which retries
                # as the client is configured to (as every call did before the held connection).
                pass
        return pooled(self._r, script, call.keys, call.args)


def _created(task_id: str, reply: Any) -> None:
    """Where the reply of a creation sent without waiting goes: a failure is logged (the worker creates the record
    when it starts the task, as for a publisher that records nothing)."""
    if isinstance(reply, Exception):
        log.warning("could not create progress record for %s: %s", task_id, reply)
