"""What the worker's kombu transport accepts as a message; the rest is dead-lettered (tracking/transport.py).

The whole path (real worker, raw LPUSHes, the worker still consuming) is tests/chaos/test_chaos_bad_days.py; this
pins the classification on its own, in `make test`.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from kombu.transport.virtual import Channel

from tracking.transport import envelope_problem

GOOD: dict[str, Any] = {
    "body": base64.b64encode(b"[[], {}, {}]").decode(), "content-type": "application/json",
    "content-encoding": "utf-8", "headers": {"id": "t-1", "task": "tasks.diagnostics.count"},
    "properties": {"delivery_tag": "tag-1", "body_encoding": "base64",
                   "delivery_info": {"exchange": "backtest", "routing_key": "backtest"}},
}


def _decode(body: str, encoding: str) -> Any:
    return Channel.codecs[encoding].decode(body)


def _without(path: str) -> dict[str, Any]:
    import copy

    msg = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    node = msg
    for p in parents:
        node = node[p]
    del node[last]
    return msg


def test_a_message_as_kombu_publishes_it_is_delivered() -> None:
    assert envelope_problem(GOOD, _decode) is None


@pytest.mark.parametrize(("payload", "reason"), [
    ([1, 2], "not a kombu message: a JSON array"),
    ("text", "not a kombu message: a JSON string"),
    (7, "not a kombu message: a JSON number"),
    (None, "not a kombu message: a JSON null"),
    (_without("properties"), "not a kombu message: no `properties` object"),
    (_without("properties.delivery_tag"), "not a kombu message: no `properties.delivery_tag`"),
    (_without("properties.delivery_info"),
     "not a kombu message: no `properties.delivery_info` with exchange and routing_key"),
    ({**GOOD, "headers": [1]}, "not a kombu message: `headers` is not an object"),
])
def test_anything_else_is_refused_with_a_reason_naming_what_is_missing(payload: Any, reason: str) -> None:
    assert envelope_problem(payload, _decode) == reason


def test_a_body_its_encoding_cannot_decode_is_refused() -> None:
    bad = {**GOOD, "body": "abc"}  # not valid base64 (its padding is wrong)
    problem = envelope_problem(bad, _decode)
    assert problem is not None and problem.startswith("body cannot be decoded as base64")
