"""The review rubric: the five criteria a coach scores 1–5, what each is called, and what a 1, a 3
and a 5 mean for it. The one place this text lives: the coach's review form shows the anchors
beside each score, the learner's review and the emails use the labels, and the API document
describes each score with them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Criterion:
    id: str
    label: str
    question: str
    anchors: dict[int, str]  # 1, 3 and 5; a 2 or a 4 lies between

    def describe(self) -> str:
        """The anchors as one sentence (for the API document)."""
        return f"{self.question} " + " ".join(f"{n}: {text}" for n, text in self.anchors.items())


RUBRIC: tuple[Criterion, ...] = (
    Criterion(
        "impact",
        "Impact",
        "Does each role show what changed because of the work?",
        {
            1: "Duties only: no results, nothing measured.",
            3: "Some results, but few of them measured.",
            5: "Every role leads with measured results (accuracy, latency, cost, users).",
        },
    ),
    Criterion(
        "clarity",
        "Clarity",
        "Can a recruiter scan it and find the strongest work?",
        {
            1: "Dense paragraphs; roles, dates or the point are hard to find.",
            3: "Readable, but the strongest work is buried or wordy.",
            5: "Scannable in 30 seconds: short bullets, newest and strongest first.",
        },
    ),
    Criterion(
        "ml_relevance",
        "ML relevance",
        "Does it speak to the target role?",
        {
            1: "Little of it is about the target role.",
            3: "The right skills are listed, but no project shows them in use.",
            5: "Skills, projects and results all point at the target role.",
        },
    ),
    Criterion(
        "formatting",
        "Formatting",
        "Is it clean and consistent?",
        {
            1: "Inconsistent fonts, dates or layout, or typos.",
            3: "Consistent, with a few slips in layout or spelling.",
            5: "Clean and consistent, no typos, one or two pages.",
        },
    ),
    Criterion(
        "ats_readiness",
        "ATS readiness",
        "Can an applicant tracking system read it?",
        {
            1: "Text in images, tables or columns that a tracking system cannot read.",
            3: "Readable, but section names or the role's keywords are missing.",
            5: "Plain text, standard sections and the role's keywords present.",
        },
    ),
)

CRITERIA: tuple[str, ...] = tuple(c.id for c in RUBRIC)
LABELS: dict[str, str] = {c.id: c.label for c in RUBRIC}
BY_ID: dict[str, Criterion] = {c.id: c for c in RUBRIC}

# The outcomes a coach chooses from, as the learner reads them, in the order the form lists them.
OUTCOMES: dict[str, str] = {
    "approved": "Approved",
    "changes_suggested": "Changes suggested",
    "changes_required": "Changes required",
}


def in_a_sentence(names: list[str]) -> str:
    """What changed, as words in a sentence: ``impact, ATS readiness and outcome``."""
    words = []
    for name in names:
        label = LABELS.get(name, name)
        words.append(label if label[:2].isupper() else label[:1].lower() + label[1:])
    if len(words) < 2:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
