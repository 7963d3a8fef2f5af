import datetime as dt

from services import faq


def test_the_seed_article_has_its_six_questions_and_answers():
    article = faq.parse_seed(faq.SEED_FILE.read_text(encoding="utf-8"))

    assert article.title == "What Does a Machine Learning Engineer Actually Do?"
    assert article.updated_on == dt.date(2026, 6, 29)
    assert article.read_minutes == 5
    assert len(article.questions) == 6
    questions = [q for q, _ in article.questions]
    assert questions[0] == (
        "What is the difference between a machine learning engineer and a data scientist?"
    )
    assert (
        questions[-1]
        == "Is machine learning engineering a good career in the United States in 2026?"
    )
    assert all(answer and not answer.endswith("?") for _, answer in article.questions)
    assert article.questions[1][1].startswith("No. Most working machine learning engineers")


def test_the_career_services_blurb_is_kept_apart_from_the_faq():
    article = faq.parse_seed(faq.SEED_FILE.read_text(encoding="utf-8"))

    assert article.services_title == "Career Services"
    assert article.services_summary.startswith("Personalized career support")
    assert "Career Services" not in [q for q, _ in article.questions]
