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
    assert k.heartbeats() == "tr:heartbeats"
    assert k.index("running") == "tr:idx:status=running"
    assert k.index("running", task_type="fetch_data", symbol="7203.T") == (
        "tr:idx:type=fetch_data:symbol=7203.T:status=running"
    )


def test_status_prefixes_plus_a_status_name_the_same_keys_as_index() -> None:
    k = Keys("ns")
    prefixes = k.status_prefixes("fetch_data", "7203.T")
    expected = {
        k.index("paused"),
        k.index("paused", task_type="fetch_data"),
        k.index("paused", symbol="7203.T"),
        k.index("paused", task_type="fetch_data", symbol="7203.T"),
    }
    assert {p + "paused" for p in prefixes} == expected


def test_a_task_without_symbol_joins_only_the_indexes_without_symbol() -> None:
    k = Keys()
    assert [p + "error" for p in k.status_prefixes("backtest", None)] == [
        k.index("error"), k.index("error", task_type="backtest")
    ]
