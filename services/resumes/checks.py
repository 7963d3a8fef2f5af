"""Automated checks of a résumé's text: each passed or not, with a sentence the learner can act on.

The skills a résumé is held against follow its target role: ``PROFILES`` is the one table of role
families (ML engineer, MLOps engineer, data scientist, data engineer, data analyst), each with the
words of a target role that pick it and the skills it is scored on: groups of the one skill
vocabulary (``services.skills.GROUPS``, with their spellings and advice). A role that names no
family is held against the ML engineer's skills, the ones the seed article names (Python, SQL,
PyTorch or TensorFlow, scikit-learn, Docker, Git, a cloud ML platform, MLflow, Airflow).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from services import skills


def _words(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])(?:" + "|".join(alternatives) + r")(?![\w-])", re.IGNORECASE)


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 word``, ``2 words``: a count with its noun in the right number."""
    return f"{count} {word if count == 1 else many or word + 's'}"


@dataclass(frozen=True)
class RoleProfile:
    """A role family: the target-role words that pick it, and the skills it is scored on."""

    id: str
    name: str  # as in "the core data scientist skills"
    roles: re.Pattern[str]
    skills: tuple[str, ...]

    @property
    def needed(self) -> int:
        """How many of its skills pass the coverage check: three in four, rounded up."""
        return -(-3 * len(self.skills) // 4)


# The one table of role families, most specific first: the first whose words the target role
# contains is the résumé's (so "ML platform engineer" is MLOps and "data engineer" is not an ML
# engineer); the last, the ML engineer, is also the default for a role none of them names.
PROFILES: tuple[RoleProfile, ...] = (
    RoleProfile(
        "mlops_engineer",
        "MLOps engineer",
        _words("mlops", "ml ops", "ml platform", "ml infrastructure", "machine learning platform"),
        (
            "python",
            "docker",
            "kubernetes",
            "cloud_ml",
            "ci_cd",
            "terraform",
            "mlflow",
            "airflow",
            "git",
        ),
    ),
    RoleProfile(
        "data_engineer",
        "data engineer",
        _words("data engineer\\w*", "analytics engineer\\w*", "etl", "data platform"),
        (
            "python",
            "sql",
            "spark",
            "airflow",
            "dbt",
            "warehouse",
            "streaming",
            "cloud",
            "docker",
            "git",
        ),
    ),
    RoleProfile(
        "data_scientist",
        "data scientist",
        _words("data scien\\w*", "applied scientist", "research scientist", "statistician"),
        (
            "python",
            "sql",
            "pandas",
            "scikit_learn",
            "statistics",
            "experimentation",
            "visualisation",
            "deep_learning",
            "git",
        ),
    ),
    RoleProfile(
        "data_analyst",
        "data analyst",
        _words("analysts?", "analytics", "business intelligence", "bi"),
        ("sql", "excel", "visualisation", "python", "statistics", "experimentation", "warehouse"),
    ),
    RoleProfile(
        "ml_engineer",
        "ML engineer",
        _words(
            "machine learning",
            "ml",
            "mle",
            "ai",
            "artificial intelligence",
            "deep learning",
            "computer vision",
            "nlp",
            "llm\\w*",
        ),
        (
            "python",
            "sql",
            "deep_learning",
            "scikit_learn",
            "docker",
            "git",
            "cloud_ml",
            "mlflow",
            "airflow",
        ),
    ),
)
assert all(s in skills.GROUP_BY_ID for p in PROFILES for s in p.skills), "an unknown skill"


def profile_for(target_role: str) -> RoleProfile:
    """The role family a résumé for ``target_role`` is scored as."""
    for profile in PROFILES:
        if profile.roles.search(target_role or ""):
            return profile
    return PROFILES[-1]


@dataclass(frozen=True)
class Section:
    name: str  # as the résumé's heading reads
    article: str  # "a" or "an", before the quoted name
    pattern: re.Pattern[str]
    advice: str


SECTIONS: dict[str, Section] = {
    "experience": Section(
        "Experience",
        "an",
        _words("experience", "employment", "work history", "professional experience"),
        "Add an “Experience” section: roles, dates and what you achieved, newest first.",
    ),
    "education": Section(
        "Education",
        "an",
        _words("education", "degree", "university", "bootcamp", "qualifications"),
        "Add an “Education” section (degrees, bootcamps, relevant courses).",
    ),
    "skills": Section(
        "Skills",
        "a",
        _words("skills", "technical skills", "tech stack", "tools"),
        "Add a “Skills” section that lists your languages, frameworks and tools.",
    ),
    "projects": Section(
        "Projects",
        "a",
        _words("projects", "portfolio", "selected projects"),
        "Add a “Projects” section: two or three projects with what you built and its result.",
    ),
}

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?:\+?\d[\s().-]*){9,15}")
_LINK = re.compile(r"(?:linkedin\.com|github\.com|gitlab\.com)/\S+", re.IGNORECASE)
_URL = re.compile(r"(?:https?://|www\.)\S+|(?:linkedin|github|gitlab)\.com/\S+", re.IGNORECASE)
_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
# Dates are not achievements: years ("2019", "2019–2023", "2021-present"), months with a year
# ("03/2021", "2021-03", "Mar 2021") and a day of a month ("12 March").
_DATE = re.compile(
    r"(?<!\d)(?<!\d[.,])(?:\d{1,2}\s*[/.]\s*)?(?:19|20)\d{2}(?:\s*[/.-]\s*\d{1,2}(?![\d%]))?"
    r"(?:\s*(?:[-–—]|to|until)\s*(?:(?:\d{1,2}\s*[/.]\s*)?(?:19|20)?\d{2}|present|now|today))?"
    r"(?![\d%]|[.,]\d)"
    rf"|(?<![\w-])\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS}(?![\w-])",
    re.IGNORECASE,
)
# What is left that measures something: 40 %, $2M, 3x, 10k, 1.5 million, 120 ms, 12 models.
_QUANTITY = re.compile(
    r"(?<![\w.,/-])(?:[$€£]\s?)?\d+(?:[.,]\d+)*"
    r"(?:\s?(?:%|percent|x|×|k|m|bn|million|billion|thousand|ms))?(?![\w-])",
    re.IGNORECASE,
)

