"""Anchoring a coach's comment to the text, and anchoring it again in a new version: exact,
shifted, edited, removed, repeated phrases told apart by their prefix and suffix, and the same
quote across the ways extractors write whitespace and ligatures."""

from __future__ import annotations

import pytest

from services.resumes.annotations import Quote, anchor, quote_at

TEXT = (
    "Ada Lovelace\n"
    "Experience\n"
    "ML Engineer, Analytical Engines Ltd, 2022-2025\n"
    "Built training pipelines in Python with PyTorch.\n"
    "Reduced inference latency by 40% and cut cloud cost by 25%.\n"
    "Projects\n"
    "Open-source recommender in Python and SQL.\n"
)
PHRASE = "Reduced inference latency by 40%"


def quote_of(text: str, phrase: str, occurrence: int = 0) -> tuple[Quote, int]:
    at = -1
    for _ in range(occurrence + 1):
        at = text.index(phrase, at + 1)
    return quote_at(text, at, at + len(phrase)), at


def test_exact_in_the_same_text_is_its_own_place():
    quote, at = quote_of(TEXT, PHRASE)
    match = anchor(TEXT, quote)
    assert match is not None
    assert (match.start, match.end, match.kind, match.score) == (at, at + len(PHRASE), "exact", 1.0)
    assert TEXT[match.start : match.end] == PHRASE


def test_quote_at_keeps_a_little_context_either_side():
    quote, _ = quote_of(TEXT, PHRASE)
    assert quote.exact == PHRASE
    assert quote.prefix.endswith("with PyTorch.\n") and len(quote.prefix) == 32
    assert quote.suffix.startswith(" and cut cloud") and len(quote.suffix) == 32


def test_shifted_text_is_found_exactly_at_its_new_offset():
    quote, _ = quote_of(TEXT, PHRASE)
    shifted = "Summary\nMachine learning engineer who ships models.\n\n" + TEXT
    match = anchor(shifted, quote, hint=TEXT.index(PHRASE))
    assert match is not None and match.kind == "exact"
    assert shifted[match.start : match.end] == PHRASE
    assert match.start == shifted.index(PHRASE)


def test_whitespace_and_line_breaks_do_not_count():
    """The pdf.js text layer and the worker's extraction break lines differently."""
    quote = Quote("Reduced inference\nlatency  by 40%", "PyTorch.", "and cut")
    match = anchor(TEXT, quote)
    assert match is not None and match.kind == "exact"
    assert TEXT[match.start : match.end] == PHRASE


def test_ligatures_and_compatibility_forms_match_their_plain_letters():
    text = "Led the ofﬁce migration, ﬁnished early."  # "ﬁ" is one ligature character
    match = anchor(text, Quote("office migration"))
    assert match is not None and match.kind == "exact"
    assert text[match.start : match.end] == "ofﬁce migration"


def test_edited_text_is_found_approximately_and_said_to_be():
    quote, _ = quote_of(TEXT, PHRASE)
    edited = TEXT.replace(PHRASE, "Reduced model inference latency by 45%")
    match = anchor(edited, quote)
    assert match is not None
    assert match.kind == "approximate"
    assert 0.75 <= match.score < 1.0
    found = edited[match.start : match.end]
    assert "inference latency by 45" in found


def test_removed_text_is_not_found():
    quote, _ = quote_of(TEXT, PHRASE)
    removed = TEXT.replace(PHRASE + " and cut cloud cost by 25%.\n", "")
    assert anchor(removed, quote) is None


def test_rewritten_beyond_recognition_is_not_found():
    quote, _ = quote_of(TEXT, PHRASE)
    rewritten = TEXT.replace(PHRASE, "Shipped a caching layer for our users")
    assert anchor(rewritten, quote) is None


REPEATED = (
    "Data Scientist, Acme, 2020-2022\n"
    "Improved model accuracy by 10% on fraud detection.\n"
    "ML Engineer, Globex, 2022-2025\n"
    "Improved model accuracy by 10% on search ranking.\n"
)


@pytest.mark.parametrize("occurrence", [0, 1])
def test_repeated_phrases_are_told_apart_by_prefix_and_suffix(occurrence):
    phrase = "Improved model accuracy by 10%"
    quote, at = quote_of(REPEATED, phrase, occurrence)
    match = anchor(REPEATED, quote)
    assert match is not None and match.kind == "exact"
    assert match.start == at


def test_repeated_phrases_keep_their_place_when_the_text_shifts():
    phrase = "Improved model accuracy by 10%"
    quote, _ = quote_of(REPEATED, phrase, 1)
    new = "Skills: Python, SQL\n" + REPEATED.replace("Acme", "Acme Corporation")
    match = anchor(new, quote)
    assert match is not None and match.kind == "exact"
    assert new[match.end :].startswith(" on search ranking")


def test_without_context_the_position_hint_decides_between_repeats():
    phrase = "Improved model accuracy by 10%"
    second = REPEATED.index(phrase, REPEATED.index(phrase) + 1)
    match = anchor(REPEATED, Quote(phrase), hint=second - 3)
    assert match is not None and match.start == second


def test_an_edited_repeat_is_matched_where_its_context_is():
    """Both repeats are edited; the one whose prefix and suffix stand is chosen."""
    phrase = "Improved model accuracy by 10%"
    quote, _ = quote_of(REPEATED, phrase, 1)
    edited = REPEATED.replace(phrase, "Improved model accuracy by 12%")
    match = anchor(edited, quote)
    assert match is not None and match.kind == "approximate"
    assert edited[match.end :].startswith(" on search ranking")


@pytest.mark.parametrize("exact", ["", "   ", "\n"])
def test_an_empty_quote_anchors_nowhere(exact):
    assert anchor(TEXT, Quote(exact)) is None


def test_nothing_is_found_in_an_empty_text():
    assert anchor("", Quote(PHRASE)) is None
