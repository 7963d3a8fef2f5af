from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.db import Model, utcnow


class Page(Model):
    """An editable public page: the FAQ article, the Career Services blurb."""

    __tablename__ = "page"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    updated_on: Mapped[dt.date | None]
    read_minutes: Mapped[int | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Goes up with every change to the page or its entries (services.faq): the public pages are
    # cached under it.
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    entries: Mapped[list[FaqEntry]] = relationship(
        back_populates="page", order_by="FaqEntry.position", cascade="all, delete-orphan"
    )


class FaqEntry(Model):
    __tablename__ = "faq_entry"
    __table_args__ = (UniqueConstraint("page_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("page.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    question: Mapped[str] = mapped_column(String(300))
    answer: Mapped[str] = mapped_column(Text)
    # The answer rendered as it is saved (services.faq): sanitised HTML, and plain text (JSON-LD).
    answer_html: Mapped[str | None] = mapped_column(Text)
    answer_text: Mapped[str | None] = mapped_column(Text)

    page: Mapped[Page] = relationship(back_populates="entries")
