"""Property-based tests of the progress store's API against a real Redis (db 0): any sequence of creates, updates,
cancels, pauses, resumes, deletes and listings with arbitrary task types, symbols, metadata, messages, counters and
statuses is either applied and reads back exactly (secret-looking keys masked), or refused naming the field with a
ValidationError / ValueError / InvalidTransition / TaskNotFound. Never a Redis error, never a record that does not
parse, and the per-status summary always equals the records' statuses.

The expected outcome of every call is computed here, independently of the store (an oracle model of the records).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from progress import InvalidTransition, ProgressStore, TaskNotFound, TaskStatus
from progress.codec import event_from_entry
from progress.models import (
    MAX_DETAILS_BYTES,
    MAX_ERROR_CHARS,
    MAX_JSON_DEPTH,
    MAX_MESSAGE_CHARS,
    MAX_METADATA_BYTES,
    MAX_RESULTS_BYTES,
)

if TYPE_CHECKING:
    from tests.security.conftest import Tally

MAX_ITEMS = 10**12
TASK_TYPE = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
SYMBOL = re.compile(r"[A-Za-z0-9_.^=-]{1,32}")
TASK_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}")
TERMINAL = {"completed", "error", "cancelled"}

# Keys known to be secret, keys known to be harmless, and keys with no ASCII letter in any case form (so they can
# never spell password/token/... and the oracle knows they must be kept).
SECRET_KEYS = ["password", "PASSWORD", "db_passwd", "smtpPassword", "api_key", "Api-Key", "apikey", "token",
               "access_token", "X-Auth-Token", "secret", "client_secret", "credentials", "aws_credentials"]
PLAIN_KEYS = ["user_id", "queue", "symbol", "requested_via", "period", "count", "name"]


def _no_ascii_letter(ch: str) -> bool:
    forms = (ch, ch.lower(), ch.upper(), ch.casefold(), unicodedata.normalize("NFKC", ch))
    return not any(c.isascii() and c.isalpha() for form in forms for c in form)


SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
KEYS = st.one_of(
    st.sampled_from(SECRET_KEYS),
    st.sampled_from(PLAIN_KEYS),
    st.text(st.characters(codec="utf-8").filter(_no_ascii_letter), max_size=6),
)
GOOD_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
)
BAD_LEAVES = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=3), SURROGATE, st.text(max_size=3)),
    st.binary(max_size=3),
)


def _json(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    values = st.recursive(leaves, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(KEYS, kids, max_size=3),
                          max_leaves=8)
    return st.dictionaries(KEYS, values, max_size=4)


def _nested(depth: int, as_list: bool) -> dict[str, Any]:
    value: Any = 1
    for level in range(depth - 1):
        value = [value] if as_list and level % 2 else {"k": value}
    return {"deep": value}


def _mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Valid values seven times in eight, so that sequences reach running, paused and ended records."""
    return st.integers(0, 7).flatmap(lambda i: bad if i == 7 else good)


JSON_OBJECTS = _mostly(_json(GOOD_LEAVES), st.one_of(
    _json(st.one_of(GOOD_LEAVES, BAD_LEAVES)),
    st.builds(_nested, st.integers(MAX_JSON_DEPTH - 3, MAX_JSON_DEPTH + 3), st.booleans()),
    st.builds(lambda n, ch: {"blob": ch * n}, st.integers(MAX_METADATA_BYTES - 14, MAX_METADATA_BYTES - 8),
              st.sampled_from(["x", "é"])),
))
TEXT = _mostly(st.text(max_size=40), st.one_of(
    st.builds(lambda a, s: a + s, st.text(max_size=5), SURROGATE),
    st.integers(MAX_MESSAGE_CHARS - 1, MAX_MESSAGE_CHARS + 1).map(lambda n: "m" * n),
))
COUNTS = _mostly(st.integers(0, 1_000), st.one_of(st.integers(-3, 3), st.integers(MAX_ITEMS - 1, MAX_ITEMS + 1),
                                                  st.integers(min_value=2**63)))
STATUSES = _mostly(st.one_of(st.none(), st.sampled_from([s.value for s in TaskStatus])), st.text(max_size=9))
TASK_TYPES = _mostly(st.one_of(st.sampled_from(["fetch_data", "tasks.backtest.run", "a:b-c.d"]),
                               st.from_regex(TASK_TYPE, fullmatch=True)), st.text(max_size=12))
