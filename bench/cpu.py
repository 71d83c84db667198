"""CPU time of processes (Linux /proc) and of Redis servers (INFO cpu): what a scenario's work costs each part
(worker, publisher, Redis), since on a busy 2-core machine a rate alone cannot say where the time went."""

from __future__ import annotations

import os
from pathlib import Path

import redis

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # the fields after the command name (which may hold spaces)


def process_tree(pid: int) -> list[int]:
    """The process and all its descendants (a prefork worker's pool children included)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU seconds the processes used so far (those gone count nothing)."""
    total = 0
    for pid in pids:
        if (fields := _stat(pid)) is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of /proc/PID/stat)
    return total / _TICK


def redis_cpu_seconds(urls: list[str]) -> float:
    """User plus system CPU seconds the Redis servers at `urls` used so far, as each reports it (INFO cpu)."""
    total = 0.0
    for url in urls:
        client = redis.Redis.from_url(url)
        try:
            info = client.info("cpu")
        finally:
            client.close()
        total += float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return total
