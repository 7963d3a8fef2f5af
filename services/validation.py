"""The small checks every domain makes on what it is given: one home for each."""

from __future__ import annotations

from services.errors import ValidationFailed

# The largest id an integer key holds on every backend: a larger one names nothing (it is not
# found, never an overflow error).
MAX_ID = 2**31 - 1


def is_id(value: int) -> bool:
    """Whether ``value`` can name a row (a positive key within MAX_ID)."""
    return 0 < value <= MAX_ID


def text(value: str | None, name: str, *, limit: int, required: str | None = None) -> str:
    """A person's text for the field ``name``, stripped; refused (ValidationFailed naming the field)
    when it holds a NUL character, is longer than ``limit``, or is empty where ``required`` gives
    the message for that."""
    cleaned = (value or "").strip()
    if "\x00" in cleaned:
        raise ValidationFailed.field(name, "Remove the NUL character from this text.")
    if required is not None and not cleaned:
        raise ValidationFailed.field(name, required)
    if len(cleaned) > limit:
        raise ValidationFailed.field(name, f"Use at most {limit} characters.")
    return cleaned