SYMBOLS = _mostly(st.one_of(st.none(), st.sampled_from(["7203.T", "^N225", "USDJPY=X", "BRK-B"])),
                  st.text(max_size=34))
TASK_IDS = _mostly(st.one_of(st.none(), st.sampled_from(["t-1", "t-2", "job:42"])), st.text(max_size=8))

OPS = st.one_of(
    st.tuples(st.just("create"), TASK_TYPES, SYMBOLS, JSON_OBJECTS, TEXT, COUNTS, TASK_IDS),
    st.tuples(st.just("update"), st.integers(0, 7), STATUSES, st.one_of(st.none(), COUNTS),
              st.one_of(st.none(), COUNTS), st.one_of(st.none(), TEXT), st.one_of(st.none(), JSON_OBJECTS),
              st.one_of(st.none(), JSON_OBJECTS), st.one_of(st.none(), TEXT)),
    st.tuples(st.sampled_from(["cancel", "pause", "resume", "delete"]), st.integers(0, 7)),
    st.tuples(st.just("list"), STATUSES, st.one_of(st.none(), st.integers(0, 7), st.text(max_size=5)),
              st.one_of(st.none(), st.integers(0, 7), st.text(max_size=5)), st.integers(-1, 3),
              st.sampled_from([-1, 0, 1, 2, 1000, 1001])),
)


# --- the oracle -------------------------------------------------------------------------------------------------


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _has_surrogate(value: Any) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for s in _strings(value) for c in s)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    return [value]


def _bad_json(value: dict[str, Any], limit: int) -> bool:
    """Whether the store must refuse this object: not plain JSON, a lone surrogate, too deep or too big."""
    if _depth(value) > MAX_JSON_DEPTH or _has_surrogate(value):
        return True
    if any(isinstance(x, bytes) or (isinstance(x, float) and not math.isfinite(x)) for x in _leaves(value)):
        return True
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()) > limit


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "***" if k in SECRET_KEYS else _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def _bad_text(value: str | None, limit: int) -> bool:
    return value is not None and (len(value) > limit or _has_surrogate(value))


def _bad_count(value: int | None) -> bool:
    return value is not None and not 0 <= value <= MAX_ITEMS


@dataclass
class Expected:
    """What the oracle says one record holds."""

    task_type: str
    symbol: str | None
    metadata: dict[str, Any]
    status: str = "created"
    current: int = 0
    total: int = 0
    message: str = ""
    error: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    ignored: int = 0


def _refused(exc: BaseException, fields: set[str]) -> None:
    """The refusal is a ValidationError naming exactly the fields the oracle found bad, each with a reason."""
    assert isinstance(exc, ValidationError), repr(exc)
    named = {str(e["loc"][0]) for e in exc.errors()}
    assert named == fields, (named, fields, exc)
    assert all(e["msg"] for e in exc.errors())


