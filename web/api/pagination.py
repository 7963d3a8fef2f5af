"""The query arguments every list endpoint takes: ?limit= (default 50, max 200) and ?cursor=."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.pagination import CURSOR_PATTERN, DEFAULT_LIMIT, MAX_LIMIT
from web.api.schemas import QueryInteger


def cursor_field(pattern: str = CURSOR_PATTERN) -> fields.String:
    """``?cursor=``: the ``next_cursor`` of the previous page; its shape is declared, so any
    string of that shape is one the list accepts."""
    return fields.String(
        load_default=None,
        validate=validate.Regexp(pattern, error="This cursor is not valid."),
        metadata={"description": "The `next_cursor` of the previous page."},
    )


class PageArgsSchema(Schema):
    limit = QueryInteger(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": f"Items per page, 1 to {MAX_LIMIT}."},
    )
    cursor = cursor_field()
