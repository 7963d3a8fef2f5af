"""A DOCX résumé as formatted HTML for the coach: converted by mammoth in the sandboxed parse,
images dropped, sanitised by nh3 to a small allow-list, capped.
No database; real files made here."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from services.resumes import extraction
from tests.support_resumes import make_docx, make_pdf, make_png

HOSTILE_TEXT = "<script>alert(1)</script>"


def _hyperlink(paragraph, url: str, text: str) -> None:
    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    rel = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rel)
    run = OxmlElement("w:r")
    body = OxmlElement("w:t")
    body.text = text
    run.append(body)
    link.append(run)
    paragraph._p.append(link)


def make_formatted_docx() -> bytes:
    """A heading, bold text, a list, a table, links (one hostile), hostile text and an image."""
    from docx import Document
    from docx.shared import Inches

    document = Document()
    document.add_heading("Ada Lovelace", level=1)
    skills = document.add_paragraph("Skills: ")
    skills.add_run("PyTorch and scikit-learn").bold = True
    document.add_heading("Experience", level=2)
    document.add_paragraph("Built training pipelines in Python", style="List Bullet")
    document.add_paragraph("Served models in Docker", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Employer"
    table.cell(0, 1).text = "Years"
    table.cell(1, 0).text = "Analytical Engines Ltd"
    table.cell(1, 1).text = "2022-2025"
    _hyperlink(document.add_paragraph("Portfolio: "), "https://ada.example/work", "ada.example")
    _hyperlink(document.add_paragraph("Also: "), "javascript:alert(document.cookie)", "click me")
    document.add_paragraph(HOSTILE_TEXT)
    document.add_picture(io.BytesIO(make_png()), width=Inches(1))
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _rezip(data: bytes, replace: dict[str, bytes]) -> bytes:
    """The same package with members replaced or added."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, replace.pop(info.filename, None) or source.read(info))
        for name, body in replace.items():
            target.writestr(name, body)
    return out.getvalue()


def with_broken_footnotes(data: bytes) -> bytes:
    """A footnotes part that is not XML: python-docx never reads footnotes, mammoth does."""
    rels_name = "word/_rels/document.xml.rels"
    rels = zipfile.ZipFile(io.BytesIO(data)).read(rels_name)
    footnotes = (
        b'<Relationship Id="rIdNotes" Target="footnotes.xml" Type="http://schemas.'
        b'openxmlformats.org/officeDocument/2006/relationships/footnotes"/></Relationships>'
    )
    return _rezip(
        data,
        {
            rels_name: rels.replace(b"</Relationships>", footnotes),
            "word/footnotes.xml": b"<w:footnotes this is not XML",
        },
    )


def parse(tmp_path: Path, data: bytes) -> extraction.Extraction:
    path = tmp_path / "cv.docx"
    path.write_bytes(data)
    return extraction.extract(path, "docx")


def test_a_docx_becomes_formatted_html(tmp_path):
    result = parse(tmp_path, make_formatted_docx())
    html = result.preview_html
    assert html is not None
    assert "<h1>Ada Lovelace</h1>" in html and "<h2>Experience</h2>" in html
    assert "<strong>PyTorch and scikit-learn</strong>" in html
    assert "<ul><li>Built training pipelines in Python</li><li>Served models" in html
    assert "<table>" in html and "Analytical Engines Ltd" in html and "<td>" in html
    assert (
        '<a href="https://ada.example/work" rel="noopener noreferrer nofollow">ada.example</a>'
        in html
    )
    assert "Analytical Engines Ltd" in result.text  # the text is extracted as before


def test_hostile_links_text_and_images_come_out_harmless(tmp_path):
    html = parse(tmp_path, make_formatted_docx()).preview_html
    assert html is not None
    assert "javascript:" not in html and "click me" in html  # the link's text, not its target
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    assert "<img" not in html and "data:" not in html and "base64" not in html
    for attribute in ("style=", "class=", "id=", "onclick", "onerror"):
        assert attribute not in html


def test_the_sanitiser_keeps_only_the_allow_list():
    dirty = (
        '<h2 id="x" class="y" style="color:red" onclick="steal()">Title</h2>'
        '<p><a href="javascript:alert(1)">js</a> <a href="#footnote-1">note</a> '
        '<a href="/admin">relative</a> <a href="mailto:ada@example.com" target="_blank">mail</a> '
        '<a href="http://ada.example/" rel="opener">web</a></p>'
        '<img src="data:image/png;base64,AAAA" onerror="steal()">'
        "<script>steal()</script><style>p{}</style><iframe src='https://evil.example'></iframe>"
        '<table><tr><td colspan="2" style="x">cell</td></tr></table><sup>1</sup><!-- c -->'
    )
    clean = extraction.clean_preview(dirty)
    assert clean.startswith("<h2>Title</h2>")
    assert "<a rel=" in clean and "javascript" not in clean
    assert "#footnote" not in clean and "/admin" not in clean
    assert '<a href="mailto:ada@example.com" rel="noopener noreferrer nofollow">mail</a>' in clean
    assert '<a href="http://ada.example/" rel="noopener noreferrer nofollow">web</a>' in clean
    assert '<td colspan="2">cell</td>' in clean and clean.endswith("</table>1")  # <sup> unwrapped
    for gone in (
        "<img",
        "data:",
        "<script",
        "steal",
        "<style",
        "<iframe",
        "evil",
        "<!--",
        "target",
    ):
        assert gone not in clean, gone
    assert extraction.clean_preview(clean) == clean  # stable: sanitising again changes nothing


def test_a_preview_too_big_is_not_kept_and_the_text_still_is(tmp_path, monkeypatch):
    monkeypatch.setattr(extraction, "MAX_PREVIEW_BYTES", 2_000)  # the forked child inherits it
    small = parse(tmp_path, make_docx(["Python"] * 10))
    assert small.preview_html == "<p>Python</p>" * 10
    markup_heavy = parse(tmp_path, make_docx(["Python, SQL"] * 150))  # text 1.6 kB, HTML 2.7 kB
    assert markup_heavy.preview_html is None and markup_heavy.text.count("Python") == 150
    wordy = parse(tmp_path, make_docx(["lorem ipsum " * 100] * 5))  # text alone over the cap
    assert wordy.preview_html is None and "lorem ipsum" in wordy.text


def test_a_document_mammoth_cannot_convert_keeps_its_text(tmp_path):
    data = make_formatted_docx()
    assert parse(tmp_path, data).preview_html is not None
    broken = parse(tmp_path, with_broken_footnotes(data))
    assert broken.preview_html is None
    assert "Analytical Engines Ltd" in broken.text and broken.page_count == 1


@pytest.mark.parametrize("codec", ["utf-8", "utf-16"])
def test_a_document_with_a_dtd_gets_no_preview(tmp_path, codec):
    """Word writes no DTD; one in any part (entity tricks), in UTF-8 or UTF-16, means no
    conversion at all."""
    data = make_formatted_docx()
    core = zipfile.ZipFile(io.BytesIO(data)).read("docProps/core.xml").decode()
    dtd = core.replace("UTF-8", codec.upper()).replace("?>", '?><!DOCTYPE x [<!ENTITY a "a">]>', 1)
    result = parse(tmp_path, _rezip(data, {"docProps/core.xml": dtd.encode(codec)}))
    assert result.preview_html is None and "Analytical Engines Ltd" in result.text


def test_a_pdf_has_no_preview(tmp_path):
    path = tmp_path / "cv.pdf"
    path.write_bytes(make_pdf())
    assert extraction.extract(path, "pdf").preview_html is None
