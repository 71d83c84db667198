"""AsyncProgressStore: the asyncio twin of ProgressStore, running the same plans (progress.plans, progress.resume)
on an asyncio client, so its methods are ProgressStore's, awaited."""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

from progress import layout, ops, plans, replication, resume, scripts
from progress.clients import async_client, check_replication, detect_publish_async, is_cluster, require_decoded
from progress.config import StoreConfig
from progress.core import Clock, Emit, Plan, Steps, StoreCore, Stream
from progress.models import ProgressEvent

P = ParamSpec("P")
T = TypeVar("T")


def awaitable(
    plan: Callable[Concatenate[StoreCore, P], Plan[T]],
) -> Callable[Concatenate[AsyncProgressStore, P], Coroutine[Any, Any, T]]:
    """The store method running `plan` (its signature and docstring), awaiting each reply."""

    async def method(self: AsyncProgressStore, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._run(plan(self, *args, **kwargs))

    functools.update_wrapper(method, plan)
    return method


def streaming(
    plan: Callable[Concatenate[StoreCore, P], Stream],
) -> Callable[Concatenate[AsyncProgressStore, P], AsyncIterator[ProgressEvent]]:
    """The store method iterating asynchronously over the events `plan` emits."""

    async def method(self: AsyncProgressStore, /, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[ProgressEvent]:
        async for event in self._drive(Steps(plan(self, *args, **kwargs))):
            yield event

    functools.update_wrapper(method, plan)
    return method


class AsyncProgressStore(StoreCore):
    """The same operations as ProgressStore, for async code (the HTTP API, WebSocket streams)."""

    def __init__(
        self, client: aioredis.Redis | AsyncRedisCluster, *, config: StoreConfig | None = None,
        clock: Clock = time.time
    ) -> None:
        require_decoded(client, "AsyncProgressStore")
        super().__init__(config, clock)
        check_replication(client, self.config.min_replicas)
        # Typed as the plain client for the app's code that borrows it: a cluster client has the same commands.
        self.redis: aioredis.Redis = client  # type: ignore[assignment]
        # redis-py's reply types are unions that ignore decode_responses; replies are parsed by progress.codec.
        self._r: Any = client
        self._scripts = {name: client.register_script(scripts.source(name)) for name in scripts.NAMES}
        # redis-py's asyncio cluster pipeline has no transactions: pages of a cluster are read without MULTI.
        self._transactions = not is_cluster(client)
        # How to publish is asked of the server before the first request (a constructor cannot await).
        self._publish_known = not is_cluster(client)

    @classmethod
    def from_url(
        cls, url: str, *, config: StoreConfig | None = None, clock: Clock = time.time, cluster: bool = False
    ) -> AsyncProgressStore:
        """A store on a new asyncio client for `url` (redis://, rediss:// or unix://; with `cluster`, any node of a
        Redis Cluster)."""
        return cls(async_client(url, cluster=cluster), config=config, clock=clock)

    write = awaitable(plans.write)
    create_task = awaitable(plans.create_task)
    # ProgressStore sends a creation without waiting for its answer; an asyncio caller overlaps it by awaiting later.
    send_create_task = awaitable(plans.create_task)
    read_sent = awaitable(plans.read_sent)
    create = awaitable(plans.create)
    update_progress = awaitable(plans.update_progress)
    update = awaitable(plans.update)
    apply = awaitable(plans.apply)
    cancel_task = awaitable(plans.cancel_task)
    pause_task = awaitable(plans.pause_task)
    resume_task = awaitable(plans.resume_task)
    define_steps = awaitable(plans.define_steps)
    delete_task = awaitable(plans.delete_task)
    cleanup = awaitable(plans.cleanup)
    get_task_status = awaitable(plans.get_task_status)
    require = awaitable(plans.require)
    get_tasks_list = awaitable(plans.get_tasks_list)
    summary = awaitable(plans.summary)
    health_check = awaitable(plans.health_check)
    check_layout = awaitable(layout.check_layout)
    watch = streaming(resume.watch)
    catch_up = awaitable(resume.catch_up)
    advance = awaitable(resume.advance)

    # --- the I/O ----------------------------------------------------------------------------------------------------

    async def _run(self, plan: Plan[T]) -> T:
        """Runs a plan to its result."""
        steps = Steps(plan)
        async for _ in self._drive(steps):
            raise TypeError("a plan run for its result emitted an event")
        return steps.result  # type: ignore[no-any-return]

    async def _drive(self, steps: Steps) -> AsyncIterator[ProgressEvent]:
        """Sends the plan's requests, yielding the events it emits."""
        if not self._publish_known:
            self.publish = await detect_publish_async(self.redis)
            self._publish_known = True
        for step in steps:
            if isinstance(step, Emit):
                yield step.event
                continue
            try:
                steps.reply = await self._send(step)
            except Exception as exc:
                steps.error = exc

    async def _send(self, request: ops.Request) -> Any:
        if isinstance(request, ops.Call):
            return await self._call(request)
        if isinstance(request, ops.Cmd):
            return await getattr(self._r, request.name)(*request.args, **(request.kwargs or {}))
        pipe = self._r.pipeline(transaction=request.transaction and self._transactions)
        for cmd in request.commands:
            getattr(pipe, cmd.name)(*cmd.args, **(cmd.kwargs or {}))
        return await pipe.execute()

    async def _call(self, call: ops.Call) -> Any:
        script = self._scripts[call.script]
        if replication.must_replicate(self.config, call, call.change):
            return await replication.run_async(self.redis, script, call, self.config, call.task_id)
        return await script(keys=call.keys, args=call.args)
