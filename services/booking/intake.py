"""Intake questions: what a learner answers when booking a type, so the coach does not start blind.

Staff keep, per interview type, an ordered list of questions of six kinds (short or long text,
single or multiple choice, URL, date), each required or optional, with help text. A question may
show only when an earlier single or multiple choice question was answered a given value (one
level: the condition's question has no condition itself). ``check_answers`` validates a learner's
``{question_id: value}`` and returns the answers as stored on the booking, each with the
question's wording as asked, so a later edit of the question never rewrites them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from services import audit, skills
from services.db import db
from services.errors import NotFound, ValidationFailed
from services.models import IntakeQuestion, InterviewType, User
from services.models.booking import INTAKE_KINDS
from services.validation import is_id

KIND_LABELS = {
    "short": "Short text",
    "long": "Long text",
    "single": "Single choice",
    "multi": "Multiple choice",
    "url": "Link (URL)",
    "date": "Date",
}
assert tuple(KIND_LABELS) == INTAKE_KINDS
CHOICE_KINDS = ("single", "multi")
MAX_QUESTIONS = 10
MAX_LENGTH = {"short": 200, "long": 2000, "url": 500}
MAX_OPTIONS = 20
MAX_OPTION_LENGTH = 200
MAX_LABEL_LENGTH = 200
MAX_HELP_LENGTH = 500

Answer = dict[str, Any]  # {"question_id", "question", "kind", "value"}


# --- reading -------------------------------------------------------------------------------------


def questions_of(itype_id: int) -> list[IntakeQuestion]:
    """A type's active questions, in order."""
    return list(
        db.session.scalars(
            select(IntakeQuestion)
            .where(IntakeQuestion.interview_type_id == itype_id, IntakeQuestion.active.is_(True))
            .order_by(IntakeQuestion.position, IntakeQuestion.id)
        )
    )


def questions_by_type(types: Iterable[InterviewType]) -> dict[int, list[IntakeQuestion]]:
    ids = [t.id for t in types]
    found: dict[int, list[IntakeQuestion]] = {i: [] for i in ids}
    for question in db.session.scalars(
        select(IntakeQuestion)
        .where(IntakeQuestion.interview_type_id.in_(ids), IntakeQuestion.active.is_(True))
        .order_by(IntakeQuestion.position, IntakeQuestion.id)
    ):
        found[question.interview_type_id].append(question)
    return found


def as_dict(question: IntakeQuestion) -> dict[str, Any]:
    """A question as the API lists it."""
    condition = None
    if question.condition_question_id is not None and question.condition_value is not None:
        condition = {
            "question_id": question.condition_question_id,
            "value": question.condition_value,
        }
    return {
        "id": question.id,
        "kind": question.kind,
        "label": question.label,
        "help": question.help,
        "required": question.required,
        "options": list(question.options or []),
        "condition": condition,
    }


# --- answers -------------------------------------------------------------------------------------


def _shown(question: IntakeQuestion, raw: dict[str, Any]) -> bool:
    """Whether the question applies: no condition, or the earlier choice has the value."""
    if question.condition_question_id is None or question.condition_value is None:
        return True
    earlier = raw.get(str(question.condition_question_id))
    if isinstance(earlier, list):
        return question.condition_value in earlier
    return earlier == question.condition_value


def _blank(value: Any) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def _check_value(question: IntakeQuestion, value: Any) -> tuple[str | list[str], str | None]:
    """The value cleaned, or an error message."""
    kind = question.kind
    if kind == "multi":
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in values):
            return [], "Pick from the choices given."
        picked = [v.strip() for v in values if v.strip()]
        unknown = [v for v in picked if v not in question.options]
        if unknown:
            return [], f"Pick from the choices given ({unknown[0]!r} is not one)."
        return [o for o in question.options if o in picked], None  # in the question's order
    if not isinstance(value, str):
        return "", "Give text."
    text = value.strip()
    if "\x00" in text:
        return "", "Remove the NUL character."
    if kind == "single":
        if text not in question.options:
            return "", "Pick one of the choices given."
        return text, None
    if kind == "date":
        try:
            return dt.date.fromisoformat(text).isoformat(), None
        except ValueError:
            return "", "Give a date as YYYY-MM-DD."
    limit = MAX_LENGTH[kind]
    if len(text) > limit:
        return "", f"Use at most {limit} characters."
    if kind == "url":
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "", "Give a full link that starts with https://."
    return text, None


