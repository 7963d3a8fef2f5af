"""Résumé files made in the tests: minimal PDFs written by hand, DOCX from python-docx, and the
hostile set (disguised types, zip bombs, macros, truncation)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from typing import Any

GOOD_TEXT = [
    "Ada Lovelace",
    "ada@example.com  +44 20 7946 0958  linkedin.com/in/ada  github.com/ada",
    "Summary",
    "Machine learning engineer who ships models to production.",
    "Experience",
    "ML Engineer, Analytical Engines Ltd, 2022-2025",
    "Built training pipelines in Python with PyTorch and scikit-learn; tracked runs in MLflow.",
    "Orchestrated feature jobs with Airflow; served models in Docker on AWS SageMaker.",
    "Reduced inference latency by 40% and cut cloud cost by 25%.",
    "Projects",
    "Open-source recommender in Python and SQL, versioned with Git.",
    "Education",
    "BSc Mathematics, University of London",
    "Skills",
    "Python, SQL, PyTorch, TensorFlow, scikit-learn, Docker, Git, MLflow, Airflow, SageMaker",
]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(
    lines: list[str] | None = None,
    *,
    pages: int = 1,
    javascript: bool = False,
    launch: bool = False,
    encrypted_marker: bool = False,
    padding: int = 0,
) -> bytes:
    """A small valid PDF with real text (Helvetica, WinAnsi), xref offsets computed exactly."""
    lines = GOOD_TEXT if lines is None else lines
    objects: list[bytes] = []

    def add(body: str | bytes) -> int:
        objects.append(body.encode("latin-1") if isinstance(body, str) else body)
        return len(objects)

    catalog = add("")  # filled below
    page_tree = add("")
    font = add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    kids = []
    per_page = max(1, -(-len(lines) // pages))
    for index in range(pages):
        chunk = lines[index * per_page : (index + 1) * per_page] or [f"Page {index + 1}"]
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 760 Td"]
        for line in chunk:
            ops.append(f"({_escape(line)}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("cp1252", errors="replace")
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        annots = ""
        if launch:
            action = add("<< /S /Launch /F (calc.exe) >>")
            link = add(f"<< /Type /Annot /Subtype /Link /Rect [0 0 100 100] /A {action} 0 R >>")
            annots = f" /Annots [{link} 0 R]"
        kids.append(
            add(
                f"<< /Type /Page /Parent {page_tree} 0 R /MediaBox [0 0 612 792] "
                f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {content} 0 R{annots} >>"
            )
        )
    open_action = ""
    if javascript:
        js = add("<< /S /JavaScript /JS (app.alert\\('hello'\\);) >>")
        open_action = f" /OpenAction {js} 0 R"
    if padding:  # an unreferenced stream object, to make a big file (progress bars, limits)
        add(b"<< /Length %d >>\nstream\n" % padding + b"0" * padding + b"\nendstream")
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {page_tree} 0 R{open_action} >>".encode()
    objects[page_tree - 1] = (
        f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>"
    ).encode()

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    encrypt = " /Encrypt << /Filter /Standard /V 1 /R 2 >>" if encrypted_marker else ""
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R{encrypt} >>\n".encode()
        + b"startxref\n%d\n%%%%EOF\n" % xref
    )
    return out.getvalue()


def make_encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(make_pdf())).pages:
        writer.add_page(page)
    writer.encrypt("secret", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def make_docx(paragraphs: list[str] | None = None) -> bytes:
    from docx import Document

    document = Document()
    for text in GOOD_TEXT if paragraphs is None else paragraphs:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _rezip(
    data: bytes, extra: dict[str, bytes], *, replace: dict[str, bytes] | None = None
) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = (replace or {}).get(info.filename, source.read(info))
            target.writestr(info.filename, body)
        for name, body in extra.items():
            target.writestr(name, body, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return out.getvalue()


def make_zip_bomb_docx(megabytes: int = 100) -> bytes:
    """A real DOCX plus one member of zeros that inflates ~1000:1."""
    return _rezip(make_docx(), {"word/media/image1.png": b"\0" * (megabytes * 1024 * 1024)})


def make_many_members_docx(count: int = 1500) -> bytes:
    return _rezip(make_docx(), {f"word/media/x{i}.xml": b"<a/>" for i in range(count)})


def make_macro_docx() -> bytes:
    data = make_docx()
    types = zipfile.ZipFile(io.BytesIO(data)).read("[Content_Types].xml").decode()
    types = types.replace(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        "application/vnd.ms-word.document.macroEnabled.main+xml",
    )
    return _rezip(
        data,
        {"word/vbaProject.bin": b"\xd0\xcf\x11\xe0 macro"},
        replace={"[Content_Types].xml": types.encode()},
    )


def make_png() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\0\0")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def bad_uploads(max_upload_mb: int) -> list[tuple[str, str, bytes, int, str]]:
    """(label, file name, bytes, expected status, expected code) for every bad upload."""
    pdf = make_pdf()
    return [
        (
            "text named .pdf",
            "resume.pdf",
            b"Just some text, honest.\n" * 40,
            415,
            "unsupported_file_type",
        ),
        ("png named .pdf", "resume.pdf", make_png(), 415, "unsupported_file_type"),
        ("empty", "resume.pdf", b"", 422, "validation_error"),
        (
            "oversized",
            "resume.pdf",
            pdf[:-6] + b" " * (max_upload_mb * 1024 * 1024) + b"%%EOF\n",
            413,
            "file_too_large",
        ),
        ("zip bomb docx", "resume.docx", make_zip_bomb_docx(), 422, "validation_error"),
        ("many members docx", "resume.docx", make_many_members_docx(), 422, "validation_error"),
        ("macro docx", "resume.docx", make_macro_docx(), 415, "unsupported_file_type"),
        ("truncated pdf", "resume.pdf", pdf[: len(pdf) // 2], 422, "validation_error"),
        ("truncated docx", "resume.docx", make_docx()[:4000], 422, "validation_error"),
        ("encrypted pdf", "resume.pdf", make_encrypted_pdf(), 422, "validation_error"),
        ("hostile name", "../../x.pdf", pdf, 422, "validation_error"),
        ("hostile windows name", "..\\..\\x.pdf", pdf, 422, "validation_error"),
        ("control characters in name", "cv\x00.pdf", pdf, 422, "validation_error"),
        ("plain zip named .docx", "resume.docx", _plain_zip(), 415, "unsupported_file_type"),
    ]


def _plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "hello")
    return out.getvalue()


def upload(client: Any, token: str, data: bytes, name: str = "resume.pdf", **fields: str) -> Any:
    form = {"target_role": "ML engineer", **fields, "file": (io.BytesIO(data), name)}
    return client.post(
        "/api/v1/resumes",
        data=form,
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )


def _raw_pdf(bodies: list[bytes], root: str = "1 0 R") -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(bodies, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(
        b"trailer\n<< /Size %d /Root %s >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(bodies) + 1, root.encode(), xref)
    )
    return out.getvalue()


def make_unparseable_pdf() -> bytes:
    """Passes the request's structural checks (signature, trailer, %%EOF) but its page tree is a
    loop, which the full parser refuses."""
    return _raw_pdf(
        [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"]
    )


def submit(
    learner: Any, data: bytes, name: str = "cv.pdf", target_role: str = "ML engineer"
) -> Any:
    """A new résumé of ``data``, as the upload views make it: the file kept first, then the row
    (not committed: the caller commits or rolls back)."""
    from services import resumes

    submission = resumes.Submission(target_role=target_role)
    stored = resumes.receive(learner, io.BytesIO(data), name, submission)
    return resumes.submit(learner, stored, submission)


def submit_version(learner: Any, resume_id: int, data: bytes, name: str = "v2.pdf") -> Any:
    """A new version of ``data``, as the upload views make it (not committed)."""
    from services import resumes

    stored = resumes.receive(learner, io.BytesIO(data), name, resume_id=resume_id)
    return resumes.submit_version(learner, resume_id, stored)