class Run:
    """One example: applies operations to the store and to the oracle, and compares after each."""

    def __init__(self, store: ProgressStore) -> None:
        self.store = store
        self.tasks: dict[str, Expected] = {}
        self.ids: list[str] = []  # every id created, deleted ones included (updates to them must be TaskNotFound)

    def pick(self, i: int) -> str:
        """A created id (maybe deleted since), or one never created when there is none."""
        return self.ids[i % len(self.ids)] if self.ids else f"never-created-{i}"

    def create(self, task_type: str, symbol: str | None, metadata: dict[str, Any], message: str, total: int,
               task_id: str | None) -> bool:
        bad = {name for name, is_bad in [
            ("task_type", not TASK_TYPE.fullmatch(task_type)),
            ("symbol", symbol is not None and not SYMBOL.fullmatch(symbol)),
            ("metadata", _bad_json(metadata, MAX_METADATA_BYTES)),
            ("message", _bad_text(message, MAX_MESSAGE_CHARS)),
            ("total_items", _bad_count(total)),
            ("task_id", task_id is not None and not TASK_ID.fullmatch(task_id)),
        ] if is_bad}
        try:
            created = self.store.create_task(task_type, total, symbol, metadata, task_id=task_id, message=message)
        except Exception as exc:  # the oracle decides whether this was right
            _refused(exc, bad)
            return False
        assert not bad, f"accepted although {bad} are invalid"
        if task_id is not None and task_id in self.tasks:
            assert not created.created and created.status.value == self.tasks[task_id].status
            return True
        assert created.created and created.status is TaskStatus.CREATED
        self.tasks[created.task_id] = Expected(task_type, symbol, _masked(metadata), total=total, message=message)
        self.ids.append(created.task_id)
        return True

    def update(self, i: int, status: str | None, current: int | None, total: int | None, message: str | None,
               details: dict[str, Any] | None, results: dict[str, Any] | None, error: str | None) -> bool:
        tid = self.pick(i)
        if status is not None and status not in {s.value for s in TaskStatus}:
            with pytest.raises(ValueError, match=r"(?i)status") as refused:
                self.store.update_progress(tid, status, current, message, error, results, details, total_items=total)
            assert not isinstance(refused.value, ValidationError)
            return False
        bad = {name for name, is_bad in [
            ("current_items", _bad_count(current)), ("total_items", _bad_count(total)),
            ("message", _bad_text(message, MAX_MESSAGE_CHARS)),
            ("error_message", _bad_text(error, MAX_ERROR_CHARS)),
            ("details", details is not None and _bad_json(details, MAX_DETAILS_BYTES)),
            ("results", results is not None and _bad_json(results, MAX_RESULTS_BYTES)),
        ] if is_bad}
        change = {"status": status, "current": current, "total": total, "message": message, "error": error,
                  "details": details, "results": results}
        return self._apply(tid, bad, change, lambda: self.store.update_progress(
            tid, status, current, message, error, results, details, total_items=total))

    def control(self, action: str, i: int) -> bool:
        tid = self.pick(i)
        if action == "delete":
            assert self.store.delete_task(tid) == (tid in self.tasks)
            self.tasks.pop(tid, None)
            return True
        status, message = {"cancel": ("cancelled", "cancelled"), "pause": ("paused", "paused"),
                           "resume": ("running", "resumed")}[action]
        call = {"cancel": self.store.cancel_task, "pause": self.store.pause_task, "resume": self.store.resume_task}
        return self._apply(tid, set(), {"status": status, "message": message}, lambda: call[action](tid))

    def _apply(self, tid: str, bad: set[str], change: dict[str, Any], call: Any) -> bool:
        try:
            result = call()
        except Exception as exc:  # the oracle decides whether this was right
            if bad:
                _refused(exc, bad)
            elif tid not in self.tasks:
                assert isinstance(exc, TaskNotFound) and exc.task_id == tid, repr(exc)
            else:
                old, new = self.tasks[tid].status, change.get("status")
                assert isinstance(exc, InvalidTransition), repr(exc)
                assert new == "created" and old != "created" and old not in TERMINAL
                assert (exc.current, exc.requested) == (old, new)
            return False
        assert not bad and tid in self.tasks, (bad, tid)
        rec = self.tasks[tid]
        if rec.status in TERMINAL:
            assert not result.applied and result.status.value == rec.status
            rec.ignored += 1
            return True
        new = change.get("status") or rec.status
        assert not (new == "created" and rec.status != "created"), "a return to created was applied"
        assert result.applied and result.status.value == new
        rec.status = new
        rec.current = rec.current if change.get("current") is None else change["current"]
        rec.total = rec.total if change.get("total") is None else change["total"]
        rec.message = rec.message if change.get("message") is None else change["message"]
        rec.error = rec.error if change.get("error") is None else change["error"]
        rec.details.update(_masked(change.get("details") or {}))
        rec.results.update(_masked(change.get("results") or {}))
        return True

    def listing(self, status: str | None, task_type: int | str | None, symbol: int | str | None, page: int,
                limit: int) -> bool:
        types = [t.task_type for t in self.tasks.values()]
        symbols = [t.symbol for t in self.tasks.values() if t.symbol]
        # An int picks a value that exists, so filters match something.
        tt = (types[task_type % len(types)] if types else None) if isinstance(task_type, int) else task_type
        sym = (symbols[symbol % len(symbols)] if symbols else None) if isinstance(symbol, int) else symbol
        if page < 1 or not 1 <= limit <= 1000:
            with pytest.raises(ValueError, match=r"page|limit"):
                self.store.get_tasks_list(status, tt, sym, page, limit)
            return False
        if status and status not in {s.value for s in TaskStatus}:  # "" means no filter, like None
            with pytest.raises(ValueError, match=r"(?i)status"):
                self.store.get_tasks_list(status, tt, sym, page, limit)
            return False
        listed = self.store.get_tasks_list(status, tt, sym, page, limit)
        matching = {tid for tid, t in self.tasks.items()
                    if (not status or t.status == status) and (not tt or t.task_type == tt)
                    and (not sym or t.symbol == sym)}
        assert listed.pagination.total == len(matching)
        got = [t.task_id for t in listed.tasks]
        assert len(got) == max(0, min(limit, len(matching) - (page - 1) * limit)) and set(got) <= matching
        if page == 1 and limit >= len(matching):
            assert set(got) == matching
        return True

    def check(self) -> None:
        """Every record parses and equals the oracle's; deleted ones are gone; the summary counts statuses."""
        for tid in self.ids:
            got = self.store.get_task_status(tid)
            want = self.tasks.get(tid)
            if want is None:
                assert got is None
                continue
            assert got is not None
            assert (got.task_type, got.symbol, got.metadata) == (want.task_type, want.symbol, want.metadata)
            assert (got.status.value, got.progress.current, got.progress.total) == (want.status, want.current,
                                                                                    want.total)
            assert (got.current_status, got.error_message) == (want.message, want.error or None)
            assert (got.processing_details, got.results) == (want.details, want.results)
            assert got.ignored_updates == want.ignored
        expected = Counter(t.status for t in self.tasks.values())
        assert self.store.summary() == {s.value: expected.get(s.value, 0) for s in TaskStatus}

    def check_events(self) -> None:
        """Every stored event of every live task parses."""
        for tid in self.tasks:
            entries = cast(list[tuple[str, dict[str, str]]], self.store.redis.xrange(self.store.keys.events(tid)))
            for entry_id, fields in entries:
                event_from_entry(entry_id, fields, self.store.config.tz, tid)


