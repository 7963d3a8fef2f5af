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