def check_answers(itype: InterviewType, raw: dict[str, Any] | None) -> list[Answer]:
    """The learner's answers to ``itype``'s questions, validated, as the booking keeps them.
    An answer to a question that does not apply (its condition unmet) is dropped. Raises
    ValidationFailed naming each question at fault (``answers.<id>``)."""
    raw = {str(k): v for k, v in (raw or {}).items()}
    questions = questions_of(itype.id)
    known = {str(q.id) for q in questions}
    errors: dict[str, list[str]] = {}
    for key in raw:
        if key not in known:
            errors[f"answers.{key}"] = [f"{itype.name} has no question {key}."]
    answers: list[Answer] = []
    missing: list[str] = []
    for question in questions:
        key = str(question.id)
        if not _shown(question, raw):
            continue
        value = raw.get(key)
        if _blank(value):
            if question.required:
                missing.append(question.label)
                errors[f"answers.{key}"] = [f"Answer “{question.label}”: it is required."]
            continue
        clean, error = _check_value(question, value)
        if error:
            errors[f"answers.{key}"] = [f"“{question.label}”: {error}"]
            continue
        answers.append(
            {
                "question_id": question.id,
                "question": question.label,
                "kind": question.kind,
                "value": clean,
            }
        )
    if errors:
        if missing:
            detail = "Answer the required question" + (
                f" “{missing[0]}”."
                if len(missing) == 1
                else "s " + ", ".join(f"“{m}”" for m in missing) + "."
            )
        else:
            detail = next(iter(errors.values()))[0]
        raise ValidationFailed(detail, errors)
    return answers


def shown_value(answer: Answer) -> str:
    value = answer.get("value")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value or "")


def answers_text(answers: Sequence[Answer]) -> str:
    """The answers as plain lines (emails, calendar events): ``Question: answer``."""
    return "\n".join(f"{a['question']}: {shown_value(a)}" for a in answers)


def skills_named(answers: Sequence[Answer]) -> list[str]:
    """The skill ids the answers name (services.skills), for routing a booking."""
    return skills.find("\n".join(shown_value(a) for a in answers))


def wanted_tags(answers: Sequence[Answer]) -> frozenset[str]:
    """The coach expertise the answers call for: the tags of the skills they name."""
    return frozenset(skills.tags(skills_named(answers)))


def may_name_skills(questions: Sequence[IntakeQuestion]) -> bool:
    """Whether answers to ``questions`` could name a skill, and so change which free coach round
    robin chooses: a text or link question, or a choice with an option that names one."""
    return any(
        q.kind in ("short", "long", "url")
        or (q.kind in CHOICE_KINDS and skills.find("\n".join(q.options or [])))
        for q in questions
    )


_SKILL_TAGS = frozenset(skills.tags(term.id for term in skills.TERMS))


def _expertise(coach: User) -> frozenset[str]:
    return frozenset(tag.lower() for tag in coach.expertise or []) & _SKILL_TAGS


def answers_may_move(
    questions: Sequence[IntakeQuestion], named: User, others: Sequence[User]
) -> list[tuple[User, list[str]]]:
    """The other free coaches the answers could send a session to instead of ``named`` (the one
    round robin would choose with no skills named), each with the expertise tags it has and
    ``named`` lacks: round robin prefers the coach whose expertise covers more of the skills the
    answers name, ``named`` among equals. None when no question could name a skill."""
    if not may_name_skills(questions):
        return []
    own = _expertise(named)
    moves = [(other, sorted(_expertise(other) - own)) for other in others]
    return [(other, extra) for other, extra in moves if extra]


