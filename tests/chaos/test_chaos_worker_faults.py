"""200 tracked tasks while workers are SIGKILLed at random: every task ends, none stays running, no result is lost.

Three workers (prefork -c 2, all four queues) run small counting tasks; a seeded schedule kills either one pool
process (the OOM killer's way: the worker rejects the message and it runs again) or a whole worker and its pool (the
machine is lost: its messages stay unacknowledged), and restarts killed workers after a pause. Recovery is the
system's own: acks_late + reject_on_worker_lost, the stale-task sweep (run here every 0.25 s, as Beat would), and
kombu's restore of messages unacknowledged for longer than the visibility timeout (10 s here; a live consumer runs
it every `unacked_restore_interval` x `unacked_restore_throttle` seconds, here the test runs it with the sweep).

Set TASKRUNNER_CHAOS_SEED to replay a schedule (the seed is printed and written to chaos.json).
"""

from __future__ import annotations

import os
import random
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from celery import states

from base.queues import QUEUE_NAMES
from progress import TaskRecord, TaskStatus
from tests.chaos.conftest import Cluster, Figures
from tests.helpers import wait_until

pytestmark = pytest.mark.chaos

TASKS = 200
SLOTS = ("wa", "wb", "wc")
MAX_FAULTS = 18


@dataclass(frozen=True)
class Job:
    """One published task and the end it must reach, worked out from its arguments alone."""

    task_id: str
    name: str
    kwargs: dict[str, Any]
    expected: TaskStatus
    results: dict[str, Any] | None = None
    error: str | None = None


def _plan(rng: random.Random) -> list[tuple[str, dict[str, Any], str]]:
    """(task name, kwargs, queue) for each task: mostly counts, some that fail on purpose, some transient retries."""
    plan: list[tuple[str, dict[str, Any], str]] = []
    for i in range(TASKS):
        queue = rng.choice(QUEUE_NAMES)
        roll = rng.random()
        n = rng.randint(20, 50)
        delay = rng.choice((0.01, 0.02, 0.03))
        if roll < 0.1:
            plan.append(("tasks.diagnostics.count", {"n": n, "delay": delay, "fail_at": rng.randint(1, n)}, queue))
        elif roll < 0.2:
            plan.append(("tasks.diagnostics.flaky", {"failures": rng.randint(1, 2)}, queue))
        else:
            plan.append(("tasks.diagnostics.count", {"n": n, "delay": delay, "symbol": f"{1000 + i}.T"}, queue))
    return plan


def _expect(task_id: str, name: str, kwargs: dict[str, Any]) -> Job:
    if name == "tasks.diagnostics.flaky":
        return Job(task_id, name, kwargs, TaskStatus.COMPLETED, results={"attempts": kwargs["failures"] + 1})
    if kwargs.get("fail_at") is not None:
        return Job(task_id, name, kwargs, TaskStatus.ERROR, error=f"RuntimeError: failed at item {kwargs['fail_at']}")
    return Job(task_id, name, kwargs, TaskStatus.COMPLETED,
               results={"counted": kwargs["n"], "symbol": kwargs.get("symbol")})


class Chaos:
    """The fault schedule: kills a pool process or a whole worker every 0.4-1.2 s, restarts dead workers."""

    def __init__(self, cluster: Cluster, rng: random.Random) -> None:
        self.cluster = cluster
        self.rng = rng
        self.faults: Counter[str] = Counter()
        self.next_fault = time.monotonic() + 1.0
        self.restart_at: dict[str, float] = {}
        self.log: list[str] = []

    def tick(self, inject: bool) -> None:
        now = time.monotonic()
        for slot, when in list(self.restart_at.items()):
            if now >= when:
                self.cluster.spawn(slot)
                del self.restart_at[slot]
        if not inject or now < self.next_fault:
            return
        self.next_fault = now + self.rng.uniform(0.4, 1.2)
        live = [s for s in SLOTS if self.cluster.alive(s) and s not in self.restart_at]
        if not live:
            return
        slot = self.rng.choice(live)
        if self.rng.random() < 0.4 and len(live) > 1:
            self.cluster.stop(slot, signal.SIGKILL)
            self.restart_at[slot] = now + self.rng.uniform(0.5, 2.0)
            self.faults["worker_sigkill"] += 1
            self.log.append(f"{now:.1f} SIGKILL worker {slot}")
            return
        children = self.cluster.pool_children(slot)
        if children:
            pid = self.rng.choice(children)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                return
            self.faults["pool_process_sigkill"] += 1
            self.log.append(f"{now:.1f} SIGKILL pool process {pid} of {slot}")


