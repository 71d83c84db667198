"""Task ids as users type them: the full id or, as git does, any prefix that names exactly one task."""

from __future__ import annotations

from progress import ProgressStore
from taskrunner.cli_errors import CliError

# Enough to say "ambiguous" and how many match, without reading the whole keyspace for a one-letter prefix.
_MATCH_LIMIT = 1_000


def resolve_task_id(store: ProgressStore, given: str) -> str:
    """The one stored id equal to `given` or starting with it; CliError (exit 2) when none or several match."""
    if store.redis.exists(store.keys.record(given)):
        return given
    matches = ids_with_prefix(store, given)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CliError(f"task {given} not found: list tasks with `taskrunner ls`", code=2)
    many = f"{len(matches)}" if len(matches) < _MATCH_LIMIT else f"{_MATCH_LIMIT} or more"
    raise CliError(f"{given} is ambiguous: {many} tasks start with it; type more of the id", code=2)


def ids_with_prefix(store: ProgressStore, prefix: str) -> list[str]:
    """Stored ids starting with `prefix` (at most _MATCH_LIMIT), by a SCAN of each bucket's record keys (a cluster
    client scans every node)."""
    found: list[str] = []
    for b in store.keys.all_buckets():
        for key in store.redis.scan_iter(match=store.keys.record_pattern(prefix, b), count=1_000):
            found.append(store.keys.record_id(str(key)))
            if len(found) >= _MATCH_LIMIT:
                return sorted(found)
    return sorted(found)
