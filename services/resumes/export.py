"""The learner's résumé as a PDF with the coach's comments: the original's pages (copied; the
stored file is only read), each comment a numbered highlight (or pin) on its page, then pages
listing the comments by number. A DOCX has no pages of its own to mark: the PDF is the list of
comments, each with the text it is on."""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass

from services.models import Annotation, ResumeVersion, User
from services.resumes import annotations as marks
from services.resumes.views import file_of
from services.rubric import LABELS

PAGE_WIDTH, PAGE_HEIGHT = 612, 792  # US Letter, points
MARGIN = 54
FONT_SIZE = 10
LEADING = 13
WRAP = 100  # characters per line at 10 pt Helvetica across the page
HIGHLIGHT = "f59e0b"


@dataclass(frozen=True)
class Exported:
    data: bytes
    filename: str
    count: int  # comments in it


def _pdf_string(text: str) -> bytes:
    data = text.encode("cp1252", errors="replace")
    return b"(" + data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _text_pages(lines: list[tuple[str, bool]]) -> bytes:
    """A plain PDF of ``lines`` (text, bold), Helvetica, as many Letter pages as they need."""
    per_page = (PAGE_HEIGHT - 2 * MARGIN) // LEADING
    chunks = [lines[i : i + per_page] for i in range(0, len(lines), per_page)] or [[]]
    objects: list[bytes] = [b"", b""]  # the catalog and the page tree, filled below
    for font in (b"Helvetica", b"Helvetica-Bold"):
        objects.append(
            b"<< /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding >>" % font
        )
    kids = []
    for chunk in chunks:
        ops = [b"BT", b"%d TL" % LEADING, b"%d %d Td" % (MARGIN, PAGE_HEIGHT - MARGIN)]
        for text, bold in chunk:
            ops.append(b"/F%d %d Tf" % (2 if bold else 1, FONT_SIZE))
            ops.append(_pdf_string(text) + b" Tj T*")
        ops.append(b"ET")
        stream = b"\n".join(ops)
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << "
            b"/F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>" % (PAGE_WIDTH, PAGE_HEIGHT, content)
        )
        kids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    trailer = b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
    out.write(trailer % (len(objects) + 1, xref))
    return out.getvalue()


def _wrapped(text: str, bold: bool = False, indent: str = "") -> list[tuple[str, bool]]:
    lines: list[tuple[str, bool]] = []
    for paragraph in text.splitlines() or [""]:
        for line in textwrap.wrap(paragraph, WRAP - len(indent)) or [""]:
            lines.append((indent + line, bold))
    return lines


def comment_lines(version: ResumeVersion, rows: list[Annotation]) -> list[tuple[str, bool]]:
    """The comments pages' text: each comment by its number, with its quote, rewrite, thread."""
    lines: list[tuple[str, bool]] = [
        (f"Comments on {version.filename} (version {version.number})", True),
        ("", False),
    ]
    if version.kind != "pdf":
        lines += _wrapped(
            "This résumé is a DOCX, so its pages cannot be marked here: each comment is listed "
            "with the text it is on."
        )
        lines.append(("", False))
    for number, row in enumerate(rows, start=1):
        head = f"{number}. {marks.state_label(row)}"
        if row.criterion:
            head += f" · {LABELS.get(row.criterion, row.criterion)}"
        if row.coach:
            head += f" · {row.coach.name}"
        lines.append((head, True))
        if row.kind == "pin":
            lines.append((f"   Pinned to page {row.page}", False))
        elif row.exact:
            lines += _wrapped(f"“{row.exact}”", indent="   ")
        lines += _wrapped(row.body, indent="   ")
        if row.suggestion:
            lines += _wrapped(f"Suggested rewrite: {row.suggestion}", indent="   ")
        for reply in row.replies:
            who = reply.author.name if reply.author else "Someone"
            lines += _wrapped(f"{who}: {reply.body}", indent="      ")
        lines.append(("", False))
    return lines


def annotated_pdf(viewer: User, resume_id: int, number: int) -> Exported:
    """The marked-up PDF of version ``number`` as ``viewer`` may read its comments (the sent
    ones). Raises NotFound, storage.StorageUnavailable."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.annotations import FreeText, Highlight
    from pypdf.generic import ArrayObject, FloatObject

    version, rows = marks.for_version(viewer, resume_id, number)
    rows = [r for r in rows if r.status != "draft"]
    writer = PdfWriter()
    if version.kind == "pdf":
        opened, _ = file_of(viewer, resume_id, number)
        with opened.stream as original:
            writer.append(PdfReader(io.BytesIO(original.read())))
        for index, row in enumerate(rows, start=1):
            if not row.page or row.page > len(writer.pages):
                continue
            box = writer.pages[row.page - 1].mediabox
            left, top = float(box.left), float(box.top)
            width, height = float(box.width), float(box.height)
            spots = (
                [[row.x or 0.0, row.y or 0.0, 0.0, 0.0]] if row.kind == "pin" else row.rects or []
            )
            for rect in spots:
                x, y, w, h = (float(v) for v in rect)
                x1, x2 = left + x * width, left + (x + w) * width
                y2, y1 = top - y * height, top - (y + h) * height
                if row.kind != "pin":
                    quads = ArrayObject(FloatObject(v) for v in (x1, y2, x2, y2, x1, y1, x2, y1))
                    mark = Highlight(
                        rect=(x1, y1, x2, y2), quad_points=quads, highlight_color=HIGHLIGHT
                    )
                    writer.add_annotation(row.page - 1, mark)
            if spots:
                x, y = float(spots[0][0]), float(spots[0][1])
                bx, by = left + x * width, top - y * height
                writer.add_annotation(
                    row.page - 1,
                    FreeText(
                        text=str(index),
                        rect=(bx - 14, by, bx + 2, by + 14),
                        font="Helvetica",
                        bold=True,
                        font_size="10pt",
                        font_color="ffffff",
                        border_color="b45309",
                        background_color="b45309",
                    ),
                )
    writer.append(PdfReader(io.BytesIO(_text_pages(comment_lines(version, rows)))))
    out = io.BytesIO()
    writer.write(out)
    stem = version.filename.rsplit(".", 1)[0] or "resume"
    return Exported(out.getvalue(), f"{stem} (comments).pdf", len(rows))
