"""The four queues (seed 004) and how task families are routed to them."""

from __future__ import annotations

from dataclasses import dataclass

from kombu import Queue


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """A queue, its seed priority (higher is more important) and its task-name prefix."""

    name: str
    seed_priority: int
    task_prefix: str

    @property
    def default_message_priority(self) -> int:
        """Redis transport priority for its messages: 0 is the HIGHEST on Redis (the reverse of RabbitMQ)."""
        return max(0, 10 - self.seed_priority)


# Listed most important first: with queue_order_strategy="priority" a worker consuming several queues always
# takes from the first non-empty one in this order.
QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec("notifications", 10, "tasks.notifications."),
    QueueSpec("market_data", 8, "tasks.market_data."),
    QueueSpec("ai_analysis", 6, "tasks.analysis."),
    QueueSpec("backtest", 4, "tasks.backtest."),
)
QUEUE_NAMES = tuple(q.name for q in QUEUES)
#: Every queue, as `celery worker -Q` takes them.
ALL_QUEUES = ",".join(QUEUE_NAMES)
DEFAULT_QUEUE = "ai_analysis"
# Priority steps 0-9 on both transports (kombu's Redis priority lists; RabbitMQ's x-max-priority).
MAX_PRIORITY = 9


def kombu_queues() -> tuple[Queue, ...]:
    """The queues as kombu declarations (max priority 9 to match the Redis priority steps)."""
    return tuple(
        Queue(q.name, routing_key=q.name,
              queue_arguments={"x-max-priority": MAX_PRIORITY})
        for q in QUEUES
    )


def wire_priority(priority: int | None, *, amqp: bool) -> int | None:
    """A message priority in the project's convention (0 highest, none = 0) as the broker reads it.

    Redis reads ours unchanged. RabbitMQ serves the larger number first and treats none as the lowest, so each
    value is mirrored (0 -> 9): notifications are served ahead of backtests on both.
    """
    if not amqp:
        return priority
    return MAX_PRIORITY - min(max(priority or 0, 0), MAX_PRIORITY)


def task_routes() -> dict[str, dict[str, object]]:
    """Celery's task_routes: every task of a family goes to its queue with that queue's default priority."""
    return {f"{q.task_prefix}*": {"queue": q.name, "priority": q.default_message_priority} for q in QUEUES}


def queue_for(task_name: str) -> str:
    """The queue a task name is routed to."""
    for q in QUEUES:
        if task_name.startswith(q.task_prefix):
            return q.name
    return DEFAULT_QUEUE
