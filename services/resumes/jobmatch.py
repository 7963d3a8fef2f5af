"""A résumé held against the job it is aimed at: the job description (pasted, or the text of a
PDF/DOCX read by the same hardened extraction as résumés), the job's skills (services.skills, the
one synonyms table), and the gap analysis.

The analysis is a transparent breakdown, never one opaque score: each of the job's skills matched
with where the résumé shows it (the skills section, an experience bullet, a project) or missing
(hard skills first), whether the résumé names the job's title or a close one, a short list of what
to add or make visible, and a note against keyword stuffing.
"""

from __future__ import annotations

import re
from typing import Any, BinaryIO

from services import skills, storage
from services.errors import DomainError, ValidationFailed
from services.resumes import extraction, files
from services.resumes.checks import SECTIONS
from services.resumes.settings import Settings

MAX_JOB_CHARS = 20_000
MAX_ADVICE = 8
NUL_MESSAGE = "Remove the NUL character from this text."
STUFFING_NOTE = (
    "Add only skills you really have, and show each one where you used it (a bullet with what "
    "you built and its result). Recruiters and screening tools see through lists of repeated "
    "keywords; a skill named in context counts for more than one named three times."
)

# Where a skill is shown, by the résumé section its line is under.
PLACES = {
    "skills": "the skills section",
    "experience": "an experience bullet",
    "projects": "a project",
    "other": "elsewhere in the résumé",
}
_SENIORITY = re.compile(
    r"\b(?:senior|junior|lead|staff|principal|sr|jr|mid|level|i{1,3}|iv|head of)\b\.?",
    re.IGNORECASE,
)
_TITLE_LINE = re.compile(
    r"^\s*(?:job\s+)?(?:title|role|position)\s*[:\-–]\s*(.+)$", re.IGNORECASE | re.MULTILINE
)
_ROLE_WORDS = re.compile(
    r"\b(engineer|scientist|analyst|developer|architect|researcher|manager)\b", re.IGNORECASE
)


# --- the job description ------------------------------------------------------------------------


def clean_text(text: str | None) -> str | None:
    """A pasted job description, trimmed; None for none. Raises ValidationFailed."""
    text = (text or "").strip()
    if not text:
        return None
    if "\x00" in text:
        raise ValidationFailed.field("job_description", NUL_MESSAGE)
    if len(text) > MAX_JOB_CHARS:
        raise ValidationFailed.field(
            "job_description", f"Use at most {MAX_JOB_CHARS:,} characters (or upload the file)."
        )
    return text


def text_of_file(stream: BinaryIO, filename: str | None) -> str:
    """The text of an uploaded job description (PDF or DOCX): received and sniffed like a résumé,
    parsed in the same limited child process. Raises files.FileRejected and its kin,
    ValidationFailed (unreadable, or no text)."""
    settings = Settings.current()
    store = storage.current()
    try:
        stored = files.receive(stream, filename, store=store, max_bytes=settings.max_upload_bytes)
    except DomainError as exc:  # the same refusal, named for this field
        exc.errors = {"job_file": [exc.detail]}
        raise
    # Only its text is kept: no row names the file, so the orphan sweep removes it later.
    try:
        with store.local_copy(stored.sha256) as path:
            result = extraction.extract(
                path,
                stored.kind,
                timeout=settings.parse_timeout,
                memory_mb=settings.parse_memory_mb,
            )
    except extraction.ExtractionFailed as exc:
        raise ValidationFailed.field("job_file", exc.detail) from exc
    text = result.text.strip()
    if not text:
        raise ValidationFailed.field("job_file", "The job description file has no text in it.")
    return text[:MAX_JOB_CHARS]


def job_title(job_text: str) -> str | None:
    """The job's title: a "Title: …" line, or else the first short line that names a role."""
    found = _TITLE_LINE.search(job_text)
    if found:
        return " ".join(found.group(1).split())[:120]
    for line in job_text.splitlines()[:8]:
        line = " ".join(line.split())
        if line and len(line) <= 80 and _ROLE_WORDS.search(line):
            return line
    return None


