"""Sans-I/O halves of the store operations: the requests to send to Redis (a script call, a command, a pipeline)
and how to read the answers.

progress.plans strings these into whole operations that the sync and async stores run, so the two differ only in
how they wait for Redis.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from redis.client import NEVER_DECODE

from progress import limits
from progress.codec import at_ms
from progress.config import StoreConfig
from progress.errors import InvalidTransition, InvalidValue, TaskNotFound, TaskSuperseded
from progress.hints import index_keys, prefixes_of
from progress.jsonutil import dumps
from progress.keys import Keys
from progress.limits import Limits
from progress.models import (
    CreatedTask,
    ProgressInfo,
    TaskCreate,
    UpdateResult,
    built,
    percentage,
    redact,
)
from progress.status import TaskStatus
from progress.steps import without_nulls

ScriptArgs = list[str | int | float]


@dataclass(slots=True)
class Call:
    """One script invocation: which script, its KEYS and its ARGV; the task and change it writes, when it writes one
    (they decide whether it waits for replicas, see progress.replication)."""

    # Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, which costs more than
    # the rest of building a routine update (one Call per progress write).

    script: str
    keys: list[str]
    args: ScriptArgs
    task_id: str = ""
    change: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Cmd:
    """One Redis command, as the name of the client's method and its arguments (sync and async clients alike)."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Pipeline:
    """Commands sent together in one round trip (in a MULTI/EXEC transaction when `transaction`); the answer is the
    list of their replies."""

    commands: list[Cmd]
    transaction: bool = False


#: What a plan asks its store to send (see progress.plans).
Request = Call | Cmd | Pipeline


#: How a script announces an event: PUBLISH, or SPUBLISH on a cluster whose servers have shard channels.
PUBLISH = "PUBLISH"
SPUBLISH = "SPUBLISH"


def create_call(
    cfg: StoreConfig, keys: Keys, spec: TaskCreate, task_id: str, now_ms: int, publish: str = PUBLISH
) -> Call:
    """The create.lua call for a validated spec; raises InvalidValue if it exceeds the store's limits."""
    lim = cfg.limits
    limits.check_text(spec.message, "message", lim.max_message_chars)
    metadata = limits.check_object(spec.metadata, "metadata", lim.max_metadata_bytes, lim.max_json_depth)
    record, events, channel, b = keys.task_names(task_id)
    prefixes = record_prefixes(keys, b, spec.task_type, spec.symbol, spec.task_name, spec.metadata)
    return Call(
        "create",
        [record, keys.counts(b), events, keys.all_events(b), keys.creation_tie(b), keys.durations(b),
         keys.type_names(b), keys.types(b), *index_keys(tuple(prefixes), TaskStatus.CREATED.value)],
        [
            now_ms,
            task_id,
            spec.task_type,
            spec.symbol or "",
            spec.total_items,
            spec.message,
            metadata,
            "\n".join(prefixes),
            cfg.events_maxlen,
            cfg.all_events_maxlen,
            channel,
            spec.task_name or "",
            publish,
        ],
        task_id,
    )


# What may name an owner or a parent in an index key (no newline: index prefixes are "\n"-joined in the record).
_INDEXABLE = re.compile(r"[A-Za-z0-9_.@+:-]{1,200}")


def record_prefixes(keys: Keys, bucket: int, task_type: str, symbol: str | None, task_name: str | None,
                    metadata: dict[str, Any]) -> list[str]:
    """The index prefixes of a record with these fields (stored as its `sidx`; a move's index keys follow)."""
    prefixes = keys.status_prefixes(task_type, symbol, task_name, bucket=bucket)
    return prefixes + keys.owner_prefixes(*owner_and_parent(metadata), bucket=bucket)


def owner_and_parent(metadata: dict[str, Any]) -> tuple[str | None, str | None]:
    """The owner (metadata.user_id) and parent batch (metadata.parent_task_id) a record is indexed under, when they
    are ids an index name can hold."""
    found = [metadata.get("user_id"), metadata.get("parent_task_id")]
    user, parent = (v if isinstance(v, str) and _INDEXABLE.fullmatch(v) else None for v in found)
    return user, parent


