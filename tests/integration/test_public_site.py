import json
import re

from services import faq


def test_home_page_offers_the_career_services(client):
    faq.load_seed()

    html = client.get("/").get_data(as_text=True)

    assert "Résumé reviews" in html
    assert "Mock interviews" in html
    assert "Industry insights" in html
    assert 'href="/sign-up"' in html
    assert "<main" in html and "<nav" in html


def test_the_faq_page_shows_all_six_questions_and_valid_json_ld(client):
    faq.load_seed()

    response = client.get("/faq")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<h1 id="article-title">What Does a Machine Learning Engineer Actually Do?</h1>' in html
    questions = re.findall(r'<h3 class="faq-question">([^<]+)</h3>', html)
    assert len(questions) == 6
    block = re.search(r'<script type="application/ld\+json">(.+?)</script>', html, re.S).group(1)
    data = json.loads(block)
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "FAQPage"
    assert len(data["mainEntity"]) == 6
    for entity, question in zip(data["mainEntity"], questions, strict=True):
        assert entity["@type"] == "Question"
        assert entity["name"] == question.replace("&#39;", "'")
        assert entity["acceptedAnswer"]["@type"] == "Answer"
        assert entity["acceptedAnswer"]["text"]


def test_the_faq_comes_from_the_database_so_edits_show(client, db_session):
    page, _ = faq.load_seed()
    page.entries[0].question = "Edited: what is an MLE?"
    db_session.commit()

    html = client.get("/faq").get_data(as_text=True)

    assert "Edited: what is an MLE?" in html
    faq.load_seed()  # loading the seed again keeps the edit
    assert "Edited: what is an MLE?" in client.get("/faq").get_data(as_text=True)


def test_pages_send_security_headers(client):
    response = client.get("/")

    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] in {
        "no-referrer",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
    }  # never the full URL to other sites


def test_an_unknown_page_is_a_friendly_404(client):
    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_hsts_is_sent_over_https_only(client):
    over_https = client.get("/", base_url="https://careers.example")
    over_http = client.get("/")

    assert over_https.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Strict-Transport-Security" not in over_http.headers


def test_api_responses_carry_the_security_headers_too(client):
    response = client.get("/api/v1/me")

    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "Referrer-Policy" in response.headers


def test_an_anonymous_page_carries_an_etag_and_a_revalidation_is_answered_304(client):
    faq.load_seed()

    for path in ("/faq", "/"):
        first = client.get(path)
        etag = first.headers["ETag"]
        assert first.status_code == 200
        assert first.headers["Cache-Control"] == "no-cache"
        assert "Cookie" in first.headers["Vary"]  # a signed-in visitor's copy is another one
        assert "Set-Cookie" not in first.headers

        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.get_data() == b""
        assert again.headers["ETag"] == etag
        assert again.headers["X-Content-Type-Options"] == "nosniff"

        other = client.get(path, headers={"If-None-Match": '"something-else"'})
        assert other.status_code == 200
        assert other.get_data() == first.get_data()


