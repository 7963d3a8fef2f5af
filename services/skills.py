"""The one skill vocabulary: every skill the product recognises in a text, read by the automated
checks of a résumé (services.resumes.checks), the gap analysis against a job description
(services.resumes.jobmatch), the routing of résumés (services.resumes.routing) and of bookings by
their intake answers (services.booking.intake).

- ``TERMS``: each skill's canonical id, the name shown, the spellings that mean it (PyTorch and
  torch, k8s and Kubernetes, LLM and large language model, scikit-learn and sklearn), the coach
  expertise tags it counts for, and whether it is a hard (technical) skill or a soft one. A
  spelling means one skill only.
- ``GROUPS``: what the automated checks look for, each met when the text names any of its terms
  ("PyTorch or TensorFlow", "a cloud ML platform"), with the advice shown when it is missing.
- ``ROLE_WORDS``: the words of a target role that call for a coach's expertise.

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


_DATA_ENG = ["sql", "data-engineering"]
_CLOUD_ML = ["cloud", "mlops"]
_ANALYTICS = ["analytics"]

TERMS: tuple[Term, ...] = (
    _t("python", "Python", ["python", "python3"], ["python"]),
    _t("sql", "SQL", ["sql", "postgresql", "postgres", "mysql"], ["sql"]),
    _t("snowflake", "Snowflake", ["snowflake"], _DATA_ENG),
    _t("bigquery", "BigQuery", ["bigquery"], _DATA_ENG),
    _t("redshift", "Redshift", ["redshift"], _DATA_ENG),
    _t(
        "data_warehouse",
        "Data warehouse",
        ["data warehouse", "data warehouses", "data warehousing", "lakehouse", "delta lake"],
        _DATA_ENG,
    ),
    _t("dbt", "dbt", ["dbt"], _DATA_ENG),
    _t("pytorch", "PyTorch", ["pytorch", "torch"], ["deep-learning", "ml"]),
    # Not "tf": TF-IDF would read as TensorFlow.
    _t("tensorflow", "TensorFlow", ["tensorflow", "keras"], ["deep-learning", "ml"]),
    _t("scikit_learn", "scikit-learn", ["scikit learn", "sklearn", "scikit"], ["ml"]),
    _t("pandas", "pandas", ["pandas", "dataframe", "dataframes"], ["python", "data-science"]),
    _t("numpy", "NumPy", ["numpy"], ["python", "data-science"]),
    _t("polars", "Polars", ["polars"], ["python", "data-science"]),
    _t(
        "docker",
        "Docker",
        ["docker", "container", "containers", "containerization", "containerisation"],
        ["docker", "mlops"],
    ),
    _t("kubernetes", "Kubernetes", ["kubernetes", "k8s", "helm", "eks", "gke", "aks"], ["mlops"]),
    _t("mlops", "MLOps", ["mlops", "ml ops", "model deployment", "model serving"], ["mlops"]),
    _t("mlflow", "MLflow", ["mlflow", "experiment tracking"], ["mlflow", "mlops"]),
    _t(
        "airflow",
        "Airflow",
        ["airflow", "apache airflow"],
        ["airflow", "data-engineering", "mlops"],
    ),
    _t("spark", "Spark", ["spark", "pyspark", "apache spark"], ["data-engineering"]),
    _t("hadoop", "Hadoop", ["hadoop"], ["data-engineering"]),
    _t("flink", "Flink", ["flink"], ["data-engineering"]),
    _t("kafka", "Kafka", ["kafka"], ["data-engineering"]),
    _t(
        "streaming",
        "Stream processing",
        ["streaming", "stream processing", "kinesis", "pub sub", "pubsub"],
        ["data-engineering"],
    ),
    _t("aws", "AWS", ["aws", "amazon web services"], ["cloud"]),
    _t("gcp", "Google Cloud", ["gcp", "google cloud"], ["cloud"]),
    _t("azure", "Azure", ["azure"], ["cloud"]),
    _t("sagemaker", "SageMaker", ["sagemaker"], _CLOUD_ML),
    _t("vertex_ai", "Vertex AI", ["vertex ai", "vertex"], _CLOUD_ML),
    _t("azure_ml", "Azure Machine Learning", ["azure ml", "azure machine learning"], _CLOUD_ML),
    _t("databricks", "Databricks", ["databricks"], _CLOUD_ML),
    _t("terraform", "Terraform", ["terraform"], ["mlops", "cloud"]),
    _t(
        "iac",
        "Infrastructure as code",
        ["infrastructure as code", "iac", "pulumi", "cloudformation"],
        ["mlops", "cloud"],
    ),
    _t(
        "ci_cd",
        "CI/CD",
        [
            "ci cd",
            "ci",
            "continuous integration",
            "continuous delivery",
            "continuous deployment",
            "github actions",
            "gitlab ci",
            "jenkins",
        ],
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
    _t(
        "statistics",
        "Statistics",
        [
            "statistics",
            "statistical",
            "regression",
            "bayesian",
            "hypothesis test",
            "hypothesis tests",
            "hypothesis testing",
            "causal inference",
            "time series",
            "forecasting",
        ],
        ["data-science", "analytics", "ml"],
    ),
    _t(
        "experimentation",
        "A/B testing",
        [
            "a b test",
            "a b tests",
            "a b tested",
            "a b testing",
            "ab test",
            "ab tests",
            "ab testing",
            "experiment design",
            "experimentation",
            "uplift",
        ],
        ["data-science", "analytics"],
    ),
    _t("tableau", "Tableau", ["tableau"], _ANALYTICS),
    _t("power_bi", "Power BI", ["power bi"], _ANALYTICS),
    _t("looker", "Looker", ["looker"], _ANALYTICS),
    _t(
        "data_visualization",
        "Data visualization",
        [
            "data visualization",
            "data visualisation",
            "matplotlib",
            "seaborn",
            "plotly",
            "dashboard",
            "dashboards",
        ],
        _ANALYTICS,
    ),
    _t("excel", "Excel", ["excel", "google sheets", "spreadsheet", "spreadsheets"], _ANALYTICS),
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


@dataclass(frozen=True)
class Group:
    """A skill the automated checks look for: met when the text names any of ``terms``."""

    id: str  # the check's id is ``skill_<id>``
    name: str  # as in "Mentions PyTorch or TensorFlow."
    terms: tuple[str, ...]
    advice: str  # what to do when the résumé does not name it

    @property
    def tags(self) -> set[str]:
        return {tag for term_id in self.terms for tag in BY_ID[term_id].tags}

    def met(self, found: Iterable[str]) -> bool:
        return not set(self.terms).isdisjoint(found)


def _g(id_: str, terms: Iterable[str], advice: str, name: str | None = None) -> Group:
    terms = tuple(terms)
    return Group(id_, name or BY_ID[terms[0]].name, terms, advice)


GROUPS: tuple[Group, ...] = (
    _g(
        "python",
        ["python"],
        "Name Python with the projects where you used it: most data and ML roles expect it.",
    ),
    _g(
        "sql",
        ["sql", "snowflake", "bigquery"],
        "Most data roles query data with SQL; mention the databases or warehouses you have used.",
    ),
    _g(
        "deep_learning",
        ["pytorch", "tensorflow"],
        "Name PyTorch or TensorFlow and a model you trained with it.",
        "PyTorch or TensorFlow",
    ),
    _g(
        "scikit_learn",
        ["scikit_learn"],
        "Add scikit-learn: recruiters search for it for classical ML work.",
    ),
    _g(
        "docker",
        ["docker", "kubernetes"],
        "Show that you can package your work: mention Docker (and Kubernetes if you used it).",
    ),
    _g("git", ["git"], "List Git (and a link to your GitHub) so reviewers can see your code."),
    _g(
        "cloud_ml",
        ["sagemaker", "vertex_ai", "azure_ml", "databricks", "aws", "gcp", "azure"],
        "Name a cloud ML platform you have deployed on, such as AWS SageMaker, Google Vertex AI "
        "or Azure Machine Learning.",
        "a cloud ML platform",
    ),
    _g(
        "mlflow",
        ["mlflow"],
        "Mention experiment tracking with MLflow (or the tool you used for it).",
    ),
    _g(
        "airflow",
        ["airflow"],
        "Mention pipeline orchestration with Airflow if you have built scheduled pipelines.",
    ),
    _g(
        "pandas",
        ["pandas", "numpy", "polars"],
        "Name the data tools you work in every day, such as pandas and NumPy.",
        "pandas or NumPy",
    ),
    _g(
        "statistics",
        ["statistics"],
        "Show your statistics: name the methods you used (regression, hypothesis tests, "
        "forecasting) and what they decided.",
        "statistics",
    ),
    _g(
        "experimentation",
        ["experimentation"],
        "Mention an A/B test or experiment you designed or analyzed, and what it changed.",
    ),
    _g(
        "visualisation",
        ["tableau", "power_bi", "looker", "data_visualization"],
        "Name the tools you present data with (Tableau, Power BI, matplotlib) and a dashboard "
        "people used.",
        "data visualization",
    ),
    _g(
        "excel",
        ["excel"],
        "List Excel or Google Sheets: most analyst roles still expect it.",
        "Excel or Google Sheets",
    ),
    _g(
        "spark",
        ["spark", "hadoop", "flink"],
        "Mention Spark (or the engine you processed large data with) and the data volumes.",
    ),
    _g("dbt", ["dbt"], "Mention dbt (or how you modeled and tested data in the warehouse)."),
    _g(
        "streaming",
        ["kafka", "streaming"],
        "Mention streaming work (Kafka, Kinesis, Pub/Sub) if you have built real-time pipelines.",
        "Kafka or streaming",
    ),
    _g(
        "warehouse",
        ["snowflake", "bigquery", "redshift", "data_warehouse"],
        "Name the warehouse you worked in, such as Snowflake, BigQuery or Redshift.",
        "a data warehouse",
    ),
    _g(
        "cloud",
        ["aws", "gcp", "azure"],
        "Name the cloud you built on (AWS, Google Cloud or Azure) and the services you used.",
        "a cloud platform",
    ),
    _g(
        "kubernetes", ["kubernetes"], "Mention Kubernetes if you have run models or services on it."
    ),
    _g(
        "ci_cd",
        ["ci_cd"],
        "Show how you ship: name the CI/CD you set up (GitHub Actions, GitLab CI, Jenkins).",
    ),
    _g(
        "terraform",
        ["terraform", "iac"],
        "Mention infrastructure as code (Terraform, CloudFormation) if you provisioned platforms.",
        "infrastructure as code",
    ),
)
GROUP_BY_ID = {group.id: group for group in GROUPS}
assert all(t in BY_ID for g in GROUPS for t in g.terms), "a group names an unknown term"


def _words(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])(?:" + "|".join(alternatives) + r")(?![\w-])", re.IGNORECASE)


# Target-role words that say which expertise a coach needs (routing), read on the role as typed.
ROLE_WORDS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (_words("machine learning", "ml", "mle", "ai", "artificial intelligence"), ("ml",)),
    (_words("mlops", "ml ops", "ml platform", "ml infrastructure"), ("mlops", "ml")),
    (_words("data scien\\w*", "data scientist"), ("data-science", "ml")),
    (_words("data engineer\\w*"), ("data-engineering", "sql")),
    (_words("deep learning", "computer vision", "nlp", "llm\\w*"), ("deep-learning", "ml")),
    (_words("python"), ("python",)),
    (_words("software engineer\\w*", "backend", "developer"), ("software-engineering",)),
    (_words("analyst", "analytics"), ("sql", "analytics")),
)

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
assert all(normalise(s) == s for s in _BY_SPELLING), "a spelling is not normalised"


def canonical(word: str) -> str | None:
    """The skill id a single spelling means (``torch`` → ``pytorch``), or None."""
    return _BY_SPELLING.get(normalise(word))


def find(text: str) -> list[str]:
    """The ids of the skills ``text`` names, in the table's order, hard skills first."""
    plain = normalise(text)
    found = [term.id for term, pattern in _PATTERNS if pattern.search(plain)]
    return sorted(found, key=lambda skill_id: not BY_ID[skill_id].hard)


