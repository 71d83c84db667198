"""Every store operation written once, as a sans-I/O plan: a generator that yields the requests to send to Redis
(progress.ops: a script Call, a Cmd, a Pipeline), receives each reply, and returns the operation's result.

ProgressStore and AsyncProgressStore are thin shells that run these plans (`blocking` / `awaitable` turn a plan
into a method), so both have the same methods with the same bodies: they differ only in how they wait for Redis.
A failed request is thrown into the plan, which may handle it (a record that is not UTF-8, Redis down in health).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from redis import RedisError

from progress import deletes, health, ops, pages, routine
from progress.codec import read_record
from progress.core import Plan, StoreCore
from progress.errors import TaskNotFound
from progress.models import (
    CreatedTask,
    HealthReport,
    StepDefinition,
    TaskCreate,
    TaskList,
    TaskRecord,
    TaskUpdate,
    UpdateResult,
)
from progress.status import TaskStatus

log = logging.getLogger("progress.store")


# --- writes ---------------------------------------------------------------------------------------------------------


def create_task(
    core: StoreCore,
    task_type: str,
    total_items: int = 0,
    symbol: str | None = None,
    metadata: dict[str, Any] | None = None,
    *,
    task_id: str | None = None,
    message: str = "",
    task_name: str | None = None,
) -> Plan[CreatedTask]:
    """Records a new task in status `created` (idempotent for an existing id)."""
    return (yield from create(core, create_spec(task_type, total_items, symbol, metadata, task_id=task_id,
                                                message=message, task_name=task_name)))


def read_sent(core: StoreCore) -> Plan[None]:
    """Reads the answer to a call sent without waiting (only ProgressStore sends one: nothing to read here)."""
    return
    yield  # a plan: a generator, whose requests are none


def create_spec(
    task_type: str,
    total_items: int = 0,
    symbol: str | None = None,
    metadata: dict[str, Any] | None = None,
    *,
    task_id: str | None = None,
    message: str = "",
    task_name: str | None = None,
) -> TaskCreate:
    """create_task's arguments, validated."""
    return TaskCreate(task_type=task_type, total_items=total_items, symbol=symbol, metadata=metadata or {},
                      task_id=task_id, message=message, task_name=task_name)


def create(core: StoreCore, spec: TaskCreate) -> Plan[CreatedTask]:
    """Records a task from a validated create request."""
    call = creation(core, spec)
    reply = yield call
    return ops.parse_create(core.config, spec, call.task_id, int(call.args[0]), reply)


def creation(core: StoreCore, spec: TaskCreate) -> ops.Call:
    """The create.lua call recording a validated create request (a new id when it names none)."""
    return ops.create_call(core.config, core.keys, spec, spec.task_id or str(uuid.uuid4()), core.now_ms(),
                           core.publish)


def update_progress(
    core: StoreCore,
    task_id: str,
    status: TaskStatus | str | None = None,
    current_items: int | None = None,
    message: str | None = None,
    error_message: str | None = None,
    results: dict[str, Any] | None = None,
    processing_details: dict[str, Any] | None = None,
    *,
    total_items: int | None = None,
) -> Plan[UpdateResult]:
    """Applies one change (seed 001); ignored (applied=False) once the task has ended."""
    # TaskStatus(...) refuses an unknown status with a plain ValueError naming the value (not pydantic's report).
    given = {"status": TaskStatus(status) if status is not None else None, "current_items": current_items,
             "total_items": total_items, "message": message, "details": processing_details, "results": results,
             "error_message": error_message}
    # Only the given members are validated (half the time of all seven: this is the seed API's routine path).
    upd = TaskUpdate(**{k: v for k, v in given.items() if v is not None})
    return (yield from update(core, task_id, upd))


def update(core: StoreCore, task_id: str, upd: TaskUpdate) -> Plan[UpdateResult]:
    """Applies a validated update request."""
    return (yield from apply(core, task_id, change_from_update(upd)))


def apply(core: StoreCore, task_id: str, change: dict[str, Any]) -> Plan[UpdateResult]:
    """Applies a raw change (update.lua's members) in one round trip (two for a status move this process has not
    seen the task's indexes for, see progress.hints)."""
    return ops.parse_update(core.config, task_id, change, (yield from written(core, task_id, change)))


