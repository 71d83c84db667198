"""Key formats are public (operators read them with redis-cli): pin them so they never drift."""

from __future__ import annotations

from progress.keys import Keys


def test_key_formats_are_pinned_under_the_namespace() -> None:
    k = Keys("tr")
    assert k.record("abc") == "tr:task:abc"
    assert k.events("abc") == "tr:events:abc"
    assert k.all_events() == "tr:events"
    assert k.channel("abc") == "tr:chan:abc"
    assert k.counts() == "tr:counts"
    assert k.ended() == "tr:ended"
    assert k.heartbeats() == "tr:heartbeats"
    assert k.index() == "tr:idx"
    assert k.index(task_type="fetch_data", symbol="7203.T", status="running") == (
        "tr:idx:type=fetch_data:symbol=7203.T:status=running"
    )


def test_status_prefixes_plus_a_status_name_the_same_keys_as_index() -> None:
    k = Keys("ns")
    prefixes = k.status_prefixes("fetch_data", "7203.T")
    expected = {
        k.index(status="paused"),
        k.index(task_type="fetch_data", status="paused"),
        k.index(symbol="7203.T", status="paused"),
        k.index(task_type="fetch_data", symbol="7203.T", status="paused"),
    }
    assert {p + "paused" for p in prefixes} == expected


def test_a_task_without_symbol_joins_only_the_indexes_without_symbol() -> None:
    k = Keys()
    assert k.static_indexes("backtest", None) == [k.index(), k.index(task_type="backtest")]
