"""The notification settings: backoff, the limits that must nest, the scheduler, the email parts."""

from email import message_from_bytes, policy
from email.message import EmailMessage

import icalendar
import pytest

import config
from services import mail
from services.notifications import RetryPolicy


def test_the_backoff_grows_exponentially_with_jitter_and_a_cap():
    policy = RetryPolicy(base_seconds=2, max_seconds=60, max_attempts=8)

    for attempt, ceiling in [(1, 2), (2, 4), (3, 8), (4, 16), (5, 32), (6, 60), (9, 60)]:
        delays = {policy.delay(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (attempt, delays)
        assert len(delays) > 1  # jittered: concurrent retries spread out


def test_the_defaults_nest_redelivery_outside_every_run_and_every_retry():
    settings = config.load({"SECRET_KEY": "k"})
    celery = config.celery_settings(settings)
    visibility = celery["broker_transport_options"]["visibility_timeout"]

    assert celery["task_soft_time_limit"] < celery["task_time_limit"] < visibility
    assert settings["NOTIFY_RETRY_MAX_SECONDS"] < visibility
    assert settings["NOTIFY_STUCK_AFTER_SECONDS"] > celery["task_time_limit"]
    assert celery["task_routes"]["notifications.*"]["queue"] == "notifications"
    assert celery["task_routes"]["resumes.*"]["queue"] == "heavy"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TASK_SOFT_TIME_LIMIT_SECONDS": "300"}, "SOFT"),
        ({"BROKER_VISIBILITY_TIMEOUT_SECONDS": "200"}, "VISIBILITY"),
        ({"NOTIFY_RETRY_MAX_SECONDS": "7200"}, "RETRY_MAX"),
        ({"NOTIFY_STUCK_AFTER_SECONDS": "100"}, "STUCK"),
        ({"NOTIFY_MAX_ATTEMPTS": "0"}, "ATTEMPTS"),
    ],
)
def test_settings_that_would_redeliver_a_running_task_are_refused(env, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load({"SECRET_KEY": "k", **env})


def test_the_settings_reach_celery():
    settings = config.load(
        {
            "SECRET_KEY": "k",
            "TASK_SOFT_TIME_LIMIT_SECONDS": "4",
            "TASK_TIME_LIMIT_SECONDS": "5",
            "BROKER_VISIBILITY_TIMEOUT_SECONDS": "60",
            "NOTIFY_RETRY_MAX_SECONDS": "30",
            "NOTIFY_STUCK_AFTER_SECONDS": "6",
        }
    )
    celery = config.celery_settings(settings)

    assert (celery["task_soft_time_limit"], celery["task_time_limit"]) == (4, 5)
    assert celery["broker_transport_options"]["visibility_timeout"] == 60


def test_the_scheduler_runs_the_relay_and_the_sweep_at_the_configured_intervals():
    from workers.app import beat_schedule

    schedule = beat_schedule(
        {
            "OUTBOX_RELAY_INTERVAL_SECONDS": 0.5,
            "NOTIFY_SWEEP_INTERVAL_SECONDS": 7,
            "RESUME_SCAN_INTERVAL_SECONDS": 2,
        }
    )

    assert schedule["outbox-relay"]["task"] == "outbox.relay"
    assert schedule["outbox-relay"]["schedule"] == 0.5
    assert schedule["notifications-sweep"]["task"] == "notifications.sweep"
    assert schedule["notifications-sweep"]["schedule"] == 7
    # A run that waited past the next one expires unrun: the next run scans the same rows.
    assert schedule["notifications-sweep"]["options"]["expires"] == 7
    # Each copy names its entry and the beat's interval: workers run it once per period.
    assert schedule["notifications-sweep"]["options"]["headers"] == {
        "periodic": "notifications-sweep",
        "period_seconds": 7.0,
    }
    assert schedule["resumes-scan-due"]["schedule"] == 2
    assert schedule["resumes-drain"]["schedule"] == 30.0  # not one of the scan's entries


def test_an_email_has_a_plain_part_an_html_alternative_and_an_ics_attachment():
    settings = mail.MailSettings(
        server="",
        port=25,
        username="",
        password="",
        use_tls=False,
        sender="Career Services <careers@example.com>",
        file_dir="/nonexistent",
    )
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//test//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = icalendar.Event()
    event.add("uid", "booking-1@example.com")
    event.add("summary", "Mock interview")
    calendar.add_component(event)

    message = mail.compose(
        settings,
        to="lin@example.com",
        subject="Booked",
        text="Plain words",
        html="<p>Rich words</p>",
        ics=calendar.to_ical().decode(),
        key="event:1:booking_confirmed:user:2:email",
    )
    again = mail.compose(
        settings,
        to="lin@example.com",
        subject="Booked",
        text="x",
        key="event:1:booking_confirmed:user:2:email",
    )
    parsed = message_from_bytes(bytes(message), policy=policy.default)

    assert parsed.get_body(("plain",)).get_content().strip() == "Plain words"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>Rich words</p>"
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "REQUEST"
    assert attachment.get_filename() == "invite.ics"
    parsed_calendar = icalendar.Calendar.from_ical(attachment.get_content())
    assert parsed_calendar.walk("VEVENT")[0]["SUMMARY"] == "Mock interview"
    # The same delivery always has the same Message-ID, so a receiver can spot a duplicate.
    assert message["Message-ID"] == again["Message-ID"]


def test_non_ascii_subjects_senders_and_addresses_survive_the_trip():
    settings = mail.MailSettings(
        server="",
        port=25,
        username="",
        password="",
        use_tls=False,
        sender="Carrière Services <careers@example.com>",
        file_dir="/nonexistent",
    )
    subject = "Résumé reviewed — “changes suggested” ✓"
    message = mail.compose(
        settings, to="lin@example.com", subject=subject, text="Voilà: ça marche.", html=None
    )
    parsed = message_from_bytes(mail._flatten(message), policy=policy.default)

    assert parsed["Subject"] == subject
    assert parsed["From"].addresses[0].display_name == "Carrière Services"
    assert parsed["From"].addresses[0].addr_spec == "careers@example.com"
    assert parsed.get_body(("plain",)).get_content().strip() == "Voilà: ça marche."
    assert all(line.isascii() for line in mail._flatten(message).splitlines()[:12])

    # An internationalised address takes the SMTPUTF8-capable path and keeps the same shape.
    intl = mail.compose(settings, to="lïn@exämple.com", subject=subject, text="Hallo")
    assert isinstance(intl, EmailMessage)
    assert intl["To"].addresses[0].addr_spec == "lïn@exämple.com"
    assert intl["Subject"] == subject
    assert "lïn@exämple.com".encode() in intl.as_bytes(policy=policy.SMTPUTF8)
