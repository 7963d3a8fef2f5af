"""The notification centre in a real browser: the badge, mark read by keyboard, preferences."""

import re

from playwright.sync_api import expect
from sqlalchemy import select

from services.db import db
from services.models import Notification, User


def notify(app, email, titles):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        for title in titles:
            db.session.add(
                Notification(
                    user_id=user.id,
                    kind="booking_confirmed",
                    title=title,
                    body="Your mock interview is booked.",
                    link="/dashboard",
                    dedupe_key=f"e2e:{title}",
                )
            )
        db.session.commit()
        db.session.remove()


def unread_count(app, email: str) -> int:
    from sqlalchemy import func, select

    from services.db import db
    from services.models import Notification, User

    with app.app_context():
        count = db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .join(User, User.id == Notification.user_id)
            .where(User.email == email, Notification.read_at.is_(None))
        )
        db.session.remove()
    return int(count or 0)


def test_the_notification_centre_badge_mark_read_and_preferences(page, server_app):
    notify(
        server_app,
        "learner.omar@example.com",
        ["Session booked: Tuesday", "Session booked: Friday"],
    )

    page.goto("/sign-in")
    page.get_by_label("Email").fill("learner.omar@example.com")
    page.get_by_label("Password").fill("learner-demo-pass")
    page.get_by_role("button", name="Sign in").click()

    # The two above, and any the shared server's earlier journeys left Omar.
    unread = unread_count(server_app, "learner.omar@example.com")
    assert unread >= 2
    nav = page.get_by_role("navigation", name="Main")
    link = nav.get_by_role("link", name=re.compile(rf"^Notifications {unread} unread$"))
    expect(link).to_be_visible()
    link.click()
    expect(page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("Session booked: Friday"))).to_be_visible()

    # Keyboard only: focus the first "Mark as read" button and press Enter.
    button = page.get_by_role("button", name=re.compile(r"^Mark as read\W+Session booked: Friday"))
    button.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Marked as read.")).to_be_visible()
    expect(nav.get_by_role("link", name=f"Notifications {unread - 1} unread")).to_be_visible()

    page.get_by_role("button", name="Mark all as read").click()
    left = unread - 1
    expect(
        page.get_by_text(f"Marked {left} notification{'' if left == 1 else 's'} as read.")
    ).to_be_visible()
    expect(nav.get_by_role("link", name="Notifications", exact=True)).to_be_visible()

    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    page.get_by_role("link", name="Email preferences").click()
    reminder = page.get_by_label("Session reminder")
    expect(reminder).to_be_checked()
    reminder.uncheck()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("Your email preferences are saved.")).to_be_visible()
    expect(page.get_by_label("Session reminder")).not_to_be_checked()
    expect(page.get_by_label("Booking confirmed")).to_be_checked()
