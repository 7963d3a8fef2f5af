"""The product's copy is written one way: US English, as the public site's article and FAQ are.
What people read lives in the templates (pages and emails), the checks' advice and the demo."""

from __future__ import annotations

import re
from pathlib import Path

from services import skills
from services.resumes import checks

ROOT = Path(__file__).resolve().parents[2]
# British forms seen in this codebase's copy, and their near relatives.
BRITISH = re.compile(
    r"\b(behavioural|personalis\w*|centre|practis(e|ed|ing)|organis\w*|colour\w*|favour\w*|"
    r"honour\w*|analys(ed|ing)|modell(ed|ing)|catalogue|travell(ed|ing)|labell(ed|ing)|"
    r"visualis\w*|regularis\w*|recognis\w*|summaris\w*|prioritis\w*)\b",
    re.IGNORECASE,
)


def _british(text: str) -> list[str]:
    # aria-labelledby is the HTML attribute's own spelling, not copy.
    return [m.group(0) for m in BRITISH.finditer(text.replace("aria-labelledby", ""))]


def test_pages_and_emails_are_written_in_us_english():
    found = {
        str(path.relative_to(ROOT)): words
        for path in sorted((ROOT / "templates").rglob("*"))
        if path.is_file() and (words := _british(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_the_checks_advice_and_the_demo_are_written_in_us_english():
    advice = [g.advice for g in skills.GROUPS] + [s.advice for s in checks.SECTIONS.values()]
    demo = (ROOT / "services" / "demo.py").read_text(encoding="utf-8")
    assert _british(" ".join(advice)) == []
    assert _british(demo) == []
