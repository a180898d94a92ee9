"""Regressions from the hardening review (issue 17, item 1): real pages that lost their language or carry a
bad charset, and the text nodes lxml reads but refuses to write back. Each case once ended in
``internal_error`` with no positions."""

from __future__ import annotations

import pytest
from lxml import etree

from parser_mutations import declare_charset, strip_declared_language
from parsers.linkedin import parse_profile
from parsers.linkedin.dom import visible_text
from parsers.linkedin.result import contract_violations

GUEST_GROUPED = "guest_2023/guest_2023_en_grouped-positions_certs.html"
GUEST_CREDENTIALS = "guest_2023/guest_2023_en_credential-id_expires.html"
LOGGEDIN_EXPERIENCE = "loggedin_2022/austin_exp.html"


def _entries(result: dict) -> tuple:
    return result["positions"], result["education"], result["certifications"]


@pytest.mark.parametrize("sample, positions", [(GUEST_GROUPED, 16), (GUEST_CREDENTIALS, 5)])
def test_page_without_declared_language_keeps_every_entry_and_guesses_english(read_sample, sample, positions):
    page = read_sample(sample)
    stripped = strip_declared_language(page)
    assert b'lang="' not in stripped[:2000] and b'name="locale"' not in stripped

    result = parse_profile(stripped)

    assert (result["status"], result["reason"], result["language"]) == ("ok", None, "en")
    assert len(result["positions"]) == positions
    assert _entries(result) == _entries(parse_profile(page))
    assert contract_violations(result) == []


def test_logged_in_page_without_declared_language(read_sample):
    page = read_sample(LOGGEDIN_EXPERIENCE)

    result = parse_profile(strip_declared_language(page))

    assert (result["status"], result["language"]) == ("ok", "en")
    assert _entries(result) == _entries(parse_profile(page))


@pytest.mark.parametrize("heading, issued, expected", [
    ("Experiência", "Emitido em <time>2020</time>", "pt"),
    ("Experiencia", "Expedición: <time>2020</time>", "es"),
    ("Expérience", "Émis le <time>2020</time>", "fr"),
    ("Experience", "Issued <time>2020</time>", "en"),
])
def test_language_of_an_undeclared_page_with_only_years_comes_from_its_labels(heading, issued, expected):
    page = f"""<!DOCTYPE html><html><head></head><body>
<section class="core-section-container pp-section experience"><h2 class="core-section-container__title">{heading}
</h2><ul class="experience__list"><li class="experience-item"><h3 class="profile-section-card__title">A</h3>
<span class="date-range"><time>2016</time> - <time>2020</time></span></li></ul></section>
<section class="core-section-container pp-section certifications"><ul class="certifications__list"><li>
<h3>C</h3><span class="certifications__start-date">{issued}</span></li></ul></section></body></html>""".encode()

    result = parse_profile(page)

    assert (result["status"], result["language"]) == ("ok", expected)
    assert result["certifications"][0]["issued"] == "2020"


@pytest.mark.parametrize("fraction", [0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95])
def test_truncated_page_without_declared_language_is_partial(read_sample, fraction):
    page = read_sample(GUEST_GROUPED)
    full = parse_profile(page)

    result = parse_profile(strip_declared_language(page)[: int(len(page) * fraction)])

    assert not (result["reason"] or "").startswith("internal_error")
    assert contract_violations(result) == []
    if result["status"] == "partial":
        for key in ("positions", "education", "certifications"):
            assert result[key] == full[key][: len(result[key])]


@pytest.mark.parametrize("charset", ["zlib", "base64", "rot13", "hex", "idna", "undefined", "no-such-charset",
                                     "utf-16", "utf-32", "latin-1", "shift_jis"])
def test_undecodable_or_wrong_declared_charset_reads_the_page_as_utf8(read_sample, charset):
    page = read_sample(GUEST_GROUPED)

    result = parse_profile(declare_charset(page, charset))

    assert (result["status"], result["reason"]) == ("ok", None)
    assert _entries(result) == _entries(parse_profile(page))


def test_declared_legacy_charset_is_still_honoured():
    page = ('<!DOCTYPE html><html><head><meta charset="windows-1252"><meta name="locale" content="pt_BR"></head>'
            '<body><section class="core-section-container pp-section experience"><ul class="experience__list">'
            '<li class="experience-item"><h3 class="profile-section-card__title">Analista</h3>'
            '<h4 class="profile-section-card__subtitle">Empresa</h4><span class="date-range">jan. de 2021 - o momento'
            '</span><p class="experience-item__location">Bogotá</p></li></ul></section></body></html>')

    result = parse_profile(page.encode("windows-1252"))

    assert [(p["location"], p["start"], p["is_current"]) for p in result["positions"]] == [("Bogotá", "2021-01", True)]


@pytest.mark.parametrize("token", [b"\x01", b"&#1;", b"&#xfffe;", b"\x0c", b"\xef\xbf\xbf"])
def test_text_lxml_cannot_write_back_beside_a_hidden_span(token):
    """Pruning moves the text after a screen-reader span; lxml refuses control characters and non-characters."""
    page = (b'<html><head><meta name="locale" content="en_US"></head><body><section class="core-section-container '
            b'pp-section experience"><ul class="experience__list"><li class="experience-item"><h3>Engineer</h3>'
            b'<span class="date-range">Mar 2022<span class="sr-only">hidden</span>' + token +
            b' - Present</span></li></ul></section></body></html>')

    result = parse_profile(page)

    assert result["status"] == "ok"
    assert [(p["title"], p["start"], p["is_current"]) for p in result["positions"]] == [("Engineer", "2022-03", True)]


def test_text_of_nodes_that_are_not_elements_is_empty():
    root = etree.fromstring(b"<html><body><p>a<!--c-->b<?pi x?></p></body></html>", etree.HTMLParser())
    comment, instruction = root.find(".//p")

    assert (visible_text(comment), visible_text(instruction)) == ("", "")
    assert visible_text(root.find(".//p")) == "a b"


@pytest.mark.parametrize("content_type", [5, None, ["text/html"], b"application/json"])
def test_content_type_of_the_wrong_type_is_read_as_html(read_sample, content_type):
    result = parse_profile(read_sample(GUEST_CREDENTIALS), content_type)

    assert (result["status"], len(result["positions"])) == ("ok", 5)
