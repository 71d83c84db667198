"""A Redis Cluster of N primaries as real local processes (tests, benchmarks, trying the sharded store).

Each primary is the redis-server the project finds (`redis_server_binary`) with `--cluster-enabled yes` on a random
loopback port. The slots are split evenly with CLUSTER ADDSLOTS (which 6.2 has; ADDSLOTSRANGE is 7+), the nodes meet
through CLUSTER MEET, and `start` returns once every node reports `cluster_state:ok`. No replicas: this is for
sharding, not failover (Sentinel covers that on one primary).
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from taskrunner.redis_server import free_port, redis_server_binary, terminate, wait_for_redis

SLOTS = 16_384


@dataclass
class RedisCluster:
    """N cluster-enabled redis-server processes sharing the 16,384 slots."""

    data_dir: Path
    primaries: int = 3
    ports: list[int] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """redis:// URL of the first node (a cluster client finds the others from any one)."""
        return f"redis://127.0.0.1:{self.ports[0]}"

    @property
    def urls(self) -> list[str]:
        """Every node's redis:// URL."""
        return [f"redis://127.0.0.1:{p}" for p in self.ports]

    def start(self, *, timeout: float = 20.0) -> RedisCluster:
        """Starts the nodes, assigns the slots, joins them, and waits for `cluster_state:ok`."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for i in range(self.primaries):
            self._start_node(self.data_dir / f"node{i}")
        clients = [redis.Redis(host="127.0.0.1", port=p, decode_responses=True) for p in self.ports]
        try:
            per = SLOTS // self.primaries
            for i, client in enumerate(clients):
                last = SLOTS if i == self.primaries - 1 else (i + 1) * per
                client.execute_command("CLUSTER ADDSLOTS", *range(i * per, last))  # type: ignore[no-untyped-call]
            for client in clients[1:]:
                client.execute_command("CLUSTER MEET", "127.0.0.1", self.ports[0])  # type: ignore[no-untyped-call]
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if all(_ready(c, self.primaries) for c in clients):
                    return self
                time.sleep(0.05)
        finally:
            for client in clients:
                client.close()
        self.stop()
        raise RuntimeError(f"the Redis Cluster did not reach cluster_state:ok in {timeout:g}s; see {self.data_dir}")

    def _start_node(self, node_dir: Path) -> None:
        node_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(5):  # a port picked as free can be taken before redis binds it
            port = free_port()
            cmd = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(node_dir),
                   "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
                   "--cluster-node-timeout", "5000", "--appendonly", "no", "--save", "",
                   "--maxmemory-policy", "noeviction", "--logfile", str(node_dir / "redis.log")]
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if wait_for_redis(f"redis://127.0.0.1:{port}/0", timeout=10, process=proc):
                self.ports.append(port)
                self.processes.append(proc)
                return
            proc.terminate()
            proc.wait()
        raise RuntimeError(f"a cluster node did not start; see {node_dir / 'redis.log'}")

    def flush(self) -> None:
        """Empties every node (tests start clean)."""
        for port in self.ports:
            client = redis.Redis(host="127.0.0.1", port=port)
            try:
                client.flushall()
            finally:
                client.close()

    def stop(self) -> None:
        """Stops every node (SIGTERM, then SIGKILL after 5 s)."""
        terminate(*self.processes)
        self.processes.clear()


def _ready(client: redis.Redis, primaries: int) -> bool:
    info = client.execute_command("CLUSTER INFO")  # type: ignore[no-untyped-call]  # parsed into a dict
    if isinstance(info, str):
        info = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    return str(info.get("cluster_state")) == "ok" and int(info.get("cluster_known_nodes", 0)) >= primaries
