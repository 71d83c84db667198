"""The requests that delete records (retention and the operators' deletes): each record's status and index prefixes
as last read, then one delete.lua call per record with every key it touches."""

from __future__ import annotations

from typing import NamedTuple

from progress.hints import index_keys, prefixes_of
from progress.keys import Keys
from progress.ops import Call, Cmd, Pipeline, ScriptArgs
from progress.status import TaskStatus


class Doomed(NamedTuple):
    """A record to delete: its id, and its status and index prefixes as last read (`sidx`)."""

    task_id: str
    status: str | None
    sidx: str | None


def doomed_reads(keys: Keys, task_ids: list[str]) -> Pipeline:
    """The status and index prefixes of records about to be deleted (delete.lua must be given their index keys)."""
    return Pipeline([Cmd("hmget", (keys.record(tid), "status", "sidx")) for tid in task_ids])


def doomed(task_ids: list[str], replies: list[list[str | None]]) -> list[Doomed]:
    """The records to delete from the replies to `doomed_reads`."""
    return [Doomed(tid, status, sidx) for tid, (status, sidx) in zip(task_ids, replies, strict=True)]


def delete_calls(keys: Keys, records: list[Doomed], *, cutoff_ms: int = -1) -> list[Call]:
    """The delete.lua calls (one per bucket: one slot each) removing these records (only those ended by
    `cutoff_ms`, when given). The reply lists the ids whose status moved since they were read (not deleted)."""
    by_bucket: dict[int, list[Doomed]] = {}
    for rec in records:
        by_bucket.setdefault(keys.bucket(rec.task_id), []).append(rec)
    calls = []
    for b, recs in by_bucket.items():
        call_keys = [keys.counts(b), keys.heartbeats(b), keys.unreadable(b)]
        args: ScriptArgs = [cutoff_ms]
        for rec in recs:
            idx = index_keys(prefixes_of(rec.sidx), rec.status) if rec.status else []
            call_keys += [keys.record(rec.task_id), keys.events(rec.task_id), *idx]
            args += [rec.task_id, len(idx)]
        calls.append(Call("delete", call_keys, args))
    return calls


def terminal_indexes(keys: Keys, bucket: int) -> list[str]:
    """The bucket's unfiltered indexes of the final statuses (retention scans them by creation time)."""
    return [keys.index(s.value, bucket=bucket) for s in TaskStatus if s.is_terminal]
