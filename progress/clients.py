"""The Redis clients the stores run on: checks, Cluster or not, and how events are published on them."""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster

from progress.ops import PUBLISH, SPUBLISH


def require_decoded(client: Any, owner: str) -> None:
    """Refuses a client that returns bytes: every store parses replies as text."""
    if not client.get_connection_kwargs().get("decode_responses"):
        raise ValueError(f"{owner} needs a Redis client created with decode_responses=True")


def is_cluster(client: Any) -> bool:
    """Whether `client` is a Redis Cluster client (sync or asyncio)."""
    return isinstance(client, RedisCluster | AsyncRedisCluster)


def check_replication(client: Any, min_replicas: int) -> None:
    """Refuses `min_replicas` on a cluster client: WAIT must follow the script on the same node's connection, which
    redis-py's cluster pipelines do not offer (they refuse EVALSHA)."""
    if min_replicas > 0 and is_cluster(client):
        raise ValueError("min_replicas (TASKRUNNER_REDIS_MIN_REPLICAS) is not supported on a Redis Cluster client: "
                         "set it to 0, or use one primary with Sentinel")


def sync_client(url: str, *, cluster: bool = False, **options: Any) -> redis.Redis | RedisCluster:
    """A decoded client for `url`: a RedisCluster (any node's address finds the others) when `cluster`."""
    if cluster:
        return RedisCluster.from_url(url, decode_responses=True, **options)
    return redis.Redis.from_url(url, decode_responses=True, **options)


def async_client(url: str, *, cluster: bool = False, **options: Any) -> aioredis.Redis | AsyncRedisCluster:
    """The asyncio twin of `sync_client`."""
    if cluster:
        return AsyncRedisCluster.from_url(url, decode_responses=True, **options)
    return aioredis.Redis.from_url(url, decode_responses=True, **options)


def publish_command(cluster: bool, version: str) -> str:
    """SPUBLISH on a cluster whose servers have shard channels (Redis 7+): each message stays on the shard of its
    task's bucket instead of crossing the whole cluster bus. Plain PUBLISH elsewhere: on one server shard channels
    buy nothing, and subscribers there (the API's hub) listen by pattern, which shard channels do not offer."""
    major = int((version or "0").split(".", 1)[0] or 0)
    return SPUBLISH if cluster and major >= 7 else PUBLISH


def server_version(info: Any) -> str:
    """The redis_version of an INFO server reply (a cluster client's, per node or merged, alike)."""
    if isinstance(info, dict) and "redis_version" not in info and info:
        info = next(iter(info.values()))  # a cluster client answers per node
    return str(info.get("redis_version", "0")) if isinstance(info, dict) else "0"


def detect_publish(client: Any) -> str:
    """How to publish on this client, asked once (a Cluster client only: one INFO server)."""
    if not is_cluster(client):
        return PUBLISH
    return publish_command(True, server_version(client.info("server")))


async def detect_publish_async(client: Any) -> str:
    """The asyncio twin of `detect_publish`."""
    if not is_cluster(client):
        return PUBLISH
    return publish_command(True, server_version(await client.info("server")))