def parse_create(cfg: StoreConfig, spec: TaskCreate, task_id: str, now_ms: int, reply: list[Any]) -> CreatedTask:
    """The seed's create response; `created` is false when the id already existed."""
    created = int(reply[0]) == 1
    expected = reply[2] if created and len(reply) > 2 and reply[2] else None
    # Built without validation: the spec was validated and the rest comes from create.lua (publish hot path).
    return CreatedTask.model_construct(
        task_id=task_id,
        status=TaskStatus.CREATED if created else TaskStatus(str(reply[1])),
        task_type=spec.task_type,
        task_name=spec.task_name,
        symbol=spec.symbol,
        total_items=spec.total_items,
        created_at=at_ms(now_ms, cfg.tz),
        estimated_completion=None if expected is None else at_ms(now_ms + int(float(expected)), cfg.tz),
        created=created,
    )


# How each text member of a change is bounded (update.lua's members; see progress/limits.py).
_TEXT_LIMITS = {"message": "max_message_chars", "worker": "max_message_chars", "error_message": "max_error_chars",
                "last_error": "max_error_chars"}
_NUMBERS = frozenset({"current", "total", "incr", "attempt"})
_NUMBER_TYPES = (int, float)  # numpy float64 is a float; a bool is not a count (True is refused below)
_MAX_COUNT = 10**15


def encode_change(change: dict[str, Any], lim: Limits | None = None) -> ScriptArgs:
    """update.lua's change as flat name, value pairs (None dropped); details/results values pre-encoded one by one
    so Lua never re-encodes user data, and the step as JSON. Every member is checked against the limits first:
    InvalidValue names the first bad one and nothing is written."""
    lim = lim or limits.default_limits()
    out: ScriptArgs = []
    for name, value in change.items():
        if value is None or value is False:
            continue
        if name in _NUMBERS:
            out += [name, check_count(name, value)]
        elif value is True:
            out += [name, 1]
        elif name in ("details", "results"):
            out += [name, dumps(encode_members(name, value, lim))]
        elif name == "step":
            # Without its None members: a JSON null would overwrite what the step has (its defined timeout).
            out += [name, limits.check_object(without_nulls(value) if isinstance(value, dict) else value, name,
                                              lim.max_details_bytes, lim.max_json_depth)]
        else:
            limits.check_text(value, name, getattr(lim, _TEXT_LIMITS.get(name, "max_message_chars")))
            out += [name, value]
    return out


def check_count(name: str, value: Any) -> int | float:
    """A count member of a change (current, total, ...) as given; InvalidValue unless it is a number in range."""
    # Checked by type first: this is the hot path (a routine write is a count, a status and a flag).
    if not isinstance(value, _NUMBER_TYPES) or value is True or not -_MAX_COUNT <= value <= _MAX_COUNT:
        raise InvalidValue(name, f"must be a number between -{_MAX_COUNT} and {_MAX_COUNT}, not {value!r}")
    return value


def encode_members(name: str, value: Any, lim: Limits) -> dict[str, str]:
    """details or results checked against the limits, as {top-level key: its JSON} (the record keeps one field per
    key, so the scripts merge them key by key without re-encoding user data)."""
    max_bytes = lim.max_details_bytes if name == "details" else lim.max_results_bytes
    limits.check_object(value, name, max_bytes, lim.max_json_depth)
    # Masked here too, so what a task reports or returns never stores a secret-looking key.
    return {str(k): dumps(v) for k, v in redact(value).items()}


def update_call(
    cfg: StoreConfig,
    keys: Keys,
    task_id: str,
    change: dict[str, Any],
    now_ms: int,
    publish: str = PUBLISH,
    move: list[str] | None = None,
) -> Call:
    """The update.lua call applying `change` (see the script's header for its members); `move`: the index keys of a
    status move, when known (see progress.hints)."""
    call_keys, channel = keys.update_names(task_id)
    if move:
        call_keys += move
    return Call(
        "update",
        call_keys,
        [
            now_ms,
            cfg.events_maxlen,
            cfg.all_events_maxlen,
            channel,
            cfg.events_ttl_after_end_s * 1000,
            publish,
            *encode_change(change, cfg.limits),
        ],
        task_id,
        change,
    )


#: update.lua's fixed KEYS (the index keys of a move follow them).
UPDATE_FIXED_KEYS = 8


