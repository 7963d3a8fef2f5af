"""Composing and sending email: Jinja templates, HTML with a plain-text part, optional .ics."""

from __future__ import annotations

import io
import logging
import os
import select
import smtplib
import threading
import time
import uuid
from dataclasses import dataclass
from email.generator import BytesGenerator
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr, formatdate, getaddresses, make_msgid, parseaddr
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


_PARTS = ("subject.txt", "txt", "html")


def require_template(template: str) -> None:
    """Raise ``jinja2.TemplateNotFound`` unless ``email/<template>`` has all three parts (a
    subject, a plain-text body and an HTML body), and a syntax error if one does not parse."""
    for part in _PARTS:
        _templates.get_template(f"{template}.{part}")


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
) -> Message:
    """The email: a plain-text part, an HTML alternative, an optional .ics attachment."""
    domain = settings.sender.rpartition("@")[2].rstrip(">") or "localhost"
    # A stable Message-ID per delivery lets a receiving server spot a duplicate, should one happen.
    message_id = (
        f"<{uuid.uuid5(uuid.NAMESPACE_URL, key)}@{domain}>" if key else make_msgid(domain=domain)
    )
    sender_name, sender_address = parseaddr(settings.sender)
    if not (to.isascii() and sender_address.isascii()):
        # An internationalised address needs SMTPUTF8, which the modern API handles.
        return _compose_modern(settings, to, subject, text, html, ics, message_id)
    # The same MIME structure as EmailMessage builds, with the compat32 classes: they skip the
    # header parsing of the modern API, about 0.6 ms of CPU per email (most of composing).
    body: Message = MIMEText(text, "plain", "utf-8")
    if html:
        alternative = MIMEMultipart("alternative")
        alternative.attach(body)
        alternative.attach(MIMEText(html, "html", "utf-8"))
        body = alternative
    if ics:
        mixed = MIMEMultipart("mixed")
        mixed.attach(body)
        mixed.attach(_calendar_part(ics))
        body = mixed
    body["From"] = formataddr((sender_name, sender_address), charset="utf-8")
    body["To"] = to
    body["Subject"] = (
        subject if subject.isascii() else Header(subject, "utf-8", header_name="Subject").encode()
    )
    body["Date"] = formatdate(localtime=False)
    body["Message-ID"] = message_id
    return body


def _calendar_part(ics: str) -> Message:
    method = "CANCEL" if "METHOD:CANCEL" in ics else "REQUEST"
    part = MIMEText(ics, "calendar", "utf-8")
    part.set_param("method", method)
    part.add_header("Content-Disposition", "attachment", filename="invite.ics")
    return part


def _compose_modern(
    settings: MailSettings,
    to: str,
    subject: str,
    text: str,
    html: str | None,
    ics: str | None,
    message_id: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
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


def send(settings: MailSettings, message: Message) -> None:
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
    modern = isinstance(message, EmailMessage)  # an internationalised address: SMTPUTF8
    if not modern:
        # The envelope is known and the compat32 message flattens as it is: sendmail skips the
        # copying and address parsing of send_message.
        envelope_from = parseaddr(settings.sender)[1]
        envelope_to = [address for _, address in getaddresses(message.get_all("To", []))]
        data = _flatten(message)
    smtp = _connection(settings)
    try:
        if modern:
            smtp.send_message(message)
        else:
            smtp.sendmail(envelope_from, envelope_to, data)
    except BaseException:
        _drop_connection()  # a connection in an unknown state is never used again
        raise


def _flatten(message: Message) -> bytes:
    out = io.BytesIO()
    BytesGenerator(out, policy=compat32.clone(linesep="\r\n")).flatten(message)
    return out.getvalue()


class _Connection(threading.local):
    """This thread's open SMTP connection, reused from one email to the next (connecting, TLS
    and AUTH cost more than sending a small message)."""

    smtp: smtplib.SMTP | None = None
    key: tuple[Any, ...] = ()
    used_at: float = 0.0


_local = _Connection()

# A connection idle longer than this is probed with NOOP before use; a fresher one only gets the
# free check below. Servers wait minutes before dropping an idle client (RFC 5321 4.5.3.2.7).
_PROBE_AFTER_IDLE_SECONDS = 30.0


def _closed_by_server(smtp: smtplib.SMTP) -> bool:
    """Whether the server has closed (or is closing: 421) the connection, without a round trip:
    an idle SMTP connection has nothing to read unless the server hung up."""
    sock = smtp.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _usable(smtp: smtplib.SMTP) -> bool:
    if _closed_by_server(smtp):
        return False
    if time.monotonic() - _local.used_at < _PROBE_AFTER_IDLE_SECONDS:
        return True
    try:
        return bool(smtp.noop()[0] == 250)
    except (smtplib.SMTPException, OSError):
        return False


def _connection(settings: MailSettings) -> smtplib.SMTP:
    # The process id is part of the key: a connection is never shared across a fork.
    key = (os.getpid(), settings.server, settings.port, settings.username, settings.use_tls)
    if _local.smtp is not None and _local.key == key and _usable(_local.smtp):
        _local.used_at = time.monotonic()
        return _local.smtp
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
    _local.smtp, _local.key, _local.used_at = smtp, key, time.monotonic()
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