def placement_reason(named: Sequence[str], covered: Sequence[str], free_count: int) -> str:
    """Why round robin chose the coach, for staff: the skills the answers named and which of
    them the coach's expertise covers."""
    said = ", ".join(skills.names(named))
    if covered:
        return (
            f"The learner's answers name {said}; among {free_count} free "
            f"coach{'es' if free_count != 1 else ''}, this one's expertise covers "
            f"{', '.join(covered)}."
        )
    return (
        f"The learner's answers name {said}; no free coach's expertise covers them, so round "
        "robin chose."
    )


# --- staff editing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionSpec:
    kind: str
    label: str
    help: str = ""
    required: bool = False
    options: tuple[str, ...] = ()
    condition_question_id: int | None = None
    condition_value: str | None = None


def _type(itype_id: int) -> InterviewType:
    itype = db.session.get(InterviewType, itype_id)
    if itype is None:
        raise NotFound("There is no such interview type.")
    return itype


def _question(itype: InterviewType, question_id: int) -> IntakeQuestion:
    question = db.session.get(IntakeQuestion, question_id) if is_id(question_id) else None
    if question is None or question.interview_type_id != itype.id or not question.active:
        raise NotFound("There is no such question for this interview type.")
    return question


def _check_spec(itype: InterviewType, spec: QuestionSpec, own_id: int | None) -> QuestionSpec:
    errors: dict[str, list[str]] = {}
    label = spec.label.strip()
    if not label:
        errors["label"] = ["Write the question."]
    elif len(label) > MAX_LABEL_LENGTH:
        errors["label"] = [f"Use at most {MAX_LABEL_LENGTH} characters."]
    if spec.kind not in INTAKE_KINDS:
        errors["kind"] = [f"Use one of {', '.join(INTAKE_KINDS)}."]
    if len(spec.help) > MAX_HELP_LENGTH:
        errors["help"] = [f"Use at most {MAX_HELP_LENGTH} characters."]
    options = tuple(dict.fromkeys(o.strip() for o in spec.options if o.strip()))
    if spec.kind in CHOICE_KINDS:
        if len(options) < 2:
            errors["options"] = ["Give at least two choices, one a line."]
        elif len(options) > MAX_OPTIONS or any(len(o) > MAX_OPTION_LENGTH for o in options):
            errors["options"] = [
                f"Give at most {MAX_OPTIONS} choices of {MAX_OPTION_LENGTH} characters each."
            ]
    else:
        options = ()
    condition_id, condition_value = spec.condition_question_id, None
    if condition_id is not None:
        earlier = db.session.get(IntakeQuestion, condition_id) if is_id(condition_id) else None
        if (
            earlier is None
            or earlier.interview_type_id != itype.id
            or not earlier.active
            or earlier.id == own_id
        ):
            errors["condition_question_id"] = ["Pick an earlier question of this type."]
        elif earlier.kind not in CHOICE_KINDS:
            errors["condition_question_id"] = ["A condition needs a single or multiple choice."]
        elif earlier.condition_question_id is not None:
            errors["condition_question_id"] = [
                "That question has a condition itself: one level of condition only."
            ]
        elif (spec.condition_value or "").strip() not in earlier.options:
            errors["condition_value"] = ["Pick one of that question's choices."]
        else:
            condition_value = (spec.condition_value or "").strip()
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], errors)
    return QuestionSpec(
        spec.kind, label, spec.help.strip(), spec.required, options, condition_id, condition_value
    )


def _audit(actor: User | None, action: str, question: IntakeQuestion) -> None:
    if actor is not None:
        audit.record(
            actor,
            action,
            "intake_question",
            question.id,
            interview_type_id=question.interview_type_id,
            label=question.label,
        )


