"""The stale-task sweep: a started task whose heartbeat stopped has lost its worker; requeue it or end it.

The progress core keeps every started, unfinished task in a sorted set scored by its last write (Keys.heartbeats());
tracking/heartbeat.py refreshes the score of the tasks a worker process runs, even when they report nothing. A score
older than the bound means no live process runs the task. What the sweep then does depends on the broker:

- its message is still unacknowledged (acks_late; the worker or machine died holding it): kombu would give it back
  only after `visibility_timeout` (hours, as it must exceed the longest task). The sweep restores it to its queue
  now, so the next attempt starts within the bound instead; the record says so and later shows the new attempt.
- its message waits in a queue (a killed prefork child's task, rejected with requeue): it will run again; the record
  is left running with a note, and health reports the queue if no worker consumes it.
- neither: nothing will run it again. The record ends `error` with "worker lost: no heartbeat since ...".

So no record stays `running` longer than `stale_after_s` plus one sweep period without either a new attempt or an
end. A task whose worker is alive but whose heartbeat thread could not run for the whole bound would be requeued
too; the requeued attempt fences the older one: its next progress write is refused and it stops (TaskSuperseded).

On RabbitMQ the broker itself requeues a dead consumer's messages, so nothing is restored here; a stale task is
left running while any queue holds messages and ended when none does (ops/broker_view.py).

`sweep_lost_messages` covers the other end: a record still `created` after a grace whose message no broker holds
(lost in a Sentinel failover before the replica had it) ends `error: message lost`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import cast

from celery import Celery
from pydantic import BaseModel, Field

from ops.broker_view import BrokerView
from progress import NotReplicated, ProgressStore, TaskNotFound, TaskStatus
from progress.codec import from_ms
from progress.models import TaskRecord

log = logging.getLogger(__name__)


class SweepReport(BaseModel):
    """What one sweep found and did, by task id."""

    stale: int = Field(description="started tasks whose heartbeat was older than the bound")
    requeued: list[str] = Field(default_factory=list, description="unacknowledged messages given back to the queue")
    queued: list[str] = Field(default_factory=list, description="messages already waiting in a queue: left running")
    lost: list[str] = Field(default_factory=list, description="nothing will run them again: marked error")
    skipped: list[str] = Field(default_factory=list, description="ended, gone, paused, or never started")


def stale_candidates(store: ProgressStore, cutoff_ms: int) -> dict[str, int]:
    """Task id -> last heartbeat ms of the tasks not heard from since `cutoff_ms`."""
    pipe = store.redis.pipeline(transaction=False)
    for b in store.keys.all_buckets():  # each bucket keeps its own heartbeats
        pipe.zrangebyscore(store.keys.heartbeats(b), "-inf", cutoff_ms, withscores=True)
    rows = cast(list[list[tuple[str, float]]], pipe.execute())
    return {str(tid): int(score) for bucket in rows for tid, score in bucket}


def _heartbeats_of(store: ProgressStore, task_id: str) -> str:
    return store.keys.heartbeats(store.keys.bucket(task_id))


def sweep_stale(
    store: ProgressStore,
    broker: BrokerView,
    *,
    stale_after_s: float,
    queues: Iterable[str],
    scan_limit: int = 20_000,
    now_ms: int | None = None,
) -> SweepReport:
    """Finds started tasks without a heartbeat for `stale_after_s` and requeues, leaves or ends each (see above)."""
    now = store.now_ms() if now_ms is None else now_ms
    cutoff = now - int(stale_after_s * 1000)
    candidates = stale_candidates(store, cutoff)
    report = SweepReport(stale=len(candidates))
    workers: dict[str, str] = {}
    for tid in list(candidates):
        rec = store.get_task_status(tid)
        if rec is None or rec.status.is_terminal:
            store.redis.zrem(_heartbeats_of(store, tid), tid)  # the record went without the core's own cleanup
        # A paused task is never presumed lost: an operator holds it, and its worker may be waiting or gone. Resuming
        # it moves its heartbeat to now (update.lua), so a dead worker is then found within the bound.
        if rec is None or rec.status.is_terminal or rec.start_time is None or rec.status is TaskStatus.PAUSED:
            report.skipped.append(tid)
            del candidates[tid]
            continue
        workers[tid] = rec.worker or "unknown worker"
    if not candidates:
        return report

    def since(tid: str) -> str:
        when = from_ms(candidates[tid], store.config.tz)
        return f"no heartbeat since {when.isoformat() if when else '?'} from {workers[tid]}"

    for tid, tag in broker.unacked(set(candidates)).items():
        # Noted first: the restored message may start at once, and its start must not be overwritten.
        _note(store, tid, f"worker lost ({workers[tid]}); requeued", f"worker lost: {since(tid)}")
        broker.restore(tag)
        report.requeued.append(tid)
        del candidates[tid]

    for tid in sorted(broker.queued(set(candidates), queues, limit=scan_limit)):
        _note(store, tid, "worker lost; waiting in its queue for another worker", f"worker lost: {since(tid)}")
        report.queued.append(tid)
        del candidates[tid]

    for tid, last in candidates.items():
        # A new attempt may have started since the candidates were read: then it is alive, leave it.
        score = store.redis.zscore(_heartbeats_of(store, tid), tid)
        if score is None or int(score) != last:
            report.skipped.append(tid)
            continue
        try:
            result = store.apply(tid, {"status": "error", "message": "worker lost",
                                       "error_message": f"worker lost: {since(tid)}; its message is no longer "
                                                        "in the broker, so nothing will run it again"})
        except TaskNotFound:
            report.skipped.append(tid)
            continue
        (report.lost if result.applied else report.skipped).append(tid)
    return report


def _note(store: ProgressStore, task_id: str, message: str, last_error: str) -> None:
    """Says on a running record why it is still running; restarts its heartbeat clock for the redelivery."""
    with contextlib.suppress(TaskNotFound):
        store.apply(task_id, {"soft": True, "message": message, "last_error": last_error})


class LostMessageReport(BaseModel):
    """What one pass over records still `created` found, by task id."""

    checked: int = Field(description="tracked records `created` for longer than the grace")
    waiting: list[str] = Field(default_factory=list, description="their message is queued, unacknowledged or held")
    lost: list[str] = Field(default_factory=list, description="no broker holds their message: marked error")


MESSAGE_LOST = "message lost"


def sweep_lost_messages(
    store: ProgressStore,
    broker: BrokerView,
    *,
    grace_s: float,
    queues: Iterable[str],
    is_celery_task: Callable[[TaskRecord], bool],
    held_by_workers: Callable[[], set[str]],
    scan_limit: int = 20_000,
    batch: int = 1_000,
    now_ms: int | None = None,
) -> LostMessageReport:
    """Ends records left `created` longer than `grace_s` whose message no broker holds any more.

    A publish acknowledged by a Redis primary can vanish in a failover before the replica has it (Sentinel), and
    then nothing would ever run the task: its record would say `created` for ever. A message is still held when it
    waits in a queue, is delivered but unacknowledged, or a live worker reserved or scheduled it (an ETA task);
    each is checked twice, around the read of the record, so a task taken by a worker meanwhile is never ended.
    Records created through the API by other producers (no Celery message at all) are left alone.
    """
    queues = list(queues)
    now = store.now_ms() if now_ms is None else now_ms
    cutoff = now - int(grace_s * 1000)
    ids = [str(t) for b in store.keys.all_buckets()  # each bucket has its own index
           for t in store.redis.zrangebyscore(store.keys.index("created", bucket=b), "-inf", cutoff, start=0,
                                              num=batch)]
    candidates: set[str] = set()
    for tid in ids:
        rec = store.get_task_status(tid)
        if rec is not None and rec.status is TaskStatus.CREATED and is_celery_task(rec):
            candidates.add(tid)
    report = LostMessageReport(checked=len(candidates))
    if not candidates:
        return report

    def still_held(pending: set[str]) -> set[str]:
        held = set(broker.unacked(pending)) | broker.queued(pending, queues, limit=scan_limit)
        rest = pending - held
        return held | (held_by_workers() & rest if rest else set())

    missing = candidates - still_held(candidates)
    missing -= still_held(missing) if missing else set()
    report.waiting = sorted(candidates - missing)
    for tid in sorted(missing):
        rec = store.get_task_status(tid)
        if rec is None or rec.status is not TaskStatus.CREATED:
            report.waiting.append(tid)  # a worker started it meanwhile
            continue
        since = rec.created_at.isoformat()
        try:
            why = (f"{MESSAGE_LOST}: queued since {since}, but no broker holds its message any more (lost in a "
                   "failover?); it will never run")
            result = store.apply(tid, {"status": "error", "message": MESSAGE_LOST, "error_message": why})
        except NotReplicated as exc:
            # Written on the primary, not yet on a replica (one is resyncing after a failover): the next sweep
            # writes it again if a failover lost it; the other records must not wait for this one.
            log.warning("lost-message end of %s not replicated yet: %s", tid, exc)
            report.waiting.append(tid)
            continue
        (report.lost if result.applied else report.waiting).append(tid)
    return report


def held_by_workers(app: Celery, *, timeout: float) -> set[str]:
    """Ids of the tasks live workers hold now: running, reserved (prefetched) or scheduled (ETA / countdown)."""
    inspect = app.control.inspect(timeout=timeout)
    held: set[str] = set()
    for replies in (inspect.active(), inspect.reserved(), inspect.scheduled()):
        for tasks in (replies or {}).values():
            for task in tasks or []:
                request = task.get("request", task) if isinstance(task, dict) else {}
                if isinstance(request, dict) and request.get("id"):
                    held.add(str(request["id"]))
    return held
