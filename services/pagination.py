"""Keyset pagination: stable under inserts, and the same cost on page 1 and page 1,000."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from services.db import db
from services.errors import ValidationFailed

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


# A cursor is the sort key of the last item served, its parts joined by ".": a time as whole
# microseconds since 1970-01-01 UTC, an id as its number, a word as itself. Every string of that
# shape is a cursor (a time past the last one a datetime holds reads as that last one), so the
# OpenAPI document can say exactly which cursors are valid.
_DIGITS = "[0-9]{1,18}"
CURSOR_PATTERN = rf"^{_DIGITS}\.{_DIGITS}$"
"""The cursor of every (time, id) keyset: all the lists but the audit log."""
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_LAST_MICROSECOND = (dt.datetime.max.replace(tzinfo=dt.UTC) - _EPOCH) // dt.timedelta(
    microseconds=1
)


def cursor_pattern(*parts: str) -> str:
    """The pattern of a cursor whose parts match ``parts`` (regular expressions, no anchors)."""
    return "^" + r"\.".join(parts) + "$"


def encode_cursor(values: Sequence[Any]) -> str:
    tokens = []
    for value in values:
        if isinstance(value, dt.datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
            tokens.append(str((moment - _EPOCH) // dt.timedelta(microseconds=1)))
        else:
            tokens.append(str(value))
    return ".".join(tokens)


def decode_cursor(cursor: str, kinds: Sequence[type]) -> list[Any]:
    """The values of a cursor whose parts are of ``kinds`` (datetime, int or str). Raises
    ValidationFailed."""
    tokens = cursor.split(".")
    values: list[Any] = []
    if len(tokens) == len(kinds):
        for token, kind in zip(tokens, kinds, strict=True):
            if kind is str:
                values.append(token)
            elif token.isascii() and token.isdigit() and len(token) <= 18:
                number = int(token)
                if kind is dt.datetime:
                    micros = min(number, _LAST_MICROSECOND)
                    values.append(_EPOCH + dt.timedelta(microseconds=micros))
                else:
                    values.append(number)
    if len(values) != len(kinds):
        raise ValidationFailed.field("cursor", "This cursor is not valid.")
    return values


def decode_keyset(cursor: str, columns: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    """The values of a cursor of a keyset on ``columns`` (as ``paginate`` makes them). Raises
    ValidationFailed."""
    return decode_cursor(cursor, [column.type.python_type for column in columns])


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed.field("limit", f"Use a limit from 1 to {MAX_LIMIT}.")
    return limit


def paginate(
    query: Select[tuple[T]],
    order: Sequence[tuple[InstrumentedAttribute[Any], str]],
    *,
    limit: int | None,
    cursor: str | None,
    key: Callable[[T], Sequence[Any]],
) -> Page[T]:
    """Page through ``query`` ordered by ``order`` ([(column, "asc"|"desc")], unique overall, the
    primary key last); ``key`` reads those columns' values from an item. Raises ValidationFailed."""
    size = check_limit(limit)
    columns = [column for column, _ in order]
    if cursor:
        values = decode_keyset(cursor, columns)
        # (a, b) > (x, y) spelled out, so it works on every backend and for mixed directions.
        clauses = []
        for i, (column, direction) in enumerate(order):
            equal = [order[j][0] == values[j] for j in range(i)]
            beyond = column > values[i] if direction == "asc" else column < values[i]
            clauses.append(and_(*equal, beyond))
        query = query.where(or_(*clauses))
    query = query.order_by(
        *(column.asc() if direction == "asc" else column.desc() for column, direction in order)
    ).limit(size + 1)
    rows = list(db.session.scalars(query))
    more = len(rows) > size
    items = rows[:size]
    return Page(items=items, next_cursor=encode_cursor(key(items[-1])) if more and items else None)
