"""The public FAQ: loaded from the seed article, kept in the database so staff can edit it.

Answers are Markdown; each is rendered (sanitised HTML, and plain text for JSON-LD) as it is saved,
by a flush hook, whoever saves it. Every change to a page or its entries raises ``page.version``,
so the public pages read the pages once per version per process (``articles``) and otherwise only
their versions: one indexed read, which a caller that may be answered a moment late (an anonymous
visitor) can skip for ``max_age`` seconds after the last. An edit is seen at once in the process
that made it."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import weakref
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, selectinload

from services.db import ChangeWatch, current_session_and_bind, db, fast_rows, is_change
from services.models import FaqEntry, Page
from services.validation import is_id

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


# --- the public pages' reads ----------------------------------------------------------------------


@dataclass(frozen=True)
class ArticleEntry:
    id: int
    question: str
    html: str  # sanitised: safe to mark as safe in a template
    text: str


@dataclass(frozen=True)
class Article:
    """A page as the public site shows it, at one version."""

    slug: str
    key: tuple[Any, ...]  # what the content is known by (its id, version and time of change)
    title: str
    summary: str
    updated_on: dt.date | None
    read_minutes: int | None
    entries: tuple[ArticleEntry, ...]
    json_ld: str  # the page as a schema.org FAQPage, ready to place in a script element


# The public pages' slugs: what ``articles`` reads the versions of.
PUBLIC_SLUGS = (FAQ_SLUG, CAREER_SERVICES_SLUG)
_VERSIONS = select(Page.slug, Page.id, Page.version, Page.updated_at).where(
    Page.slug.in_(PUBLIC_SLUGS)
)
# Each process keeps the newest article it read per slug, under the version it read it at.
_articles: dict[str, tuple[tuple[Any, ...], Article]] = {}
# And, per database, when it last read the versions (time.monotonic()) and what it found then.
_last_read: weakref.WeakKeyDictionary[Any, tuple[float, dict[str, Article]]] = (
    weakref.WeakKeyDictionary()
)


def articles(max_age: float = 0.0) -> dict[str, Article]:
    """The public pages (of those that exist) as the public site shows them, by slug. One indexed
    read of their versions (no ORM session); a page is read again only when its version moved (or
    another process started). With ``max_age``, what this process found at most that many seconds
    ago, without a read, unless this process has changed a page since."""
    session, bind = current_session_and_bind()
    pending = session is not None and _PAGE_CHANGES.pending(session)
    if max_age > 0 and not pending:
        last = _last_read.get(bind)
        if last is not None and time.monotonic() - last[0] < max_age:
            return last[1]
    read_at = time.monotonic()
    found: dict[str, Article] = {}
    for slug, *key in fast_rows(_VERSIONS):
        cached = _articles.get(slug)
        if cached is None or cached[0] != tuple(key):
            article = _load_article(slug, tuple(key))
            if article is None:
                continue
            cached = (tuple(key), article)
            _articles[slug] = cached
        found[slug] = cached[1]
    if not pending:
        _last_read[bind] = (read_at, found)
    return found


def _load_article(slug: str, key: tuple[Any, ...]) -> Article | None:
    page = db.session.execute(
        select(
            Page.id,
            Page.title,
            Page.summary,
            Page.updated_on,
            Page.read_minutes,
        ).where(Page.slug == slug)
    ).first()
    if page is None:
        return None
    rows = db.session.execute(
        select(
            FaqEntry.id,
            FaqEntry.question,
            FaqEntry.answer,
            FaqEntry.answer_html,
            FaqEntry.answer_text,
        )
        .where(FaqEntry.page_id == page.id)
        .order_by(FaqEntry.position)
    ).all()
    entries = tuple(
        ArticleEntry(
            id=row.id,
            question=row.question,
            # Rendered as saved; an entry written around the ORM is rendered here.
            html=row.answer_html if row.answer_html is not None else render_markdown(row.answer),
            text=row.answer_text if row.answer_text is not None else plain_text(row.answer),
        )
        for row in rows
    )
    return Article(
        slug=slug,
        key=key,
        title=page.title,
        summary=page.summary,
        updated_on=page.updated_on,
        read_minutes=page.read_minutes,
        entries=entries,
        json_ld=_json_ld(page.title, entries),
    )


def _json_ld(title: str, entries: tuple[ArticleEntry, ...]) -> str:
    document = {
        "@context": "https://schema.org",
        "@type": "FAQPage",
        "name": title,
        "mainEntity": [
            {
                "@type": "Question",
                "name": entry.question,
                "acceptedAnswer": {"@type": "Answer", "text": entry.text},
            }
            for entry in entries
        ],
    }
    # Escape "<" so no answer text can close the script element.
    return json.dumps(document, ensure_ascii=False).replace("<", "\\u003c")


@event.listens_for(Session, "before_flush")
def _render_and_version(session: Session, flush_context: Any, instances: Any) -> None:
    """Whoever saves an entry: its answer is rendered now, and its page's version goes up (as does
    a changed page's), in the same flush."""
    pages: dict[int, Page] = {}
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, FaqEntry):
            if obj in session.dirty and not session.is_modified(obj):
                continue
            if obj not in session.deleted and (obj.answer_html is None or _changed(obj, "answer")):
                obj.answer_html = render_markdown(obj.answer)
                obj.answer_text = plain_text(obj.answer)
            page = obj.page if obj.page is not None else session.get(Page, obj.page_id)
            if page is not None:
                pages[id(page)] = page
        elif isinstance(obj, Page) and session.is_modified(obj, include_collections=False):
            pages[id(obj)] = obj
    for page in pages.values():
        if page not in session.new and page not in session.deleted:
            # Counted in SQL, so two writers at once both count.
            page.version = Page.version + 1  # type: ignore[assignment]


