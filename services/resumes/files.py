"""Uploaded files: the type from the content (never the name), cheap structural checks that a
request can afford, and the hand-over to content-addressed storage (services/storage), which
never serves anything itself.

The full parse (text, pages, active content) is not here: it runs in a worker, in a child process
under time and memory limits (services/resumes/extraction.py), so a hostile file can only fail its
own task.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import filetype
from lxml import etree

from services.errors import TooLarge, UnsupportedType, ValidationFailed
from services.storage import Storage

PDF = "pdf"
DOCX = "docx"
CONTENT_TYPES = {
    PDF: "application/pdf",
    DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
EXTENSIONS = {PDF: ".pdf", DOCX: ".docx"}

CHUNK = 64 * 1024
# DOCX (a ZIP) bounds, checked from the central directory before anything is decompressed.
DOCX_MAX_MEMBERS = 1000
DOCX_MAX_UNCOMPRESSED = 64 * 1024 * 1024
DOCX_MAX_RATIO = 100  # uncompressed/compressed, for members big enough to matter
DOCX_RATIO_FLOOR = 1024 * 1024
DOCX_MAX_XML_PART = 2 * 1024 * 1024  # [Content_Types].xml and _rels/.rels are read here

_WORD_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_CFB_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2: legacy .doc, or an encrypted OOXML
_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"


class FileTooLarge(TooLarge):
    code = "file_too_large"


class UnsupportedFileType(UnsupportedType):
    code = "unsupported_file_type"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, {"file": [detail]})


class FileRejected(ValidationFailed):
    """A PDF or DOCX that cannot be accepted: empty, damaged, encrypted, a zip bomb, a bad name."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, {"file": [detail]})


@dataclass(frozen=True)
class Sniffed:
    kind: str
    content_type: str


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    kind: str
    content_type: str
    filename: str  # sanitised display name with the extension of the real type


# --- names ----------------------------------------------------------------------------------------


def clean_filename(name: str | None) -> str:
    """The learner's file name as display metadata. Raises FileRejected for hostile names."""
    if name is None or not name.strip():
        raise FileRejected("Choose a PDF or DOCX file to upload.")
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in name):
        raise FileRejected("The file name contains control characters. Rename the file and retry.")
    # A name starting ".." is a traversal attempt (Werkzeug turns "..\\..\\x" into "....x").
    if "/" in name or "\\" in name or name.strip().startswith(".."):
        raise FileRejected(
            "The file name must be a plain name, without a folder path. Rename the file and retry."
        )
    if len(name) > 255:
        raise FileRejected("The file name is longer than 255 characters. Shorten it and retry.")
    return " ".join(unicodedata.normalize("NFC", name).split())


def display_name(name: str, kind: str) -> str:
    """``name`` with the extension of the sniffed type, so the download opens in the right app."""
    stem, dot, ext = name.rpartition(".")
    expected = EXTENSIONS[kind]
    if dot and f".{ext.lower()}" == expected:
        return name
    base = stem if dot and f".{ext.lower()}" in EXTENSIONS.values() else name
    return f"{base.strip() or 'resume'}{expected}"


# --- sniffing -------------------------------------------------------------------------------------


def sniff(path: Path) -> Sniffed:
    """The file's real type from its signature and structure.

    Raises UnsupportedFileType (not a PDF or DOCX), FileRejected (a PDF or DOCX that is damaged,
    truncated, encrypted or unsafe)."""
    size = path.stat().st_size
    if size == 0:
        raise FileRejected("The file is empty. Choose the saved PDF or DOCX and upload it again.")
    with path.open("rb") as fh:
        head = fh.read(8192)
    if head.startswith(b"%PDF-"):
        check_pdf(path, size)
        return Sniffed(PDF, CONTENT_TYPES[PDF])
    if head.startswith(b"PK\x03\x04") or head.startswith(_EOCD):
        check_docx(path, size)
        return Sniffed(DOCX, CONTENT_TYPES[DOCX])
    if head.startswith(_CFB_SIGNATURE):
        if "EncryptedPackage".encode("utf-16-le") in _read_all_bounded(path):
            raise FileRejected(
                "This document is protected with a password. Remove the password in Word "
                "(File › Info › Protect Document) and upload it again."
            )
        raise UnsupportedFileType(
            "This is an old Word .doc file. Save it as DOCX (Word Document) or PDF and retry."
        )
    guess = filetype.guess(head)
    what = f"a {guess.extension.upper()} file ({guess.mime})" if guess else "not a PDF or DOCX"
    raise UnsupportedFileType(
        f"This file is {what}, whatever its name says. Upload your résumé as PDF or DOCX."
    )


