"""The coach marks up the résumé: comments anchored to the text of one version, drafts until the
review is sent, reply threads, resolving, and following them through to the next version.

An anchor is a text-quote selector (the exact text, a little prefix and suffix) and a
text-position selector (offsets in the version's extracted text), plus a page and rectangles
for a PDF. Matching ignores whitespace and compatibility forms (NFKC: ligatures, full-width
letters), so the same quote finds its place in the pdf.js text layer, the DOCX preview and the
text the worker extracted. ``anchor`` and ``quote_at`` are pure (no database).

When a new version's text is extracted, each open annotation of the earlier versions is anchored
again in it (``reanchor``): found exactly, approximately (shown as such), or missing ("probably
addressed, check"); nothing is moved silently. The coach reviewing the new version closes each
one or carries it over (a draft on the new version, sent with the review)."""

from __future__ import annotations

import difflib
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from services import audit, outbox
from services.db import db, utcnow
from services.errors import NotFound, ValidationFailed
from services.models import (
    Annotation,
    AnnotationReply,
    AssignmentStatus,
    Resume,
    ResumeVersion,
    Review,
    Role,
    User,
)
from services.models.resumes import CRITERIA
from services.resumes.errors import InvalidStatus
from services.resumes.views import get_visible, live_assignment
from services.validation import is_id

MAX_BODY = 2000
MAX_SUGGESTION = 2000
MAX_REPLY = 2000
MAX_EXACT = 1000
MAX_CONTEXT = 200  # prefix and suffix, as sent
CONTEXT_CHARS = 32  # prefix and suffix, as kept by quote_at
MAX_RECTS = 100
NUL_MESSAGE = "Remove the NUL character from this text."

# An approximate match: at least this similar to the quote (difflib ratio, whitespace ignored),
# or a little less where the prefix or the suffix still stands beside it.
APPROXIMATE = 0.75
APPROXIMATE_WITH_CONTEXT = 0.6
MIN_APPROXIMATE_CHARS = 4

MATCH_LABELS = {
    "exact": "Found in the new version",
    "approximate": "Found approximately: the text changed a little",
    "missing": "Not found: probably addressed, check",
}

# --- anchoring (pure) -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    """A text-quote selector."""

    exact: str
    prefix: str = ""
    suffix: str = ""


@dataclass(frozen=True)
class Match:
    """Where a quote is in a text: ``text[start:end]``; ``kind`` exact or approximate, ``score``
    how alike (1.0 for exact)."""

    start: int
    end: int
    kind: str
    score: float


@dataclass(frozen=True)
class _Canon:
    text: str  # without whitespace, NFKC
    origin: list[int]  # origin[i]: the index in the original text of text[i]


def _canon(text: str) -> _Canon:
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for part in unicodedata.normalize("NFKC", char):
            if not part.isspace():
                chars.append(part)
                origin.append(index)
    return _Canon("".join(chars), origin)


def _plain(text: str) -> str:
    return _canon(text).text


def _common_suffix(a: str, b: str) -> int:
    n = 0
    while n < len(a) and n < len(b) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def _common_prefix(a: str, b: str) -> int:
    n = 0
    while n < len(a) and n < len(b) and a[n] == b[n]:
        n += 1
    return n


def _context_score(canon: str, start: int, end: int, prefix: str, suffix: str) -> float:
    """How well the text around [start, end) agrees with the prefix and suffix: 0 to 2."""
    score = 0.0
    if prefix:
        score += _common_suffix(canon[max(0, start - len(prefix)) : start], prefix) / len(prefix)
    if suffix:
        score += _common_prefix(canon[end : end + len(suffix)], suffix) / len(suffix)
    return score


def _occurrences(haystack: str, needle: str, limit: int = 1000) -> list[int]:
    found: list[int] = []
    at = haystack.find(needle)
    while at != -1 and len(found) < limit:
        found.append(at)
        at = haystack.find(needle, at + 1)
    return found


def _to_original(canon: _Canon, start: int, end: int) -> tuple[int, int]:
    return canon.origin[start], canon.origin[end - 1] + 1


