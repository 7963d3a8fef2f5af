"""The welcome email goes web -> outbox -> Redis -> a real worker process -> real SMTP."""

import re

import pytest

from tests.conftest import flush_dispatch

pytestmark = pytest.mark.worker


def test_the_welcome_email_reaches_a_real_smtp_server(
    live_app, live_client, smtp_server, start_worker
):
    mailbox, port = smtp_server
    start_worker(mail_port=port)
    html = live_client.get("/sign-up").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)

    response = live_client.post(
        "/sign-up",
        data={
            "name": "Wren Welcome",
            "email": "wren@example.com",
            "password": "a long passphrase",
            "timezone": "Europe/London",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    flush_dispatch(live_app)

    mailbox.wait_for(lambda messages: any(m["To"] == "wren@example.com" for m in messages))
    [message] = mailbox.to("wren@example.com")
    assert message["Subject"] == "Welcome to Career Services, Wren Welcome"
    assert message.get_body(("plain",)).get_content().startswith("Hello Wren Welcome")
    html_part = message.get_body(("html",)).get_content()
    assert 'href="http://testserver/dashboard"' in html_part