def test_an_edit_shows_at_once_under_a_new_etag(client, db_session):
    page, _ = faq.load_seed()
    db_session.commit()
    before = client.get("/faq")
    entry = page.entries[1]

    faq.update_entry(entry.id, faq.EntryInput(entry.question, "Now **bold** & <script>x</script>"))
    db_session.commit()

    after = client.get("/faq", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    html = after.get_data(as_text=True)
    assert "Now <strong>bold</strong> &amp;" in html
    assert "<script>x</script>" not in html
    block = re.search(r'<script type="application/ld\+json">(.+?)</script>', html, re.S).group(1)
    texts = [e["acceptedAnswer"]["text"] for e in json.loads(block)["mainEntity"]]
    assert texts[1] == "Now bold & <script>x</script>"  # as text: "<" is escaped in the block
    assert "<script>x" not in block
    # The home page names the FAQ: it follows the edit too (its key holds the FAQ's version).
    assert client.get("/").status_code == 200


def test_an_answer_is_rendered_as_it_is_saved_and_its_page_version_moves(db_session):
    from services.models import FaqEntry, Page

    page, _ = faq.load_seed()
    db_session.commit()
    version = db_session.get(Page, page.id).version
    entry = page.entries[0]
    assert entry.answer_html.startswith("<p>")  # rendered when the seed was saved
    assert entry.answer_text and "<" not in entry.answer_text

    entry.answer = "A [link](https://example.com) and `code`"  # any write, not only the service's
    db_session.commit()

    saved = db_session.get(FaqEntry, entry.id)
    assert saved.answer_html == (
        '<p>A <a href="https://example.com" rel="noopener noreferrer nofollow">link</a>'
        " and <code>code</code></p>\n"
    )
    assert saved.answer_text == "A link and code"
    assert db_session.get(Page, page.id).version == version + 1

    added = faq.add_entry(faq.EntryInput("One more?", "Yes."))
    db_session.commit()
    assert added.answer_html == "<p>Yes.</p>\n"
    assert db_session.get(Page, page.id).version == version + 2


def test_a_signed_in_visitor_gets_the_page_made_for_them(client, make_user):
    from tests.support_auth import sign_in

    faq.load_seed()
    anonymous = client.get("/faq")
    user = make_user("learner")
    sign_in(client, user.email)

    mine = client.get("/faq", headers={"If-None-Match": anonymous.headers["ETag"]})

    assert mine.status_code == 200
    assert "ETag" not in mine.headers
    html = mine.get_data(as_text=True)
    assert "Sign out" in html and "Sign in</a>" not in html
    assert "Sign in</a>" in anonymous.get_data(as_text=True)


def test_a_message_waiting_in_the_session_is_shown_not_shared(client, make_user):
    from tests.support_auth import csrf_token, sign_in

    faq.load_seed()
    user = make_user("learner")
    sign_in(client, user.email)
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/dashboard")})

    page = client.get("/")

    assert "ETag" not in page.headers  # the sign-out's message is this visitor's alone
    assert "You are signed out." in page.get_data(as_text=True)
    shared = client.get("/")  # shown once; then the page every anonymous visitor gets
    assert "ETag" in shared.headers
    assert "You are signed out." not in shared.get_data(as_text=True)


# --- how late an anonymous visitor may see an edit made elsewhere ------------------------------


def _edit_around_the_orm(session, question: str) -> None:
    """An edit as another process's commit reaches this one: no hook of this process sees it."""
    from sqlalchemy import text

    session.execute(
        text(
            "UPDATE faq_entry SET question = :q WHERE id = (SELECT MIN(id) FROM faq_entry"
            " WHERE page_id = (SELECT id FROM page WHERE slug = :slug))"
        ),
        {"q": question, "slug": faq.FAQ_SLUG},
    )
    session.execute(
        text("UPDATE page SET version = version + 1 WHERE slug = :slug"), {"slug": faq.FAQ_SLUG}
    )


def _first_question(pages: dict[str, faq.Article]) -> str:
    return pages[faq.FAQ_SLUG].entries[0].question


def test_an_anonymous_read_may_be_answered_from_the_last_read_and_this_process_edits_at_once(
    db_session,
):
    page, _ = faq.load_seed()
    db_session.commit()
    seeded = _first_question(faq.articles(max_age=3600))

    _edit_around_the_orm(db_session, "Elsewhere?")
    db_session.commit()
    assert _first_question(faq.articles(max_age=3600)) == seeded  # not read again yet
    assert _first_question(faq.articles()) == "Elsewhere?"  # read now
    assert _first_question(faq.articles(max_age=3600)) == "Elsewhere?"  # and kept from then

    entry = db_session.get(type(page.entries[0]), page.entries[0].id)
    entry.question = "Here, not yet committed?"
    db_session.flush()
    assert _first_question(faq.articles(max_age=3600)) == "Here, not yet committed?"
    db_session.rollback()
    assert _first_question(faq.articles(max_age=3600)) == "Elsewhere?"

    faq.update_entry(entry.id, faq.EntryInput("Here?", entry.answer))
    db_session.commit()
    assert _first_question(faq.articles(max_age=3600)) == "Here?"


def test_only_an_anonymous_visitor_may_see_the_page_as_last_read(
    client, db_session, make_user, monkeypatch
):
    from tests.support_auth import sign_in
    from web import page_cache

    monkeypatch.setattr(page_cache, "SHARED_MAX_AGE", 3600.0)
    faq.load_seed()
    db_session.commit()
    assert "Elsewhere?" not in client.get("/faq").get_data(as_text=True)
    _edit_around_the_orm(db_session, "Elsewhere?")
    db_session.commit()

    assert "Elsewhere?" not in client.get("/faq").get_data(as_text=True)
    sign_in(client, make_user("learner").email)
    assert "Elsewhere?" in client.get("/faq").get_data(as_text=True)


def test_every_worker_shows_anonymous_visitors_an_edit_made_elsewhere(live_server, live_ctx):
    """gunicorn's two workers each keep the page; an edit committed by another process (this
    test's) reaches the anonymous visitors of both, within a moment (page_cache.SHARED_MAX_AGE)."""
    import time

    import requests

    from services.db import db, writer

    with writer():
        faq.load_seed()
        db.session.commit()

    def questions() -> set[str]:
        """The first question as twelve fresh connections (so both workers answer) see it."""
        found = set()
        for _ in range(12):
            response = requests.get(f"{live_server}/faq", timeout=30)
            assert response.status_code == 200
            found.add(re.findall(r'<h3 class="faq-question">([^<]+)</h3>', response.text)[0])
        return found

    [before] = questions()
    with writer():
        _edit_around_the_orm(db.session, "Edited elsewhere?")
        db.session.commit()
    deadline = time.monotonic() + 30
    seen = questions()
    while seen != {"Edited elsewhere?"} and time.monotonic() < deadline:
        assert seen <= {before, "Edited elsewhere?"}
        time.sleep(0.2)
        seen = questions()
    assert seen == {"Edited elsewhere?"}


def test_a_response_to_a_visitor_without_a_session_says_it_depends_on_the_cookie(client):
    response = client.get("/healthz")

    assert response.headers.get_all("Vary") == ["Cookie"]
    assert "Set-Cookie" not in response.headers
