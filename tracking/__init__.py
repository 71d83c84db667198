"""The Celery integration as a library: ProgressTask and its signal handlers, for any Celery app."""
