"""The step-timeout sweep: a step still running past its `timeout_ms` is flagged `timeout` (seed 002).

Run by Beat with the stale-task sweep (Beat job tasks.maintenance.sweep_stale_tasks, every minute). For each
running task (the heartbeat set holds every started, unfinished one) whose record has a running step past its timeout,
one normal update: the step becomes `timeout` with the reason as its error, the task's message says so, and the event
(with the step's name) goes to the task's stream, its channel and the all-tasks stream like any step change. The task
runs on, unless TASKRUNNER_STEP_TIMEOUT_FAILS is set: then the same update ends it `error` naming the step, and its
worker stops at its next progress write (the record ended under it, as with a cancel).

A paused task is left alone (an operator holds it). A step completed after its timeout ends `timeout` whether or not
the sweep saw it running (update.lua), so the flag is exact at the end even between sweeps. Flagging writes to the
record, which refreshes its heartbeat once: a task whose worker died mid-step is found lost one bound later.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from progress import ProgressStore, TaskNotFound, TaskStatus
from progress.steps import overdue, step_change, timeout_text


class StepTimeoutReport(BaseModel):
    """What one pass flagged and ended, by task id."""

    flagged: dict[str, list[str]] = Field(default_factory=dict, description="task id -> steps flagged `timeout`")
    failed: list[str] = Field(default_factory=list, description="tasks ended `error` for a step's timeout")


def sweep_step_timeouts(store: ProgressStore, *, fails: bool, now_ms: int | None = None) -> StepTimeoutReport:
    """Flags every running step past its timeout as `timeout`; with `fails`, ends its task `error` too."""
    now = store.now_ms() if now_ms is None else now_ms
    report = StepTimeoutReport()
    running = [t for b in store.keys.all_buckets()  # each bucket keeps its own heartbeats
               for t in store.redis.zrange(store.keys.heartbeats(b), 0, -1)]
    for tid in running:
        rec = store.get_task_status(str(tid))
        if rec is None or rec.status is not TaskStatus.RUNNING:
            continue
        for step in overdue(rec.steps, now):
            text = timeout_text(step, now)
            change: dict[str, Any] = {"message": text, "step": step_change("timeout", step.name, error=text)}
            if fails:
                change |= {"status": TaskStatus.ERROR.value, "error_message": text}
            try:
                result = store.apply(rec.task_id, change)
            except TaskNotFound:
                break  # deleted meanwhile
            if not result.applied:
                break  # ended meanwhile (or by this pass: one timed-out step is enough to fail it)
            report.flagged.setdefault(rec.task_id, []).append(step.name)
            if result.status is TaskStatus.ERROR:
                report.failed.append(rec.task_id)
                break
    return report
