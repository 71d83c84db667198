"""`taskrunner migrate-keys`: moves records stored in key layout 1 (no buckets) to layout 2 (bucket hash tags).

Run it with the workers and the API stopped (nothing may write meanwhile). Each record moves with its event stream
(entry ids kept, so watchers resume as before) and its TTL; the per-bucket counts, indexes, heartbeats and task-name
map are rebuilt from the records; the type's completion times and the store-wide counters are copied to every
bucket / bucket 0; the all-tasks stream's entries go to their task's bucket. Each record's old keys are deleted in
the round trip that writes its new ones, so an interrupted run can be started again. On one Redis only: records
cannot be moved to another server (a cluster) by this command.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from progress.keys import LAYOUT_VERSION, LegacyKeys
from progress.layout import describe
from progress.ops import owner_and_parent
from progress.status import TERMINAL
from progress.store import ProgressStore

_FINAL = frozenset(s.value for s in TERMINAL)


class MigrationReport(BaseModel):
    """What a migration moved."""

    records: int = 0
    events: int = 0
    dashboard_events: int = 0
    deleted_keys: int = 0


def migrate_v1(store: ProgressStore, *, batch: int = 200) -> MigrationReport:
    """Moves every layout-1 record of the store's namespace into layout 2 with the store's buckets."""
    r: Any = store.redis
    keys, old = store.keys, LegacyKeys(store.keys.namespace)
    wide = old.store_wide()
    report = MigrationReport()
    durations = r.hgetall(wide["durations"])
    stats = r.hgetall(wide["stats"])
    types = r.smembers(wide["types"])
    histogram = r.hgetall(wide["duration_histogram"])
    pipe = r.pipeline(transaction=False)
    for b in keys.all_buckets():
        if durations:
            pipe.hset(keys.durations(b), mapping=durations)
        if types:
            pipe.sadd(keys.types(b), *types)
    if histogram:
        pipe.hset(keys.duration_histogram(0), mapping=histogram)
    for name, value in stats.items():
        pipe.hincrby(keys.stats(0), name, int(value))
    pipe.execute()
    pending: list[str] = []
    for key in r.scan_iter(match=old.record_pattern(), count=1_000):
        pending.append(str(key))
        if len(pending) >= batch:
            report.records += _move(store, old, pending, report)
            pending = []
    if pending:
        report.records += _move(store, old, pending, report)
    report.dashboard_events = _move_all_events(store, wide["all_events"])
    leftovers = [*wide.values(), *(str(k) for k in r.scan_iter(match=old.index_pattern(), count=1_000))]
    report.deleted_keys += int(r.delete(*leftovers)) if leftovers else 0
    r.set(keys.layout(), describe(LAYOUT_VERSION, keys.buckets))
    return report


def _move(store: ProgressStore, old: LegacyKeys, record_keys: list[str], report: MigrationReport) -> int:
    r: Any = store.redis
    keys = store.keys
    reads = r.pipeline(transaction=False)
    ids = [old.record_id(k) for k in record_keys]
    for key, tid in zip(record_keys, ids, strict=True):
        reads.hgetall(key)
        reads.pttl(key)
        reads.xrange(old.events(tid))
        reads.pttl(old.events(tid))
    replies = reads.execute()
    writes = r.pipeline(transaction=False)
    moved = 0
    for i, (key, tid) in enumerate(zip(record_keys, ids, strict=True)):
        record, ttl, events, events_ttl = replies[4 * i : 4 * i + 4]
        if not record:
            continue
        b = keys.bucket(tid)
        status = record.get("status", "")
        prefixes = keys.status_prefixes(record.get("type", ""), record.get("symbol") or None, record.get("name"),
                                        bucket=b)
        prefixes += keys.owner_prefixes(*owner_and_parent(_object(record.get("meta"))), bucket=b)
        record.pop("evk", None)  # layout 1 stored the stream's name; layout 2 builds it from the id
        record["sidx"] = "\n".join(prefixes)
        new_record, new_events = keys.record(tid), keys.events(tid)
        writes.hset(new_record, mapping=record)
        if ttl and int(ttl) > 0:
            writes.pexpire(new_record, int(ttl))
        for entry_id, fields in events:
            writes.xadd(new_events, fields, id=entry_id)
        if events and events_ttl and int(events_ttl) > 0:
            writes.pexpire(new_events, int(events_ttl))
        writes.hincrby(keys.counts(b), status, 1)
        for p in prefixes:
            writes.zadd(p + status, {tid: float(record.get("created") or 0)})
        if record.get("name"):
            writes.hset(keys.type_names(b), record["name"], record.get("type", ""))
        if status not in _FINAL and record.get("started"):
            writes.zadd(keys.heartbeats(b), {tid: float(record.get("hb") or record.get("updated") or 0)})
        writes.delete(key, old.events(tid))
        report.events += len(events)
        moved += 1
    writes.execute()
    return moved


def _object(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _move_all_events(store: ProgressStore, stream: str) -> int:
    """Moves the all-tasks stream's entries to their task's bucket, in order (ids kept)."""
    r: Any = store.redis
    entries = r.xrange(stream)
    pipe = r.pipeline(transaction=False)
    for entry_id, fields in entries:
        bucket = store.keys.bucket(fields.get("i", ""))
        pipe.xadd(store.keys.all_events(bucket), fields, id=entry_id, maxlen=store.config.all_events_maxlen,
                  approximate=True)
    pipe.execute()
    return len(entries)
