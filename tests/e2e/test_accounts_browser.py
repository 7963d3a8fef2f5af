import re
import uuid

from playwright.sync_api import expect


def test_sign_up_sign_out_and_sign_in_in_a_real_browser(page):
    email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"

    page.goto("/")
    page.get_by_role("link", name="Sign up").first.click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    # The time zone defaults to the browser's (the searchable picker shows it with its offset).
    expect(page.locator("select[name=timezone]")).to_have_value("America/Chicago")
    expect(page.get_by_label("Time zone")).to_have_value(re.compile(r"\) America/Chicago$"))
    page.get_by_label("Full name").fill("Bea Browser")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a long passphrase")
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.get_by_text("Hello, Bea Browser.")).to_be_visible()
    expect(page.get_by_text("America/Chicago")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()

    page.get_by_role("link", name="Sign in").first.click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("The email or password is not right.")).to_be_visible()

    page.get_by_label("Password").fill("a long passphrase")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.get_by_text("Hello, Bea Browser.")).to_be_visible()


def test_the_faq_is_readable_and_keyboard_operable(page):
    page.goto("/faq")

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "What Does a Machine Learning Engineer Actually Do?"
    )
    questions = page.locator("summary")
    expect(questions).to_have_count(6)
    second = page.locator("details").nth(1)
    expect(second).not_to_have_attribute("open", "")
    questions.nth(1).focus()
    page.keyboard.press("Enter")
    expect(second).to_have_attribute("open", "")
    expect(page.get_by_text("No. Most working machine learning engineers")).to_be_visible()
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_forgot_password_then_sign_in_with_the_new_one(page, server_app):
    from sqlalchemy import select

    from services import accounts, notifications
    from services.db import db
    from services.models import Delivery, OutboxEvent

    email = f"e2e-reset-{uuid.uuid4().hex[:8]}@example.com"
    with server_app.app_context():
        user = accounts.create_user(
            email=email, password="the old passphrase", role="learner", name="Rey Reset"
        )
        db.session.commit()
        user_id = user.id

    page.goto("/sign-in")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_text("If an account uses that address")).to_be_visible()

    with server_app.app_context():  # what the worker does: fan the event out to the email
        event = db.session.scalars(
            select(OutboxEvent).where(OutboxEvent.kind == "account.password_reset")
        ).all()[-1]
        assert event.payload["user_id"] == user_id
        notifications.fan_out(event.id)
        db.session.commit()
        body = (
            db.session.scalars(
                select(Delivery).where(
                    Delivery.user_id == user_id, Delivery.kind == "password_reset"
                )
            )
            .one()
            .text_body
        )
    link = re.search(r"(/reset-password/\S+)", body).group(1)

    page.goto(link)
    page.get_by_label("New password", exact=True).fill("a brand new passphrase")
    page.get_by_label("New password again").fill("a brand new passphrase")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_text("Password changed, and every session signed out.")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a brand new passphrase")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.get_by_text("Hello, Rey Reset.")).to_be_visible()
    page.goto(link)  # spent
    expect(
        page.get_by_role("heading", name="This reset link is not valid any more")
    ).to_be_visible()