def test_two_hundred_tasks_survive_random_worker_kills_and_every_one_ends_with_its_results(
    cluster: Cluster, figures: Figures, chaos_seed: int
) -> None:
    print(f"chaos worker-faults seed {chaos_seed} (replay with TASKRUNNER_CHAOS_SEED={chaos_seed})")
    rng = random.Random(chaos_seed)
    names = [cluster.spawn(slot) for slot in SLOTS]
    cluster.wait_ready(names)

    t0 = time.monotonic()
    jobs = []
    for name, kwargs, queue in _plan(rng):
        res = cluster.app.send_task(name, kwargs=kwargs, queue=queue)
        jobs.append(_expect(res.id, name, kwargs))
    store = cluster.store
    chaos = Chaos(cluster, rng)
    recovered: Counter[str] = Counter()
    deadline = t0 + 150

    def records() -> list[TaskRecord | None]:
        return [store.get_task_status(j.task_id) for j in jobs]

    while True:
        recs = records()
        ended = sum(1 for r in recs if r is not None and r.status.is_terminal)
        if ended == len(jobs):
            break
        if time.monotonic() > deadline:
            open_ = {j.task_id: (r.status.value, r.current_status) if r else None
                     for j, r in zip(jobs, recs, strict=True) if r is None or not r.status.is_terminal}
            raise AssertionError(f"seed {chaos_seed}: {len(open_)} tasks never ended: {open_}; faults: {chaos.log}")
        chaos.tick(inject=chaos.faults.total() < MAX_FAULTS and ended < 0.85 * len(jobs))
        recovered.update(cluster.recover())
        time.sleep(0.25)
    elapsed = time.monotonic() - t0

    by_id = {j.task_id: store.require(j.task_id) for j in jobs}
    wrong: dict[str, tuple[Any, ...]] = {}
    for job in jobs:
        rec = by_id[job.task_id]
        if rec.status is not job.expected:
            wrong[job.task_id] = (job.name, job.kwargs, rec.status.value, rec.error_message)
        elif job.results is not None and rec.results != job.results:
            wrong[job.task_id] = (job.name, job.kwargs, "results", rec.results)
        elif job.error is not None and rec.error_message != job.error:
            wrong[job.task_id] = (job.name, job.kwargs, "error", rec.error_message)
    # Celery's own view agrees: a completed task's return value is stored, a failed one is FAILURE.
    celery_wrong = {}
    for job in jobs:
        meta = cluster.app.AsyncResult(job.task_id)
        want = "SUCCESS" if job.expected is TaskStatus.COMPLETED else "FAILURE"
        if meta.state != want or (want == "SUCCESS" and meta.result != job.results):
            celery_wrong[job.task_id] = (meta.state, repr(meta.result)[:200], by_id[job.task_id].attempt)
    rerun = sum(1 for rec in by_id.values() if rec.attempt > 1)
    statuses = Counter(rec.status.value for rec in by_id.values())
    figures.add(
        "worker_faults",
        tasks_run=len(jobs),
        faults_injected=chaos.faults.total(),
        faults=dict(chaos.faults),
        tasks_lost=len(wrong),
        celery_results_wrong=len(celery_wrong),
        tasks_rerun_after_a_kill=rerun,
        completed=statuses.get("completed", 0),
        error_as_planned=statuses.get("error", 0) - sum(1 for t in wrong if by_id[t].status is TaskStatus.ERROR),
        sweep=dict(recovered),
        seconds=round(elapsed, 1),
    )

    assert wrong == {}, f"seed {chaos_seed}; faults: {chaos.log}"
    assert celery_wrong == {}, f"seed {chaos_seed}; faults: {chaos.log}"
    # The faults hit tasks in flight (some ran more than once), and the summary counts are the records.
    assert rerun > 0, f"seed {chaos_seed}: no task was interrupted by the {chaos.faults.total()} faults"
    assert {k: v for k, v in store.summary().items() if v} == dict(statuses)
    assert store.redis.zcard(store.keys.heartbeats()) == 0
    for slot in SLOTS:  # a killed worker whose restart was still pending when the last task ended
        if not cluster.alive(slot):
            cluster.spawn(slot)
    assert cluster.drained(), "messages left in the broker after every task ended"


def test_a_redelivered_copy_of_a_task_that_already_completed_leaves_it_completed_in_celery_too(
    cluster: Cluster, figures: Figures
) -> None:
    # The kill window the test above hits now and then: an attempt wrote its record's end, then its worker died
    # before Celery stored the result or acknowledged the message, so the message is delivered again.
    if not any(cluster.alive(s) for s in SLOTS):
        cluster.start("wa")
    store = cluster.store
    tid = f"chaos-redelivered-{uuid.uuid4()}"
    results = {"counted": 3, "symbol": None}
    store.create_task("tasks.diagnostics.count", 3, task_id=tid, metadata={"queue": "backtest"})
    store.apply(tid, {"status": "running", "start": True, "worker": "killed@host", "message": "running"})
    store.apply(tid, {"status": "completed", "current": 3, "results": results, "message": "completed"})

    cluster.app.send_task("tasks.diagnostics.count", kwargs={"n": 3}, queue="backtest", task_id=tid)

    meta = cluster.app.AsyncResult(tid)
    wait_until(lambda: meta.state in states.READY_STATES, timeout=30, what="the copy to be handled")
    figures.add("duplicate_delivery", tasks_run=1, faults_injected=1, celery_state_after_copy=meta.state)
    assert (meta.state, meta.result) == ("SUCCESS", results)
    rec = store.require(tid)
    assert rec.status is TaskStatus.COMPLETED and rec.results == results and rec.attempt == 1
