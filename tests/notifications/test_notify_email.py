"""Email against a real local SMTP server (aiosmtpd): the sender, its error classes, and the email task.

The task tests run the task body in this process with Celery's eager `apply()` (it still goes through
ProgressTask.__call__ with a request id, retries included): the session worker was started before this module
could point it at the test SMTP server. The worker path is covered in test_notify_tasks.py.
"""

from __future__ import annotations

import email
import socket
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from notify import EmailSpec, PermanentEmailError, SmtpSettings, TemporaryEmailError, send_email
from progress import TaskStatus
from tasks.notifications.tasks import send_email_notification
from worker.store import progress_store


class Mailbox:
    """An aiosmtpd handler that keeps what it accepts and can answer DATA with prepared errors first."""

    def __init__(self) -> None:
        self.received: list[Any] = []
        self.replies: list[str] = []
        self.attempts = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.attempts += 1
        if self.replies:
            return self.replies.pop(0)
        self.received.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(e.content, policy=default_policy) for e in self.received]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[tuple[Controller, Mailbox]]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


@pytest.fixture
def mailbox(smtp_server: tuple[Controller, Mailbox]) -> Mailbox:
    box = smtp_server[1]
    box.received.clear()
    box.replies.clear()
    box.attempts = 0
    return box


@pytest.fixture
def smtp(smtp_server: tuple[Controller, Mailbox]) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=smtp_server[0].port, starttls=False, sender="alerts@example.jp")