def add_question(itype_id: int, spec: QuestionSpec, *, actor: User | None = None) -> IntakeQuestion:
    """Add a question at the end of the type's list (audited when staff add it). Raises
    ValidationFailed, NotFound."""
    itype = _type(itype_id)
    if len(questions_of(itype.id)) >= MAX_QUESTIONS:
        raise ValidationFailed.field("label", f"A type has at most {MAX_QUESTIONS} questions.")
    spec = _check_spec(itype, spec, None)
    last = db.session.scalar(
        select(func.max(IntakeQuestion.position)).where(
            IntakeQuestion.interview_type_id == itype.id
        )
    )
    question = IntakeQuestion(
        interview_type_id=itype.id,
        position=(last or 0) + 1,
        kind=spec.kind,
        label=spec.label,
        help=spec.help,
        required=spec.required,
        options=list(spec.options),
        condition_question_id=spec.condition_question_id,
        condition_value=spec.condition_value,
    )
    db.session.add(question)
    db.session.flush()
    _audit(actor, "intake_question.add", question)
    return question


def update_question(
    itype_id: int, question_id: int, spec: QuestionSpec, *, actor: User | None = None
) -> IntakeQuestion:
    """Change a question; answers already given keep the wording they were given under."""
    itype = _type(itype_id)
    question = _question(itype, question_id)
    spec = _check_spec(itype, spec, question.id)
    question.kind, question.label, question.help = spec.kind, spec.label, spec.help
    question.required, question.options = spec.required, list(spec.options)
    question.condition_question_id = spec.condition_question_id
    question.condition_value = spec.condition_value
    db.session.flush()
    _audit(actor, "intake_question.update", question)
    return question


def remove_question(itype_id: int, question_id: int, *, actor: User | None = None) -> None:
    """Stop asking a question (answers given keep it); questions conditional on it lose the
    condition and always show."""
    itype = _type(itype_id)
    question = _question(itype, question_id)
    question.active = False
    for other in questions_of(itype.id):
        if other.condition_question_id == question.id:
            other.condition_question_id, other.condition_value = None, None
    db.session.flush()
    _audit(actor, "intake_question.remove", question)


def move_question(
    itype_id: int, question_id: int, delta: int, *, actor: User | None = None
) -> None:
    """Move a question one place up (-1) or down (+1)."""
    itype = _type(itype_id)
    question = _question(itype, question_id)
    ordered = questions_of(itype.id)
    at = ordered.index(question)
    to = at + (1 if delta > 0 else -1)
    if not 0 <= to < len(ordered):
        return
    ordered[at], ordered[to] = ordered[to], ordered[at]
    for position, q in enumerate(ordered, start=1):
        q.position = position
    db.session.flush()
    _audit(actor, "intake_question.move", question)


# --- seeded questions ----------------------------------------------------------------------------

LEVELS = ("Intern or new graduate", "Junior", "Mid-level", "Senior", "Staff or principal")
SCHEDULED = ("Yes", "Not yet")


def seed_questions(itype: InterviewType) -> None:
    """The questions every type starts with, all optional; only for a type that never had any."""
    had = db.session.scalar(
        select(func.count(IntakeQuestion.id)).where(IntakeQuestion.interview_type_id == itype.id)
    )
    if had:
        return
    add_question(
        itype.id,
        QuestionSpec("short", "Target company", "The company you are interviewing with, if any."),
    )
    add_question(itype.id, QuestionSpec("single", "Role level", options=LEVELS))
    scheduled = add_question(
        itype.id,
        QuestionSpec("single", "Do you have a real interview scheduled?", options=SCHEDULED),
    )
    add_question(
        itype.id,
        QuestionSpec(
            "date",
            "When is the interview?",
            condition_question_id=scheduled.id,
            condition_value="Yes",
        ),
    )
    add_question(
        itype.id,
        QuestionSpec(
            "long",
            "What should the session focus on?",
            "Topics or skills to practice, such as Kubernetes or model evaluation.",
        ),
    )
    add_question(
        itype.id,
        QuestionSpec("url", "Link to the job description", "A posting the coach can read first."),
    )
