"""The one table of skill names and synonyms (services/skills.py)."""

from __future__ import annotations

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