@pytest.mark.timeout(600)  # passing takes seconds; a failure needs room to shrink to a readable counterexample
@settings(max_examples=250, deadline=None, derandomize=True, database=None, report_multiple_bugs=False,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(ops=st.lists(OPS, min_size=3, max_size=14))
def test_any_sequence_of_store_calls_is_applied_exactly_or_refused_naming_the_field(
    store: ProgressStore, fuzz_tally: Tally, ops: list[tuple[Any, ...]]
) -> None:
    store.redis.flushdb()
    run = Run(store)
    for op in ops:
        kind, *args = op
        if kind in ("cancel", "pause", "resume", "delete"):
            accepted = run.control(kind, *args)
        else:
            calls: dict[str, Callable[..., bool]] = {"create": run.create, "update": run.update, "list": run.listing}
            accepted = calls[kind](*args)
        fuzz_tally.add("store_api", accepted=accepted)
        run.check()
    run.check_events()


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(metadata=_json(GOOD_LEAVES), details=_json(GOOD_LEAVES))
def test_secret_looking_keys_are_masked_at_any_depth_and_nothing_else_is(
    store: ProgressStore, fuzz_tally: Tally, metadata: dict[str, Any], details: dict[str, Any]
) -> None:
    # Given secrets planted at the top and three levels down, beside whatever else the object holds
    planted = {**metadata, "db": {"pool": [{"password": "pw-SECRET-1", "host": "h"}]}, "api_key": "SECRET-2"}
    tid = store.create_task("secrets", metadata=planted).task_id
    store.update_progress(tid, "running", processing_details={**details, "smtp": {"auth_token": "SECRET-3"}})
    rec = store.require(tid)
    fuzz_tally.add("store_redaction", accepted=True)

    # Then every secret is masked wherever it was, and everything else reads back unchanged
    assert rec.metadata == _masked(planted)
    assert rec.metadata["db"] == {"pool": [{"password": "***", "host": "h"}]} and rec.metadata["api_key"] == "***"
    assert rec.processing_details["smtp"] == {"auth_token": "***"}
    stored = json.dumps(store.redis.hgetall(store.keys.record(tid)), ensure_ascii=False)
    assert "SECRET-" not in stored
