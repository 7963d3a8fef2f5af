"""The full parse of a stored résumé (text, pages, active PDF content), in a forked child process
under CPU-time, memory and wall-clock limits: a hostile file can fail only its own task.

A DOCX is also converted to HTML (mammoth) for the coach's formatted view, images dropped, then
sanitised (nh3) to a small allow-list: ``clean_preview`` is the one sanitiser, used again at render.

``extract()`` forks the child; ``python -m services.resumes.extraction KIND PATH`` parses for a
person.
"""

from __future__ import annotations

import json
import math
import os
import select
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_TEXT_CHARS = 200_000
MAX_PAGES = 60
MAX_OBJECTS_WALKED = 20_000
# The formatted DOCX view: none when the sanitised HTML is bigger (the text is shown instead), and
# no conversion at all when the body text alone is bigger (its HTML would be too) or an XML part
# is bigger than any résumé needs (mammoth reads XML into Python objects).
MAX_PREVIEW_BYTES = 200_000
MAX_PREVIEW_SOURCE_BYTES = 8 * 1024 * 1024

PREVIEW_TAGS = {
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "p",
    "strong",
    "em",
    "u",
    "ul",
    "ol",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "br",
    "a",
}
PREVIEW_ATTRIBUTES = {"a": {"href"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}

# Names whose presence makes a PDF "active": scripts, actions that start programs, files inside.
_ACTIVE_NAMES = {
    "/JavaScript": "JavaScript",
    "/JS": "JavaScript",
    "/Launch": "a launch action",
    "/EmbeddedFile": "embedded files",
    "/EmbeddedFiles": "embedded files",
    "/RichMedia": "rich media",
    "/XFA": "an XFA form",
    "/SubmitForm": "a form that submits data",
    "/ImportData": "a form that imports data",
}


class ExtractionFailed(Exception):
    """The file could not be parsed within its limits; ``detail`` is a sentence for the learner."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Extraction:
    text: str
    page_count: int | None
    page_count_estimated: bool = False
    active_content: list[str] = field(default_factory=list)
    preview_html: str | None = None  # a DOCX as sanitised HTML (clean_preview), None if none


def clean_preview(html: str) -> str:
    """The allow-list for a DOCX shown as HTML: structure and emphasis only; links only to http(s)
    and mailto (never relative, never javascript:), opened with no referrer; no style, class, id
    or event attributes, no images. Safe to mark as safe in a template."""
    import nh3

    return nh3.clean(
        html,
        tags=PREVIEW_TAGS,
        clean_content_tags={"script", "style"},
        attributes=PREVIEW_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        url_relative="deny",
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


# --- the parent side ------------------------------------------------------------------------------


def _limit(memory_bytes: int, cpu_seconds: int) -> None:  # pragma: no cover - runs in the child
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # the parser writes no files


_FAILED = (
    "The file could not be read within the memory and time allowed (it may be damaged or built "
    "to overload readers). Export it again and upload it as a new version."
)


def _address_space() -> int:
    """This process's virtual size: a forked child starts with it, so its limit adds to it."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def extract(path: Path, kind: str, *, timeout: float = 30.0, memory_mb: int = 512) -> Extraction:
    """Parse ``path`` (``kind`` "pdf" or "docx") in a forked child under CPU, memory and wall-clock
    limits; the parent keeps the parsers imported, so a parse costs a fork, not an interpreter.

    Raises ExtractionFailed (damaged, encrypted, over the time or memory limit)."""
    import docx  # noqa: F401  (imported once here, inherited by every child)
    import mammoth  # noqa: F401
    import nh3  # noqa: F401
    import pypdf  # noqa: F401

    memory = _address_space() + memory_mb * 1024 * 1024
    cpu = max(1, math.ceil(timeout))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child: parse, write one JSON answer, exit at once
        status = 0
        try:
            os.close(read_end)
            _limit(memory, cpu)
            data = json.dumps(_answer(kind, str(path))).encode()
            view = memoryview(data)
            while view:
                view = view[os.write(write_end, view) :]
        except BaseException:
            status = 1
        finally:
            os._exit(status)  # no atexit, no finalisers: the parent's sockets are not ours
    os.close(write_end)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([read_end], [], [], max(0.0, remaining))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                raise ExtractionFailed(
                    f"Reading the file took longer than {timeout:g} seconds, so it was stopped. "
                    "Export a simpler PDF or DOCX and upload it as a new version."
                )
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
    try:
        answer = json.loads(b"".join(chunks) or b"{}")
    except ValueError:
        answer = {}
    if "error" in answer:
        raise ExtractionFailed(str(answer["error"]))
    if status != 0 or "text" not in answer:
        raise ExtractionFailed(_FAILED)
    return Extraction(
        text=str(answer["text"]),
        page_count=answer.get("page_count"),
        page_count_estimated=bool(answer.get("page_count_estimated")),
        active_content=list(answer.get("active_content") or []),
        preview_html=answer.get("preview_html") or None,
    )


# --- the child side -------------------------------------------------------------------------------


def _pdf(path: str) -> dict[str, Any]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            return {"error": "The PDF is encrypted. Save a copy without a password and upload it."}
        pages = reader.pages
        count = len(pages)
        parts: list[str] = []
        size = 0
        for page in list(pages)[:MAX_PAGES]:
            chunk = page.extract_text() or ""
            parts.append(chunk)
            size += len(chunk)
            if size > MAX_TEXT_CHARS:
                break
        active = _active_pdf_content(reader)
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        return {"error": f"The PDF is damaged and could not be read ({type(exc).__name__})."}
    return {
        "text": "\n".join(parts)[:MAX_TEXT_CHARS],
        "page_count": count,
        "active_content": active,
    }


def _active_pdf_content(reader: Any) -> list[str]:
    """Walk the object graph from the trailer (bounded) and name any active content found."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    found: set[str] = set()
    seen: set[tuple[int, int]] = set()
    stack: list[Any] = [reader.trailer]
    walked = 0
    while stack and walked < MAX_OBJECTS_WALKED:
        item = stack.pop()
        walked += 1
        if isinstance(item, IndirectObject):
            key = (item.idnum, item.generation)
            if key in seen:
                continue
            seen.add(key)
            try:
                item = item.get_object()
            except Exception:  # noqa: S112 - a dangling or broken reference: skip it, keep walking
                continue
        if isinstance(item, DictionaryObject):
            for name, value in item.items():
                if name in _ACTIVE_NAMES:
                    found.add(_ACTIVE_NAMES[name])
                if name == "/S" and value in _ACTIVE_NAMES:
                    found.add(_ACTIVE_NAMES[value])
                if name == "/Parent":
                    continue  # the page tree points back up; everything is reached downwards
                stack.append(value)
        elif isinstance(item, ArrayObject):
            stack.extend(item)
    return sorted(found)


def _docx(path: str) -> dict[str, Any]:
    import zipfile

    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = Document(path)
        parts: list[str] = [p.text for p in document.paragraphs]
        for table in document.tables:
            for row in table.rows:
                parts.append(" | ".join(cell.text for cell in row.cells))
        body_chars = sum(len(part) for part in parts)
        for section in document.sections:
            parts.extend(p.text for p in section.header.paragraphs)
            parts.extend(p.text for p in section.footer.paragraphs)
        pages = None
        with zipfile.ZipFile(path) as archive:
            if "docProps/app.xml" in archive.namelist():
                from lxml import etree

                parser = etree.XMLParser(resolve_entities=False, no_network=True)
                root = etree.fromstring(archive.read("docProps/app.xml"), parser=parser)
                for element in root:
                    if etree.QName(element).localname == "Pages" and (element.text or "").isdigit():
                        pages = int(element.text or "0") or None
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        return {"error": f"The document is damaged and could not be read ({type(exc).__name__})."}
    text = "\n".join(part for part in parts if part.strip())[:MAX_TEXT_CHARS]
    estimated = pages is None
    if pages is None:  # Word writes the count on save; other editors may not: ~450 words a page
        pages = max(1, round(len(text.split()) / 450 + 0.49))
    del document, parts
    preview = None if body_chars > MAX_PREVIEW_BYTES else _docx_preview(path)
    return {
        "text": text,
        "page_count": pages,
        "page_count_estimated": estimated,
        "preview_html": preview,
    }


# XML is UTF-8 or UTF-16 (expat reads no other Unicode form), and markup cannot be escaped.
_DTD_MARKERS = tuple("<!DOCTYPE".encode(codec) for codec in ("utf-8", "utf-16-le", "utf-16-be"))


def _no_image(image: Any) -> list[Any]:
    """mammoth's image converter: no element at all (no data: URIs, nothing read)."""
    return []


def _docx_preview(path: str) -> str | None:
    """The document as sanitised HTML for the coach, or None: too big, a DTD in a part (Word
    writes none), or anything mammoth cannot convert. Never fails the parse: the text is enough."""
    import zipfile

    import mammoth

    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith((".xml", ".rels")):
                    continue
                if info.file_size > MAX_PREVIEW_SOURCE_BYTES:
                    return None
                data = archive.read(info)
                if any(marker in data for marker in _DTD_MARKERS):
                    return None
        with open(path, "rb") as source:
            result = mammoth.convert_to_html(
                source,
                convert_image=_no_image,
                include_embedded_style_map=False,
                external_file_access=False,
            )
        html = clean_preview(result.value)
    except Exception:  # a preview is optional (MemoryError and RecursionError included)
        return None
    if not html.strip() or len(html.encode()) > MAX_PREVIEW_BYTES:
        return None
    return html


def _answer(kind: str, path: str) -> dict[str, Any]:
    try:
        return _pdf(path) if kind == "pdf" else _docx(path)
    except MemoryError:
        return {"error": "The file needs more memory to read than allowed; it was refused."}
    except RecursionError:
        return {"error": "The file is nested too deeply to read safely; it was refused."}


def main(argv: list[str]) -> int:
    """``python -m services.resumes.extraction KIND PATH``: the same parse, unlimited, for a
    person."""
    sys.stdout.write(json.dumps(_answer(argv[1], argv[2])))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv))
