"""The automated checks say true things: a DOCX is never "a scan", dates are not achievements, the
skills follow the target role, and the sentences are grammatical."""

from __future__ import annotations

import pytest

from services import skills
from services.resumes import checks
from tests.support_resumes import GOOD_TEXT

DATA_SCIENTIST = "\n".join(
    [
        "Dana Scientist",
        "dana@example.com  +1 312 555 0188  linkedin.com/in/dana",
        "Experience",
        "Data Scientist, Shopwise, 2021–2024",
        "Built churn models in Python with pandas and scikit-learn; queried Snowflake with SQL.",
        "Designed A/B tests and regression analyses; shared results in Tableau dashboards.",
        "Kept the analysis code in Git.",
        "Education",
        "MSc Statistics, 2019–2021",
        "Skills",
        "Python, pandas, NumPy, SQL, scikit-learn, statistics, A/B testing, Tableau, Git",
    ]
)


def by_id(results: list[dict]) -> dict[str, dict]:
    return {c["id"]: c for c in results}


@pytest.mark.parametrize("words", [0, 12, 49])
def test_a_docx_with_text_is_never_called_a_scan(words):
    text = " ".join(["Experience"] * words)
    results = checks.run(text, None, kind="docx")
    assert all("scan" not in c["message"] for c in results)
    readable = by_id(results)["text_readable"]
    assert readable["passed"] is (words > 0)
    if words == 0:
        assert "picture" in readable["message"]


def test_a_pdf_with_almost_no_text_may_be_a_scan():
    readable = by_id(checks.run("Jo Bloggs CV", 1, kind="pdf"))["text_readable"]
    assert not readable["passed"] and "scan" in readable["message"]
    assert "3 words" in readable["message"]


def test_years_and_dates_do_not_count_as_numbers_in_achievements():
    text = "\n".join(
        [
            "Ada Lovelace  +44 20 7946 0958  ada@example.com  github.com/ada2019",
            "Experience",
            "ML Engineer, Acme, 2019–2023",
            "Data Analyst, Beta, 2016-2019",
            "Intern, Gamma, Jan 2015 – Mar 2016, and 06/2014 to 2015",
            "Built models on AWS EC2 with GPT-4 and Python3.",
        ]
        + ["Worked on many things with many people."] * 40
    )
    assert checks.quantities(text) == []
    impact = by_id(checks.run(text, 1))["quantified_impact"]
    assert not impact["passed"]


def test_measured_results_count():
    text = "Cut latency by 40% and cost by $2M; 3x faster; served 10k users with 12 models."
    assert checks.quantities(text) == ["40%", "$2M", "3x", "10k", "12"]
    assert by_id(checks.run(text, 1))["quantified_impact"]["passed"]


def test_the_skills_follow_the_target_role():
    as_scientist = by_id(checks.run(DATA_SCIENTIST, 1, target_role="Senior Data Scientist"))
    assert "skill_mlflow" not in as_scientist and "skill_airflow" not in as_scientist
    assert as_scientist["skill_statistics"]["passed"]
    assert as_scientist["skill_experimentation"]["passed"]
    coverage = as_scientist["skills_coverage"]
    assert coverage["passed"], coverage["message"]
    assert "core data scientist skills" in coverage["message"]

    as_engineer = by_id(checks.run(DATA_SCIENTIST, 1, target_role="ML engineer"))
    assert not as_engineer["skill_mlflow"]["passed"]
    assert not as_engineer["skills_coverage"]["passed"]
    assert "core ML engineer skills" in as_engineer["skills_coverage"]["message"]


@pytest.mark.parametrize(
    ("role", "family"),
    [
        ("Senior ML Engineer", "ml_engineer"),
        ("Machine learning engineer", "ml_engineer"),
        ("Data Scientist (NLP)", "data_scientist"),
        ("Data engineer", "data_engineer"),
        ("Analytics engineer", "data_engineer"),
        ("ML platform engineer", "mlops_engineer"),
        ("Business analyst", "data_analyst"),
        ("Product manager", "ml_engineer"),  # a role no family names: the default
    ],
)
def test_each_role_falls_in_one_family(role, family):
    assert checks.profile_for(role).id == family


def test_every_profile_is_scored_on_skills_of_the_one_catalogue():
    catalogue = {group.id for group in skills.GROUPS}
    for profile in checks.PROFILES:
        assert set(profile.skills) <= catalogue
        assert 0 < profile.needed <= len(profile.skills)


def test_sentences_are_grammatical():
    one = by_id(checks.run("Experience", 1, kind="docx"))
    assert one["text_readable"]["message"] == "We could read 1 word of text."
    assert one["page_count"]["message"] == "1 page: a good length."
    assert one["length"]["message"].startswith("1 word is short")
    good = by_id(checks.run("\n".join(GOOD_TEXT * 4), 2))
    assert good["section_experience"]["message"] == "Found an “Experience” section."
    assert good["section_education"]["message"] == "Found an “Education” section."
    assert good["section_skills"]["message"] == "Found a “Skills” section."
    assert good["page_count"]["message"] == "2 pages: a good length."
    bare = by_id(checks.run("Experience", None, kind="docx"))["contact_details"]["message"]
    assert bare == (
        "Add an email address, a phone number and a LinkedIn or GitHub link near the top, "
        "so a recruiter can reach you."
    )