_PATTERN_OF = {term.id: pattern for term, pattern in _PATTERNS}


def names_skill(text: str, skill_id: str) -> bool:
    """Whether ``text`` names the skill (any of its spellings)."""
    return bool(_PATTERN_OF[skill_id].search(normalise(text)))


def groups_met(found: Iterable[str]) -> list[str]:
    """The ids of the checks' groups that the skills ``found`` (term ids) meet, in order."""
    found = set(found)
    return [group.id for group in GROUPS if group.met(found)]


def tags(skill_ids: Iterable[str]) -> set[str]:
    """The coach expertise tags the skills count for. A group's id (what versions analysed
    before the one vocabulary stored) counts for its terms' tags."""
    result: set[str] = set()
    for skill_id in skill_ids:
        if skill_id in BY_ID:
            result.update(BY_ID[skill_id].tags)
        elif skill_id in GROUP_BY_ID:
            result.update(GROUP_BY_ID[skill_id].tags)
    return result


def role_tags(target_role: str) -> set[str]:
    """The coach expertise tags a target role calls for."""
    found: set[str] = set()
    for pattern, role_tags_ in ROLE_WORDS:
        if pattern.search(target_role or ""):
            found.update(role_tags_)
    return found


def names(skill_ids: Iterable[str]) -> list[str]:
    return [BY_ID[s].name for s in skill_ids if s in BY_ID]
