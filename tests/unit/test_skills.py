"""The one table of skill names and synonyms (services/skills.py)."""

from __future__ import annotations

import pytest

from services import skills


def test_skill_synonyms_and_tags():
    assert skills.canonical("torch") == "pytorch"
    assert skills.canonical("K8s") == "kubernetes"
    assert skills.canonical("sklearn") == skills.canonical("scikit-learn") == "scikit_learn"
    assert skills.canonical("large language model") == "llm"
    assert skills.find("Fine-tuned LLMs with PyTorch on K8s; presenting to stakeholders") == [
        "pytorch",
        "kubernetes",
        "llm",
        "communication",
    ]
    assert "mlops" in skills.tags(["kubernetes"])
    assert skills.find("CI/CD with GitHub Actions") == ["ci_cd", "git"]
    assert skills.find("the pythonic way") == []


@pytest.mark.parametrize(
    ("spellings", "skill_id"),
    [
        (["PyTorch", "torch"], "pytorch"),
        (["Kubernetes", "k8s", "K8S", "EKS"], "kubernetes"),
        (["LLM", "LLMs", "large language model", "Large Language Models"], "llm"),
        (["scikit-learn", "Scikit Learn", "sklearn"], "scikit_learn"),
        (["CI/CD", "ci-cd", "GitHub Actions", "continuous integration"], "ci_cd"),
        (["A/B testing", "AB tests", "experimentation"], "experimentation"),
        (["Postgres", "PostgreSQL", "MySQL", "SQL"], "sql"),
        (["Power BI", "power-bi"], "power_bi"),
    ],
)
def test_every_spelling_of_a_skill_means_it(spellings, skill_id):
    for spelling in spellings:
        assert skills.canonical(spelling) == skill_id, spelling
        assert skill_id in skills.find(f"Worked with {spelling}, daily."), spelling


def test_words_that_only_look_like_a_skill_name_none():
    assert "tensorflow" not in skills.find("Ranked documents by TF-IDF")
    assert "git" not in skills.find("legit digital work")
    assert "python" not in skills.find("Pythonista")
    assert skills.find("C# and C++") == []


def test_one_table_no_spelling_means_two_skills():
    spellings = [s for term in skills.TERMS for s in term.synonyms]
    assert len(spellings) == len(set(spellings))
    assert all(skills.normalise(s) == s for s in spellings)
    assert [t.id for t in skills.TERMS] == list(skills.BY_ID)


def test_the_checks_groups_are_met_by_any_of_their_terms():
    assert skills.groups_met(skills.find("Trained models with Keras")) == ["deep_learning"]
    assert skills.groups_met(skills.find("Ran jobs on EKS")) == ["docker", "kubernetes"]
    assert skills.groups_met(skills.find("SageMaker endpoints")) == ["cloud_ml"]
    assert skills.groups_met(skills.find("AWS Lambda")) == ["cloud_ml", "cloud"]
    assert skills.groups_met(skills.find("Snowflake")) == ["sql", "warehouse"]
    advice = {g.id: g.advice for g in skills.GROUPS}
    assert "SageMaker" in advice["cloud_ml"]
    assert all(advice.values())


def test_tags_read_terms_groups_and_target_roles():
    assert skills.tags(["airflow"]) == {"airflow", "data-engineering", "mlops"}
    # A version analysed before the one vocabulary stored the checks' group ids.
    assert skills.tags(["cloud_ml"]) == {"cloud", "mlops"}
    assert skills.tags(["no-such-skill"]) == set()
    assert skills.role_tags("Senior MLOps Engineer") == {"mlops", "ml"}
    assert skills.role_tags("") == set()
