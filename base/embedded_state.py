"""Where the embedded Redis of a project folder records itself, so every process in that folder can find it."""

from __future__ import annotations

import json
from pathlib import Path


def redis_dir(home: Path) -> Path:
    """The embedded Redis's data folder under the project's data folder (TASKRUNNER_HOME)."""
    return home.resolve() / "redis"


def state_file(home: Path) -> Path:
    """The file naming the running embedded server (written at start, removed at stop)."""
    return redis_dir(home) / "server.json"


def recorded_url(home: Path) -> str | None:
    """The URL the embedded server was started on, if one is recorded (it may have died since)."""
    try:
        info = json.loads(state_file(home).read_text())
    except (OSError, ValueError):
        return None
    url = info.get("url") if isinstance(info, dict) else None
    return url if isinstance(url, str) and url else None