MIN_WORDS = 250
MAX_WORDS = 1100
# Fewer words than this in a PDF: it is most likely a scan or a picture of text.
SCAN_WORDS = 50


def skills_found(text: str) -> list[str]:
    """The ids of the skills (services.skills groups) the text shows, in the table's order."""
    return skills.groups_met(skills.find(text))


def quantities(text: str) -> list[str]:
    """The numbers in ``text`` that measure something: not dates, years, phone numbers, links or
    email addresses, nor digits inside a name (EC2, GPT-4, Python3)."""
    for pattern in (_EMAIL, _URL, _PHONE, _DATE):
        text = pattern.sub(" ", text)
    return [match.group(0) for match in _QUANTITY.finditer(text)]


def _check(check_id: str, passed: bool, message: str) -> dict[str, Any]:
    return {"id": check_id, "passed": passed, "message": message}


def _readable(words: int, kind: str) -> dict[str, Any]:
    if kind == "docx":
        # A DOCX holds text, never a scan: with none, the résumé sits in pictures or text boxes.
        readable = words > 0
        message = (
            f"We could read {plural(words, 'word')} of text."
            if readable
            else "We found no text in this document: if your résumé is pasted in as a picture "
            "or sits in text boxes, type it as plain paragraphs, because applicant tracking "
            "systems cannot read pictures."
        )
    else:
        readable = words >= SCAN_WORDS
        message = (
            f"We could read {plural(words, 'word')} of text."
            if readable
            else f"We found only {plural(words, 'word')} of text: if this PDF is a scan or an "
            "image, export it from your editor as a text PDF or DOCX, because applicant tracking "
            "systems cannot read images."
        )
    return _check("text_readable", readable, message)


def run(
    text: str,
    page_count: int | None,
    *,
    target_role: str = "",
    kind: str = "pdf",
    active_content: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Every check of one résumé (a ``pdf`` or ``docx`` for ``target_role``), in a stable order."""
    words = len(text.split())
    checks: list[dict[str, Any]] = []
    readable_check = _readable(words, kind)
    checks.append(readable_check)
    if page_count is not None:
        good = 1 <= page_count <= 2
        checks.append(
            _check(
                "page_count",
                good,
                f"{plural(page_count, 'page')}: a good length."
                if good
                else f"{plural(page_count, 'page')}: keep an early-career résumé to one or two "
                "pages by cutting older or unrelated roles.",
            )
        )
    if readable_check["passed"]:
        good = MIN_WORDS <= words <= MAX_WORDS
        message = f"{plural(words, 'word')}: a good length."
        if words < MIN_WORDS:
            message = (
                f"{plural(words, 'word')} is short: describe each role and project with what you "
                "did and its measurable result (aim for 400–800 words)."
            )
        elif words > MAX_WORDS:
            message = (
                f"{plural(words, 'word')} is long: trim to the most relevant 400–800 words so a "
                "reviewer sees your strongest work first."
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
    if len(missing) > 1:
        missing = [", ".join(missing[:-1]) + " and " + missing[-1]]
    checks.append(
        _check(
            "contact_details",
            not missing,
            "Email, phone and a profile link are all there."
            if not missing
            else f"Add {missing[0]} near the top, so a recruiter can reach you.",
        )
    )
    for section_id, section in SECTIONS.items():
        found = bool(section.pattern.search(text))
        checks.append(
            _check(
                f"section_{section_id}",
                found,
                f"Found {section.article} “{section.name}” section." if found else section.advice,
            )
        )
    numbers = len(quantities(text))
    checks.append(
        _check(
            "quantified_impact",
            numbers >= 3,
            "Your achievements carry numbers: good."
            if numbers >= 3
            else "Quantify your impact: add numbers (accuracy gained, latency cut, cost saved, "
            "users served) to your strongest bullet points. Dates do not count.",
        )
    )
    profile = profile_for(target_role)
    found_ids = set(skills_found(text))
    for skill_id in profile.skills:
        skill = skills.GROUP_BY_ID[skill_id]
        present = skill_id in found_ids
        checks.append(
            _check(
                f"skill_{skill_id}", present, f"Mentions {skill.name}." if present else skill.advice
            )
        )
    covered = len(found_ids & set(profile.skills))
    enough = covered >= profile.needed
    checks.append(
        _check(
            "skills_coverage",
            enough,
            f"Covers {covered} of the {len(profile.skills)} core {profile.name} skills."
            + (
                "" if enough else " Add the missing ones you really have; employers filter on them."
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
