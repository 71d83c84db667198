"""Checks on the Redis clients the stores are given."""

from __future__ import annotations

from typing import Any


def require_decoded(client: Any, owner: str) -> None:
    """Refuses a client that returns bytes: every store parses replies as text."""
    if not client.get_connection_kwargs().get("decode_responses"):
        raise ValueError(f"{owner} needs a Redis client created with decode_responses=True")
