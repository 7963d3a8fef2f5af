"""Email over a real SMTP server: one connection reused, and replaced when the server drops it."""

import uuid

from aiosmtpd.controller import Controller

from services import mail
from tests.conftest import Mailbox, free_port


def settings(port):
    return mail.MailSettings(
        server="127.0.0.1",
        port=port,
        username="",
        password="",
        use_tls=False,
        sender="Career Services <careers@example.com>",
        file_dir="/nonexistent",
    )


def message(to, port):
    return mail.compose(
        settings(port), to=to, subject="Hello", text="Plain", html="<p>Rich</p>", key=to
    )


def test_a_dropped_smtp_connection_is_replaced_and_nothing_is_lost():
    port = free_port()
    first, second = Mailbox(), Mailbox()
    server = Controller(first, hostname="127.0.0.1", port=port)
    server.start()
    try:
        addresses = [f"m{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(3)]
        mail.send(settings(port), message(addresses[0], port))
        mail.send(settings(port), message(addresses[1], port))
    finally:
        server.stop()  # drops the connection the sender keeps open
    server = Controller(second, hostname="127.0.0.1", port=port)
    server.start()
    try:
        mail.send(settings(port), message(addresses[2], port))
    finally:
        mail.close_connection()
        server.stop()

    assert [m["To"] for m in first.messages] == addresses[:2]
    assert [m["To"] for m in second.messages] == addresses[2:]
