"""The public FAQ: loaded from the seed article, kept in the database so staff can edit it."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from services.db import db
from services.models import FaqEntry, Page

SEED_FILE = Path(__file__).parent / "seed" / "what-does-an-mle-do.txt"
FAQ_SLUG = "what-does-an-mle-do"
CAREER_SERVICES_SLUG = "career-services"
_META = re.compile(r"^Updated on (?P<date>.+?\d{4})\s+(?P<minutes>\d+) min read$")


@dataclass(frozen=True)
class SeedArticle:
    title: str
    updated_on: dt.date | None
    read_minutes: int | None
    questions: list[tuple[str, str]]
    services_title: str
    services_summary: str


def parse_seed(text: str) -> SeedArticle:
    """Read the seed document: title, meta line, the FAQ's questions and answers, and the blurb."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    title = lines[0]
    updated_on = read_minutes = None
    for line in lines[1:4]:
        if match := _META.match(line):
            updated_on = dt.datetime.strptime(match["date"], "%B %d, %Y").date()  # noqa: DTZ007 (a date)
            read_minutes = int(match["minutes"])
    start = lines.index("Frequently Asked Questions") + 1
    end = lines.index(CAREER_SERVICES_TITLE, start)
    questions: list[tuple[str, str]] = []
    for line in lines[start:end]:
        if line.endswith("?"):
            questions.append((line, ""))
        elif questions:
            question, answer = questions[-1]
            questions[-1] = (question, f"{answer}\n\n{line}".strip())
    return SeedArticle(
        title=title,
        updated_on=updated_on,
        read_minutes=read_minutes,
        questions=questions,
        services_title=lines[end],
        services_summary=" ".join(lines[end + 1 :]),
    )


CAREER_SERVICES_TITLE = "Career Services"


def load_seed(path: Path = SEED_FILE) -> tuple[Page, Page]:
    """Create the FAQ and Career Services pages from the seed; existing pages are left as edited."""
    article = parse_seed(path.read_text(encoding="utf-8"))
    faq = get_page(FAQ_SLUG)
    if faq is None:
        faq = Page(
            slug=FAQ_SLUG,
            title=article.title,
            updated_on=article.updated_on,
            read_minutes=article.read_minutes,
            entries=[
                FaqEntry(position=i, question=q, answer=a)
                for i, (q, a) in enumerate(article.questions, start=1)
            ],
        )
        db.session.add(faq)
    services = get_page(CAREER_SERVICES_SLUG)
    if services is None:
        services = Page(
            slug=CAREER_SERVICES_SLUG,
            title=article.services_title,
            summary=article.services_summary,
        )
        db.session.add(services)
    db.session.flush()
    return faq, services


def get_page(slug: str) -> Page | None:
    return db.session.scalar(
        select(Page).where(Page.slug == slug).options(selectinload(Page.entries))
    )
