"""Publishing: the project's message priorities written in the broker's own convention.

The project speaks the Redis transport's convention everywhere (task_routes, callers' `priority=`): 0 is the
highest, 9 the lowest, and a message without a priority counts as 0. RabbitMQ's native priorities run the other
way (`x-max-priority` queues serve the LARGER number first, and no priority is the lowest), so a priority sent
unchanged to RabbitMQ would serve backtests before notifications. Celery resolves routes inside `send_task`, after
any hook a caller sees, so the translation sits at the last step before the wire: the app's task sender, which
knows the producer's transport.
"""

from __future__ import annotations

from typing import Any

from celery.app.amqp import AMQP

from base.queues import wire_priority


class TaskrunnerAMQP(AMQP):
    """Celery's AMQP helper whose task sender translates priorities for the producer's transport."""

    def _create_task_sender(self) -> Any:
        send = super()._create_task_sender()  # type: ignore[misc]  # private in the stubs, public in Celery 5

        def send_task_message(producer: Any, name: str, message: Any, *, priority: int | None = None,
                              **kwargs: Any) -> Any:
            driver = getattr(producer.connection.transport, "driver_type", "redis")
            return send(producer, name, message, priority=wire_priority(priority, amqp=driver == "amqp"), **kwargs)

        return send_task_message
