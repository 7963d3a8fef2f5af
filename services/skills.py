"""The one table of skill names and their synonyms, shared by the job descriptions of résumés
(services.resumes.jobmatch) and the intake answers of bookings (services.booking.intake): each
term's canonical id, the name shown, the spellings that mean it (PyTorch and torch, k8s and
Kubernetes, LLM and large language model, scikit-learn and sklearn), the coach expertise tags it
counts for, and whether it is a hard (technical) skill or a soft one.

Matching is on whole words, case-insensitive, after normalisation (``normalise``): hyphens,
dots and slashes between letters are spaces, runs of spaces are one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    id: str
    name: str
    synonyms: tuple[str, ...]  # normalised spellings (see ``normalise``), the name's own included
    tags: tuple[str, ...]  # coach expertise tags this skill counts for
    hard: bool = True


def _t(
    id_: str, name: str, synonyms: Iterable[str], tags: Iterable[str], hard: bool = True
) -> Term:
    return Term(id_, name, tuple(synonyms), tuple(tags), hard)


TERMS: tuple[Term, ...] = (
    _t("python", "Python", ["python", "python3"], ["python"]),
    _t("sql", "SQL", ["sql", "postgresql", "postgres", "mysql", "bigquery", "snowflake"], ["sql"]),
    _t("pytorch", "PyTorch", ["pytorch", "torch"], ["deep-learning", "ml"]),
    _t("tensorflow", "TensorFlow", ["tensorflow", "tf", "keras"], ["deep-learning", "ml"]),
    _t("scikit_learn", "scikit-learn", ["scikit learn", "sklearn", "scikit"], ["ml"]),
    _t("pandas", "pandas", ["pandas", "numpy", "polars"], ["python", "data-science"]),
    _t("docker", "Docker", ["docker", "containers", "containerization"], ["docker", "mlops"]),
    _t("kubernetes", "Kubernetes", ["kubernetes", "k8s", "helm", "eks", "gke", "aks"], ["mlops"]),
    _t("mlops", "MLOps", ["mlops", "ml ops", "model deployment", "model serving"], ["mlops"]),
    _t("mlflow", "MLflow", ["mlflow", "experiment tracking"], ["mlflow", "mlops"]),
    _t("airflow", "Airflow", ["airflow", "apache airflow"], ["airflow", "data-engineering"]),
    _t("spark", "Spark", ["spark", "pyspark", "apache spark"], ["data-engineering"]),
    _t("aws", "AWS", ["aws", "amazon web services", "sagemaker"], ["cloud"]),
    _t("gcp", "Google Cloud", ["gcp", "google cloud", "vertex ai"], ["cloud"]),
    _t("azure", "Azure", ["azure", "azure ml", "azure machine learning"], ["cloud"]),
    _t(
        "terraform", "Terraform", ["terraform", "infrastructure as code", "iac"], ["mlops", "cloud"]
    ),
    _t(
        "ci_cd",
        "CI/CD",
        ["ci cd", "continuous integration", "github actions", "gitlab ci", "jenkins"],
        ["mlops", "software-engineering"],
    ),
    _t("git", "Git", ["git", "github", "gitlab"], ["git"]),
    _t(
        "llm",
        "LLMs",
        ["llm", "llms", "large language model", "large language models"],
        ["nlp", "ml"],
    ),
    _t("nlp", "NLP", ["nlp", "natural language processing"], ["nlp", "ml"]),
    _t("computer_vision", "Computer vision", ["computer vision", "cv models"], ["ml"]),
    _t("statistics", "Statistics", ["statistics", "a b testing", "hypothesis testing"], ["ml"]),
    _t(
        "machine_learning",
        "Machine learning",
        ["machine learning", "ml"],
        ["ml"],
    ),
    _t("deep_learning", "Deep learning", ["deep learning", "neural networks"], ["deep-learning"]),
    _t(
        "system_design",
        "System design",
        ["system design", "distributed systems", "scalability"],
        ["system-design"],
    ),
    _t("algorithms", "Algorithms", ["algorithms", "data structures", "leetcode"], ["algorithms"]),
    _t(
        "communication",
        "Communication",
        ["communication", "stakeholders", "stakeholder management", "presenting", "presented"],
        ["behavioral"],
        hard=False,
    ),
    _t(
        "leadership",
        "Leadership",
        ["leadership", "mentoring", "mentorship", "mentored", "mentor"],
        ["behavioral"],
        hard=False,
    ),
    _t(
        "teamwork",
        "Teamwork",
        ["teamwork", "collaboration", "collaborated", "cross functional"],
        ["behavioral"],
        hard=False,
    ),
)
BY_ID = {term.id: term for term in TERMS}

_SEPARATORS = re.compile(r"(?<=\w)[-./](?=\w)|[\s_]+")
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Lower case, hyphens/dots/slashes between letters and runs of space as one space:
    ``Scikit-Learn`` → ``scikit learn``, ``CI/CD`` → ``ci cd``."""
    return _SPACES.sub(" ", _SEPARATORS.sub(" ", text.lower())).strip()


def _pattern(term: Term) -> re.Pattern[str]:
    words = sorted((re.escape(s) for s in term.synonyms), key=len, reverse=True)
    return re.compile(r"(?<![\w+#])(?:" + "|".join(words) + r")(?![\w+#])")


_PATTERNS = tuple((term, _pattern(term)) for term in TERMS)
_BY_SPELLING = {synonym: term.id for term in TERMS for synonym in term.synonyms}
assert len(_BY_SPELLING) == sum(len(t.synonyms) for t in TERMS), "a spelling means two skills"


def canonical(word: str) -> str | None:
    """The skill id a single spelling means (``torch`` → ``pytorch``), or None."""
    return _BY_SPELLING.get(normalise(word))


def find(text: str) -> list[str]:
    """The ids of the skills ``text`` names, in the table's order (hard skills first)."""
    plain = normalise(text)
    found = [term.id for term, pattern in _PATTERNS if pattern.search(plain)]
    return sorted(found, key=lambda skill_id: not BY_ID[skill_id].hard)


_PATTERN_OF = {term.id: pattern for term, pattern in _PATTERNS}


def names_skill(text: str, skill_id: str) -> bool:
    """Whether ``text`` names the skill (any of its spellings)."""
    return bool(_PATTERN_OF[skill_id].search(normalise(text)))


def tags(skill_ids: Iterable[str]) -> set[str]:
    """The coach expertise tags the skills count for."""
    return {tag for skill_id in skill_ids if skill_id in BY_ID for tag in BY_ID[skill_id].tags}


def names(skill_ids: Iterable[str]) -> list[str]:
    return [BY_ID[s].name for s in skill_ids if s in BY_ID]
