"""Automated checks of a résumé's text: each passed or not, with a sentence the learner can act on.

The skills are the ones the seed article names for a machine learning engineer (Python, SQL,
PyTorch or TensorFlow, scikit-learn, Docker, Git, a cloud ML platform, MLflow, Airflow).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Skill:
    id: str
    name: str
    pattern: re.Pattern[str]
    tags: tuple[str, ...]  # what a coach's expertise must name to count as a match
    advice: str


def _words(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])(?:" + "|".join(alternatives) + r")(?![\w-])", re.IGNORECASE)


SKILLS: tuple[Skill, ...] = (
    Skill(
        "python",
        "Python",
        _words("python"),
        ("python",),
        "Python is the baseline language of ML engineering; name it with the projects where you "
        "used it.",
    ),
    Skill(
        "sql",
        "SQL",
        _words("sql", "postgres(?:ql)?", "mysql", "bigquery", "snowflake"),
        ("sql",),
        "Most ML roles query data with SQL; mention the databases or warehouses you have used.",
    ),
    Skill(
        "deep_learning",
        "PyTorch or TensorFlow",
        _words("pytorch", "torch", "tensorflow", "keras"),
        ("deep-learning", "ml"),
        "Name PyTorch or TensorFlow and a model you trained with it.",
    ),
    Skill(
        "scikit_learn",
        "scikit-learn",
        _words("scikit-learn", "scikit learn", "sklearn"),
        ("ml",),
        "Add scikit-learn: recruiters search for it for classical ML work.",
    ),
    Skill(
        "docker",
        "Docker",
        _words("docker", "containers?", "kubernetes", "k8s"),
        ("docker", "mlops"),
        "Show that you can package a model: mention Docker (and Kubernetes if you used it).",
    ),
    Skill(
        "git",
        "Git",
        _words("git", "github", "gitlab"),
        ("git",),
        "List Git (and a link to your GitHub) so reviewers can see your code.",
    ),
    Skill(
        "cloud_ml",
        "a cloud ML platform",
        _words(
            "sagemaker",
            "vertex ai",
            "vertex",
            "azure ml",
            "azure machine learning",
            "databricks",
            "aws",
            "gcp",
            "google cloud",
            "azure",
        ),
        ("cloud", "mlops"),
        "Name a cloud ML platform you have deployed on, such as AWS SageMaker, Google Vertex AI "
        "or Azure Machine Learning.",
    ),
    Skill(
        "mlflow",
        "MLflow",
        _words("mlflow"),
        ("mlflow", "mlops"),
        "Mention experiment tracking with MLflow (or the tool you used for it).",
    ),
    Skill(
        "airflow",
        "Airflow",
        _words("airflow"),
        ("airflow", "mlops", "data-engineering"),
        "Mention pipeline orchestration with Airflow if you have built scheduled pipelines.",
    ),
)

SECTIONS = {
    "experience": (
        _words("experience", "employment", "work history", "professional experience"),
        "Add an “Experience” section: roles, dates and what you achieved, newest first.",
    ),
    "education": (
        _words("education", "degree", "university", "bootcamp", "qualifications"),
        "Add an “Education” section (degrees, bootcamps, relevant courses).",
    ),
    "skills": (
        _words("skills", "technical skills", "tech stack", "tools"),
        "Add a “Skills” section that lists your languages, frameworks and tools.",
    ),
    "projects": (
        _words("projects", "portfolio", "selected projects"),
        "Add a “Projects” section: two or three ML projects with what you built and its result.",
    ),
}

# Target-role words that say which expertise a coach needs.
ROLE_TAGS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (_words("machine learning", "ml", "mle", "ai", "artificial intelligence"), ("ml",)),
    (_words("mlops", "ml ops", "ml platform", "ml infrastructure"), ("mlops", "ml")),
    (_words("data scien\\w*", "data scientist"), ("data-science", "ml")),
    (_words("data engineer\\w*"), ("data-engineering", "sql")),
    (_words("deep learning", "computer vision", "nlp", "llm\\w*"), ("deep-learning", "ml")),
    (_words("python"), ("python",)),
    (_words("software engineer\\w*", "backend", "developer"), ("software-engineering",)),
    (_words("analyst", "analytics"), ("sql", "analytics")),
)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?:\+?\d[\s().-]*){9,15}")
_LINK = re.compile(r"(?:linkedin\.com|github\.com|gitlab\.com)/\S+", re.IGNORECASE)
_NUMBERS = re.compile(r"\d+\s?%|\$\s?\d|\d+x\b|\d{2,}", re.IGNORECASE)

MIN_WORDS = 250
MAX_WORDS = 1100


def role_tags(target_role: str) -> set[str]:
    tags: set[str] = set()
    for pattern, names in ROLE_TAGS:
        if pattern.search(target_role):
            tags.update(names)
    return tags


def skills_found(text: str) -> list[str]:
    return [skill.id for skill in SKILLS if skill.pattern.search(text)]


def skill_tags(skill_ids: list[str]) -> set[str]:
    by_id = {skill.id: skill for skill in SKILLS}
    return {tag for skill_id in skill_ids if skill_id in by_id for tag in by_id[skill_id].tags}


def _check(check_id: str, passed: bool, message: str) -> dict[str, Any]:
    return {"id": check_id, "passed": passed, "message": message}


def run(
    text: str, page_count: int | None, *, active_content: list[str] | None = None
) -> list[dict[str, Any]]:
    """Every check of one résumé, in a stable order."""
    words = len(text.split())
    checks: list[dict[str, Any]] = []
    readable = words >= 50
    checks.append(
        _check(
            "text_readable",
            readable,
            f"We could read {words} words of text."
            if readable
            else "We found almost no text: if this is a scan or an image, export it from your "
            "editor as a text PDF or DOCX, because applicant tracking systems cannot read images.",
        )
    )
    if page_count is not None:
        good = 1 <= page_count <= 2
        checks.append(
            _check(
                "page_count",
                good,
                f"{page_count} page{'s' if page_count != 1 else ''}: a good length."
                if good
                else f"{page_count} pages: keep an early-career ML résumé to one or two pages by "
                "cutting older or unrelated roles.",
            )
        )
    if readable:
        good = MIN_WORDS <= words <= MAX_WORDS
        message = f"{words} words: a good length."
        if words < MIN_WORDS:
            message = (
                f"{words} words is short: describe each role and project with what you did and "
                "its measurable result (aim for 400–800 words)."
            )
        elif words > MAX_WORDS:
            message = (
                f"{words} words is long: trim to the most relevant 400–800 words so a reviewer "
                "sees your strongest work first."
            )
        checks.append(_check("length", good, message))
    has_email = bool(_EMAIL.search(text))
    has_phone = bool(_PHONE.search(text))
    has_link = bool(_LINK.search(text))
    missing = [
        name
        for name, present in (
            ("an email address", has_email),
            ("a phone number", has_phone),
            ("a LinkedIn or GitHub link", has_link),
        )
        if not present
    ]
    checks.append(
        _check(
            "contact_details",
            not missing,
            "Email, phone and a profile link are all there."
            if not missing
            else f"Add {', '.join(missing)} near the top, so a recruiter can reach you.",
        )
    )
    for section, (pattern, advice) in SECTIONS.items():
        found = bool(pattern.search(text))
        checks.append(
            _check(
                f"section_{section}",
                found,
                f"Found a “{section.capitalize()}” section." if found else advice,
            )
        )
    numbers = len(_NUMBERS.findall(text))
    checks.append(
        _check(
            "quantified_impact",
            numbers >= 3,
            "Your achievements carry numbers: good."
            if numbers >= 3
            else "Quantify your impact: add numbers (accuracy gained, latency cut, cost saved, "
            "users served) to your strongest bullet points.",
        )
    )
    found_ids = set(skills_found(text))
    for skill in SKILLS:
        present = skill.id in found_ids
        checks.append(
            _check(
                f"skill_{skill.id}", present, f"Mentions {skill.name}." if present else skill.advice
            )
        )
    covered = len(found_ids)
    checks.append(
        _check(
            "skills_coverage",
            covered >= 7,
            f"Covers {covered} of the {len(SKILLS)} core ML engineer skills."
            + (
                ""
                if covered >= 7
                else " Add the missing ones you really have; employers filter on them."
            ),
        )
    )
    if active_content is not None:
        checks.append(
            _check(
                "no_active_content",
                not active_content,
                "No scripts or embedded files."
                if not active_content
                else f"The PDF contains {', '.join(active_content)}. Your coach is warned; export "
                "a plain PDF (File › Export or Print to PDF) and upload it as a new version.",
            )
        )
    return checks


def unreadable(detail: str) -> list[dict[str, Any]]:
    """The one check shown when the worker could not read the file at all."""
    return [_check("file_readable", False, detail)]