def with_move_keys(call: Call, reply: list[Any]) -> Call:
    """The call again, with the index keys a 'keys' reply showed it needs (the record's prefixes, its status and
    the status the change moves it to)."""
    change = call.change or {}
    call.keys = call.keys[:UPDATE_FIXED_KEYS] + index_keys(prefixes_of(reply[3]), str(reply[1]), str(change["status"]))
    return call


class Written(NamedTuple):
    """update.lua's reply, checked: whether the change was applied, the status now, the event id and JSON, and the
    task's newest attempt."""

    applied: bool
    status: TaskStatus
    event_id: str | None
    body: str
    attempt: int = 0
    #: current, total and the event's ms, when the script gave them apart from the body (progress.lua does)
    numbers: tuple[int, int, int] | None = None


def check_update(task_id: str, change: dict[str, Any], reply: list[Any]) -> Written:
    """Reads update.lua's reply cheaply (the reporter's path); raises for a missing task, a refused change, or a
    write from an attempt a newer one superseded (TaskSuperseded)."""
    code, status = reply[0], reply[1]
    if code == "missing":
        raise TaskNotFound(task_id)
    if code == "invalid":
        raise InvalidTransition(task_id, status, str(change.get("status")))
    attempt = int(reply[4]) if len(reply) > 4 else 0
    if code == "keys":
        raise RuntimeError(f"task {task_id}: its status kept moving while index keys were fetched; try again")
    if code == "superseded":
        raise TaskSuperseded(task_id, int(change.get("attempt") or 0), attempt)
    numbers = (int(reply[5]), int(reply[6]), int(reply[7])) if len(reply) > 7 else None
    return Written(code == "ok", TaskStatus(status), reply[2] or None, reply[3] if len(reply) > 3 else "", attempt,
                   numbers)


def to_result(cfg: StoreConfig, task_id: str, written: Written) -> UpdateResult:
    """The seed's update response for a checked reply."""
    if written.numbers is not None:
        current, total, at = written.numbers  # no JSON to parse (the routine write's reply)
    else:
        body = json.loads(written.body) if written.body else {}
        current, total, at = int(body.get("current", 0)), int(body.get("total", 0)), body.get("timestamp") or 0
    # Built without validation: every value comes from the script, typed above (this is the hot path).
    return built(UpdateResult, {
        "task_id": task_id,
        "status": written.status,
        "progress": built(ProgressInfo, {"current": current, "total": total,
                                         "percentage": percentage(current, total)}),
        "updated_at": at_ms(at, cfg.tz),
        "applied": written.applied,
        "event_id": written.event_id,
    })


def parse_update(cfg: StoreConfig, task_id: str, change: dict[str, Any], reply: list[Any]) -> UpdateResult:
    """Reads update.lua's reply into the seed's update response; raises for a missing task or a refused change."""
    return to_result(cfg, task_id, check_update(task_id, change, reply))


def sum_counts(per_bucket: list[dict[str, str]]) -> dict[str, int]:
    """Per-status counts summed over buckets."""
    total: dict[str, int] = {}
    for counts in per_bucket:
        for status, n in counts.items():
            total[status] = total.get(status, 0) + int(n or 0)
    return total


def record_read(keys: Keys, task_id: str, *, raw: bool = False) -> Cmd:
    """The read of one record (raw: as bytes, when a decoded read met bytes that are not UTF-8)."""
    if raw:
        return Cmd("execute_command", ("HGETALL", keys.record(task_id)), {NEVER_DECODE: []})
    return Cmd("hgetall", (keys.record(task_id),))


def record_reads(keys: Keys, ids: list[str], *, raw: bool = False) -> Pipeline:
    """The reads of these records in one round trip (raw: see record_read)."""
    return Pipeline([record_read(keys, tid, raw=raw) for tid in ids])


def unreadable_warning(task_id: str, problems: list[str]) -> str:
    """The log line for a record first found unreadable (logged once: when it joins the unreadable set)."""
    return f"task record {task_id} is damaged and left out of lists: {'; '.join(problems) or 'unparseable'}"


def status_indexes(keys: Keys, bucket: int | None = None) -> list[str]:
    """The unfiltered index of every status, in one bucket or (None) in every bucket."""
    buckets = keys.all_buckets() if bucket is None else (bucket,)
    return [keys.index(s.value, bucket=b) for b in buckets for s in TaskStatus]
