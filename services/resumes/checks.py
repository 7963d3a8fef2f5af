"""Automated checks of a résumé's text: each passed or not, with a sentence the learner can act on.

The skills a résumé is held against follow its target role: ``PROFILES`` is the one table of role
families (ML engineer, MLOps engineer, data scientist, data engineer, data analyst), each with the
words of a target role that pick it and the skills it is scored on, drawn from the one catalogue
``SKILLS``. A role that names no family is held against the ML engineer's skills, the ones the
seed article names (Python, SQL, PyTorch or TensorFlow, scikit-learn, Docker, Git, a cloud ML
platform, MLflow, Airflow).
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


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 word``, ``2 words``: a count with its noun in the right number."""
    return f"{count} {word if count == 1 else many or word + 's'}"


SKILLS: tuple[Skill, ...] = (
    Skill(
        "python",
        "Python",
        _words("python"),
        ("python",),
        "Name Python with the projects where you used it: most data and ML roles expect it.",
    ),
    Skill(
        "sql",
        "SQL",
        _words("sql", "postgres(?:ql)?", "mysql", "bigquery", "snowflake"),
        ("sql",),
        "Most data roles query data with SQL; mention the databases or warehouses you have used.",
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
        "Show that you can package your work: mention Docker (and Kubernetes if you used it).",
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
    Skill(
        "pandas",
        "pandas or NumPy",
        _words("pandas", "numpy", "polars", "dataframes?"),
        ("python", "data-science"),
        "Name the data tools you work in every day, such as pandas and NumPy.",
    ),
    Skill(
        "statistics",
        "statistics",
        _words(
            "statistics",
            "statistical",
            "regression",
            "hypothesis test\\w*",
            "bayesian",
            "causal inference",
            "time series",
            "forecasting",
        ),
        ("data-science", "analytics"),
        "Show your statistics: name the methods you used (regression, hypothesis tests, "
        "forecasting) and what they decided.",
    ),
    Skill(
        "experimentation",
        "A/B testing",
        _words("a/b test\\w*", "ab test\\w*", "experiment design", "experimentation", "uplift"),
        ("data-science", "analytics"),
        "Mention an A/B test or experiment you designed or analyzed, and what it changed.",
    ),
    Skill(
        "visualisation",
        "data visualization",
        _words(
            "tableau",
            "power bi",
            "looker",
            "matplotlib",
            "seaborn",
            "plotly",
            "dashboards?",
            "data visuali[sz]ation",
        ),
        ("analytics",),
        "Name the tools you present data with (Tableau, Power BI, matplotlib) and a dashboard "
        "people used.",
    ),
    Skill(
        "excel",
        "Excel or Google Sheets",
        _words("excel", "google sheets", "spreadsheets?"),
        ("analytics",),
        "List Excel or Google Sheets: most analyst roles still expect it.",
    ),
    Skill(
        "spark",
        "Spark",
        _words("spark", "pyspark", "hadoop", "flink"),
        ("data-engineering",),
        "Mention Spark (or the engine you processed large data with) and the data volumes.",
    ),
    Skill(
        "dbt",
        "dbt",
        _words("dbt"),
        ("data-engineering", "sql"),
        "Mention dbt (or how you modeled and tested data in the warehouse).",
    ),
    Skill(
        "streaming",
        "Kafka or streaming",
        _words("kafka", "kinesis", "pub/sub", "pubsub", "streaming"),
        ("data-engineering",),
        "Mention streaming work (Kafka, Kinesis, Pub/Sub) if you have built real-time pipelines.",
    ),
    Skill(
        "warehouse",
        "a data warehouse",
        _words("snowflake", "bigquery", "redshift", "data warehouse", "lakehouse", "delta lake"),
        ("data-engineering", "sql"),
        "Name the warehouse you worked in, such as Snowflake, BigQuery or Redshift.",
    ),
    Skill(
        "cloud",
        "a cloud platform",
        _words("aws", "amazon web services", "gcp", "google cloud", "azure"),
        ("cloud",),
        "Name the cloud you built on (AWS, Google Cloud or Azure) and the services you used.",
    ),
    Skill(
        "kubernetes",
        "Kubernetes",
        _words("kubernetes", "k8s", "helm", "eks", "gke", "aks"),
        ("mlops",),
        "Mention Kubernetes if you have run models or services on it.",
    ),
    Skill(
        "ci_cd",
        "CI/CD",
        _words("ci/cd", "ci", "continuous integration", "github actions", "gitlab ci", "jenkins"),
        ("mlops", "software-engineering"),
        "Show how you ship: name the CI/CD you set up (GitHub Actions, GitLab CI, Jenkins).",
    ),
    Skill(
        "terraform",
        "infrastructure as code",
        _words("terraform", "pulumi", "cloudformation", "infrastructure as code"),
        ("mlops", "cloud"),
        "Mention infrastructure as code (Terraform, CloudFormation) if you provisioned platforms.",
    ),
)
_SKILL = {skill.id: skill for skill in SKILLS}


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
assert all(s in _SKILL for p in PROFILES for s in p.skills), "a profile names an unknown skill"


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

# Target-role words that say which expertise a coach needs (routing; services/resumes/routing.py).
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


def role_tags(target_role: str) -> set[str]:
    tags: set[str] = set()
    for pattern, names in ROLE_TAGS:
        if pattern.search(target_role):
            tags.update(names)
    return tags


def skills_found(text: str) -> list[str]:
    return [skill.id for skill in SKILLS if skill.pattern.search(text)]


def skill_tags(skill_ids: list[str]) -> set[str]:
    return {tag for skill_id in skill_ids if skill_id in _SKILL for tag in _SKILL[skill_id].tags}


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
        skill = _SKILL[skill_id]
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