def write(core: StoreCore, task_id: str, change: dict[str, Any]) -> Plan[ops.Written]:
    """Applies a raw change and returns the bare reply (ProgressStore.write inlines this: it is the reporter's hot
    path)."""
    return ops.check_update(task_id, change, (yield from written(core, task_id, change)))


def written(core: StoreCore, task_id: str, change: dict[str, Any]) -> Plan[list[Any]]:
    """The final script reply to a change: progress.lua's for a routine one (progress.routine), update.lua's for
    the rest and for a routine one progress.lua hands over (a task neither running nor paused)."""
    if routine.is_routine(change):
        reply = yield routine.progress_call(core.config, core.keys, task_id, change, core.now_ms(), core.publish)
        if reply[0] != routine.FULL:
            return reply  # type: ignore[no-any-return]
    call = update_call(core, task_id, change)
    return (yield from settle(core, call, (yield call)))


def update_call(core: StoreCore, task_id: str, change: dict[str, Any]) -> ops.Call:
    """The update.lua call for a change, with the index keys of a move when this process knows them."""
    return ops.update_call(core.config, core.keys, task_id, change, core.now_ms(), core.publish,
                           core.hints.move_keys(task_id, change.get("status")))


def settle(core: StoreCore, call: ops.Call, reply: list[Any]) -> Plan[list[Any]]:
    """update.lua's final reply: while it asks for index keys ('keys': a move it was not given them for), the call
    again with them; the hints learn the task's prefixes and status."""
    for _ in range(_MOVE_RETRIES):
        if reply[0] != "keys":
            break
        core.hints.learn(call.task_id, reply[3], reply[1])
        reply = yield ops.with_move_keys(call, reply)
    core.hints.seen(call.task_id, reply[1])
    return reply


# A move races at most with other moves of the same task: a few retries settle it.
_MOVE_RETRIES = 5


def cancel_task(core: StoreCore, task_id: str, reason: str = "cancelled") -> Plan[UpdateResult]:
    """Ends a task as `cancelled`; a running task notices at its next progress write."""
    return (yield from apply(core, task_id, {"status": TaskStatus.CANCELLED.value, "message": reason}))


def pause_task(core: StoreCore, task_id: str) -> Plan[UpdateResult]:
    """Pauses a task; its worker waits at its next progress write until resumed."""
    return (yield from apply(core, task_id, {"status": TaskStatus.PAUSED.value, "message": "paused"}))


def resume_task(core: StoreCore, task_id: str) -> Plan[UpdateResult]:
    """Resumes a paused task."""
    return (yield from apply(core, task_id, {"status": TaskStatus.RUNNING.value, "message": "resumed"}))


def define_steps(core: StoreCore, task_id: str, steps: list[StepDefinition]) -> Plan[UpdateResult]:
    """Declares a task's planned steps (all pending), giving an ETA from their estimates."""
    change = {"step": {"action": "define", "steps": [s.model_dump() for s in steps]}}
    return (yield from apply(core, task_id, change))


def delete_task(core: StoreCore, task_id: str) -> Plan[bool]:
    """Removes a record and all its traces now."""
    return bool((yield from delete(core, [task_id])))


def delete(core: StoreCore, task_ids: list[str], *, cutoff_ms: int = -1) -> Plan[int]:
    """Removes these records (only those that ended by `cutoff_ms`, when given); returns how many. Reads their
    status and index prefixes first: delete.lua must be given every index it removes them from."""
    removed = 0
    pending = task_ids
    for _ in range(_MOVE_RETRIES):
        if not pending:
            break
        records = deletes.doomed(pending, (yield deletes.doomed_reads(core.keys, pending)))
        pending = []
        for call in deletes.delete_calls(core.keys, records, cutoff_ms=cutoff_ms):
            reply = yield call
            removed += int(reply[0])
            pending += [str(tid) for tid in reply[1:]]  # moved since read: read again
    return removed


