"""Sniffing and structural checks of uploads, the parse under limits, and the automated checks:
no database, real files made here."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from services import skills
from services.resumes import checks, extraction, files
from services.storage.local import LocalStorage
from tests.support_resumes import (
    GOOD_TEXT,
    make_docx,
    make_encrypted_pdf,
    make_macro_docx,
    make_many_members_docx,
    make_pdf,
    make_png,
    make_unparseable_pdf,
    make_zip_bomb_docx,
)


def sniff(tmp_path: Path, data: bytes) -> files.Sniffed:
    path = tmp_path / "upload"
    path.write_bytes(data)
    return files.sniff(path)


def test_the_type_comes_from_the_content(tmp_path):
    assert sniff(tmp_path, make_pdf()).kind == "pdf"
    assert sniff(tmp_path, make_docx()).kind == "docx"


@pytest.mark.parametrize(
    ("data", "error", "words"),
    [
        (b"hello, I am plain text\n" * 20, files.UnsupportedFileType, "not a PDF or DOCX"),
        (make_png(), files.UnsupportedFileType, "PNG"),
        (b"", files.FileRejected, "empty"),
        (make_pdf()[:-200], files.FileRejected, "incomplete"),
        (make_pdf(encrypted_marker=True), files.FileRejected, "encrypted"),
        (make_encrypted_pdf(), files.FileRejected, "encrypted"),
        (make_zip_bomb_docx(), files.FileRejected, "archive bomb"),
        (make_many_members_docx(), files.FileRejected, "parts"),
        (make_macro_docx(), files.UnsupportedFileType, "macros"),
        (make_docx()[:3000], files.FileRejected, "incomplete"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, files.UnsupportedFileType, ".doc"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message(tmp_path, data, error, words):
    with pytest.raises(error) as raised:
        sniff(tmp_path, data)
    assert words in raised.value.detail
    assert raised.value.errors == {"file": [raised.value.detail]}


def test_an_escaped_encrypt_name_is_still_seen(tmp_path):
    data = make_pdf(encrypted_marker=True).replace(b"/Encrypt", b"/#45ncrypt")
    with pytest.raises(files.FileRejected, match="encrypted"):
        sniff(tmp_path, data)


@pytest.mark.parametrize("name", ["../../x.pdf", "a/b.pdf", "c:\\cv.pdf", "..cv.pdf", "cv\x00.pdf"])
def test_hostile_names_are_refused(name):
    with pytest.raises(files.FileRejected):
        files.clean_filename(name)


def test_names_are_display_metadata_with_the_real_extension():
    assert files.clean_filename("  Résumé   final.pdf ") == "Résumé final.pdf"
    assert files.display_name("cv.pdf", "docx") == "cv.docx"
    assert files.display_name("cv", "pdf") == "cv.pdf"
    assert files.display_name("cv.final", "pdf") == "cv.final.pdf"


def test_receive_streams_to_a_content_addressed_path_and_keeps_nothing_on_failure(tmp_path):
    store = LocalStorage(str(tmp_path))
    pdf = make_pdf()
    stored = files.receive(io.BytesIO(pdf), "cv.pdf", store=store, max_bytes=len(pdf))
    path = store.path(stored.sha256)
    assert path.read_bytes() == pdf and oct(path.stat().st_mode)[-3:] == "640"
    again = files.receive(io.BytesIO(pdf), "copy.pdf", store=store, max_bytes=10**6)
    assert again.sha256 == stored.sha256  # stored once
    with pytest.raises(files.FileTooLarge):
        files.receive(io.BytesIO(pdf), "cv.pdf", store=store, max_bytes=len(pdf) - 1)
    with pytest.raises(files.UnsupportedFileType):
        files.receive(io.BytesIO(make_png()), "cv.pdf", store=store, max_bytes=10**6)
    kept = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert kept == [path]


def test_uploads_may_not_live_in_a_served_folder():
    import config

    with pytest.raises(RuntimeError, match="served"):
        LocalStorage(str(config.ROOT / "static" / "uploads"))


def test_the_full_parse_reads_text_pages_and_active_content(tmp_path):
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(make_pdf(pages=2))
    result = extraction.extract(plain, "pdf")
    assert result.page_count == 2 and "PyTorch" in result.text and result.active_content == []

    active = tmp_path / "active.pdf"
    active.write_bytes(make_pdf(javascript=True, launch=True))
    assert extraction.extract(active, "pdf").active_content == ["JavaScript", "a launch action"]

    document = tmp_path / "cv.docx"
    document.write_bytes(make_docx())
    parsed = extraction.extract(document, "docx")
    assert "scikit-learn" in parsed.text and parsed.page_count == 1


def test_the_parse_fails_cleanly_on_damage_time_and_memory(tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(make_unparseable_pdf())
    files.sniff(broken)  # the request's checks pass...
    with pytest.raises(extraction.ExtractionFailed, match="damaged"):
        extraction.extract(broken, "pdf")  # ...the full parse does not
    wordy = tmp_path / "wordy.docx"  # small on disk, ~24 MB of text once opened
    wordy.write_bytes(make_docx(["lorem ipsum " * 4000] * 500))
    with pytest.raises(extraction.ExtractionFailed, match="needs more memory"):
        extraction.extract(wordy, "docx", memory_mb=8)
    assert len(extraction.extract(wordy, "docx").text) == extraction.MAX_TEXT_CHARS
    with pytest.raises(extraction.ExtractionFailed, match="longer than"):
        extraction.extract(wordy, "docx", timeout=0.001)


def test_checks_say_what_to_do():
    good = {c["id"]: c for c in checks.run("\n".join(GOOD_TEXT * 4), 1, active_content=[])}
    assert good["contact_details"]["passed"] and good["section_projects"]["passed"]
    assert good["skills_coverage"]["passed"] and good["skill_mlflow"]["passed"]
    assert good["no_active_content"]["passed"]

    thin = {c["id"]: c for c in checks.run("Jo Bloggs\nI like computers. " * 10, 4)}
    assert not thin["contact_details"]["passed"]
    assert "email address" in thin["contact_details"]["message"]
    assert not thin["page_count"]["passed"] and "two pages" in thin["page_count"]["message"]
    assert not thin["section_experience"]["passed"]
    assert "SageMaker" in thin["skill_cloud_ml"]["message"]
    assert all(c["message"].strip() for c in thin.values())


def test_tags_come_from_the_role_and_the_skills_found():
    assert skills.role_tags("Senior ML Engineer") == {"ml"}
    assert skills.role_tags("Data engineer") == {"data-engineering", "sql"}
    text = "Python, sklearn and Airflow on Vertex AI"
    assert checks.skills_found(text) == ["python", "scikit_learn", "cloud_ml", "airflow"]
    assert {"python", "ml", "mlops", "cloud"} <= skills.tags(skills.find(text))
