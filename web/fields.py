"""Form fields more than one page uses: the time zone picker, the clock choice, and a slot's start
as a link or a hidden field carries it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from services import localtime
from services.errors import ValidationFailed


class ZoneField(SelectField):
    """The time zone picker (templates/_forms.html ``zone_field``): the zones people may pick,
    labelled with their UTC offsets, each with the words the searchable list finds it by. Any
    other value is refused with localtime's message, except the one the person already has
    (``keep``), which stays on offer."""

    def __init__(self, label: str = "Time zone", keep: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("default", localtime.UTC_NAME)
        super().__init__(label, validate_choice=False, **kwargs)
        self.offer(keep)

    def offer(self, keep: str | None = None) -> None:
        self.keep = keep
        self.choices = [
            SelectChoice(z.name, z.label, {"data-place": z.place, "data-search": z.search})
            for z in localtime.zone_choices(keep=keep)
        ]

    def pre_validate(self, form: Any) -> None:
        try:
            self.data = localtime.check_zone(self.data or "", current=self.keep)
        except ValidationFailed as exc:
            raise ValidationError(exc.detail) from None


CLOCK_CHOICES = [
    SelectChoice("12h", "12-hour: 2:30 PM"),
    SelectChoice("24h", "24-hour: 14:30"),
]


def slot_start(raw: str | None) -> dt.datetime | None:
    """A slot's start as its link carries it (ISO 8601 with its offset); None for anything else,
    a time without an offset included (it would be read in no one's zone)."""
    try:
        moment = dt.datetime.fromisoformat(raw or "")
    except ValueError:
        return None
    return moment if moment.tzinfo else None
