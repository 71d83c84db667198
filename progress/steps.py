"""What a task's steps mean beyond their stored fields (seed 002), written once for every reader and writer: the
change that moves a step, the live elapsed time, the percentage steps give, and which steps ran past their timeout.

Pure functions: the stores, the reporter, the HTTP API and the step-timeout sweep all use them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from progress.models import Step

#: update.lua's step actions (`define` is ProgressStore.define_steps's).
StepAction = Literal["start", "complete", "fail", "timeout"]


def step_change(
    action: StepAction,
    name: str,
    *,
    timeout_ms: int | None = None,
    message: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """update.lua's `step` member for one action; a member left None is not sent, so the step keeps what it has
    (a step started without a timeout keeps the one defined for it)."""
    change: dict[str, Any] = {"action": action, "name": name, "timeout_ms": timeout_ms, "message": message,
                              "error": error}
    return without_nulls(change)


def without_nulls(step: dict[str, Any]) -> dict[str, Any]:
    """The step member without its None values: in Lua a JSON null is a value (cjson.null), and would overwrite
    what the step had (its defined timeout)."""
    return {k: v for k, v in step.items() if v is not None}


def is_running(step: Step) -> bool:
    """Whether the step has started and not ended (a step flagged `timeout` may still be running)."""
    return step.started_at is not None and step.completed_at is None and step.status in ("running", "timeout")


def live_elapsed_ms(step: Step, now_ms: int) -> int:
    """The step's elapsed time: up to now while it runs, as stored once it ended."""
    if not is_running(step) or step.started_at is None:
        return step.elapsed_ms
    return max(0, now_ms - round(step.started_at.timestamp() * 1000))


def steps_percentage(steps: Iterable[Step]) -> float:
    """Percent of the steps that ended (seed 002: success and error alike), rounded to 2 places; 0 without steps."""
    listed = list(steps)
    if not listed:
        return 0.0
    done = sum(1 for s in listed if s.completed_at is not None)
    return round(done * 100.0 / len(listed), 2)


def overdue(steps: Iterable[Step], now_ms: int) -> list[Step]:
    """The steps still `running` past their timeout (not yet flagged)."""
    return [s for s in steps if s.status == "running" and is_running(s) and s.timeout_ms is not None
            and live_elapsed_ms(s, now_ms) > s.timeout_ms]


def timeout_text(step: Step, now_ms: int) -> str:
    """Says which step ran past its timeout, by how much."""
    return (f"step {step.name!r} timed out: running {live_elapsed_ms(step, now_ms)} ms, "
            f"over its timeout of {step.timeout_ms} ms")


def current_step(steps: Iterable[Step]) -> int:
    """The number of the step started last (seed 002's current_step); 0 before any started."""
    started = [s for s in steps if s.started_at is not None]
    return max(started, key=lambda s: (s.started_at, s.step)).step if started else 0


def all_succeeded(steps: Iterable[Step]) -> bool:
    """Whether every step has ended and none failed (a step that ended late, `timeout`, did its work)."""
    listed = list(steps)
    return bool(listed) and all(s.completed_at is not None and s.status != "error" for s in listed)
