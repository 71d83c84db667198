"""Analysis results in Redis: one JSON string per analysis with a TTL, a sorted-set index by expiry for cleanup,
and an announcement on the user's results channel.

Everything runs on the progress store's Redis client (per process), so the API and every worker see the same data.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, cast

import redis

from base.keys import AppKeys
from base.settings import get_settings
from progress.lua_loader import load_lua
from worker.store import progress_store

_LUA = __name__.rpartition(".")[0]  # this module's package: its .lua files sit beside it
DEFAULT_TTL_S = 86_400  # seed 004: analysis results are cached for a day


def now_ms() -> int:
    """Epoch milliseconds now."""
    return int(time.time() * 1000)


class AnalysisResults:
    """Stores, reads and expires analysis results on one Redis client (decode_responses=True)."""

    def __init__(self, client: redis.Redis, keys: AppKeys) -> None:
        self.redis = client
        self.keys = keys
        self._save = client.register_script(load_lua(_LUA, "analysis_save.lua"))
        self._cleanup = client.register_script(load_lua(_LUA, "analysis_cleanup.lua"))

    def save(self, analysis_id: str, payload: dict[str, Any], *, expires_at_ms: int, user_id: str | None = None,
             announcement: dict[str, Any] | None = None) -> int:
        """Stores `payload` until `expires_at_ms`, indexes it, and announces it to `user_id` (one round trip).

        Returns how many subscribers received the announcement.
        """
        channel = self.keys.user_results_channel(user_id) if user_id else ""
        message = json.dumps(announcement or {}, ensure_ascii=False)
        args: list[str | int] = [analysis_id, json.dumps(payload, ensure_ascii=False), expires_at_ms, channel, message]
        return int(self._save(keys=[self.keys.analysis(analysis_id), self.keys.analysis_index()], args=args))

    def get(self, analysis_id: str) -> dict[str, Any] | None:
        """The stored result, or None once it expired or was removed."""
        raw = cast(str | None, self.redis.get(self.keys.analysis(analysis_id)))
        return None if raw is None else cast(dict[str, Any], json.loads(raw))

    def expiry_ms(self, analysis_id: str) -> int | None:
        """When the index says the result expires (None when it is not indexed)."""
        score = self.redis.zscore(self.keys.analysis_index(), analysis_id)
        return None if score is None else int(score)

    def count_expired(self, at_ms: int) -> int:
        """How many indexed results expire at or before `at_ms`."""
        return int(self.redis.zcount(self.keys.analysis_index(), "-inf", at_ms))

    def indexed(self) -> int:
        """How many results the index holds."""
        return int(self.redis.zcard(self.keys.analysis_index()))

    def remove_expired_batch(self, at_ms: int, limit: int) -> tuple[int, int]:
        """Removes up to `limit` results expired at `at_ms`; returns (ids examined, ids removed)."""
        ids = cast(list[str], self.redis.zrangebyscore(self.keys.analysis_index(), "-inf", at_ms, start=0, num=limit))
        if not ids:
            return 0, 0
        keys = [self.keys.analysis_index(), *(self.keys.analysis(i) for i in ids)]
        removed = int(self._cleanup(keys=keys, args=[at_ms, *ids]))
        return len(ids), removed


_results: AnalysisResults | None = None
_pid: int | None = None


def analysis_results() -> AnalysisResults:
    """This process's AnalysisResults on the progress store's Redis client (a forked child gets its own)."""
    global _results, _pid
    client = progress_store().redis
    if _results is None or _pid != os.getpid() or _results.redis is not client:
        _results = AnalysisResults(client, AppKeys(get_settings().namespace))
        _pid = os.getpid()
    return _results
