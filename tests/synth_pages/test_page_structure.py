"""The rendered guest page has the DOM of a real 2023 public profile, in every language."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import lxml.html
import pytest

from synth.profile_pages import (LANGUAGES, collapse, format_month_year, linkedin_redirect, page_strings,
                                 render_page, render_profile_page)

VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _BalanceChecker(HTMLParser):
    """Every non-void element is closed, in order: stricter than lxml, which repairs anything."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag not in VOID_ELEMENTS:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}> at {self.getpos()}")
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass
        else:
            self.stack.pop()


def assert_balanced(body: str) -> None:
    checker = _BalanceChecker()
    checker.feed(body)
    checker.close()
    assert not checker.errors, checker.errors[:5]
    assert not checker.stack, f"unclosed: {checker.stack[-5:]}"


def xp_class(name: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def text(element) -> str:
    return collapse(element.text_content()) or ""


@pytest.mark.parametrize("language", LANGUAGES)
def test_page_has_guest_v3_structure(make_profiles, language):
    profiles = [p for p in make_profiles(60, seed=11, page_fault=None, language=language)]
    strings = page_strings()[language]
    grouped_seen = 0
    for profile in profiles:
        body = render_profile_page(profile, seed=3, padding=False)
        assert_balanced(body)
        root = lxml.html.document_fromstring(body)
        assert root.xpath("//meta[@name='pageKey']/@content") == ["public_profile_v3_desktop"]
        assert root.xpath("//meta[@name='locale']/@content") == [strings["locale"]]
        assert root.get("lang") == language

        positions = profile["positions"]
        top_items = root.xpath(f"//ul[{xp_class('experience__list')}]/li[{xp_class('experience-item')}]")
        groups = root.xpath(f"//li[{xp_class('experience-group')}]")
        grouped_roles = root.xpath(f"//ul[{xp_class('experience-group__positions')}]"
                                   f"/li[{xp_class('experience-group-position')}]")
        singles = [item for item in top_items if "experience-group" not in item.get("class").split()]
        assert len(singles) + len(grouped_roles) == len(positions)
        grouped_seen += len(groups)
        for group in groups:
            header = group.xpath(f".//h4[{xp_class('experience-group-header__company')}]")
            roles = group.xpath(f".//li[{xp_class('experience-group-position')}]")
            assert len(header) == 1 and len(roles) >= 2
            role_companies = {text(h4) for h4 in group.xpath(f".//li//h4[{xp_class('profile-section-card__subtitle')}]")}
            assert role_companies == {text(header[0])}
        if not positions:
            assert not root.xpath(f"//section[{xp_class('experience')}]")

        titles = [text(h3) for h3 in root.xpath(f"//section[{xp_class('experience')}]//h3[{xp_class('profile-section-card__title')}]")]
        assert titles == [collapse(p["title"]) or "" for p in positions]

        # "Present" sits outside <time>, the duration in its own span.
        for position, date_range in zip([p for p in positions if p.get("start")],
                                        root.xpath(f"//section[{xp_class('experience')}]//span[{xp_class('date-range')}]")):
            times = [t.text for t in date_range.findall("time")]
            assert times[0] == format_month_year(position["start"], strings)
            if position["is_current"]:
                assert len(times) == 1 and strings["present"] in date_range.text_content()
            elif position.get("end"):
                assert times[1] == format_month_year(position["end"], strings)
            for time_element in date_range.findall("time"):
                assert time_element.get("datetime") is None

        schools = root.xpath(f"//ul[{xp_class('education__list')}]/li[{xp_class('education__list-item')}]")
        assert len(schools) == len(profile["education"])
        for school, entry in zip(schools, profile["education"]):
            spans = [text(s) for s in school.xpath(f".//span[{xp_class('education__item--degree-info')}]")]
            shown = [v for v in (collapse(entry["degree"]), collapse(entry["field"])) if v]
            assert spans[:len(shown)] == shown
            years = [t.text for t in school.xpath(f".//span[{xp_class('date-range')}]/time")]
            assert years == [str(y) for y in (entry["start_year"], entry["end_year"]) if y is not None]

        certs = root.xpath(f"//ul[{xp_class('certifications__list')}]/li")
        assert len(certs) == len(profile["certifications"])
        id_divs = root.xpath(f"//div[{xp_class('certifications__credential-id')}]")
        assert [text(d) for d in id_divs] == [f"{strings['credential_id']} {c['credential_id']}"
                                              for c in profile["certifications"] if c["credential_id"]]
        for cert_item, cert in zip(certs, profile["certifications"]):
            links = cert_item.xpath(f".//h3/a[{xp_class('profile-section-card__title-link')}]/@href")
            if cert["credential_url"]:
                assert links[0].startswith("https://www.linkedin.com/redir/redirect?url=")
                assert "%2E" in links[0] and "&urlhash=" in links[0] and "&trk=" in links[0]
            else:
                assert links == []
            issued = cert_item.xpath(f".//span[{xp_class('certifications__start-date')}]")
            if cert["issued"]:
                assert text(issued[0]).startswith(strings["issued"])
                assert issued[0].find("time").text == format_month_year(cert["issued"], strings)
            else:
                assert issued == []

        jsonld = json.loads(root.xpath("//script[@type='application/ld+json']")[0].text)
        person = next(node for node in jsonld["@graph"] if node["@type"] == "Person")
        assert len(person["worksFor"]) == sum(1 for p in positions if p["is_current"] and collapse(p["company"]))
        past_orgs = [o for o in person["alumniOf"] if o["@type"] == "Organization"]
        assert len(past_orgs) == sum(1 for p in positions if not p["is_current"] and collapse(p["company"]))
        assert root.xpath("//section[contains(@class, 'core-section-container')][@data-section]")
    assert grouped_seen > 0


def test_section_titles_and_labels_are_translated():
    profile = {"learner_id": "L1", "profile_url": "https://www.linkedin.com/in/someone-1", "page_fault": None,
               "positions": [{"title": "T", "company": "C", "location": None, "start": "2021-01", "end": None, "is_current": True}],
               "education": [{"school": "S", "degree": None, "field": None, "start_year": 2010, "end_year": 2014}],
               "certifications": [{"name": "N", "issuer": "I", "issued": "2022-12", "expires": "2025-12",
                                   "credential_id": "ABC", "credential_url": None}]}
    expectations = {"en": ("Jan 2021", "Present", "Issued", "Dec 2022"),
                    "pt": ("jan. de 2021", "o momento", "Emitido em", "dez. de 2022"),
                    "es": ("ene. 2021", "actualidad", "Expedición", "dic. 2022"),
                    "fr": ("janv. 2021", "aujourd’hui", "Émis le", "déc. 2022"),
                    "ar": ("يناير 2021", "الحالي", "تاريخ الإصدار", "ديسمبر 2022")}
    for language, (start, present, issued, issued_date) in expectations.items():
        body = render_profile_page({**profile, "language": language}, seed=1, padding=False)
        root = lxml.html.document_fromstring(body)
        titles = [text(h2) for h2 in root.xpath("//section[contains(@class,'pp-section')]/h2")]
        sections = page_strings()[language]["sections"]
        assert sections["experience"] in titles and sections["certifications"] in titles
        date_range = root.xpath("//section[contains(@class,' experience')]//span[@class='date-range']")[0]
        assert date_range.find("time").text == start and present in date_range.text_content()
        assert text(root.xpath("//span[@class='certifications__start-date']")[0]) == f"{issued} {issued_date}"
        assert "<time>2010</time> - <time>2014</time>" in body
        if language == "ar":
            assert root.find("body").get("dir") == "rtl"


def test_durations_follow_language_plurals():
    from datetime import date
    from synth.profile_pages import duration_text
    as_of = date(2023, 9, 15)
    assert duration_text("2021-07", "2023-09", as_of, "en") == "2 years 3 months"
    assert duration_text("2023-09", None, as_of, "en") == "1 month"
    assert duration_text("2021-07", "2023-09", as_of, "pt") == "2 anos 3 meses"
    assert duration_text("2022-09", "2023-09", as_of, "es") == "1 año 1 mes"
    assert duration_text("2021-07", "2023-09", as_of, "fr") == "2 ans 3 mois"
    assert duration_text("2021-07", "2023-09", as_of, "ar") == "سنتان و3 أشهر"


def test_redirect_wraps_credential_url_like_linkedin():
    import random
    from urllib.parse import parse_qs, urlsplit
    url = "https://www.coursera.org/account/accomplishments/certificate/Y56E6CQDYP6F?utm_source=link&x=1"
    wrapped = linkedin_redirect(url, random.Random(1), "public_profile_certification-title")
    assert "www%2Ecoursera%2Eorg" in wrapped
    assert parse_qs(urlsplit(wrapped).query)["url"] == [url]


def test_noise_is_outside_profile_sections(make_profiles):
    profile = make_profiles(1, seed=5, page_fault=None)[0]
    found_aside = False
    for seed in range(10):
        root = lxml.html.document_fromstring(render_profile_page(profile, seed=seed, padding=True))
        asides = root.xpath("//section[contains(@class,'aside-section-container')]//h3[contains(@class,'base-aside-card__title')]")
        found_aside = found_aside or len(asides) >= 4
        for aside in root.xpath("//section[contains(@class,'aside-section-container')]"):
            assert "core-section-container" not in aside.get("class")
    assert found_aside


def test_empty_sections_and_null_dates_do_not_crash():
    base = {"learner_id": "L9", "profile_url": "https://www.linkedin.com/in/x-9", "page_fault": None}
    odd_profiles = [
        {**base, "language": "en", "positions": [], "education": [], "certifications": []},
        {**base, "language": "fr", "positions": None, "education": None, "certifications": None},
        {**base, "language": "ar", "positions": [{"title": None, "company": None, "location": None, "start": None,
                                                  "end": None, "is_current": False}],
         "education": [{"school": None, "degree": None, "field": "Math", "start_year": None, "end_year": 2020}],
         "certifications": [{"name": None, "issuer": None, "issued": None, "expires": None, "credential_id": None,
                             "credential_url": None}]},
        {**base, "language": "xx", "positions": [{"title": "A", "company": "B", "location": "", "start": "2019",
                                                  "end": None, "is_current": False}]},
    ]
    for profile in odd_profiles:
        for fault in (None, "truncated", "authwall", "not_found", "empty"):
            page = render_page({**profile, "page_fault": fault}, seed=2, padding=False)
            if fault is None:
                assert_balanced(page.body)
                lxml.html.document_fromstring(page.body)
    page = render_page(odd_profiles[2], seed=2, padding=False)
    assert page.expected["education"] == [{"school": None, "degree": "Math", "field": None, "start_year": None,
                                           "end_year": "2020"}]
    assert " - <time>2020</time>" in page.body