# Once a transaction that changed a page ends (committed or not), this process reads the versions
# again on its next visit.
_PAGE_CHANGES = ChangeWatch("public pages", (Page, FaqEntry), is_change, ended=_last_read.clear)


def _changed(obj: FaqEntry, name: str) -> bool:
    from sqlalchemy import inspect

    return bool(inspect(obj).attrs[name].history.has_changes())


# --- editing (staff) ------------------------------------------------------------------------------

MAX_QUESTION = 300
MAX_ANSWER = 20000
# What an answer may contain once rendered: text formatting, lists, links, code; no scripts, no
# styles, no images, no raw HTML attributes beyond a link's href and title.
ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "b",
    "i",
    "code",
    "pre",
    "ul",
    "ol",
    "li",
    "a",
    "blockquote",
    "h3",
    "h4",
    "hr",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


@cache
def _markdown() -> Any:
    """One parser for the process (building one costs more than rendering an answer)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False})


def render_markdown(text: str) -> str:
    """Markdown to HTML, then sanitised by nh3 (ammonia): safe to mark as safe in a template."""
    import nh3

    html = _markdown().render(text or "")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def plain_text(text: str) -> str:
    """The answer as plain text (for JSON-LD and meta): rendered, then every tag stripped."""
    import html

    import nh3

    stripped = nh3.clean(render_markdown(text).replace("</p>", "</p>\n\n"), tags=set())
    return html.unescape(re.sub(r"\n{3,}", "\n\n", stripped)).strip()


@dataclass(frozen=True)
class EntryInput:
    question: str
    answer: str


def _clean_entry(data: EntryInput) -> tuple[str, str]:
    from services.errors import ValidationFailed

    question = " ".join(data.question.replace("\x00", "").split())
    answer = data.answer.replace("\x00", "").replace("\r\n", "\n").strip()
    errors: dict[str, list[str]] = {}
    if not question:
        errors["question"] = ["Enter the question."]
    elif len(question) > MAX_QUESTION:
        errors["question"] = [f"Use at most {MAX_QUESTION} characters."]
    if not answer:
        errors["answer"] = ["Enter the answer."]
    elif len(answer) > MAX_ANSWER:
        errors["answer"] = [f"Use at most {MAX_ANSWER} characters."]
    if errors:
        raise ValidationFailed("Check the entry.", errors)
    return question, answer


def get_entry(entry_id: int) -> FaqEntry:
    from services.errors import NotFound

    entry = db.session.get(FaqEntry, entry_id) if is_id(entry_id) else None
    if entry is None:
        raise NotFound("There is no such FAQ entry.")
    return entry


def update_entry(entry_id: int, data: EntryInput) -> tuple[FaqEntry, dict[str, str]]:
    """Edit one question and its Markdown answer; returns the entry and what it was before.
    Raises NotFound, ValidationFailed."""
    entry = get_entry(entry_id)
    question, answer = _clean_entry(data)
    before = {"question": entry.question, "answer": entry.answer}
    entry.question = question
    entry.answer = answer
    entry.page.updated_on = dt.datetime.now(dt.UTC).date()
    db.session.flush()
    return entry, before


def add_entry(data: EntryInput, slug: str = FAQ_SLUG) -> FaqEntry:
    """Append a question to the page. Raises NotFound, ValidationFailed."""
    from services.errors import NotFound

    page = get_page(slug)
    if page is None:
        raise NotFound("There is no FAQ page yet.")
    question, answer = _clean_entry(data)
    position = max((e.position for e in page.entries), default=0) + 1
    entry = FaqEntry(page_id=page.id, position=position, question=question, answer=answer)
    db.session.add(entry)
    page.updated_on = dt.datetime.now(dt.UTC).date()
    db.session.flush()
    return entry
