"""Marshmallow schemas of the API's requests and responses (they make the OpenAPI document)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import g
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services import localtime
from services.booking import intake, interview_types
from services.errors import ValidationFailed
from services.resumes import NUL_MESSAGE
from services.validation import MAX_ID

_pages: dict[type[Schema], type[Schema]] = {}

# --- what a client sends: each field takes exactly what the OpenAPI document says it takes -------

# PostgreSQL cannot store a NUL character, so no text a client sends may hold one.
NO_NUL = r"^[^\u0000]*$"


class Text(fields.String):
    """Text a client sends: any string but one holding a NUL character (documented as a pattern)."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"pattern": NO_NUL, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError(NUL_MESSAGE)
        return text


class JsonInteger(fields.Integer):
    """An integer in a JSON body, as JSON Schema's `integer` means it: 3 (or 3.0), never "3",
    true or 3.5."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _validated(self, value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super()._validated(value)


class QueryInteger(fields.Integer):
    """An integer in a query string: its ASCII digits (an optional minus first), nothing else
    (not " 3", "3.0", "3_000" or other scripts' digits, which int() would take)."""

    def _validated(self, value: Any) -> int:
        if not isinstance(value, str) or not re.fullmatch(r"-?[0-9]{1,20}", value):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


def object_id(**kwargs: Any) -> JsonInteger:
    """The id of a row, in a JSON body: 1 to the largest id the database holds."""
    return JsonInteger(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def query_id(**kwargs: Any) -> QueryInteger:
    """The id of a row, in a query string."""
    return QueryInteger(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class JsonBoolean(fields.Boolean):
    """JSON true or false only (not 1, "yes" or "true"), as the document's `boolean` says."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class QueryBoolean(fields.Boolean):
    """A boolean in a query string: `true` or `false`."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if value not in ("true", "false"):
            raise self.make_error("invalid", input=value)
        return value == "true"


class Zone(fields.String):
    """A time zone a person may pick (services.localtime): documented as the list of them. The
    caller's own zone is taken too, even an old name (US/Eastern) they were given before; an
    answer may show such a name, a request may not choose one."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "description": "An IANA zone of a place, e.g. Europe/Berlin (the caller's current "
            "zone is accepted too, as `GET /api/v1/me` shows it).",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)
        names: list[str | None] = sorted(localtime.selectable_zones())
        self.metadata["enum"] = [*names, None] if self.allow_none else names

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        name = super()._deserialize(value, attr, data, **kwargs)
        caller = g.get("api_user")
        try:
            picked = localtime.check_zone(name, current=caller.timezone if caller else None)
        except ValidationFailed as exc:
            raise ValidationError(exc.detail) from None
        if picked != name:  # check_zone forgives spaces around the name; the document does not
            raise ValidationError("Give the zone's name without spaces around it.")
        return picked


def type_slug(**kwargs: Any) -> fields.String:
    """An interview type's slug: one of the desk's types (an inactive one is refused with 422)."""
    slugs = [spec.slug for spec in interview_types.DEFAULT_TYPES]
    refusal = "There is no interview type {input!r}. Use any of: {choices}."
    return fields.String(validate=validate.OneOf(slugs, error=refusal), **kwargs)


class NamedKeys(fields.Dict):
    """A map whose keys are names from a known list (read when the document is made, so a registry
    filled at import time is complete): documented as ``propertyNames: {"enum": [...]}``. The
    service checks the keys of a request and answers 422 for any other."""

    def __init__(self, names: Callable[[], Iterable[str]], **kwargs: Any) -> None:
        super().__init__(keys=fields.String(), **kwargs)
        self.names = names


def named_keys2properties(self: Any, field: fields.Field, **kwargs: Any) -> dict[str, Any]:
    """apispec attribute function for NamedKeys and IdKeys."""
    if isinstance(field, NamedKeys):
        return {"propertyNames": {"enum": list(field.names())}}
    if isinstance(field, IdKeys):
        return {"propertyNames": {"pattern": ID_KEY}}
    return {}


# A row's id as an object's key: 1 to 999999999, no leading zero.
ID_KEY = r"^[1-9][0-9]{0,8}$"


class IdKeys(fields.Dict):
    """A map keyed by row ids written as strings (JSON keys are strings): documented as
    ``propertyNames: {"pattern": ...}``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(keys=fields.String(validate=validate.Regexp(ID_KEY)), **kwargs)


_ANSWER_TEXT = {"type": "string", "pattern": NO_NUL, "maxLength": 2000}
_ANSWER_CHOICES = {
    "type": "array",
    "items": {"type": "string", "pattern": NO_NUL, "maxLength": 200},
    "maxItems": 20,
}


class AnswerValue(fields.Field):
    """An intake answer: its text (a date as YYYY-MM-DD, a URL, a choice) or, for a multiple
    choice, the list of choices picked."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"anyOf": [_ANSWER_TEXT, _ANSWER_CHOICES], **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        items = value if isinstance(value, list) else None
        if items is None and not isinstance(value, str):
            raise ValidationError("Give text, or a list of the choices picked.")
        for text in items if items is not None else [value]:
            if not isinstance(text, str):
                raise ValidationError("Give each choice as text.")
            if "\x00" in text:
                raise ValidationError(NUL_MESSAGE)
            if len(text) > (200 if items is not None else 2000):
                raise ValidationError("This answer is too long.")
        if items is not None and len(items) > 20:
            raise ValidationError("Pick at most 20 choices.")
        return value


class IntakeConditionSchema(Schema):
    question_id = fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "The earlier single or multiple choice question."},
    )
    value = fields.String(
        required=True,
        validate=validate.Length(min=1, max=intake.MAX_OPTION_LENGTH),
        metadata={"description": "The earlier choice that shows this question."},
    )


_KINDS = validate.OneOf(list(intake.KIND_LABELS))
_KINDS_SAID = (
    f"short (at most {intake.MAX_LENGTH['short']} characters) or long "
    f"({intake.MAX_LENGTH['long']}) text, single or multi (multiple) choice, url (http or https, "
    f"{intake.MAX_LENGTH['url']}), or date (YYYY-MM-DD)."
)


class IntakeQuestionSchema(Schema):
    id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID))
    kind = fields.String(required=True, validate=_KINDS, metadata={"description": _KINDS_SAID})
    label = fields.String(
        required=True, validate=validate.Length(min=1, max=intake.MAX_LABEL_LENGTH)
    )
    help = fields.String(
        required=True,
        validate=validate.Length(max=intake.MAX_HELP_LENGTH),
        metadata={"description": "Help text shown under the question; may be empty."},
    )
    required = fields.Boolean(required=True)
    options = fields.List(
        fields.String(validate=validate.Length(min=1, max=intake.MAX_OPTION_LENGTH)),
        required=True,
        validate=validate.Length(max=intake.MAX_OPTIONS),
        metadata={"description": "The choices (choice kinds: two or more); empty for the others."},
    )
    condition = fields.Nested(
        IntakeConditionSchema,
        allow_none=True,
        required=True,
        metadata={
            "description": "Asked only when that earlier question was answered `value` (one of "
            "the values picked, for a multiple choice); null when always asked."
        },
    )


class IntakeAnswerSchema(Schema):
    question_id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID))
    question = fields.String(
        required=True,
        validate=validate.Length(min=1, max=intake.MAX_LABEL_LENGTH),
        metadata={"description": "The question's wording when it was answered."},
    )
    kind = fields.String(
        required=True, validate=_KINDS, metadata={"description": "The question's kind then."}
    )
    value = AnswerValue(
        required=True,
        metadata={
            "description": "The answer: text (a date as YYYY-MM-DD, a link, the choice picked), "
            "or the choices picked of a multiple choice, in the question's order."
        },
    )


def answers_list(description: str) -> fields.List:
    """The answers a booking or a waitlist entry keeps, in the questions' order."""
    return fields.List(
        fields.Nested(IntakeAnswerSchema),
        required=True,
        validate=validate.Length(max=intake.MAX_QUESTIONS),
        metadata={"description": description},
    )


def _at_most_ten(answers: dict[str, Any]) -> None:
    if len(answers) > intake.MAX_QUESTIONS:
        raise ValidationError(f"A type has at most {intake.MAX_QUESTIONS} questions.")


def intake_answers(**kwargs: Any) -> IdKeys:
    """A request's intake answers: ``{question_id: value}``."""
    return IdKeys(
        values=AnswerValue(),
        load_default=dict,
        validate=_at_most_ten,
        metadata={
            "maxProperties": intake.MAX_QUESTIONS,
            "description": "Answers to the type's intake questions (GET /api/v1/interview-types "
            "lists them), by question id: text, or a list of choices for a multiple choice. A "
            "required question left out is refused (422 naming `answers.<id>`).",
        },
        **kwargs,
    )


def page_schema(item: type[Schema]) -> type[Schema]:
    """The list envelope of every paged API list: {"items": [...], "next_cursor": "..." | null}."""
    if item not in _pages:
        name = item.__name__.removesuffix("Schema") + "PageSchema"
        _pages[item] = Schema.from_dict(
            {
                "items": fields.List(fields.Nested(item), required=True),
                "next_cursor": fields.String(required=True, allow_none=True),
            },
            name=name,
        )
    return _pages[item]


class PersonSchema(Schema):
    """Who a resource belongs to or is handled by: {"id", "name"}."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)


def person(user: Any) -> dict[str, Any] | None:
    """A user as PersonSchema shows them; None for nobody."""
    return {"id": user.id, "name": user.name} if user else None


class TokenRequestSchema(Schema):
    email = Text(required=True, validate=validate.Length(min=1, max=254))
    password = Text(required=True, validate=validate.Length(min=1, max=1024), load_only=True)
    otp = Text(
        load_default=None,
        validate=validate.Length(max=32),
        metadata={"description": "A TOTP or recovery code; required when two-factor is on."},
    )


class TokenSchema(Schema):
    token = fields.String(required=True)
    expires_at = fields.AwareDateTime(required=True)


class MeSchema(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(["learner", "coach", "staff"]))
    timezone = fields.String(
        required=True,
        metadata={
            "description": "The IANA time zone times are shown in, e.g. Europe/Berlin. It may be "
            "an older name (US/Eastern) the account was given before, which a change can no "
            "longer choose."
        },
    )
    clock = fields.String(
        required=True,
        validate=validate.OneOf(["12h", "24h"]),
        metadata={"description": "How times are written for this user: 2:30 PM or 14:30."},
    )


class MeUpdateSchema(Schema):
    """The caller's own settings; a field left out stays as it is."""

    name = Text(validate=validate.Length(min=1, max=120))
    timezone = Zone(
        metadata={
            "description": "An IANA zone of a place, e.g. America/New_York. Old or technical "
            "names (US/Eastern, Etc/GMT+1) are refused, except the one the caller already has."
        },
    )
    clock = fields.String(validate=validate.OneOf(["12h", "24h"]))


class InterviewTypeSchema(Schema):
    slug = fields.String(required=True)
    name = fields.String(required=True)
    duration_minutes = fields.Integer(required=True)
    description = fields.String(required=True)
    questions = fields.List(
        fields.Nested(IntakeQuestionSchema),
        required=True,
        validate=validate.Length(max=intake.MAX_QUESTIONS),
        metadata={"description": "The intake questions asked when booking, in order."},
    )
    coach_ids = fields.List(
        fields.Integer(),
        required=True,
        metadata={"description": "The active coaches who run this type, ids ascending."},
    )


class CoachSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    expertise = fields.List(
        fields.String(),
        required=True,
        metadata={
            "description": "Tags for résumé routing; they never decide which types a coach runs."
        },
    )
    interview_types = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Slugs of the active interview types this coach runs."},
    )
    has_hours = fields.Boolean(
        required=True,
        metadata={
            "description": "false: no weekly hours nor extra hours to come, so no slots yet "
            "(e.g. a coach who has just joined)."
        },
    )


class CoachTypesSchema(Schema):
    """Which interview types a coach runs."""

    coach_id = fields.Integer(required=True)
    runs_all_types = fields.Boolean(
        required=True,
        metadata={
            "description": "true: every active type, also types added or reactivated later; "
            "false: only the types staff chose."
        },
    )
    interview_types = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Slugs of the active types the coach runs now."},
    )


class CoachTypesChangeSchema(Schema):
    """Staff choose the types a coach runs: ``{"runs_all_types": true}`` for every active type
    (also later ones), or ``{"interview_types": [slug, ...]}`` for exactly those (``[]``: none)."""

    runs_all_types = JsonBoolean(
        metadata={"description": "true: every active type. Leave out when naming the types."},
    )
    interview_types = fields.List(
        type_slug(),
        validate=validate.Length(max=100),
        metadata={"description": "Slugs of active types: the coach runs exactly these."},
    )
    reason = Text(
        load_default="",
        validate=validate.Length(max=1000),
        metadata={"description": "Why, for the audit log."},
    )

    @validates_schema
    def _one_of(self, data: dict[str, Any], **kwargs: Any) -> None:
        everything, named = data.get("runs_all_types"), data.get("interview_types")
        if everything and named is not None:
            raise ValidationError(
                "Give either runs_all_types: true or the list of types, not both.",
                "interview_types",
            )
        if not everything and named is None:
            raise ValidationError(
                "Name the types the coach runs, or send runs_all_types: true.", "interview_types"
            )


class HealthSchema(Schema):
    status = fields.String(required=True)
