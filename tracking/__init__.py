"""The Celery integration as a library: tracked tasks for any Celery app, in two lines.

    from tracking import ProgressTask, install
    install(app)                      # then: @app.task(base=ProgressTask, bind=True) ... self.progress.update(i)

Importing this package creates no Celery app and connects nothing: `install(app)` connects the signal handlers,
and they act only for the apps tracking was installed on.
"""

from tracking.app_class import BrokerOutOfMemory, TrackedCelery
from tracking.errors import InvalidTaskArguments, TransientError
from tracking.install import install
from tracking.registry import Tracking, tracking_of
from tracking.task import ProgressTask

__all__ = ["BrokerOutOfMemory", "InvalidTaskArguments", "ProgressTask", "TrackedCelery", "Tracking", "TransientError",
           "install", "tracking_of"]
