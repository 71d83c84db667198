"""Exceptions of the notification package (no Celery here: the tasks map them to retry or failure)."""

from __future__ import annotations


class NotifyError(Exception):
    """Base of the notification errors."""


class EmailError(NotifyError):
    """Sending an email failed; `code` is the SMTP reply code when the server gave one."""

    def __init__(self, message: str, code: int | None = None) -> None:
        # Both in args, so Celery can rebuild the exception from its serialised form.
        super().__init__(message, code)
        self.code = code

    def __str__(self) -> str:
        return str(self.args[0])


class TemporaryEmailError(EmailError):
    """Worth retrying later: SMTP 4xx, connection refused or reset, timeouts."""


class PermanentEmailError(EmailError):
    """Retrying will not help: SMTP 5xx, TLS or authentication misconfiguration."""


class EmailNotConfigured(PermanentEmailError):
    """No SMTP host is configured (TASKRUNNER_SMTP_HOST)."""
