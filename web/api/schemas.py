"""Marshmallow schemas of the API's requests and responses (they make the OpenAPI document)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

_pages: dict[type[Schema], type[Schema]] = {}


class StrictBoolean(fields.Boolean):
    """JSON true or false only (not 1, "yes" or "true"), as the document's `boolean` says."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class NamedKeys(fields.Dict):
    """A map whose keys are names from a known list (read when the document is made, so a registry
    filled at import time is complete): documented as ``propertyNames: {"enum": [...]}``. The
    service checks the keys of a request and answers 422 for any other."""

    def __init__(self, names: Callable[[], Iterable[str]], **kwargs: Any) -> None:
        super().__init__(keys=fields.String(), **kwargs)
        self.names = names


def named_keys2properties(self: Any, field: fields.Field, **kwargs: Any) -> dict[str, Any]:
    """apispec attribute function for NamedKeys."""
    if isinstance(field, NamedKeys):
        return {"propertyNames": {"enum": list(field.names())}}
    return {}


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
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(
        required=True, validate=validate.Length(min=1, max=1024), load_only=True
    )
    otp = fields.String(
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
        metadata={"description": "The IANA time zone times are shown in, e.g. Europe/Berlin."},
    )
    clock = fields.String(
        required=True,
        validate=validate.OneOf(["12h", "24h"]),
        metadata={"description": "How times are written for this user: 2:30 PM or 14:30."},
    )


class MeUpdateSchema(Schema):
    """The caller's own settings; a field left out stays as it is."""

    name = fields.String(validate=validate.Length(min=1, max=120))
    timezone = fields.String(
        validate=validate.Length(min=1, max=64),
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

    runs_all_types = fields.Boolean(
        metadata={"description": "true: every active type. Leave out when naming the types."},
    )
    interview_types = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        validate=validate.Length(max=100),
        metadata={"description": "Slugs of active types: the coach runs exactly these."},
    )
    reason = fields.String(
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