def _read_all_bounded(path: Path, limit: int = 16 * 1024 * 1024) -> bytes:
    with path.open("rb") as fh:
        return fh.read(limit)


_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_PDF_VERSION = re.compile(rb"%PDF-(1\.[0-7]|2\.0)\b")
_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF")
_XREF_AT = re.compile(rb"\s*(xref|\d+\s+\d+\s+obj)")


def _unescape_names(data: bytes) -> bytes:
    # PDF names may spell letters as #xx ("/#45ncrypt" is "/Encrypt"); undo it before searching.
    return _NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), data)


def check_pdf(path: Path, size: int) -> None:
    """Signature, the trailer (startxref, %%EOF) and the encryption flag. Raises FileRejected."""
    with path.open("rb") as fh:
        head = fh.read(1024)
        fh.seek(max(0, size - 2048))
        tail = fh.read()
        if not _PDF_VERSION.match(head):
            raise FileRejected(
                "The file starts like a PDF but names no PDF version; it is damaged."
            )
        if b"%%EOF" not in tail[-1024:]:
            raise FileRejected(
                "The PDF is incomplete: it stops before its end-of-file marker, so it was probably "
                "cut off while saving or uploading. Export it again and upload the new file."
            )
        matches = list(_STARTXREF.finditer(tail))
        if not matches:
            raise FileRejected(
                "The PDF has no cross-reference trailer, so it is damaged. Export it again."
            )
        offset = int(matches[-1].group(1))
        if not 0 < offset < size:
            raise FileRejected("The PDF's trailer points outside the file; it is damaged.")
        fh.seek(max(0, offset - 16))
        at_xref = fh.read(4096 + 16)
    if not _XREF_AT.search(at_xref[:96]):
        raise FileRejected("The PDF's cross-reference table is missing; the file is damaged.")
    if re.search(rb"/Encrypt\b", _unescape_names(at_xref + tail)):
        raise FileRejected(
            "The PDF is encrypted or password-protected. Save a copy without a password "
            "(or “Print to PDF”) and upload that."
        )


def _eocd(path: Path, size: int) -> tuple[int, int, int]:
    """(member count, central directory size, its offset) from the end-of-central-directory
    record, read before zipfile builds anything."""
    with path.open("rb") as fh:
        fh.seek(max(0, size - (65535 + 22)))
        tail = fh.read()
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        raise FileRejected(
            "The document is incomplete or damaged (its file directory is missing). "
            "Save it again from Word and upload the new file."
        )
    _, _, _, entries, cd_size, cd_offset, _ = struct.unpack("<HHHHIIH", tail[at + 4 : at + 22])
    if entries == 0xFFFF or cd_offset == 0xFFFFFFFF or tail.rfind(_ZIP64_LOCATOR, 0, at) >= 0:
        raise FileRejected("The document uses a ZIP64 layout that a résumé never needs.")
    return entries, cd_size, cd_offset


def check_docx(path: Path, size: int) -> None:
    """Bound members, sizes and ratios from the central directory, refuse macros, encryption and
    anything that is not a Word document. Raises FileRejected, UnsupportedFileType."""
    entries, cd_size, cd_offset = _eocd(path, size)
    if entries > DOCX_MAX_MEMBERS:
        raise FileRejected(
            f"The document has {entries} parts; a résumé has a few dozen. It looks like an archive "
            "bomb, so it was refused."
        )
    if cd_offset + cd_size > size:
        raise FileRejected(
            "The document is incomplete (it was cut off). Save it again and upload the new file."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            _check_members(infos, size)
            names = {info.filename for info in infos}
            if "[Content_Types].xml" not in names:
                raise UnsupportedFileType(
                    "This is a ZIP archive, not a Word document. Upload your résumé as PDF or DOCX."
                )
            types = _xml(archive, "[Content_Types].xml")
            _check_content_types(types)
            main = _main_part(archive, names)
            main_type = _content_type_of(types, main)
            if main_type != _WORD_MAIN:
                _refuse_other_office(main_type)
    except zipfile.BadZipFile as exc:
        raise FileRejected(
            "The document is damaged and cannot be opened. Save it again from Word and retry."
        ) from exc


def _check_members(infos: list[zipfile.ZipInfo], size: int) -> None:
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        lowered = name.lower()
        if name in seen:
            raise FileRejected("The document contains a part twice; it was refused as unsafe.")
        seen.add(name)
        if name.startswith("/") or ".." in PurePosixPath(name).parts:
            raise FileRejected("The document contains a part with an unsafe path; it was refused.")
        if info.flag_bits & 0x1:
            raise FileRejected(
                "The document is encrypted. Remove the password in Word and upload it again."
            )
        if lowered.endswith(("vbaproject.bin", "vbadata.xml")) or "/activex/" in f"/{lowered}":
            raise UnsupportedFileType(
                "The document contains macros or ActiveX controls, which are not accepted. Save it "
                "as “Word Document (.docx)” without macros, or as PDF, and upload that."
            )
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise FileRejected("The document uses an unusual compression; save it again from Word.")
        total += info.file_size
        if total > DOCX_MAX_UNCOMPRESSED:
            raise FileRejected(
                f"The document expands to more than {DOCX_MAX_UNCOMPRESSED // 2**20} MB when "
                "opened (an archive bomb), so it was refused. Remove large images and retry."
            )
        if info.file_size > DOCX_RATIO_FLOOR and (
            info.file_size > DOCX_MAX_RATIO * max(1, info.compress_size)
        ):
            raise FileRejected(
                "A part of the document is compressed more than 100 to 1 (an archive bomb), so it "
                "was refused."
            )
    if total > DOCX_RATIO_FLOOR and total > DOCX_MAX_RATIO * size:
        raise FileRejected(
            "The document is compressed more than 100 to 1 (an archive bomb), so it was refused."
        )


_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False, dtd_validation=False
)


