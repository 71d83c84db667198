"""AsyncProgressStore: the asyncio twin of ProgressStore, sharing its sans-I/O halves (progress.ops)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import redis.asyncio as aioredis
from redis import RedisError

from progress import ops, replication, scripts
from progress.clients import require_decoded
from progress.codec import carry, event_from_entry, read_record, snapshot_event
from progress.config import StoreConfig
from progress.errors import TaskNotFound
from progress.health import build_health
from progress.keys import Keys
from progress.models import (
    CreatedTask,
    HealthReport,
    ProgressEvent,
    TaskCreate,
    TaskList,
    TaskRecord,
    TaskUpdate,
    UpdateResult,
)
from progress.status import TaskStatus
from progress.store import change_from_update, stream_id

log = logging.getLogger(__name__)


class AsyncProgressStore:
    """The same operations as ProgressStore, for async code (the HTTP API, WebSocket streams)."""

    def __init__(
        self, client: aioredis.Redis, *, config: StoreConfig | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        require_decoded(client, "AsyncProgressStore")
        self.redis = client
        # redis-py's reply types are unions that ignore decode_responses; replies are parsed by progress.codec.
        self._r: Any = client
        self.config = config or StoreConfig()
        self.keys = Keys(self.config.namespace)
        self._clock = clock
        self._scripts = {name: client.register_script(scripts.source(name)) for name in scripts.NAMES}

    @classmethod
    def from_url(cls, url: str, *, config: StoreConfig | None = None) -> AsyncProgressStore:
        """A store on a new asyncio client for `url`."""
        return cls(aioredis.Redis.from_url(url, decode_responses=True), config=config)

    def now_ms(self) -> int:
        """The store's clock in epoch milliseconds."""
        return int(self._clock() * 1000)

    async def _run(self, call: ops.Call, task_id: str = "", change: dict[str, Any] | None = None) -> Any:
        script = self._scripts[call.script]
        if replication.must_replicate(self.config, call, change):
            return await replication.run_async(self.redis, script, call, self.config, task_id)
        return await script(keys=call.keys, args=call.args)

    async def create_task(
        self,
        task_type: str,
        total_items: int = 0,
        symbol: str | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        task_id: str | None = None,
        message: str = "",
        task_name: str | None = None,
    ) -> CreatedTask:
        """Records a new task in status `created` (idempotent for an existing id)."""
        spec = TaskCreate(
            task_type=task_type, total_items=total_items, symbol=symbol, metadata=metadata or {},
            task_id=task_id, message=message, task_name=task_name,
        )
        return await self.create(spec)

    async def create(self, spec: TaskCreate) -> CreatedTask:
        """Records a task from a validated create request."""
        tid = spec.task_id or str(uuid.uuid4())
        now = self.now_ms()
        reply = await self._run(ops.create_call(self.config, self.keys, spec, tid, now), tid)
        return ops.parse_create(self.config, spec, tid, now, reply)

    async def update_progress(
        self,
        task_id: str,
        status: TaskStatus | str | None = None,
        current_items: int | None = None,
        message: str | None = None,
        error_message: str | None = None,
        results: dict[str, Any] | None = None,
        processing_details: dict[str, Any] | None = None,
        *,
        total_items: int | None = None,
    ) -> UpdateResult:
        """Applies one change (seed 001); ignored (applied=False) once the task has ended."""
        upd = TaskUpdate(
            status=TaskStatus(status) if status is not None else None, current_items=current_items,
            total_items=total_items, message=message, details=processing_details, results=results,
            error_message=error_message,
        )
        return await self.update(task_id, upd)

    async def update(self, task_id: str, upd: TaskUpdate) -> UpdateResult:
        """Applies a validated update request."""
        return await self.apply(task_id, change_from_update(upd))

    async def apply(self, task_id: str, change: dict[str, Any]) -> UpdateResult:
        """Applies a raw change (update.lua's members) in one round trip."""
        call = ops.update_call(self.config, self.keys, task_id, change, self.now_ms())
        reply = await self._run(call, task_id, change)
        return ops.parse_update(self.config, task_id, change, reply)

    async def cancel_task(self, task_id: str, reason: str = "cancelled") -> UpdateResult:
        """Ends a task as `cancelled`; a running task notices at its next progress write."""
        return await self.apply(task_id, {"status": TaskStatus.CANCELLED.value, "message": reason})

    async def pause_task(self, task_id: str) -> UpdateResult:
        """Pauses a task; its worker waits at its next progress write until resumed."""
        return await self.apply(task_id, {"status": TaskStatus.PAUSED.value, "message": "paused"})

    async def resume_task(self, task_id: str) -> UpdateResult:
        """Resumes a paused task."""
        return await self.apply(task_id, {"status": TaskStatus.RUNNING.value, "message": "resumed"})

    async def delete_task(self, task_id: str) -> bool:
        """Removes a record and all its traces now."""
        return bool(await self._run(ops.delete_call(self.keys, [task_id])))

    async def cleanup(self, *, batch: int = 500) -> int:
        """Removes records that ended longer ago than the retention period; returns how many."""
        cutoff = self.now_ms() - self.config.retention_s * 1000
        removed = 0
        # Created-before-cutoff is necessary for ended-before-cutoff, so scanning each final status's index by
        # creation time finds every candidate; the script deletes only those that really ended by the cutoff.
        for index in ops.terminal_indexes(self.keys):
            offset = 0
            while True:
                ids = await self._r.zrangebyscore(index, "-inf", cutoff, start=offset, num=batch)
                if not ids:
                    break
                deleted = int(await self._run(ops.delete_call(self.keys, list(ids), cutoff_ms=cutoff)))
                removed += deleted
                offset += len(ids) - deleted  # the kept ones (ended recently) stay in front
                if len(ids) < batch:
                    break
        return removed

    async def get_task_status(self, task_id: str) -> TaskRecord | None:
        """The task's full record, or None if unknown; a damaged record is read as far as it can be (and noted)."""
        try:
            h = await self._r.hgetall(self.keys.record(task_id))
        except UnicodeDecodeError:
            args, options = ops.record_read(self.keys, task_id)
            h = await self._r.execute_command(*args, **options)
        if not h:
            return None
        record, problems = read_record(h, self.config.tz, self.now_ms(), task_id)
        if problems:
            await self._note_unreadable({task_id: problems})
        return record

    async def require(self, task_id: str) -> TaskRecord:
        """The task's record; raises TaskNotFound."""
        rec = await self.get_task_status(task_id)
        if rec is None:
            raise TaskNotFound(task_id)
        return rec

    async def get_tasks_list(
        self,
        status: TaskStatus | str | None = None,
        task_type: str | None = None,
        symbol: str | None = None,
        page: int = 1,
        limit: int = 20,
        *,
        task_name: str | None = None,
    ) -> TaskList:
        """One page of tasks matching the filters, newest first, with the summary (cost independent of N)."""
        names = (await self._r.hgetall(self.keys.type_names())) if ops.needs_type_names(task_type) else None
        plan = ops.list_plan(self.keys, status, task_type, symbol, page, limit, task_name=task_name, type_names=names)
        pipe = self._r.pipeline(transaction=True)
        ops.queue_page_reads(pipe, plan, self.keys)
        total, ids, counts = ops.read_page_replies(plan, await pipe.execute())
        hashes: list[dict[str, str]] = []
        if ids:
            pipe = self._r.pipeline(transaction=False)
            ops.queue_record_reads(pipe, self.keys, ids)
            try:
                hashes = await pipe.execute()
            except UnicodeDecodeError:
                # A record holds bytes that are not UTF-8: read the page as bytes, and leave that record out.
                pipe = self._r.pipeline(transaction=False)
                ops.queue_record_reads(pipe, self.keys, ids, raw=True)
                hashes = await pipe.execute()
        listing, damaged = ops.build_list(plan, total, ids, hashes, counts, self.config, self.now_ms())
        if damaged:
            await self._note_unreadable(damaged)
        return listing

    async def _note_unreadable(self, damaged: dict[str, list[str]]) -> None:
        """Counts damaged records for health; logs each once (when it first joins the set, in any process)."""
        pipe = self._r.pipeline(transaction=False)
        for tid in damaged:
            pipe.sadd(self.keys.unreadable(), tid)
        for (tid, problems), added in zip(damaged.items(), await pipe.execute(), strict=True):
            if added:
                log.warning(ops.unreadable_warning(tid, problems))

    async def summary(self) -> dict[str, int]:
        """Number of stored records per status."""
        return ops.summary_from_counts(await self._r.hgetall(self.keys.counts()))

    async def health_check(self) -> HealthReport:
        """Seed 001's health document, measured against Redis now."""
        t0 = time.perf_counter()
        try:
            await self._r.ping()
        except (RedisError, OSError):
            return build_health(None, {}, 0, {}, {})
        ping_ms = (time.perf_counter() - t0) * 1000.0
        pipe = self._r.pipeline(transaction=False)
        ops.queue_health_reads(pipe, self.keys, self.config, self.now_ms())
        return ops.health_from_replies(ping_ms, await pipe.execute())

    async def watch(
        self, task_id: str, after: str | None = None, *, block_ms: int = 1000
    ) -> AsyncIterator[ProgressEvent]:
        """Yields the task's changes until it ends; after=None starts with a snapshot, else resumes after that id."""
        if after is not None and not ops.EVENT_ID.fullmatch(after):
            raise ValueError(f"after must be a stream event id like 1700000000000-0, not {after!r}")
        stream = self.keys.events(task_id)
        last = after
        # Events repeat no unchanged message: each is completed from the one before (the record, on a resume).
        previous: ProgressEvent | None = None
        if last is None or not await self._resumable(stream, last):
            rec = await self.require(task_id)
            previous = snapshot_event(rec)
            yield previous
            if rec.status.is_terminal:
                return
            last = rec.last_event_id or "0-0"
        while True:
            reply = await self._r.xread({stream: last}, block=block_ms, count=500)
            if not reply:
                rec = await self.require(task_id)
                if rec.status.is_terminal and stream_id(rec.last_event_id or "0-0") <= stream_id(last):
                    return
                continue
            for entry_id, fields in reply[0][1]:
                last = entry_id
                event = event_from_entry(entry_id, fields, self.config.tz, task_id)
                if previous is None and event.message is None:
                    previous = snapshot_event(await self.require(task_id))
                event = previous = carry(event, previous)
                yield event
                if event.status.is_terminal:
                    return

    async def _resumable(self, stream: str, after: str) -> bool:
        if after == "0-0":
            return bool(await self._r.xrange(stream, "-", "+", count=1))
        return bool(await self._r.xrange(stream, after, after, count=1))
