"""The Redis the command line works on (REDIS_URL, else the embedded one) and the progress store on it.

Shared by the CLI's commands and the demo, so neither imports the other.
"""

from __future__ import annotations

import os
import sys

from base.connections import location, progress_client, require_reachable
from base.settings import get_settings
from progress import ProgressStore
from taskrunner.redis_server import EmbeddedRedis
from tracking.store import store_config


def resolve_redis_url() -> str:
    """REDIS_URL when set; otherwise the embedded Redis, started if needed (and exported to child processes)."""
    settings = get_settings()
    if settings.redis_url:
        return settings.redis_url
    url, started = EmbeddedRedis(settings.home).ensure()
    if started:
        print(f"started embedded Redis at {url} (stop it with `taskrunner redis stop`)", file=sys.stderr)
    os.environ["REDIS_URL"] = url
    get_settings.cache_clear()
    return url


def open_store() -> ProgressStore:
    """The progress store on the resolved Redis (ConnectionSettingError when it is malformed or does not answer)."""
    resolve_redis_url()
    settings = get_settings()
    client = progress_client(settings)
    require_reachable(location(settings, "progress"), client)
    return ProgressStore(client, config=store_config(settings))