def job_skills(job_text: str) -> list[str]:
    """The skill ids the job names, hard skills first (services.skills)."""
    return skills.find(job_text)


# --- the gap analysis ---------------------------------------------------------------------------


def _sections(resume_text: str) -> list[tuple[str, str]]:
    """Each line of the résumé with the section it is under (a heading line starts one)."""
    current = "other"
    lines = []
    for raw in resume_text.splitlines():
        line = raw.strip()
        if not line:
            continue
        short = len(line.split()) <= 3
        heading = next(
            (
                key
                for key in ("skills", "experience", "projects", "education")
                if short and SECTIONS[key].pattern.search(line.strip(" :"))
            ),
            None,
        )
        if heading:
            current = heading
            continue
        lines.append((current if current in PLACES else "other", line))
    return lines


def _core_title(title: str) -> str:
    return skills.normalise(" ".join(_SENIORITY.sub(" ", title).split()))


def title_alignment(
    job_title_text: str | None, resume_text: str, target_role: str
) -> dict[str, Any]:
    """Whether the résumé names the job's title (without its seniority) or a close one."""
    if not job_title_text:
        return {"job_title": None, "named": False, "close": None, "advice": None}
    core = _core_title(job_title_text)
    plain = skills.normalise(resume_text)
    named = bool(core) and core in plain
    close = None
    if not named:
        role_words = set(_ROLE_WORDS.findall(core))
        domain = set(core.split()) - role_words
        headlines = [line for line in resume_text.splitlines() if 0 < len(line.split()) <= 8]
        for candidate in headlines:  # the résumé's own words, not the target role it was sent for
            words = set(skills.normalise(candidate).split())
            if role_words & words and domain & words:
                close = " ".join(candidate.split())[:120]
                break
    advice = None
    if not named:
        advice = (
            f"Name the role as the posting does (“{job_title_text}”) in your headline or summary, "
            "if it is true of your experience."
        )
    return {"job_title": job_title_text, "named": named, "close": close, "advice": advice}


def _listed(names: list[str]) -> str:
    """``A``, ``A and B``, ``A, B and C``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def analyse(resume_text: str, job_text: str, target_role: str = "") -> dict[str, Any]:
    """The gap analysis of a résumé's text against a job description (a JSON-ready dict)."""
    wanted = job_skills(job_text)
    lines = _sections(resume_text)
    matched: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    for skill_id in wanted:
        term = skills.BY_ID[skill_id]
        sections = {section for section, line in lines if skills.names_skill(line, skill_id)}
        places = [PLACES[s] for s in ("experience", "projects", "skills", "other") if s in sections]
        entry: dict[str, Any] = {"skill": skill_id, "name": term.name, "hard": term.hard}
        if places:
            matched.append({**entry, "where": places})
        else:
            missing.append(entry)
    missing.sort(key=lambda m: not m["hard"])
    title = title_alignment(job_title(job_text), resume_text, target_role)
    advice = []
    hard_missing = [m["name"] for m in missing if m["hard"]]
    if hard_missing:
        advice.append(
            f"The job asks for {_listed(hard_missing)}: for each you have really used, name it "
            "in your skills and in the bullet or project where you used it."
        )
    for entry in matched:
        if entry["hard"] and entry["where"] == [PLACES["skills"]]:
            advice.append(
                f"{entry['name']} is only in your skills list: show it in an experience bullet "
                "or a project, with what it achieved."
            )
    soft_missing = [m["name"].lower() for m in missing if not m["hard"]]
    if soft_missing:
        advice.append(
            f"The job mentions {_listed(soft_missing)}: show it through an example (a bullet "
            "about working with others), not as a listed word."
        )
    if title["advice"]:
        advice.append(title["advice"])
    hard = [s for s in wanted if skills.BY_ID[s].hard]
    return {
        "matched": matched,
        "missing": missing,
        "counts": {
            "hard_matched": sum(1 for m in matched if m["hard"]),
            "hard_total": len(hard),
            "soft_matched": sum(1 for m in matched if not m["hard"]),
            "soft_total": len(wanted) - len(hard),
        },
        "title": title,
        "advice": advice[:MAX_ADVICE],
        "note": STUFFING_NOTE,
    }
