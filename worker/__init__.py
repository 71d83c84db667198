"""The Celery app: `celery -A worker worker|beat|flower` finds `worker.app`."""

from worker.celery_app import app

__all__ = ["app"]
