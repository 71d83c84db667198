"""Key formats are public (operators read them with redis-cli): pin them so they never drift."""

from __future__ import annotations

from progress.keys import Keys


def test_key_formats_are_pinned_under_the_namespace() -> None:
    # Layout 2: every name starts with its bucket's hash tag; one bucket is {tr:0}.
    k = Keys("tr")
    assert k.record("abc") == "{tr:0}:task:abc"
    assert k.events("abc") == "{tr:0}:events:abc"
    assert k.all_events() == "{tr:0}:events"
    assert k.channel("abc") == "{tr:0}:chan:abc"
    assert k.counts() == "{tr:0}:counts"
    assert k.heartbeats() == "{tr:0}:heartbeats"
    assert k.index("running") == "{tr:0}:idx:status=running"
    assert k.index("running", task_type="fetch_data", symbol="7203.T") == (
        "{tr:0}:idx:type=fetch_data:symbol=7203.T:status=running"
    )
    assert k.layout() == "{tr:meta}:layout"


def test_a_task_lives_in_the_bucket_crc32_of_its_id_names_and_all_its_keys_share_that_tag() -> None:
    import zlib

    k = Keys("tr", buckets=16)
    b = zlib.crc32(b"abc") % 16
    assert k.bucket("abc") == b
    record, events, channel, bucket = k.task_names("abc")
    assert (record, events, channel, bucket) == (f"{{tr:{b}}}:task:abc", f"{{tr:{b}}}:events:abc",
                                                 f"{{tr:{b}}}:chan:abc", b)
    assert k.counts(b).startswith(f"{{tr:{b}}}:") and k.index("running", bucket=b).startswith(f"{{tr:{b}}}:")


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
