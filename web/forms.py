"""What views share about forms: a refused change shown on the form it came from."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flask import abort, flash
from flask_wtf import FlaskForm
from wtforms import Field

from services.errors import DomainError, NotFound
from web.transactions import writing


def apply_errors(
    form: FlaskForm,
    error: DomainError,
    fallback: Field | None = None,
    names: Mapping[str, str] | None = None,
) -> list[str]:
    """Put each of a refused change's messages (``error.errors``: field name → messages) on the
    form's field of that name (or of the name ``names`` gives for it, where the service and the
    form call a field differently); a name the form has no field for, or a refusal that names no
    field (its ``detail``), goes on ``fallback`` when one is given. Returns the messages that found
    no field, for the view to flash if it likes."""
    errors: Mapping[str, Sequence[str]] = error.errors or {"": [error.detail]}
    unplaced: list[str] = []
    for name, messages in errors.items():
        field = form._fields.get((names or {}).get(name, name), fallback)
        if field is None:
            unplaced.extend(messages)
        else:
            field.errors = list(messages)
    return unplaced


def flash_errors(error: DomainError) -> None:
    """A refused change on a page with no form for it: each of its messages (or its detail, when
    it names no field) flashed as an error."""
    for message in [m for ms in error.errors.values() for m in ms] or [error.detail]:
        flash(message, "error")


def write_or_flash(action: Callable[[], Any]) -> bool:
    """Run ``action`` as one write transaction: True when it was made; a refused change is rolled
    back and its messages flashed (False); what is not there, or not the caller's, is a 404."""
    try:
        with writing():
            action()
    except NotFound:
        abort(404)
    except DomainError as exc:
        flash_errors(exc)
        return False
    return True