def cleanup(core: StoreCore, *, batch: int = 500) -> Plan[int]:
    """Removes records that ended longer ago than the retention period; returns how many."""
    cutoff = core.now_ms() - core.config.retention_s * 1000
    removed = 0
    # Created-before-cutoff is necessary for ended-before-cutoff, so scanning each final status's index by
    # creation time finds every candidate; the script deletes only those that really ended by the cutoff.
    for b in core.keys.all_buckets():
        for index in deletes.terminal_indexes(core.keys, b):
            offset = 0
            while True:
                ids = yield ops.Cmd("zrangebyscore", (index, "-inf", cutoff), {"start": offset, "num": batch})
                if not ids:
                    break
                deleted = yield from delete(core, list(ids), cutoff_ms=cutoff)
                removed += deleted
                offset += len(ids) - deleted  # the kept ones (ended recently) stay in front
                if len(ids) < batch:
                    break
    return removed


# --- reads ----------------------------------------------------------------------------------------------------------


def get_task_status(core: StoreCore, task_id: str) -> Plan[TaskRecord | None]:
    """The task's full record, or None if unknown; a damaged record is read as far as it can be (and noted)."""
    try:
        h = yield ops.record_read(core.keys, task_id)
    except UnicodeDecodeError:
        h = yield ops.record_read(core.keys, task_id, raw=True)
    if not h:
        return None
    record, problems = read_record(h, core.config.tz, core.now_ms(), task_id)
    if problems:
        yield from _note_unreadable(core, {task_id: problems})
    return record


def require(core: StoreCore, task_id: str) -> Plan[TaskRecord]:
    """The task's record; raises TaskNotFound."""
    rec = yield from get_task_status(core, task_id)
    if rec is None:
        raise TaskNotFound(task_id)
    return rec


def get_tasks_list(
    core: StoreCore,
    status: TaskStatus | str | None = None,
    task_type: str | None = None,
    symbol: str | None = None,
    page: int = 1,
    limit: int = 20,
    *,
    task_name: str | None = None,
    after: str | None = None,
) -> Plan[TaskList]:
    """One page of tasks matching the filters, newest first, with the summary (cost independent of N). Every
    bucket's indexes are merged; `after` (the previous page's `next_cursor`) starts the page after that task, and
    then each index reads at most `limit` entries whatever the page."""
    keys = core.keys
    names = None
    if pages.needs_type_names(task_type):
        names = pages.merge_type_names((yield pages.type_names_reads(keys)))
    plan = pages.list_plan(keys, status, task_type, symbol, page, limit, task_name=task_name, type_names=names,
                         after=after)
    found = pages.read_page_replies(plan, (yield pages.page_reads(plan, keys)))
    ids = found.ids
    hashes: list[dict[str, str]] = []
    if ids:
        try:
            hashes = yield ops.record_reads(keys, ids)
        except UnicodeDecodeError:
            # A record holds bytes that are not UTF-8: read the page as bytes, and leave that record out.
            hashes = yield ops.record_reads(keys, ids, raw=True)
    listing, damaged = pages.build_list(plan, found, hashes, core.config, core.now_ms())
    if damaged:
        yield from _note_unreadable(core, damaged)
    return listing


def _note_unreadable(core: StoreCore, damaged: dict[str, list[str]]) -> Plan[None]:
    """Counts damaged records for health; logs each once (when it first joins the set, in any process)."""
    keys = core.keys
    added = yield ops.Pipeline([ops.Cmd("sadd", (keys.unreadable(keys.bucket(tid)), tid)) for tid in damaged])
    for (tid, problems), new in zip(damaged.items(), added, strict=True):
        if new:
            log.warning(ops.unreadable_warning(tid, problems))


def summary(core: StoreCore) -> Plan[dict[str, int]]:
    """Number of stored records per status (every bucket's counts, summed)."""
    keys = core.keys
    per_bucket = yield ops.Pipeline([ops.Cmd("hgetall", (keys.counts(b),)) for b in keys.all_buckets()])
    return pages.summary_from_counts(ops.sum_counts(per_bucket))


def health_check(core: StoreCore) -> Plan[HealthReport]:
    """Seed 001's health document, measured against Redis now."""
    t0 = time.perf_counter()
    try:
        yield ops.Cmd("ping")
    except (RedisError, OSError):
        return health.build_health(None, {}, 0, {}, {})
    ping_ms = (time.perf_counter() - t0) * 1000.0
    replies = yield health.health_reads(core.keys, core.config, core.now_ms())
    return health.health_from_replies(ping_ms, replies, (yield health.memory_read()))


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
