import re
import uuid

from playwright.sync_api import expect


def test_sign_up_sign_out_and_sign_in_in_a_real_browser(page):
    email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"

    page.goto("/")
    page.get_by_role("link", name="Sign up").first.click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    # The time zone defaults to the browser's.
    expect(page.get_by_label("Time zone")).to_have_value("America/Chicago")
    page.get_by_label("Full name").fill("Bea Browser")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a long passphrase")
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_role("heading", name="Hello, Bea Browser")).to_be_visible()
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
    expect(page.get_by_role("heading", name="Hello, Bea Browser")).to_be_visible()


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
