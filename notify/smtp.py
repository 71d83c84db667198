"""Email through SMTP (smtplib): settings from TASKRUNNER_SMTP_*, and a sender that says whether to retry."""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from notify.errors import EmailError, EmailNotConfigured, PermanentEmailError, TemporaryEmailError

# Deliberately loose (RFC 5322 allows far more); it rejects what would break the headers: spaces, commas, CR/LF.
ADDRESS_PATTERN = r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$"
Address = Annotated[str, Field(pattern=ADDRESS_PATTERN, max_length=254)]
HeaderText = Annotated[str, Field(min_length=1, max_length=998, pattern=r"^[^\r\n]*$")]


class SmtpSettings(BaseSettings):
    """How to reach the SMTP server; read from the environment each time a task sends (TASKRUNNER_SMTP_*)."""

    model_config = SettingsConfigDict(env_prefix="TASKRUNNER_SMTP_", extra="ignore", populate_by_name=True)

    host: str | None = Field(default=None, description="SMTP server; unset: email is not configured")
    port: int = Field(default=587, ge=1, le=65_535, description="587 submission (STARTTLS), 465 with ssl")
    username: str | None = Field(default=None, description="login name; unset: no AUTH")
    password: SecretStr | None = Field(default=None, description="login password (never logged)")
    starttls: bool = Field(default=True, description="upgrade to TLS after connecting (ignored with ssl)")
    ssl: bool = Field(default=False, description="implicit TLS from the first byte (port 465)")
    sender: Address = Field(
        default="taskrunner@localhost",
        validation_alias=AliasChoices("TASKRUNNER_SMTP_FROM", "sender"),
        description="From address",
    )
    timeout: float = Field(default=10.0, gt=0, le=300, description="seconds per connect / command")

    @property
    def configured(self) -> bool:
        """Whether a host is set."""
        return bool(self.host)


class EmailSpec(BaseModel):
    """One email to send: recipients, subject, plain-text body and an optional HTML alternative."""

    model_config = ConfigDict(extra="forbid")

    to: list[Address] = Field(min_length=1, max_length=50)
    subject: HeaderText
    body: str = Field(max_length=1_000_000)
    html: str | None = Field(default=None, max_length=2_000_000)
    reply_to: Address | None = None

    @field_validator("to", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class SentEmail(BaseModel):
    """What the server accepted."""

    message_id: str
    accepted: int = Field(description="recipients the server accepted")
    refused: dict[str, str] = Field(default_factory=dict, description="recipients refused, with the server's reply")


def build_message(spec: EmailSpec, sender: str) -> EmailMessage:
    """The MIME message for `spec` (plain text, with an HTML alternative when given)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(spec.to)
    msg["Subject"] = spec.subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    if spec.reply_to:
        msg["Reply-To"] = spec.reply_to
    msg.set_content(spec.body)
    if spec.html is not None:
        msg.add_alternative(spec.html, subtype="html")
    return msg


def send_email(spec: EmailSpec, settings: SmtpSettings | None = None) -> SentEmail:
    """Sends one email; raises TemporaryEmailError (retry later) or PermanentEmailError (do not)."""
    settings = settings or SmtpSettings()
    if not settings.host:
        raise EmailNotConfigured("SMTP is not configured (set TASKRUNNER_SMTP_HOST)")
    msg = build_message(spec, settings.sender)
    try:
        client = _connect(settings)
        try:
            if settings.starttls and not settings.ssl:
                client.starttls(context=ssl.create_default_context())
            if settings.username:
                client.login(settings.username, settings.password.get_secret_value() if settings.password else "")
            refused = client.send_message(msg)
        finally:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                client.quit()
    except EmailError:
        raise
    except Exception as exc:
        raise classify(exc) from exc
    return SentEmail(
        message_id=str(msg["Message-ID"]),
        accepted=len(spec.to) - len(refused),
        refused={addr: f"{code} {_text(reply)}" for addr, (code, reply) in refused.items()},
    )


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    host = settings.host or ""
    if settings.ssl:
        return smtplib.SMTP_SSL(host, settings.port, timeout=settings.timeout, context=ssl.create_default_context())
    return smtplib.SMTP(host, settings.port, timeout=settings.timeout)


def classify(exc: BaseException) -> EmailError:
    """Whether an smtplib / socket failure is worth retrying (4xx, network) or not (5xx, TLS, configuration)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{a}: {c} {_text(r)}" for a, (c, r) in exc.recipients.items())
        kind = TemporaryEmailError if codes and all(400 <= c < 500 for c in codes) else PermanentEmailError
        return kind(f"all recipients refused: {detail}", min(codes) if codes else None)
    if isinstance(exc, smtplib.SMTPResponseException):
        code = int(exc.smtp_code)
        kind = TemporaryEmailError if 400 <= code < 500 else PermanentEmailError
        return kind(f"SMTP {code}: {_text(exc.smtp_error)}", code)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TemporaryEmailError(f"{type(exc).__name__}: {exc}")
    # smtplib's own errors are OSErrors too: those left (no STARTTLS or AUTH offered...) are configuration errors.
    if isinstance(exc, smtplib.SMTPException | ssl.SSLCertVerificationError):
        return PermanentEmailError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, OSError):
        # Connection refused or reset, DNS hiccups and timeouts (TimeoutError is an OSError).
        return TemporaryEmailError(f"{type(exc).__name__}: {exc}")
    return PermanentEmailError(f"{type(exc).__name__}: {exc}")


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