def _xml(archive: zipfile.ZipFile, name: str) -> etree._Element:
    info = archive.getinfo(name)
    if info.file_size > DOCX_MAX_XML_PART:
        raise FileRejected(f"The document's {name} is implausibly large; it was refused.")
    try:
        data = archive.read(info)
        root = etree.fromstring(data, parser=_PARSER)
    except (etree.XMLSyntaxError, zipfile.BadZipFile, ValueError) as exc:
        raise FileRejected("The document is damaged (its structure cannot be read).") from exc
    if root is None:
        raise FileRejected("The document is damaged (its structure cannot be read).")
    return root


def _check_content_types(types: etree._Element) -> None:
    for element in types:
        content_type = (element.get("ContentType") or "").lower()
        if "macroenabled" in content_type or "vbaproject" in content_type:
            raise UnsupportedFileType(
                "The document is macro-enabled (.docm), which is not accepted. Save it as "
                "“Word Document (.docx)” or PDF and upload that."
            )


def _main_part(archive: zipfile.ZipFile, names: set[str]) -> str:
    if "_rels/.rels" not in names:
        raise FileRejected("The document is damaged (its relationships are missing).")
    for rel in _xml(archive, "_rels/.rels"):
        if (rel.get("Type") or "").endswith("/officeDocument"):
            target = (rel.get("Target") or "").lstrip("/")
            if target in names:
                return target
            break
    raise FileRejected("The document is damaged (its main part is missing).")


def _content_type_of(types: etree._Element, part: str) -> str:
    default = None
    extension = part.rpartition(".")[2].lower()
    for element in types:
        tag = etree.QName(element).localname
        if tag == "Override" and (element.get("PartName") or "").lstrip("/") == part:
            return element.get("ContentType") or ""
        if tag == "Default" and (element.get("Extension") or "").lower() == extension:
            default = element.get("ContentType")
    return default or ""


def _refuse_other_office(content_type: str) -> None:
    lowered = content_type.lower()
    if "template" in lowered:
        what = "a Word template"
    elif "spreadsheet" in lowered:
        what = "a spreadsheet"
    elif "presentation" in lowered:
        what = "a presentation"
    else:
        what = "not a Word document"
    raise UnsupportedFileType(f"This file is {what}. Upload your résumé as PDF or DOCX.")


# --- storage --------------------------------------------------------------------------------------


def receive(
    stream: BinaryIO, filename: str | None, *, store: Storage, max_bytes: int
) -> StoredFile:
    """Stream an upload to a scratch file (hashing as it goes), check it, and keep it in ``store``
    under its sha256, before any row names it.

    Nothing is kept unless every check passes and the store took the whole file. Raises
    FileTooLarge, UnsupportedFileType, FileRejected, StorageUnavailable."""
    name = clean_filename(filename)
    fd, tmp_name = tempfile.mkstemp(dir=store.scratch, prefix="upload-")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise FileTooLarge(
                        f"The file is larger than {max_bytes // 2**20} MB. Shrink it (fewer or "
                        "smaller images) and upload it again.",
                        {"file": [f"Use a file of at most {max_bytes // 2**20} MB."]},
                    )
                digest.update(chunk)
                out.write(chunk)
        sniffed = sniff(tmp)
        sha = digest.hexdigest()
        store.put(sha, tmp)  # content-addressed: the same bytes are kept once
        return StoredFile(
            sha256=sha,
            size=size,
            kind=sniffed.kind,
            content_type=sniffed.content_type,
            filename=display_name(name, sniffed.kind),
        )
    finally:
        tmp.unlink(missing_ok=True)
