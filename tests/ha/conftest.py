"""A real Sentinel setup per test: a primary, its replica and three sentinels (taskrunner.sentinel_cluster), on
random loopback ports under a private directory; the tests SIGKILL the primary, so each test gets a fresh one."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from base.settings import Settings
from taskrunner.sentinel_cluster import SentinelCluster


@pytest.fixture
def cluster() -> Iterator[SentinelCluster]:
    """A started Sentinel cluster, stopped after the test."""
    cl = SentinelCluster(Path(tempfile.mkdtemp(prefix="taskrunner-ha-"))).start()
    try:
        yield cl
    finally:
        cl.stop()


def sentinel_settings(cluster: SentinelCluster, db: int = 0, **overrides: object) -> Settings:
    """Settings whose every Redis location is the cluster, found through its sentinels (whatever the session's
    environment names)."""
    url = cluster.sentinel_url(db)
    values: dict[str, object] = {"REDIS_URL": url, "progress_url": url, "broker_url": url, "result_backend": url,
                                 "sentinel_master": cluster.master_name}
    return Settings(**{**values, **overrides})
