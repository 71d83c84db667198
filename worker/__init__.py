"""The Celery app: `celery -A worker worker|beat|flower` finds `worker.app`."""

from worker.celery_app import app, load_tasks

__all__ = ["app", "load_tasks"]
