"""ProgressStore: the synchronous Redis-backed store of tracked tasks (seed 001's operations)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import redis

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
    StepDefinition,
    TaskCreate,
    TaskList,
    TaskRecord,
    TaskUpdate,
    UpdateResult,
)
from progress.status import TaskStatus

Clock = Callable[[], float]

log = logging.getLogger(__name__)


class ProgressStore:
    """Creates, updates, lists and watches tracked tasks in Redis; every update is one round trip."""

    def __init__(
        self, client: redis.Redis, *, config: StoreConfig | None = None, clock: Clock = time.time
    ) -> None:
        # Replies are read as text: the client must decode responses.
        require_decoded(client, "ProgressStore")
        self.redis = client
        # redis-py's reply types are unions that ignore decode_responses; replies are parsed by progress.codec.
        self._r: Any = client
        self.config = config or StoreConfig()
        self.keys = Keys(self.config.namespace)
        self._clock = clock
        self._scripts = {name: client.register_script(scripts.source(name)) for name in scripts.NAMES}

    @classmethod
    def from_url(cls, url: str, *, config: StoreConfig | None = None, clock: Clock = time.time) -> ProgressStore:
        """A store on a new client for `url` (redis://, rediss:// or unix://)."""
        return cls(redis.Redis.from_url(url, decode_responses=True), config=config, clock=clock)

    def now_ms(self) -> int:
        """The store's clock in epoch milliseconds."""
        return int(self._clock() * 1000)

    def _run(self, call: ops.Call, task_id: str = "", change: dict[str, Any] | None = None) -> Any:
        script = self._scripts[call.script]
        if replication.must_replicate(self.config, call, change):
            return replication.run(self.redis, script, call, self.config, task_id)
        try:
            # EVALSHA straight away: the hot path skips redis-py's Script wrapper; it loads the script when missing.
            return self._r.evalsha(script.sha, len(call.keys), *call.keys, *call.args)
        except redis.exceptions.NoScriptError:
            return script(keys=call.keys, args=call.args)

    # --- writes -------------------------------------------------------------------------------------------------

    def create_task(
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
            task_type=task_type,
            total_items=total_items,
            symbol=symbol,
            metadata=metadata or {},
            task_id=task_id,
            message=message,
            task_name=task_name,
        )
        return self.create(spec)

    def create(self, spec: TaskCreate) -> CreatedTask:
        """Records a task from a validated create request."""
        tid = spec.task_id or str(uuid.uuid4())
        now = self.now_ms()
        reply = self._run(ops.create_call(self.config, self.keys, spec, tid, now), tid)
        return ops.parse_create(self.config, spec, tid, now, reply)

    def update_progress(
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
            status=TaskStatus(status) if status is not None else None,
            current_items=current_items,
            total_items=total_items,
            message=message,
            details=processing_details,
            results=results,
            error_message=error_message,
        )
        return self.update(task_id, upd)

    def update(self, task_id: str, upd: TaskUpdate) -> UpdateResult:
        """Applies a validated update request."""
        return self.apply(task_id, change_from_update(upd))

    def apply(self, task_id: str, change: dict[str, Any]) -> UpdateResult:
        """Applies a raw change (update.lua's members) in one round trip."""
        return ops.to_result(self.config, task_id, self.write(task_id, change))

    def write(self, task_id: str, change: dict[str, Any]) -> ops.Written:
        """Applies a raw change in one round trip and returns the bare reply (the reporter's hot path)."""
        reply = self._run(ops.update_call(self.config, self.keys, task_id, change, self.now_ms()), task_id, change)
        return ops.check_update(task_id, change, reply)

    def cancel_task(self, task_id: str, reason: str = "cancelled") -> UpdateResult:
        """Ends a task as `cancelled`; a running task notices at its next progress write."""
        return self.apply(task_id, {"status": TaskStatus.CANCELLED.value, "message": reason})

    def pause_task(self, task_id: str) -> UpdateResult:
        """Pauses a task; its worker waits at its next progress write until resumed."""
        return self.apply(task_id, {"status": TaskStatus.PAUSED.value, "message": "paused"})

    def resume_task(self, task_id: str) -> UpdateResult:
        """Resumes a paused task."""
        return self.apply(task_id, {"status": TaskStatus.RUNNING.value, "message": "resumed"})

    def define_steps(self, task_id: str, steps: list[StepDefinition]) -> UpdateResult:
        """Declares a task's planned steps (all pending), giving an ETA from their estimates."""
        return self.apply(task_id, {"step": {"action": "define", "steps": [s.model_dump() for s in steps]}})

    def delete_task(self, task_id: str) -> bool:
        """Removes a record and all its traces now."""
        return bool(self._run(ops.delete_call(self.keys, [task_id])))

    def cleanup(self, *, batch: int = 500) -> int:
        """Removes records that ended longer ago than the retention period; returns how many."""
        cutoff = self.now_ms() - self.config.retention_s * 1000
        removed = 0
        # Created-before-cutoff is necessary for ended-before-cutoff, so scanning each final status's index by
        # creation time finds every candidate; the script deletes only those that really ended by the cutoff.
        for index in ops.terminal_indexes(self.keys):
            offset = 0
            while True:
                ids = self._r.zrangebyscore(index, "-inf", cutoff, start=offset, num=batch)
                if not ids:
                    break
                deleted = int(self._run(ops.delete_call(self.keys, list(ids), cutoff_ms=cutoff)))
                removed += deleted
                offset += len(ids) - deleted  # the kept ones (ended recently) stay in front
                if len(ids) < batch:
                    break
        return removed

    # --- reads --------------------------------------------------------------------------------------------------

    def get_task_status(self, task_id: str) -> TaskRecord | None:
        """The task's full record, or None if unknown; a damaged record is read as far as it can be (and noted)."""
        try:
            h = self._r.hgetall(self.keys.record(task_id))
        except UnicodeDecodeError:
            args, options = ops.record_read(self.keys, task_id)
            h = self._r.execute_command(*args, **options)
        if not h:
            return None
        record, problems = read_record(h, self.config.tz, self.now_ms(), task_id)
        if problems:
            self._note_unreadable({task_id: problems})
        return record

    def require(self, task_id: str) -> TaskRecord:
        """The task's record; raises TaskNotFound."""
        rec = self.get_task_status(task_id)
        if rec is None:
            raise TaskNotFound(task_id)
        return rec

    def get_tasks_list(
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
        names = (self._r.hgetall(self.keys.type_names())) if ops.needs_type_names(task_type) else None
        plan = ops.list_plan(self.keys, status, task_type, symbol, page, limit, task_name=task_name, type_names=names)
        pipe = self._r.pipeline(transaction=True)
        ops.queue_page_reads(pipe, plan, self.keys)
        total, ids, counts = ops.read_page_replies(plan, pipe.execute())
        hashes: list[dict[str, str]] = []
        if ids:
            pipe = self._r.pipeline(transaction=False)
            ops.queue_record_reads(pipe, self.keys, ids)
            try:
                hashes = pipe.execute()
            except UnicodeDecodeError:
                # A record holds bytes that are not UTF-8: read the page as bytes, and leave that record out.
                pipe = self._r.pipeline(transaction=False)
                ops.queue_record_reads(pipe, self.keys, ids, raw=True)
                hashes = pipe.execute()
        listing, damaged = ops.build_list(plan, total, ids, hashes, counts, self.config, self.now_ms())
        if damaged:
            self._note_unreadable(damaged)
        return listing

    def _note_unreadable(self, damaged: dict[str, list[str]]) -> None:
        """Counts damaged records for health; logs each once (when it first joins the set, in any process)."""
        pipe = self._r.pipeline(transaction=False)
        for tid in damaged:
            pipe.sadd(self.keys.unreadable(), tid)
        for (tid, problems), added in zip(damaged.items(), pipe.execute(), strict=True):
            if added:
                log.warning(ops.unreadable_warning(tid, problems))

    def summary(self) -> dict[str, int]:
        """Number of stored records per status."""
        return ops.summary_from_counts(self._r.hgetall(self.keys.counts()))

    def health_check(self) -> HealthReport:
        """Seed 001's health document, measured against Redis now."""
        t0 = time.perf_counter()
        try:
            self._r.ping()
        except redis.RedisError:
            return build_health(None, {}, 0, {}, {})
        ping_ms = (time.perf_counter() - t0) * 1000.0
        pipe = self._r.pipeline(transaction=False)
        ops.queue_health_reads(pipe, self.keys, self.config, self.now_ms())
        return ops.health_from_replies(ping_ms, pipe.execute())

    # --- live events --------------------------------------------------------------------------------------------

    def watch(
        self, task_id: str, after: str | None = None, *, block_ms: int = 1000, timeout: float | None = None
    ) -> Iterator[ProgressEvent]:
        """Yields the task's changes until it ends; after=None starts with a snapshot, else resumes after that id."""
        if after is not None and not ops.EVENT_ID.fullmatch(after):
            raise ValueError(f"after must be a stream event id like 1700000000000-0, not {after!r}")
        stream = self.keys.events(task_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        last = after
        # Events repeat no unchanged message: each is completed from the one before (the record, on a resume).
        previous: ProgressEvent | None = None
        if last is None or not self._resumable(stream, last):
            rec = self.require(task_id)
            previous = snapshot_event(rec)
            yield previous
            if rec.status.is_terminal:
                return
            last = rec.last_event_id or "0-0"
        while deadline is None or time.monotonic() < deadline:
            reply = self._r.xread({stream: last}, block=block_ms, count=500)
            if not reply:
                rec = self.require(task_id)
                if rec.status.is_terminal and stream_id(rec.last_event_id or "0-0") <= stream_id(last):
                    return  # ended and its stream expired or drained: nothing more will come
                continue
            for entry_id, fields in reply[0][1]:
                last = entry_id
                event = event_from_entry(entry_id, fields, self.config.tz, task_id)
                if previous is None and event.message is None:
                    previous = snapshot_event(self.require(task_id))
                event = previous = carry(event, previous)
                yield event
                if event.status.is_terminal:
                    return

    def _resumable(self, stream: str, after: str) -> bool:
        """Whether every event after `after` is still in the stream (the entry itself was not trimmed)."""
        if after == "0-0":
            first = self._r.xrange(stream, "-", "+", count=1)
            return bool(first)
        return bool(self._r.xrange(stream, after, after, count=1))


def stream_id(entry_id: str) -> tuple[int, int]:
    """A stream entry id as a comparable (ms, sequence) pair."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def change_from_update(upd: TaskUpdate) -> dict[str, Any]:
    """update.lua's change members for a seed-001 update request."""
    return {
        "status": upd.status.value if upd.status else None,
        "current": upd.current_items,
        "total": upd.total_items,
        "message": upd.message,
        "details": upd.details,
        "results": upd.results,
        "error_message": upd.error_message,
    }
