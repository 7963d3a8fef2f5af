"""Keyset pagination: stable under inserts, and the same cost on page 1 and page 1,000."""

from __future__ import annotations

import base64
import datetime as dt
import json
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


def _encode(values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, dt.datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode(cursor: str, columns: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(columns):
            raise ValueError("wrong shape")
        values = []
        for value, column in zip(raw, columns, strict=True):
            python_type = column.type.python_type
            if python_type is dt.datetime:
                value = dt.datetime.fromisoformat(value)
            elif not isinstance(value, python_type):
                raise ValueError("wrong type")
            values.append(value)
        return values
    except (ValueError, TypeError, json.JSONDecodeError, NotImplementedError) as exc:
        raise ValidationFailed.field("cursor", "This cursor is not valid.") from exc


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
        values = _decode(cursor, columns)
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
    return Page(items=items, next_cursor=_encode(key(items[-1])) if more and items else None)
