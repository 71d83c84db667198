"""taskrunner: settings, the embedded Redis and the command line around the progress core and the Celery app."""
