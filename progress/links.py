"""Links between task records written after their creation: the retry that replaced a task (`retried_as`)."""

from __future__ import annotations

from typing import Any

from progress import scripts
from progress.keys import Keys
from progress.ops import Call

#: The record field naming the task that retried this one (the retry's metadata names this one as `retry_of`).
RETRIED_AS = "retried_as"


def retried_as_call(keys: Keys, original: str, retry: str) -> Call:
    """The link.lua call recording on `original` that `retry` replaced it."""
    return Call("link", [keys.record(original)], [RETRIED_AS, retry])


def run_link(client: Any, call: Call) -> Any:
    """Runs a link call on a sync client (or returns the awaitable on an asyncio one); 1 when the record exists."""
    return client.register_script(scripts.source(call.script))(keys=call.keys, args=call.args)