def anchor(text: str, quote: Quote, hint: int | None = None) -> Match | None:
    """Where ``quote`` is in ``text``, or None. Exact first: of several places with the exact
    text, the one whose prefix and suffix agree best, then the one nearest the ``hint`` (a
    text-position start). Else approximate: the most alike stretch of about the quote's length
    (difflib), when alike enough. Whitespace and compatibility forms never count."""
    canon = _canon(text)
    exact, prefix, suffix = _plain(quote.exact), _plain(quote.prefix), _plain(quote.suffix)
    if not exact or not canon.text:
        return None
    hint_canon = _canon_index(canon, hint)
    places = _occurrences(canon.text, exact)
    if places:

        def rank(at: int) -> tuple[float, int]:
            score = _context_score(canon.text, at, at + len(exact), prefix, suffix)
            return (-score, abs(at - hint_canon) if hint_canon is not None else 0)

        best = min(places, key=rank)
        start, end = _to_original(canon, best, best + len(exact))
        return Match(start, end, "exact", 1.0)
    return _approximate(canon, exact, prefix, suffix, hint_canon)


def _canon_index(canon: _Canon, original: int | None) -> int | None:
    if original is None:
        return None
    lo, hi = 0, len(canon.origin)
    while lo < hi:  # the first canonical character at or after ``original``
        mid = (lo + hi) // 2
        if canon.origin[mid] < original:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _approximate(
    canon: _Canon, exact: str, prefix: str, suffix: str, hint: int | None
) -> Match | None:
    size = len(exact)
    if size < MIN_APPROXIMATE_CHARS:
        return None
    text = canon.text
    gram = max(3, min(8, size // 4))
    votes: Counter[int] = Counter()
    bucket = max(1, size // 4)
    for offset in range(0, size - gram + 1):
        for at in _occurrences(text, exact[offset : offset + gram], limit=50):
            votes[(at - offset) // bucket] += 1
    # The context may still stand where the quote was rewritten: between prefix and suffix.
    context_candidates: list[tuple[int, int]] = []
    if prefix and suffix:
        tail, head = prefix[-16:], suffix[:16]
        for p in _occurrences(text, tail, limit=20):
            begin = p + len(tail)
            s = text.find(head, begin)
            if s != -1 and size // 3 <= s - begin <= size * 3:
                context_candidates.append((begin, s))
    candidates: list[tuple[int, int]] = list(context_candidates)
    for key, _ in votes.most_common(8):
        around = key * bucket
        candidates.append((max(0, around - bucket), min(len(text), around + size + 2 * bucket)))
    best: tuple[float, int, int] | None = None
    for lo, hi in candidates:
        window = text[lo:hi]
        matcher = difflib.SequenceMatcher(None, exact, window, autojunk=False)
        blocks = [b for b in matcher.get_matching_blocks() if b.size]
        if not blocks:
            continue
        start = lo + blocks[0].b
        end = lo + blocks[-1].b + blocks[-1].size
        if (lo, hi) in context_candidates:
            start, end = lo, hi
        if end <= start:
            continue
        found = text[start:end]
        ratio = difflib.SequenceMatcher(None, exact, found, autojunk=False).ratio()
        context = _context_score(text, start, end, prefix, suffix)
        enough = ratio >= APPROXIMATE or (ratio >= APPROXIMATE_WITH_CONTEXT and context >= 1.0)
        if not enough:
            continue
        distance = abs(start - hint) if hint is not None else 0
        key_score = ratio + context / 10 - distance / 1e9
        if best is None or key_score > best[0]:
            best = (key_score, start, end)
    if best is None:
        return None
    _, start, end = best
    found = text[start:end]
    ratio = difflib.SequenceMatcher(None, exact, found, autojunk=False).ratio()
    o_start, o_end = _to_original(canon, start, end)
    return Match(o_start, o_end, "approximate", round(ratio, 3))


def quote_at(text: str, start: int, end: int, context: int = CONTEXT_CHARS) -> Quote:
    """The text-quote selector of ``text[start:end]``: the exact text, ``context`` characters
    before it and after it (whole, as the text has them)."""
    return Quote(
        exact=text[start:end],
        prefix=text[max(0, start - context) : start],
        suffix=text[end : end + context],
    )


# --- what a coach sends ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AnnotationInput:
    """A comment on selected text (``exact``, with ``prefix`` and ``suffix`` when known, and for
    a PDF the ``page`` and the selection's ``rects``), or pinned to a point (``page``, ``x``,
    ``y``) of a PDF's page. Positions are fractions of the page from its top left corner."""

    body: str
    kind: str = "text"
    suggestion: str | None = None
    criterion: str | None = None
    exact: str = ""
    prefix: str = ""
    suffix: str = ""
    start: int | None = None  # where the viewer believes it is (a hint)
    page: int | None = None
    rects: Sequence[Sequence[float]] = field(default_factory=list)
    x: float | None = None
    y: float | None = None


def _text_field(errors: dict[str, list[str]], name: str, value: str, most: int) -> str:
    if "\x00" in value:
        errors[name] = [NUL_MESSAGE]
    elif len(value) > most:
        errors[name] = [f"Use at most {most} characters."]
    return value


def _fraction(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value <= 1.0


def _clean(data: AnnotationInput, version: ResumeVersion) -> dict[str, Any]:
    """The annotation's columns from what was sent. Raises ValidationFailed."""
    errors: dict[str, list[str]] = {}
    body = _text_field(errors, "body", (data.body or "").strip(), MAX_BODY)
    if not body and "body" not in errors:
        errors["body"] = ["Write the comment: what to change and why."]
    suggestion = _text_field(errors, "suggestion", (data.suggestion or "").strip(), MAX_SUGGESTION)
    criterion = data.criterion or None
    if criterion is not None and criterion not in CRITERIA:
        errors["criterion"] = [f"Use one of: {', '.join(CRITERIA)}."]
    kind = data.kind
    if kind not in ("text", "pin"):
        errors["kind"] = ["Use text (a comment on selected text) or pin (a point on a page)."]
    values: dict[str, Any] = {
        "kind": kind,
        "body": body,
        "suggestion": suggestion or None,
        "criterion": criterion,
        "rects": [],
    }
    pages = version.page_count or 1
    if data.page is not None and (
        isinstance(data.page, bool) or not isinstance(data.page, int) or not 1 <= data.page <= pages
    ):
        errors["page"] = [f"Use a page from 1 to {pages}."]
    if kind == "pin":
        if version.kind != "pdf":
            errors["kind"] = ["Pins go on a PDF's pages; in a DOCX, select the text instead."]
        if data.page is None:
            errors.setdefault("page", ["Say which page the pin goes on."])
        for name, value in (("point.x", data.x), ("point.y", data.y)):
            if not _fraction(value):
                errors[name] = ["Use a fraction of the page from 0 to 1."]
        values |= {"page": data.page, "x": data.x, "y": data.y}
    elif kind == "text":
        exact = _text_field(errors, "quote.exact", data.exact or "", MAX_EXACT)
        if not exact.strip() and "quote.exact" not in errors:
            errors["quote.exact"] = ["Select the text the comment is about."]
        prefix = _text_field(errors, "quote.prefix", data.prefix or "", MAX_CONTEXT)
        suffix = _text_field(errors, "quote.suffix", data.suffix or "", MAX_CONTEXT)
        rects = list(data.rects or [])
        if len(rects) > MAX_RECTS:
            errors["rects"] = [f"Send at most {MAX_RECTS} rectangles."]
        elif not all(
            isinstance(r, list | tuple) and len(r) == 4 and all(_fraction(v) for v in r)
            for r in rects
        ):
            errors["rects"] = ["Each rectangle is [x, y, width, height], fractions of the page."]
        elif rects and (version.kind != "pdf" or data.page is None):
            errors["rects"] = ["Rectangles need a PDF page."]
        values |= {
            "exact": exact,
            "prefix": prefix,
            "suffix": suffix,
            "page": data.page if version.kind == "pdf" else None,
            "rects": [[float(v) for v in r] for r in rects] if "rects" not in errors else [],
        }
    if errors:
        raise ValidationFailed("Some fields of the comment are missing or not valid.", errors)
    return values


# --- reading --------------------------------------------------------------------------------------


def _version(resume: Resume, number: int) -> ResumeVersion:
    if not is_id(number):
        raise NotFound("There is no such version of this résumé.")
    version = db.session.scalar(
        select(ResumeVersion).where(
            ResumeVersion.resume_id == resume.id, ResumeVersion.number == number
        )
    )
    if version is None:
        raise NotFound("There is no such version of this résumé.")
    return version


def _sees(viewer: User, annotation: Annotation) -> bool:
    """A draft is its coach's alone; the rest, whoever may see the résumé."""
    return annotation.status != "draft" or annotation.coach_id == viewer.id


def for_version(
    viewer: User, resume_id: int, number: int
) -> tuple[ResumeVersion, list[Annotation]]:
    """The annotations of one version that ``viewer`` may read, in the order they sit in the text
    (pins by page). Raises NotFound."""
    resume = get_visible(viewer, resume_id)
    version = _version(resume, number)
    return version, of_versions(viewer, [version.id]).get(version.id, [])


def of_versions(viewer: User, version_ids: Sequence[int]) -> dict[int, list[Annotation]]:
    """The annotations ``viewer`` may read of each version (two queries, whatever the count)."""
    if not version_ids:
        return {}
    rows = db.session.scalars(
        select(Annotation).where(Annotation.version_id.in_(version_ids)).order_by(Annotation.id)
    ).all()
    visible = [a for a in rows if _sees(viewer, a)]
    ids = [a.id for a in visible]
    if ids:  # the threads, at once
        db.session.scalars(
            select(AnnotationReply).where(AnnotationReply.annotation_id.in_(ids))
        ).all()
    out: dict[int, list[Annotation]] = {}
    for a in sorted(visible, key=_order):
        out.setdefault(a.version_id, []).append(a)
    return out


def _order(a: Annotation) -> tuple[int, float, int]:
    if a.kind == "pin":
        return (a.page or 0, a.y or 0.0, a.id)
    if a.start is not None:
        return (0, float(a.start), a.id)
    return (1 << 30, 0.0, a.id)


def earlier_open(resume: Resume, version: ResumeVersion) -> list[Annotation]:
    """The published annotations of versions before ``version`` that are still open (the coach
    reviewing ``version`` closes or carries each), oldest version first."""
    return list(
        db.session.scalars(
            select(Annotation)
            .join(ResumeVersion, Annotation.version_id == ResumeVersion.id)
            .where(
                Annotation.resume_id == resume.id,
                Annotation.status == "open",
                ResumeVersion.number < version.number,
            )
            .order_by(ResumeVersion.number, Annotation.id)
        )
    )


def followups(viewer: User, resume: Resume, version: ResumeVersion) -> list[Annotation]:
    """The earlier versions' annotations as they stand against ``version``: still open, or
    closed or carried over while it was reviewed (those the re-anchoring looked at)."""
    settled = db.session.scalars(
        select(Annotation)
        .join(ResumeVersion, Annotation.version_id == ResumeVersion.id)
        .where(
            Annotation.resume_id == resume.id,
            Annotation.reanchor_version_id == version.id,
            Annotation.status.in_(("resolved", "carried")),
            ResumeVersion.number < version.number,
        )
        .order_by(ResumeVersion.number, Annotation.id)
    ).all()
    return earlier_open(resume, version) + [a for a in settled if _sees(viewer, a)]


# --- the coach: writing, drafts, publishing -------------------------------------------------------


def _reviewing(coach: User, resume_id: int, *, lock: bool = True) -> tuple[Resume, ResumeVersion]:
    """The résumé and the version whose review ``coach`` holds, accepted. Raises NotFound,
    InvalidStatus."""
    if coach.role != Role.COACH:
        raise NotFound("There is no such résumé, or it is not yours to see.")
    resume = get_visible(coach, resume_id, lock=lock)
    live = live_assignment(resume.id)
    if live is None or live.coach_id != coach.id:
        raise InvalidStatus("This résumé is not waiting for your review; it cannot be annotated.")
    if live.status != AssignmentStatus.ACCEPTED:
        raise InvalidStatus("Accept the offer first; then the résumé is yours to mark up.")
    version = db.session.get(ResumeVersion, live.version_id)
    assert version is not None
    return resume, version


def create(coach: User, resume_id: int, number: int, data: AnnotationInput) -> Annotation:
    """A draft comment by the coach holding the review of version ``number``; sent with the
    review. A quote is anchored in the version's extracted text (its text-position selector)
    and refused when it is not there. Raises NotFound, InvalidStatus, ValidationFailed."""
    resume, version = _reviewing(coach, resume_id)
    target = _version(resume, number)
    if target.id != version.id:
        raise InvalidStatus(
            f"You are reviewing version {version.number}; only it can be annotated now."
        )
    values = _clean(data, version)
    if values["kind"] == "text":
        if not version.text:
            raise InvalidStatus("The text of this version is not extracted yet; try again soon.")
        match = anchor(
            version.text, Quote(values["exact"], values["prefix"], values["suffix"]), data.start
        )
        if match is None:
            raise ValidationFailed.field(
                "quote.exact",
                "This text is not in the version's text; select it again in the résumé.",
            )
        values |= {"start": match.start, "end": match.end}
        if not values["prefix"] and not values["suffix"]:
            kept = quote_at(version.text, match.start, match.end)
            values |= {"prefix": kept.prefix, "suffix": kept.suffix}
    row = Annotation(
        resume_id=resume.id,
        version_id=version.id,
        coach_id=coach.id,
        status="draft",
        created_at=utcnow(),
        **values,
    )
    db.session.add(row)
    db.session.flush()
    return row


def _own_draft(coach: User, resume_id: int, annotation_id: int) -> Annotation:
    _reviewing(coach, resume_id)
    row = _get(resume_id, annotation_id)
    if row is None or row.status != "draft" or row.coach_id != coach.id:
        raise NotFound("There is no such draft comment of yours.")
    return row


def delete_draft(coach: User, resume_id: int, annotation_id: int) -> None:
    """The coach drops a draft comment; a carried-over one leaves its original open again.
    Raises NotFound, InvalidStatus."""
    row = _own_draft(coach, resume_id, annotation_id)
    if row.carried_from_id is not None:
        original = db.session.get(Annotation, row.carried_from_id)
        if original is not None and original.status == "carried":
            original.status = "open"
    db.session.delete(row)
    db.session.flush()


def publish(coach: User, resume: Resume, version_id: int, review: Review) -> int:
    """Send the coach's drafts on the version with ``review`` (called as the review is sent),
    and count on the review what became of the earlier versions' comments. Returns how many
    were published."""
    now = utcnow()
    drafts = db.session.scalars(
        select(Annotation).where(
            Annotation.version_id == version_id,
            Annotation.coach_id == coach.id,
            Annotation.status == "draft",
        )
    ).all()
    for row in drafts:
        row.status = "open"
        row.review_id = review.id
        row.published_at = now
        audit.record(
            coach,
            "annotation.write",
            "annotation",
            row.id,
            (row.exact or f"pin on page {row.page}")[:200],
            resume_id=resume.id,
            version_id=version_id,
            kind=row.kind,
            criterion=row.criterion,
        )
    earlier = db.session.scalars(
        select(Annotation).where(
            Annotation.resume_id == resume.id, Annotation.reanchor_version_id == version_id
        )
    ).all()
    if earlier:
        counts = Counter(a.status for a in earlier)
        review.earlier_comments = {
            "total": len(earlier),
            "addressed": counts["resolved"],
            "carried": counts["carried"],
            "open": counts["open"],
        }
    db.session.flush()
    return len(drafts)


def _get(resume_id: int, annotation_id: int) -> Annotation | None:
    if not is_id(annotation_id):
        return None
    row = db.session.get(Annotation, annotation_id)
    return row if row is not None and row.resume_id == resume_id else None


# --- following through to a new version -----------------------------------------------------------


def reanchor(version: ResumeVersion) -> int:
    """Anchor every open annotation of the earlier versions in ``version``'s text (called when
    its text is extracted): exact, approximate or missing, kept on the annotation. Returns how
    many were looked at."""
    resume = db.session.get(Resume, version.resume_id)
    if resume is None or version.text is None:
        return 0
    rows = earlier_open(resume, version)
    for row in rows:
        row.reanchor_version_id = version.id
        row.reanchor_start = row.reanchor_end = None
        row.reanchor_exact = None
        row.reanchor_score = None
        if row.kind == "pin":
            same_page = version.kind == "pdf" and (row.page or 1) <= (version.page_count or 1)
            # Layout moves between versions: a pin is never "exact".
            row.reanchor_match = "approximate" if same_page else "missing"
            continue
        if row.kind == "note":
            row.reanchor_match = "missing"
            continue
        match = anchor(version.text, Quote(row.exact, row.prefix, row.suffix), row.start)
        if match is None:
            row.reanchor_match = "missing"
            continue
        row.reanchor_match = match.kind
        row.reanchor_start, row.reanchor_end = match.start, match.end
        row.reanchor_exact = version.text[match.start : match.end]
        row.reanchor_score = match.score
    db.session.flush()
    return len(rows)


def _earlier(coach: User, resume_id: int, annotation_id: int) -> tuple[ResumeVersion, Annotation]:
    _, version = _reviewing(coach, resume_id)
    row = _get(resume_id, annotation_id)
    if row is None or row.status == "draft":
        raise NotFound("There is no such comment on this résumé.")
    earlier = db.session.get(ResumeVersion, row.version_id)
    if earlier is None or earlier.number >= version.number:
        raise InvalidStatus("Only comments on earlier versions can be closed or carried over.")
    if row.status != "open":
        raise InvalidStatus("This comment is no longer open.")
    return version, row


def close(coach: User, resume_id: int, annotation_id: int) -> Annotation:
    """The coach reviewing a new version closes an earlier comment: addressed.
    Raises NotFound, InvalidStatus."""
    version, row = _earlier(coach, resume_id, annotation_id)
    row.status = "resolved"
    row.resolution = "addressed"
    row.resolved_at = utcnow()
    row.resolved_by_id = coach.id
    if row.reanchor_version_id is None:
        row.reanchor_version_id = version.id
    audit.record(coach, "annotation.close", "annotation", row.id, "addressed", **row.detail)
    db.session.flush()
    return row


def carry_over(coach: User, resume_id: int, annotation_id: int) -> Annotation:
    """The coach reviewing a new version carries an earlier comment over: a draft on the new
    version where the comment was found again (a note placed nowhere when it was not), sent
    with the review. Raises NotFound, InvalidStatus."""
    version, row = _earlier(coach, resume_id, annotation_id)
    text = version.text or ""
    values: dict[str, Any] = {"kind": "note", "rects": []}
    if row.kind == "pin" and version.kind == "pdf" and (row.page or 1) <= (version.page_count or 1):
        values = {"kind": "pin", "page": row.page, "x": row.x, "y": row.y, "rects": []}
    elif row.kind == "text" and text:
        match = anchor(text, Quote(row.exact, row.prefix, row.suffix), row.start)
        if match is not None:
            kept = quote_at(text, match.start, match.end)
            values = {
                "kind": "text",
                "exact": kept.exact,
                "prefix": kept.prefix,
                "suffix": kept.suffix,
                "start": match.start,
                "end": match.end,
                "rects": [],
            }
    if values["kind"] == "note":
        values |= {"exact": row.exact, "prefix": row.prefix, "suffix": row.suffix}
    new = Annotation(
        resume_id=row.resume_id,
        version_id=version.id,
        coach_id=coach.id,
        carried_from_id=row.id,
        status="draft",
        criterion=row.criterion,
        body=row.body,
        suggestion=row.suggestion,
        created_at=utcnow(),
        **values,
    )
    db.session.add(new)
    row.status = "carried"
    if row.reanchor_version_id is None:
        row.reanchor_version_id = version.id
    db.session.flush()
    audit.record(coach, "annotation.carry", "annotation", row.id, "", to=new.id, **row.detail)
    return new


# --- the learner (and the coach): replies and resolving -------------------------------------------


def _thread(user: User, resume_id: int, number: int, annotation_id: int) -> Annotation:
    """A published annotation of version ``number`` of a résumé ``user`` may see. Raises
    NotFound."""
    resume = get_visible(user, resume_id, lock=True)
    version = _version(resume, number)
    row = _get(resume.id, annotation_id)
    if row is None or row.version_id != version.id or row.status == "draft":
        raise NotFound("There is no such comment on this version.")
    return row


def _party(user: User, resume_id: int, row: Annotation) -> str:
    """``learner`` for the résumé's owner, ``coach`` for the comment's coach. Raises NotFound
    for anyone else (they may read, not write)."""
    resume = db.session.get(Resume, resume_id)
    assert resume is not None
    if user.role == Role.LEARNER and resume.learner_id == user.id:
        return "learner"
    if user.role == Role.COACH and row.coach_id == user.id:
        return "coach"
    raise NotFound("Only the learner and the comment's coach may answer or resolve it.")


def reply(
    user: User, resume_id: int, number: int, annotation_id: int, body: str
) -> AnnotationReply:
    """The learner (or the comment's coach) answers in the thread; the other is told.
    Raises NotFound, ValidationFailed, InvalidStatus."""
    text = (body or "").strip()
    if "\x00" in text:
        raise ValidationFailed.field("body", NUL_MESSAGE)
    if not text:
        raise ValidationFailed.field("body", "Write your reply.")
    if len(text) > MAX_REPLY:
        raise ValidationFailed.field("body", f"Use at most {MAX_REPLY} characters.")
    row = _thread(user, resume_id, number, annotation_id)
    party = _party(user, resume_id, row)
    if row.status == "carried":
        raise InvalidStatus("This comment was carried over to a newer version; reply there.")
    message = AnnotationReply(
        annotation_id=row.id, author_id=user.id, body=text, created_at=utcnow()
    )
    db.session.add(message)
    db.session.flush()
    outbox.record(
        "resume.annotation_replied",
        resume_id=resume_id,
        annotation_id=row.id,
        reply_id=message.id,
        to="coach" if party == "learner" else "learner",
    )
    return message


def resolve(user: User, resume_id: int, number: int, annotation_id: int) -> Annotation:
    """The learner marks a comment done, or its coach resolves it. Resolving a resolved one
    changes nothing. Raises NotFound, InvalidStatus."""
    row = _thread(user, resume_id, number, annotation_id)
    party = _party(user, resume_id, row)
    if row.status == "resolved":
        return row
    if row.status == "carried":
        raise InvalidStatus("This comment was carried over to a newer version; resolve it there.")
    row.status = "resolved"
    row.resolution = "done" if party == "learner" else "resolved"
    row.resolved_at = utcnow()
    row.resolved_by_id = user.id
    audit.record(user, "annotation.resolve", "annotation", row.id, row.resolution, **row.detail)
    db.session.flush()
    return row


def state_label(row: Annotation) -> str:
    """The annotation's state in words."""
    if row.status == "draft":
        return "Draft: sent with your review"
    if row.status == "carried":
        return "Carried over to a newer version"
    if row.status == "resolved":
        return {
            "done": "Done (marked by the learner)",
            "resolved": "Resolved by the coach",
            "addressed": "Addressed in a newer version",
        }.get(row.resolution or "", "Resolved")
    return "Open"
