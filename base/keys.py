"""Redis keys of everything outside the progress core (which has progress/keys.py), built only here.

Sections belong to features: market data, alerts, analysis, notifications, operations. Add new names to the
section they belong to; never format a key string anywhere else (tests pin these formats).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AppKeys:
    """Key names under one namespace (the same one the progress store uses)."""

    namespace: str = "tr"

    # --- market data ----------------------------------------------------------------------------------------
    def bars(self, symbol: str) -> str:
        """Hash date (YYYY-MM-DD) -> bar JSON of one symbol's daily bars (TTL; tasks.market.store)."""
        return f"{self.namespace}:bars:{symbol}"

    def last_price(self) -> str:
        """Hash symbol -> latest close JSON {symbol, price, date, previous_close, change_percent, updated_at}."""
        return f"{self.namespace}:last_price"

    def prices_channel(self, symbol: str) -> str:
        """Pub/Sub channel announcing a symbol's changed latest price: JSON {symbol, price, date, change_percent}."""
        return f"{self.namespace}:chan:prices:{symbol}"

    def batch(self, batch_id: str) -> str:
        """Hash of a fan-out batch's server-side counters (done, failed, total)."""
        return f"{self.namespace}:batch:{batch_id}"

    # --- alerts ---------------------------------------------------------------------------------------------
    def alerts(self) -> str:
        """Hash alert id -> alert JSON (market.AlertCondition plus user_id; tasks.market.alerts)."""
        return f"{self.namespace}:alerts"

    def alerts_fired(self) -> str:
        """Hash alert id -> JSON of when and at what price it fired (set with HSETNX: an alert fires once)."""
        return f"{self.namespace}:alerts:fired"

    # --- analysis -------------------------------------------------------------------------------------------
    def analysis(self, analysis_id: str) -> str:
        """String holding one analysis result JSON (TTL)."""
        return f"{self.namespace}:analysis:{analysis_id}"

    def analysis_index(self) -> str:
        """Sorted set of analysis ids by expiry ms (cleanup_expired_analysis)."""
        return f"{self.namespace}:analysis:index"

    def user_results_channel(self, user_id: str) -> str:
        """Pub/Sub channel announcing a user's finished analyses (the API's `analysis:<user>` topic)."""
        return self.results_channel("analysis", user_id)

    # --- notifications (seed 003) ---------------------------------------------------------------------------
    def notification(self, notification_id: str) -> str:
        """Hash of one notification."""
        return self.notification_prefix() + notification_id

    def notification_prefix(self) -> str:
        """Prefix that, with a notification id appended, names its hash (the notify Lua scripts append ids)."""
        return f"{self.namespace}:notif:"

    def user_notifications(self, user_id: str) -> str:
        """Sorted set of a user's notification ids by creation ms."""
        return f"{self.namespace}:notif:user:{user_id}"

    def user_unread(self, user_id: str) -> str:
        """Sorted set of a user's unread notification ids by creation ms."""
        return f"{self.namespace}:notif:unread:{user_id}"

    def user_channel(self, user_id: str) -> str:
        """Pub/Sub channel delivering a user's notifications to every device and API process."""
        return f"{self.namespace}:chan:user:{user_id}"

    def notification_dedup(self, key: str) -> str:
        """String marking that a notification with this idempotency key was sent (batch retries send once)."""
        return f"{self.namespace}:notif:sent:{key}"

    def user_notification_dedup(self, user_id: str, key: str) -> str:
        """String holding the id of the notification a user got for an idempotency key (scoped to the user)."""
        return f"{self.namespace}:notif:sent:{user_id}:{key}"

    def user_channel_pattern(self) -> str:
        """PSUBSCRIBE pattern matching every user's channel (one subscription per API process, not per socket)."""
        return self.user_channel("*")

    def broadcast_channel(self) -> str:
        """Pub/Sub channel of system broadcasts."""
        return f"{self.namespace}:chan:broadcast"

    # --- api (live topics) ----------------------------------------------------------------------------------
    def results_channel(self, kind: str, user_id: str) -> str:
        """Pub/Sub channel of one user's finished results of a kind (analysis | backtest)."""
        return f"{self.results_channel_prefix()}{kind}:{user_id}"

    def results_channel_prefix(self) -> str:
        """Prefix of every results channel (tells them apart from task channels under the same prefix)."""
        return f"{self.namespace}:chan:results:"

    def auth_failures_prefix(self) -> str:
        """Prefix of the API's failed-authentication counters (the `limits` package appends one key per client)."""
        return f"{self.namespace}:authfail"

    # --- operations -----------------------------------------------------------------------------------------
    def metrics(self) -> str:
        """Capped stream of system metrics samples."""
        return f"{self.namespace}:metrics"

    def dead_letters(self) -> str:
        """Capped list (newest first, with a TTL) of messages the workers could not run: tracking.dead_letters."""
        return f"{self.namespace}:dead_letters"

    def worker_deaths(self, task_id: str) -> str:
        """Counter of the worker processes that died running a task (the poison-pill limit; TTL)."""
        return f"{self.namespace}:worker_deaths:{task_id}"

    def beat_prefix(self) -> str:
        """celery-redbeat's key prefix: entries are prefix+name; redbeat itself adds ':schedule' and ':statics'."""
        return f"{self.namespace}:beat:"

    def beat_lock(self) -> str:
        """The lock that lets exactly one Beat process fire the schedule (the others wait as standbys)."""
        return f"{self.beat_prefix()}:lock"
