"""The bench's CPU accounting (bench/cpu.py) counts a process tree's work, children included, from /proc."""

from __future__ import annotations

import subprocess
import sys

import pytest
import redis

from bench.cpu import cpu_seconds, process_tree, redis_cpu_seconds
from tests.helpers import wait_until

# A parent that only waits, and a child that does a fixed amount of work, then says so and sleeps.
_PARENT = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "sum(range(30_000_000)); print('done', flush=True); "
                          "import time; time.sleep(60)"], stdout=sys.stdout)
child.wait()
"""


def test_a_process_trees_cpu_is_its_childrens_work_and_the_parent_alone_has_next_to_none() -> None:
    parent = subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "done"
        tree = wait_until(lambda: t if len(t := process_tree(parent.pid)) == 2 else None, what="the child")
        child = [p for p in tree if p != parent.pid]
        # The child's sum is hundreds of milliseconds of CPU; the waiting parent's start-up is a fraction of it.
        assert cpu_seconds(tree) == pytest.approx(cpu_seconds([parent.pid]) + cpu_seconds(child))
        assert cpu_seconds(child) > cpu_seconds([parent.pid])
    finally:
        for pid in process_tree(parent.pid)[::-1]:
            subprocess.run(["kill", str(pid)], check=False)
        parent.wait(10)


def test_a_gone_process_counts_nothing_and_a_redis_servers_cpu_grows_with_its_work(redis_base: str) -> None:
    assert cpu_seconds([2**22 + 1]) == 0.0  # above the kernel's pid limit: never a live process
    url = f"{redis_base}/0"
    before = redis_cpu_seconds([url])
    client = redis.Redis.from_url(url)
    client.eval("for i = 1, 3000000 do end", 0)  # tens of milliseconds of the server's own CPU
    client.close()
    assert redis_cpu_seconds([url]) > before
