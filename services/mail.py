"""Composing and sending email: Jinja templates, HTML with a plain-text part, optional .ics."""

from __future__ import annotations

import logging
import os
import smtplib
import threading
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import jinja2

from config import ROOT

log = logging.getLogger(__name__)

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(ROOT / "templates" / "email"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class MailSettings:
    server: str
    port: int
    username: str
    password: str
    use_tls: bool
    sender: str
    file_dir: str
    timeout: float = 15.0

    @classmethod
    def from_config(cls, config: Any) -> MailSettings:
        return cls(
            server=config["MAIL_SERVER"],
            port=int(config["MAIL_PORT"]),
            username=config["MAIL_USERNAME"],
            password=config["MAIL_PASSWORD"],
            use_tls=bool(config["MAIL_USE_TLS"]),
            sender=config["MAIL_DEFAULT_SENDER"],
            file_dir=config["MAIL_FILE_DIR"],
        )


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(template: str, **context: Any) -> Rendered:
    """Render ``email/<template>.{subject.txt,txt,html}`` with ``context``."""
    subject = _templates.get_template(f"{template}.subject.txt").render(**context)
    return Rendered(
        subject=" ".join(subject.split()),
        text=_templates.get_template(f"{template}.txt").render(**context),
        html=_templates.get_template(f"{template}.html").render(**context),
    )


def compose(
    settings: MailSettings,
    *,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    ics: str | None = None,
    key: str | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    domain = settings.sender.rpartition("@")[2].rstrip(">") or "localhost"
    # A stable Message-ID per delivery lets a receiving server spot a duplicate, should one happen.
    message["Message-ID"] = (
        f"<{uuid.uuid5(uuid.NAMESPACE_URL, key)}@{domain}>" if key else make_msgid(domain=domain)
    )
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    if ics:
        method = "CANCEL" if "METHOD:CANCEL" in ics else "REQUEST"
        message.add_attachment(
            ics.encode(),
            maintype="text",
            subtype="calendar",
            filename="invite.ics",
            params={"method": method},
        )
    return message


def send(settings: MailSettings, message: EmailMessage) -> None:
    """Send over SMTP, or into the development file sink when no MAIL_SERVER is set."""
    if not settings.server:
        directory = Path(settings.file_dir)
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{message['Message-ID'].strip('<>').replace('@', '_')}.eml"
        (directory / name).write_bytes(bytes(message))
        log.info(
            "mail to %s (%s) written to %s", message["To"], message["Subject"], directory / name
        )
        return
    smtp = _connection(settings)
    try:
        smtp.send_message(message)
    except BaseException:
        _drop_connection()  # a connection in an unknown state is never used again
        raise


class _Connection(threading.local):
    """This thread's open SMTP connection, reused from one email to the next (connecting, TLS
    and AUTH cost more than sending a small message)."""

    smtp: smtplib.SMTP | None = None
    key: tuple[Any, ...] = ()


_local = _Connection()


def _connection(settings: MailSettings) -> smtplib.SMTP:
    # The process id is part of the key: a connection is never shared across a fork.
    key = (os.getpid(), settings.server, settings.port, settings.username, settings.use_tls)
    if _local.smtp is not None and _local.key == key:
        try:
            if _local.smtp.noop()[0] == 250:  # still open: servers drop idle connections
                return _local.smtp
        except (smtplib.SMTPException, OSError):
            pass
    _drop_connection()
    smtp = smtplib.SMTP(settings.server, settings.port, timeout=settings.timeout)
    try:
        if settings.use_tls:
            smtp.starttls()
        if settings.username:
            smtp.login(settings.username, settings.password)
    except BaseException:
        smtp.close()
        raise
    _local.smtp, _local.key = smtp, key
    return smtp


def close_connection() -> None:
    """Close this thread's SMTP connection, if one is open (a worker process shutting down)."""
    _drop_connection()


def _drop_connection() -> None:
    smtp, _local.smtp, _local.key = _local.smtp, None, ()
    if smtp is None:
        return
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
