"""Small helpers shared by the tests."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], *, timeout: float = 20.0, interval: float = 0.05, what: str = "") -> T:
    """Polls `predicate` until it returns something truthy; fails the test with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


def written_keys(client: Any) -> set[str]:
    """The keys in `client`'s database other than the store's layout marker (written by the first store that answers;
    see progress/layout.py): what a call wrote."""
    from progress.keys import Keys

    return {k for k in client.scan_iter() if k != Keys().layout()}


def script_replies(store: Any) -> list[str]:
    """The first element of each script reply `store` gets from now on ('keys' when a move lacked its keys), through
    either of its paths: `_hot` (the held connection of ProgressStore.write) and `_call` (plans)."""
    replies: list[str] = []
    depth = [0]  # `_hot` may hand its call to `_call`: a reply is counted once, by the outermost

    def counting(call: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def counted(c: Any) -> Any:
            depth[0] += 1
            try:
                reply = call(c)
            finally:
                depth[0] -= 1
            if depth[0] == 0:
                replies.append(str(reply[0]))
            return reply
        return counted

    for name in ("_call", "_hot"):
        if hasattr(store, name):
            setattr(store, name, counting(getattr(store, name)))
    return replies


@contextmanager
def commands_on(url: str, key: str | bytes) -> Iterator[list[str]]:
    """The names of the commands (upper case, in order) any client sends the Redis at `url` naming `key` while the
    block runs, as Redis's MONITOR reports them."""
    import redis

    key = key.decode() if isinstance(key, bytes) else key

    seen: list[str] = []
    client = redis.Redis.from_url(url)
    marker = f"commands-on-done-{uuid.uuid4()}"
    ready = threading.Event()

    def watch() -> None:
        with client.monitor() as m:  # entered once Redis has answered OK
            ready.set()
            while marker not in (command := m.next_command()["command"]):
                if key in command:
                    seen.append(command.split(" ", 1)[0].upper())

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    assert ready.wait(5), "MONITOR did not start"  # set once Redis answered MONITOR's OK: from then on all is seen
    try:
        yield seen
    finally:
        # MONITOR reports in the server's order: once the marker is seen, so is everything sent before it.
        client.echo(marker)
        thread.join(5)
        client.close()