@pytest.fixture
def smtp_env(smtp_server: tuple[Controller, Mailbox], monkeypatch: pytest.MonkeyPatch) -> None:
    """Points SmtpSettings() of this process at the test server."""
    monkeypatch.setenv("TASKRUNNER_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("TASKRUNNER_SMTP_PORT", str(smtp_server[0].port))
    monkeypatch.setenv("TASKRUNNER_SMTP_STARTTLS", "false")
    monkeypatch.setenv("TASKRUNNER_SMTP_FROM", "alerts@example.jp")


def test_an_email_reaches_the_server_with_its_subject_body_and_recipients(mailbox: Mailbox,
                                                                           smtp: SmtpSettings) -> None:
    spec = EmailSpec(to=["trader@example.jp", "risk@example.jp"], subject="トヨタ 7203: 価格アラート",
                     body="7203 closed at 3,050 JPY.\n", html="<p>7203 closed at <b>3,050</b> JPY.</p>")
    sent = send_email(spec, smtp)

    assert sent.accepted == 2 and sent.refused == {}
    [envelope] = mailbox.received
    assert sorted(envelope.rcpt_tos) == ["risk@example.jp", "trader@example.jp"]
    assert envelope.mail_from == "alerts@example.jp"
    [msg] = mailbox.messages()
    assert msg["Subject"] == "トヨタ 7203: 価格アラート"
    assert msg["Message-ID"] == sent.message_id
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None and plain.get_content().replace("\r\n", "\n") == "7203 closed at 3,050 JPY.\n"
    assert html is not None and "<b>3,050</b>" in html.get_content()


def test_smtp_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {"HOST": "smtp.example.jp", "PORT": "465", "USERNAME": "bot", "PASSWORD": "s3cret", "STARTTLS": "false",
              "SSL": "true", "FROM": "bot@example.jp", "TIMEOUT": "3.5"}
    for name, value in values.items():
        monkeypatch.setenv(f"TASKRUNNER_SMTP_{name}", value)
    s = SmtpSettings()
    assert (s.host, s.port, s.username, s.starttls, s.ssl, s.sender, s.timeout) == (
        "smtp.example.jp", 465, "bot", False, True, "bot@example.jp", 3.5)
    assert s.password is not None and s.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(s)


@pytest.mark.parametrize(("reply", "kind", "code"), [
    ("421 4.3.2 Service not available, try later", TemporaryEmailError, 421),
    ("451 4.3.0 Local error in processing", TemporaryEmailError, 451),
    ("550 5.7.1 Message rejected", PermanentEmailError, 550),
    ("554 5.6.0 Transaction failed", PermanentEmailError, 554),
])
def test_4xx_replies_are_temporary_and_5xx_replies_permanent(mailbox: Mailbox, smtp: SmtpSettings, reply: str,
                                                              kind: type[Exception], code: int) -> None:
    mailbox.replies.append(reply)
    with pytest.raises(kind) as info:
        send_email(EmailSpec(to="a@example.jp", subject="s", body="b"), smtp)
    assert getattr(info.value, "code", None) == code
    assert mailbox.received == []


def test_a_refused_connection_is_temporary() -> None:
    closed = SmtpSettings(host="127.0.0.1", port=free_port(), starttls=False, timeout=5)
    with pytest.raises(TemporaryEmailError, match="Connection"):
        send_email(EmailSpec(to="a@example.jp", subject="s", body="b"), closed)


def test_starttls_required_but_not_offered_is_a_permanent_error(mailbox: Mailbox, smtp: SmtpSettings) -> None:
    with pytest.raises(PermanentEmailError, match="STARTTLS"):
        send_email(EmailSpec(to="a@example.jp", subject="s", body="b"), smtp.model_copy(update={"starttls": True}))
    assert mailbox.received == []


def test_header_injection_in_the_subject_is_refused() -> None:
    with pytest.raises(ValueError, match="subject"):
        EmailSpec(to="a@example.jp", subject="hi\r\nBcc: victim@example.jp", body="b")


# --- the task (in-process, see the module docstring) -------------------------------------------------------------


def run_email_task(**kwargs: Any) -> tuple[Any, str]:
    task_id = str(uuid.uuid4())
    return send_email_notification.apply(kwargs=kwargs, task_id=task_id), task_id


def test_the_email_task_sends_through_the_configured_server(mailbox: Mailbox, smtp_env: None) -> None:
    result, task_id = run_email_task(to="trader@example.jp", subject="Backtest finished", body="Sharpe 1.4")

    assert result.successful(), result.result
    [msg] = mailbox.messages()
    assert msg["Subject"] == "Backtest finished" and msg["To"] == "trader@example.jp"
    assert msg.get_body(preferencelist=("plain",)).get_content().strip() == "Sharpe 1.4"  # type: ignore[union-attr]
    record = progress_store().require(task_id)
    assert record.status is TaskStatus.COMPLETED
    assert record.results["accepted"] == 1 and record.results["message_id"] == msg["Message-ID"]


def test_the_email_task_retries_after_a_421_and_the_email_arrives_once(mailbox: Mailbox, smtp_env: None) -> None:
    # Given a server that first answers 421 (temporary), then accepts
    mailbox.replies.append("421 4.3.2 Service not available, try later")

    result, task_id = run_email_task(to="trader@example.jp", subject="Daily report", body="ok")

    # Then the task retried once and the email arrived exactly once
    assert result.successful(), result.result
    assert mailbox.attempts == 2
    assert len(mailbox.received) == 1
    record = progress_store().require(task_id)
    assert record.status is TaskStatus.COMPLETED
    assert record.attempt == 2
    assert record.last_error is not None and "421" in record.last_error
    assert record.results["attempts"] == 2


def test_the_email_task_fails_at_once_on_a_permanent_5xx(mailbox: Mailbox, smtp_env: None) -> None:
    mailbox.replies.append("550 5.1.1 No such user")

    result, task_id = run_email_task(to="nobody@example.jp", subject="s", body="b")

    assert result.failed()
    assert isinstance(result.result, PermanentEmailError) and result.result.code == 550
    assert mailbox.attempts == 1 and mailbox.received == []
    record = progress_store().require(task_id)
    assert record.status is TaskStatus.ERROR and record.attempt == 1
    assert record.error_message is not None and "550" in record.error_message
