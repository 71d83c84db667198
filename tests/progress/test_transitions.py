"""The transition table is written once, in Lua (progress/lua/_common.lua): update.lua enforces it and
progress.status reads the same table from that file, so the two cannot disagree."""

from __future__ import annotations

from importlib import resources

import pytest
import redis

from progress import ProgressStore, TaskStatus, can_transition
from progress.status import MAY_BECOME, check_statuses, parse_transitions

LUA = resources.files("progress").joinpath("lua", "_common.lua").read_text(encoding="utf-8")


def test_python_reads_its_transitions_from_the_lua_table() -> None:
    edited = LUA.replace("  paused    = ' running paused completed error cancelled ',",
                         "  paused    = ' running paused ',")

    assert edited != LUA
    assert parse_transitions(edited)["paused"] == {"running", "paused"}
    assert parse_transitions(LUA) == MAY_BECOME


def test_the_table_gives_the_seed_rule_final_statuses_accept_nothing_and_nothing_returns_to_created() -> None:
    for old in TaskStatus:
        for new in TaskStatus:
            expected = not old.is_terminal and (new is not TaskStatus.CREATED or old is TaskStatus.CREATED)
            assert can_transition(old, new) is expected, (old, new)
    assert {s for s in TaskStatus if s.is_terminal} == {TaskStatus.COMPLETED, TaskStatus.ERROR, TaskStatus.CANCELLED}


def test_a_lua_table_naming_a_status_python_does_not_know_is_refused_at_import() -> None:
    with pytest.raises(ValueError, match="sleeping"):
        check_statuses({**MAY_BECOME, "sleeping": frozenset()})
    with pytest.raises(ValueError, match="no `local MAY_BECOME"):
        parse_transitions("local TERMINAL = {}")


def test_a_damaged_record_with_an_unknown_status_can_still_be_ended(redis_client: redis.Redis) -> None:
    store = ProgressStore(redis_client)
    tid = store.create_task("fetch_data", 10).task_id
    redis_client.hset(store.keys.record(tid), "status", "sleeping")

    assert store.cancel_task(tid).applied
    assert store.require(tid).status is TaskStatus.CANCELLED
