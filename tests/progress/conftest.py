"""The progress store's suite runs twice: on the session's single Redis (one bucket, as deployed by default) and on
a real three-primary Redis Cluster (four buckets spread over the primaries), started once per session by the project's
own launcher (taskrunner/redis_cluster.py, the same redis-server binary) and flushed before each test.

Tests take `backend` (or `redis_client` / `store`, which follow it) and build clients and configs through it, so the
same test body checks both deployments.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from progress import ProgressStore, StoreConfig
from progress.clients import async_client, sync_client
from taskrunner.redis_cluster import RedisCluster

CLUSTER_BUCKETS = 4


@dataclass(frozen=True)
class Backend:
    """Where a test's store lives: a URL, whether it is a cluster, and the buckets its store spreads tasks over."""

    name: str
    url: str
    cluster: bool
    buckets: int

    def client(self, *, decode: bool = True) -> Any:
        """A new synchronous client (decode=False: bytes, to write around the store)."""
        if decode:
            return sync_client(self.url, cluster=self.cluster)
        if self.cluster:
            return redis.cluster.RedisCluster.from_url(self.url)
        return redis.Redis.from_url(self.url)

    def async_client(self) -> aioredis.Redis:
        """A new asyncio client (decoded)."""
        client: Any = async_client(self.url, cluster=self.cluster)
        return client  # type: ignore[no-any-return]

    def config(self, **overrides: Any) -> StoreConfig:
        """A store configuration for this backend (its buckets) with `overrides`."""
        return StoreConfig(**{"buckets": self.buckets, **overrides})


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """Three cluster-enabled primaries sharing the slots, for the session."""
    cluster = RedisCluster(Path(tempfile.mkdtemp(prefix="taskrunner-test-cluster-"))).start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["redis", "cluster"])
def backend(request: pytest.FixtureRequest, redis_base: str) -> Backend:
    """The deployment under test, emptied first."""
    if request.param == "redis":
        client = redis.Redis.from_url(f"{redis_base}/0")
        client.flushdb()
        client.close()
        return Backend("redis", f"{redis_base}/0", False, 1)
    cluster: RedisCluster = request.getfixturevalue("redis_cluster")
    cluster.flush()
    return Backend("cluster", cluster.url, True, CLUSTER_BUCKETS)


@pytest.fixture
def redis_client(backend: Backend) -> Iterator[Any]:
    """A decoded client on the backend (a RedisCluster client on the cluster)."""
    client = backend.client()
    yield client
    client.close()


@pytest.fixture
def store(redis_client: Any, backend: Backend) -> ProgressStore:
    """A ProgressStore on the clean backend."""
    return ProgressStore(redis_client, config=backend.config())
