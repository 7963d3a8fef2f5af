"""In a real browser: a learner uploads a résumé and watches the progress bar, a real worker runs
the checks and routes it, and the coach accepts and completes the review through the pages."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import RUN_DIR, Worker, worker_env
from tests.e2e.steps import sign_in, sign_out
from tests.support_resumes import make_pdf


@pytest.fixture(scope="module")
def resume_worker(e2e_database: str, server_app: Any) -> Iterator[Worker]:
    env = worker_env(
        e2e_database,
        server_app.config["REDIS_URL"],
        None,
        UPLOAD_DIR=server_app.config["UPLOAD_DIR"],
    )
    worker = Worker(env, RUN_DIR / "logs" / f"worker-e2e-resumes-{uuid.uuid4().hex[:6]}.log")
    worker.start(concurrency=2)
    yield worker
    worker.stop()


def test_upload_with_progress_then_a_coach_reviews_it(
    page: Any, resume_worker: Worker, tmp_path: Path
) -> None:
    big = tmp_path / "Lin Learner CV.pdf"
    big.write_bytes(make_pdf(padding=3 * 1024 * 1024))  # big enough to watch it go up

    sign_in(page, "learner.lin@example.com", "learner-demo-pass")
    page.get_by_role("link", name="Résumés").click()
    page.get_by_role("link", name="Upload a résumé").click()
    expect(page.get_by_role("heading", name="Upload a résumé")).to_be_visible()
    page.get_by_label("Résumé file").set_input_files(str(big))
    page.get_by_label("Target role").fill("ML engineer")
    # Slow the upload down (about 1.5 MB/s) so the bar can be seen moving.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 1_500_000},
    )
    page.get_by_role("button", name="Upload").click()

    bar = page.get_by_role("progressbar")
    expect(bar).to_be_visible()
    page.wait_for_function(
        "() => { const v = document.querySelector('progress').value; return v > 0 && v < 100; }"
    )
    expect(page.get_by_role("status").filter(has_text="Upload")).to_be_visible()
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    expect(page).to_have_url(re.compile(r"/learn/resumes/\d+$"), timeout=30000)
    resume_url = page.url
    expect(page.get_by_role("heading", name="ML engineer")).to_be_visible()
    # The worker runs the checks; the page refreshes itself until they are there.
    expect(page.get_by_text("Mentions Python.")).to_be_visible(timeout=30000)
    expect(page.get_by_text("Assigned", exact=False).first).to_be_visible(timeout=30000)

    sign_out(page)
    sign_in(page, "coach.ada@example.com", "coach-demo-pass")
    page.get_by_role("link", name="Reviews").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.get_by_role("link", name="Lin Learner").first.click()
    # The PDF itself is drawn in the page (pdf.js, vendored), under the same strict CSP.
    first_page = page.get_by_role("img", name="Page 1 of 1")
    expect(first_page).to_be_visible(timeout=15000)
    expect(page.get_by_role("status").filter(has_text="1 page")).to_be_visible()
    inked = first_page.evaluate(
        """canvas => {
            const { width, height } = canvas;
            const data = canvas.getContext("2d").getImageData(0, 0, width, height).data;
            let dark = 0;
            for (let i = 0; i < data.length; i += 4) if (data[i] < 128 && data[i + 3] > 0) dark++;
            return dark;
        }"""
    )
    assert inked > 100, "the canvas should carry the résumé's text, not stay blank"
    assert problems == [], problems
    page.get_by_text("Extracted text").click()
    expect(page.get_by_role("region", name="Text of the résumé")).to_contain_text(
        "Machine learning engineer who ships models"
    )
    page.get_by_role("button", name="Accept to start reviewing").click()
    expect(page.get_by_text("Accepted. The review is yours")).to_be_visible()

    for legend, score in [
        ("Impact (1–5)", "4"),
        ("Clarity (1–5)", "5"),
        ("ML relevance (1–5)", "4"),
        ("Formatting (1–5)", "3"),
        ("ATS readiness (1–5)", "4"),
    ]:
        page.get_by_role("group", name=legend).get_by_label(score, exact=True).check()
    page.get_by_label("Summary").fill("A strong, relevant résumé. Quantify the pipeline work.")
    page.get_by_label("Comments").fill("Move Skills above Education.")
    page.get_by_role("group", name="Outcome").get_by_label("Changes suggested").check()
    page.get_by_role("button", name="Send the review").click()
    page.get_by_role("dialog").get_by_role("button", name="Send now").click()
    expect(page.get_by_text("Review sent. The learner has been told.")).to_be_visible()

    sign_out(page)
    sign_in(page, "learner.lin@example.com", "learner-demo-pass")
    page.goto(resume_url)
    expect(page.get_by_role("heading", name="Your review")).to_be_visible()
    expect(page.get_by_text("A strong, relevant résumé.")).to_be_visible()
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
