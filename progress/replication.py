"""Writes that must survive a failover: the script and a `WAIT` for replicas in one round trip.

Redis replication is asynchronous: a primary acknowledges a write before any replica has it, so a failover (Sentinel
promoting the replica) can lose it. With `StoreConfig.min_replicas` > 0, a task's creation and its final state are
sent as one pipeline, EVALSHA then `WAIT min_replicas timeout`: the call returns only once that many replicas
acknowledged everything the connection wrote, and raises NotReplicated when they did not in time. Routine progress
is not waited for: a lost percentage is overwritten by the next one, a lost end is not.
"""

from __future__ import annotations

from typing import Any

import redis

from progress.config import StoreConfig
from progress.errors import NotReplicated
from progress.ops import Call
from progress.status import TERMINAL

_FINAL = frozenset(s.value for s in TERMINAL)


def must_replicate(config: StoreConfig, call: Call, change: dict[str, Any] | None = None) -> bool:
    """Whether this call waits for replicas: a creation, or a change to a final status, when replicas are required."""
    if config.min_replicas <= 0:
        return False
    if call.script == "create":
        return True
    return call.script == "update" and change is not None and change.get("status") in _FINAL


def queue(pipe: Any, sha: str, call: Call, config: StoreConfig) -> None:
    """Queues the script and the WAIT on a non-transactional pipeline."""
    pipe.evalsha(sha, len(call.keys), *call.keys, *call.args)
    pipe.execute_command("WAIT", config.min_replicas, config.replica_timeout_ms)


def checked(replies: list[Any], task_id: str, config: StoreConfig) -> Any:
    """The script's reply once enough replicas have it; raises the script's error or NotReplicated."""
    reply, acked = replies
    if isinstance(reply, Exception):
        raise reply
    if isinstance(acked, Exception):
        raise acked
    if int(acked) < config.min_replicas:
        raise NotReplicated(task_id, int(acked), config.min_replicas, config.replica_timeout_ms)
    return reply


def run(client: Any, script: Any, call: Call, config: StoreConfig, task_id: str) -> Any:
    """The call and its WAIT in one round trip (two when the script must be loaded first)."""
    for _ in range(2):
        pipe = client.pipeline(transaction=False)
        queue(pipe, script.sha, call, config)
        replies = pipe.execute(raise_on_error=False)
        if isinstance(replies[0], redis.exceptions.NoScriptError):
            client.script_load(script.script)
            continue
        return checked(replies, task_id, config)
    raise RuntimeError("script could not be loaded")  # pragma: no cover


async def run_async(client: Any, script: Any, call: Call, config: StoreConfig, task_id: str) -> Any:
    """The asyncio twin of `run`."""
    for _ in range(2):
        pipe = client.pipeline(transaction=False)
        queue(pipe, script.sha, call, config)
        replies = await pipe.execute(raise_on_error=False)
        if isinstance(replies[0], redis.exceptions.NoScriptError):
            await client.script_load(script.script)
            continue
        return checked(replies, task_id, config)
    raise RuntimeError("script could not be loaded")  # pragma: no cover
