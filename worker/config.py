"""The Celery configuration, built from Settings; each value sits beside the reason for it."""

from __future__ import annotations

from typing import Any

from base.connections import broker_is_amqp, celery_connection_options, redbeat_options
from base.keys import AppKeys
from base.queues import DEFAULT_QUEUE, kombu_queues, task_routes
from base.settings import Settings
from beat_schedule import celery_beat_schedule
from tracking.app_class import CELERY_PROGRESS_SETTING

TASK_MODULES = [
    "tasks.maintenance.diagnostics",
    "tasks.market.tasks",
    "tasks.analysis.tasks",
    "tasks.backtest.tasks",
    "tasks.notifications.tasks",
    "tasks.maintenance.tasks",
]


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings (new lowercase names) for these settings."""
    conn = celery_connection_options(settings)
    amqp = broker_is_amqp(settings)
    return {
        "broker_url": conn["broker_url"],
        "result_backend": conn["result_backend"],
        # A running task's state is read from its progress record, not copied into Celery at every write (a Redis
        # result backend only; tracking/result_backend.py, chosen in tracking/app_class.py).
        CELERY_PROGRESS_SETTING: settings.celery_progress,
        "include": TASK_MODULES,
        # JSON only: pickle would let anyone who can write to Redis run code in the workers.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "timezone": settings.timezone,
        "enable_utc": True,
        # Queues and routing: one queue per family, most important first.
        "task_queues": kombu_queues(),
        "task_default_queue": DEFAULT_QUEUE,
        "task_routes": task_routes(),
        "task_create_missing_queues": False,
        "broker_transport_options": {**_broker_transport_options(settings, amqp),
                                     **conn["broker_transport_options"]},
        "result_backend_transport_options": {"visibility_timeout": settings.visibility_timeout_s,
                                             **conn["result_backend_transport_options"]},
        # Garbage on a queue's list is dead-lettered and a refused delivery at maxmemory waits (tracking/transport.py).
        **broker_transport(conn["broker_url"]),
        # A result write refused (Redis restarting, or at maxmemory) is retried for about two minutes, as the
        # progress reporter retries a final write, instead of failing the task (tracking/app_class.py).
        "result_backend_always_retry": True,
        "result_backend_max_retries": 70,
        "result_backend_max_sleep_between_retries_ms": 2000,
        # Long jobs: ack after the task ran, so a lost worker's task is redelivered, not dropped...
        "task_acks_late": True,
        # ...including when the worker process itself was killed (OOM, SIGKILL).
        "task_reject_on_worker_lost": True,
        # Prefetched messages bypass priorities and sit behind a long task: take one at a time.
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": settings.soft_time_limit_s,
        "task_time_limit": settings.time_limit_s,
        # Flower builds its view from events; PROGRESS is shown only when the task sends one.
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        # With the record as the one state, a running task's state comes from its record (PROGRESS from the start):
        # Celery's backend is then written once per task, at the end. The mirror keeps Celery's STARTED.
        "task_track_started": settings.celery_progress == "mirror",
        "result_extended": True,
        "result_expires": settings.retention_s,
        "worker_hijack_root_logger": False,
        "broker_connection_retry_on_startup": True,
        # Publishing fails loudly instead of hanging when Redis is down.
        "task_publish_retry_policy": {"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5,
                                      "interval_max": 1.0},
        **beat_config(settings),
    }


def broker_transport(broker_url: str) -> dict[str, str]:
    """This project's kombu transport for a plain Redis broker (other brokers keep their own)."""
    scheme = broker_url.split("://", 1)[0].lower()
    return {"broker_transport": "tracking.transport:Transport"} if scheme in ("redis", "rediss") else {}


def _broker_transport_options(settings: Settings, amqp: bool) -> dict[str, Any]:
    """The transport's own options: Redis emulates priorities and redelivery; RabbitMQ does both itself."""
    if amqp:
        # Publisher confirms: a publish returns only once RabbitMQ has the message, or raises.
        # (Queue priorities are native there: x-max-priority on each queue, base/queues.py.)
        return {"confirm_publish": True}
    return {
        # Redis has no native priorities: kombu keeps one list per step; 0 is the highest.
        "queue_order_strategy": "priority",
        "priority_steps": list(range(10)),
        "sep": ":",
        # Must exceed the longest hard time limit, or a running acks_late task is delivered a second time.
        "visibility_timeout": settings.visibility_timeout_s,
    }


def beat_config(settings: Settings) -> dict[str, Any]:
    """Beat's settings: the schedule from beat_schedule.py, run by celery-redbeat under one Redis lock."""
    ops = settings
    keys = AppKeys(settings.namespace)
    return {
        "beat_schedule": celery_beat_schedule(fast=ops.beat_fast, sweep_every_s=ops.sweep_interval_s),
        # Schedule state and the lock live in Redis, so a second Beat started by mistake waits instead of firing.
        "beat_scheduler": "redbeat.RedBeatScheduler",
        # Celery 5.7's name for the longest sleep between ticks (also how often a standby Beat retries the lock).
        "beat_max_loop_interval": ops.beat_max_interval_s,
        # The active Beat answers `celery inspect ping -d celerybeat@HOST` while it ticks: its container healthcheck.
        "beat_enable_remote_control": True,
        # Always REDIS_URL's Redis (never an AMQP broker), its password in the options Celery censors; set explicitly
        # so redbeat never borrows the broker's URL or transport options (base/connections.py).
        **redbeat_options(settings),
        "redbeat_key_prefix": keys.beat_prefix(),
        "redbeat_lock_key": keys.beat_lock(),
        "redbeat_lock_timeout": ops.beat_lock_timeout_s,
    }
