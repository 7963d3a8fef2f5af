"""The query arguments every list endpoint takes: ?limit= (default 50, max 200) and ?cursor=."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.pagination import DEFAULT_LIMIT, MAX_LIMIT


class PageArgsSchema(Schema):
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": f"Items per page, 1 to {MAX_LIMIT}."},
    )
    cursor = fields.String(
        load_default=None,
        validate=validate.Length(max=1000),
        metadata={"description": "The `next_cursor` of the previous page."},
    )
