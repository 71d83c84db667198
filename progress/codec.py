"""Turns the flat Redis hash of a record and stream entries into typed models (derived fields computed here)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from progress.models import ProgressEvent, ProgressInfo, Step, TaskRecord, percentage
from progress.status import TaskStatus
from progress.steps import live_elapsed_ms, steps_percentage


def from_ms(ms: int | float | str | None, tz: ZoneInfo) -> datetime | None:
    """Epoch milliseconds as an aware datetime in `tz` (None stays None)."""
    if ms is None or ms == "":
        return None
    return datetime.fromtimestamp(int(float(ms)) / 1000.0, tz)


def at_ms(ms: int | float | str, tz: ZoneInfo) -> datetime:
    """Epoch milliseconds as an aware datetime in `tz`."""
    return datetime.fromtimestamp(int(float(ms)) / 1000.0, tz)


def _int(value: str | None, default: int = 0) -> int:
    return default if value is None or value == "" else int(float(value))


def _obj(value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    decoded = json.loads(value)
    return decoded if isinstance(decoded, dict) else {}


def _prefixed(h: dict[str, str], prefix: str) -> dict[str, Any]:
    """The object stored key by key under `prefix` (see update.lua's merge)."""
    n = len(prefix)
    return {k[n:]: json.loads(v) for k, v in h.items() if k.startswith(prefix)}


def _steps(value: str | None, tz: ZoneInfo, now_ms: int) -> list[Step]:
    if not value or value == "{}":  # cjson encodes an empty Lua table as {}
        return []
    out = []
    for raw in json.loads(value):
        raw["started_at"] = from_ms(raw.get("started_at"), tz)
        raw["completed_at"] = from_ms(raw.get("completed_at"), tz)
        step = Step.model_validate(raw)
        # Stored when the step ends; while it runs, read as now minus its start (seed 002's clients show it live).
        step.elapsed_ms = live_elapsed_ms(step, now_ms)
        out.append(step)
    return out


def record_from_hash(h: dict[str, str], tz: ZoneInfo, now_ms: int) -> TaskRecord:
    """Builds the public record from its hash, deriving processing time, rate and ETA."""
    status = TaskStatus(h["status"])
    current, total = _int(h.get("cur")), _int(h.get("total"))
    created, started = _int(h.get("created")), _int(h.get("started"), -1)
    updated, ended = _int(h.get("updated")), _int(h.get("ended"), -1)
    steps = _steps(h.get("steps"), tz, now_ms)

    processing_ms = None if started < 0 else (ended if ended >= 0 else now_ms) - started
    rate = None
    if started >= 0 and updated > started and current > 0:
        rate = current / ((updated - started) / 1000.0)
    eta = _eta_seconds(status, current, total, rate, steps, now_ms)
    estimated = None if eta is None else from_ms(now_ms, tz) + timedelta(seconds=eta)  # type: ignore[operator]
    if estimated is None and h.get("exp"):
        # No progress to go by yet: creation plus the median duration of the type's recent tasks (create.lua).
        estimated = from_ms(created + _int(h.get("exp")), tz)
    if status.is_terminal:
        estimated = from_ms(ended, tz)

    return TaskRecord(
        task_id=h["id"],
        status=status,
        task_type=h.get("type", ""),
        task_name=h.get("name") or None,
        symbol=h.get("symbol") or None,
        # A task that counts no items shows how many of its steps ended (seed 002) rather than 0%.
        progress=ProgressInfo(current=current, total=total, percentage=percentage(current, total) if total > 0
                              else steps_percentage(steps)),
        current_status=h.get("msg", ""),
        created_at=from_ms(created, tz),
        start_time=from_ms(started, tz) if started >= 0 else None,
        updated_at=from_ms(updated, tz),
        end_time=from_ms(ended, tz) if ended >= 0 else None,
        processing_time_ms=processing_ms,
        estimated_completion=estimated,
        rate_per_second=None if rate is None else round(rate, 3),
        eta_seconds=None if eta is None else round(eta, 3),
        processing_details=_prefixed(h, "d:"),
        results=_prefixed(h, "r:"),
        error_message=h.get("error") or None,
        metadata=_obj(h.get("meta")),
        steps=steps,
        attempt=_int(h.get("attempt")),
        last_error=h.get("last_error") or None,
        worker=h.get("worker") or None,
        ignored_updates=_int(h.get("ignored")),
        last_event_id=h.get("ev") or None,
    )


_NUMERIC_FIELDS = ("cur", "total", "created", "started", "updated", "ended", "attempt", "ignored", "hb", "floor")


def read_record(
    h: Mapping[Any, Any], tz: ZoneInfo, now_ms: int, task_id: str
) -> tuple[TaskRecord | None, list[str]]:
    """A record from its hash, tolerating damage (a record written around the store, or by an older version): the
    record and [] when intact; else the fields that could be read, with the problems found; None when nothing
    could. Raw bytes (a hash read without decoding) are accepted."""
    try:
        # A hash of bytes (a raw read) fails here at once: its keys are not text.
        return record_from_hash(cast(dict[str, str], h), tz, now_ms), []
    except Exception:
        pass
    cleaned, problems = _salvage(h, task_id, tz)
    try:
        return record_from_hash(cleaned, tz, now_ms), problems
    except Exception as exc:
        return None, [*problems, f"{type(exc).__name__}: {exc}"]


def _salvage(h: Mapping[Any, Any], task_id: str, tz: ZoneInfo) -> tuple[dict[str, str], list[str]]:
    """The hash as text with every field a reader cannot parse dropped (or, for the status, replaced)."""
    problems: list[str] = []
    out: dict[str, str] = {}
    for raw_key, raw_value in h.items():
        key, value = _text(raw_key), _text(raw_value)
        if not (_utf8(raw_key) and _utf8(raw_value)):
            problems.append(f"{key}: not UTF-8")
        out[key] = value
    for name in _NUMERIC_FIELDS:
        if name in out:
            try:
                if not math.isfinite(float(out[name])):
                    raise ValueError(out[name])
            except ValueError:
                problems.append(f"{name}: not a number")
                del out[name]
    status = out.get("status", "")
    if status not in _STATUSES:
        # Shown as ended with the reason rather than hidden: an operator can then see and delete it.
        problems.append(f"status: {status!r} is not a status")
        out["status"] = TaskStatus.ERROR.value
        out.setdefault("error", f"record unreadable: status {status!r}")
    out.setdefault("id", task_id)
    for name in [k for k in out if k in ("meta", "steps") or k.startswith(("d:", "r:"))]:
        try:
            decoded = json.loads(out[name])
            if name == "meta" and not isinstance(decoded, dict):
                raise ValueError("not an object")
            if name == "steps":
                _steps(out[name], tz, 0)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            problems.append(f"{name}: {type(exc).__name__}")
            del out[name]
    return out, problems


_STATUSES = frozenset(s.value for s in TaskStatus)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _utf8(value: Any) -> bool:
    if not isinstance(value, bytes):
        return True
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _eta_seconds(
    status: TaskStatus, current: int, total: int, rate: float | None, steps: list[Step], now_ms: int
) -> float | None:
    """Seconds left: from the observed item rate, else from the steps' estimated durations."""
    if status.is_terminal or status is TaskStatus.CREATED:
        return None
    if rate and total > 0:
        return max(total - current, 0) / rate
    if steps and any(s.estimated_ms for s in steps):
        left_ms = 0.0
        for s in steps:
            est = s.estimated_ms or 0
            if s.status == "pending":
                left_ms += est
            elif s.status == "running" and s.started_at is not None:
                left_ms += max(est - (now_ms - s.started_at.timestamp() * 1000.0), 0.0)
        return left_ms / 1000.0
    return None


_KINDS = {"created", "status", "progress", "snapshot"}


def event_from_entry(entry_id: str, fields: dict[str, str], tz: ZoneInfo, task_id: str = "") -> ProgressEvent:
    """Builds an event from a stream entry (compact fields, see _common.lua) or a published JSON ({"d": ...})."""
    if "d" in fields:
        return event_from_message(entry_id, fields["d"], tz)
    ms = int(entry_id.partition("-")[0])
    kind = fields.get("k", "progress")
    return ProgressEvent(
        id=entry_id,
        task_id=fields.get("i", task_id),
        status=TaskStatus(fields["s"]),
        current=_int(fields.get("c")),
        total=_int(fields.get("t")),
        message=fields.get("m"),
        timestamp=from_ms(ms, tz),
        kind=kind if kind in _KINDS else "progress",
        step=fields.get("p"),
        error_message=fields.get("e"),
    )


def event_from_message(event_id: str, payload: str, tz: ZoneInfo) -> ProgressEvent:
    """Builds an event from the JSON update.lua and create.lua publish (with the task id and timestamp)."""
    data = json.loads(payload)
    data["timestamp"] = from_ms(data["timestamp"], tz)
    if "message" in data and not isinstance(data["message"], str):  # cjson encodes an empty Lua table as {}
        data["message"] = ""
    return ProgressEvent(id=event_id, **data)


def carry(event: ProgressEvent, previous: ProgressEvent | None) -> ProgressEvent:
    """The event with what it did not repeat (an unchanged message or error) taken from the previous one, so every
    event a watcher sees is complete (seed 001's progress_update shape)."""
    if event.message is not None and (event.error_message is not None or previous is None
                                      or previous.error_message is None):
        return event
    fill: dict[str, Any] = {}
    if event.message is None:
        fill["message"] = previous.message if previous is not None and previous.message is not None else ""
    if event.error_message is None and previous is not None and previous.error_message is not None:
        fill["error_message"] = previous.error_message  # never cleared once set
    return event.model_copy(update=fill)


def snapshot_event(record: TaskRecord) -> ProgressEvent:
    """The current state of a record as an event (first message to a watcher)."""
    return ProgressEvent(
        id=record.last_event_id or "0-0",
        task_id=record.task_id,
        status=record.status,
        current=record.progress.current,
        total=record.progress.total,
        message=record.current_status,
        timestamp=record.updated_at or record.created_at,
        kind="snapshot",
        error_message=record.error_message,
    )
