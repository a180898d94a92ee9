"""Render true structured profiles as LinkedIn public guest pages (2023 ``public_profile_v3_desktop``) and
write them as a crawl into the landing zone.

Input: ``<landing>/_truth/profiles.jsonl.gz`` (written by synth/platform.py). Output:
``<landing>/linkedin/crawl=<crawl_id>/part-NNNNN.jsonl.gz`` (the crawl records of docs/landing_contract.md) and
``<landing>/_truth/crawl_expected.jsonl.gz``: per page, what a correct parser must output from it.

The page DOM reproduces the structure observed on real guest pages (see the shared linkedin_samples/SOURCES.md):
class names, nesting, ``<time>`` without a datetime attribute, "Present" outside ``<time>``, grouped roles,
translated labels in the same text node as values, JSON-LD ``Person``. Templates are plain strings: a DOM
library would be an order of magnitude too slow for a full crawl. Design notes: docs/synthetic_profiles.md.
"""

from __future__ import annotations

import gzip
import html
import json
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator
from urllib.parse import quote

DATA_DIR = Path(__file__).parent / "data"
LANGUAGES = ("en", "pt", "es", "fr", "ar")
PAGE_FAULTS = ("authwall", "empty", "truncated", "not_found")
# Not a property of the profile: the crawler was throttled. Recorded only in crawl_expected.
RATE_LIMITED = "rate_limited"
DEFAULT_AS_OF = "2023-09-15"
RECORDS_PER_PART = 2000
PAGE_SIZE_RANGE = (100_000, 250_000)
SMALL_AUTHWALL_SIZE_RANGE = (40_000, 90_000)

# What a correct parser must report for each kind of page (docs/parser.md statuses).
EXPECTED_STATUS = {None: "ok", "truncated": "partial", "authwall": "not_a_profile", "not_found": "not_a_profile",
                   RATE_LIMITED: "not_a_profile", "empty": "empty"}
HTTP_STATUS = {"not_found": 404, RATE_LIMITED: 999}

_WHITESPACE = re.compile(r"\s+")


# --------------------------------------------------------------------------------------------------- data files


@lru_cache(maxsize=1)
def page_strings() -> dict[str, Any]:
    return json.loads((DATA_DIR / "page_strings.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def page_noise() -> dict[str, Any]:
    return json.loads((DATA_DIR / "page_noise.json").read_text(encoding="utf-8"))


def _strings(language: str | None) -> dict[str, Any]:
    return page_strings().get(language or "en") or page_strings()["en"]


# ------------------------------------------------------------------------------------------------ small helpers


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True) if text is not None else ""


def collapse(text: Any) -> str | None:
    """Field text as a parser reports it: whitespace collapsed, empty -> None."""
    if text is None:
        return None
    collapsed = _WHITESPACE.sub(" ", str(text)).strip()
    return collapsed or None


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "company"


def linkedin_redirect(url: str, rng: random.Random, tracking: str) -> str:
    """LinkedIn's outbound-link wrapper. LinkedIn also percent-encodes dots (``www%2Ecredly%2Ecom``)."""
    encoded = quote(url, safe="").replace(".", "%2E")
    urlhash = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") for _ in range(4))
    return f"https://www.linkedin.com/redir/redirect?url={encoded}&urlhash={urlhash}&trk={tracking}"


def _plural_category(language: str, n: int) -> str:
    if language == "ar":
        if n == 1:
            return "one"
        if n == 2:
            return "two"
        if 3 <= n % 100 <= 10:
            return "few"
        if 11 <= n % 100 <= 99:
            return "many"
        return "other"
    if language == "fr":
        return "one" if n in (0, 1) else "other"
    return "one" if n == 1 else "other"


def _plural(forms: dict[str, str], language: str, n: int) -> str:
    category = _plural_category(language, n)
    return (forms.get(category) or forms["other"]).replace("{n}", str(n))


# ------------------------------------------------------------------------------------------------------ dates


def parse_truth_date(value: Any) -> tuple[int, int | None] | None:
    """"YYYY-MM" / "YYYY" / int year -> (year, month or None)."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    match = re.fullmatch(r"(\d{4})(?:-(\d{1,2}))?(?:-\d{1,2})?", text)
    if not match:
        return None
    month = int(match.group(2)) if match.group(2) else None
    return int(match.group(1)), month if month and 1 <= month <= 12 else None


def normalized_date(value: Any) -> str | None:
    """The truth date as a parser outputs it: "YYYY-MM" or "YYYY"."""
    parsed = parse_truth_date(value)
    if parsed is None:
        return None
    year, month = parsed
    return f"{year:04d}-{month:02d}" if month else f"{year:04d}"


def year_text(value: Any) -> str | None:
    parsed = parse_truth_date(value)
    return f"{parsed[0]:04d}" if parsed else None


def format_month_year(value: Any, strings: dict[str, Any]) -> str | None:
    parsed = parse_truth_date(value)
    if parsed is None:
        return None
    year, month = parsed
    if month is None:
        return str(year)
    return strings["month_year"].format(month=strings["months"][month - 1], year=year)


def duration_text(start: Any, end: Any, as_of: date, language: str) -> str:
    """LinkedIn counts both end months: Mar 2023 - Apr 2023 is "2 months"."""
    strings = _strings(language)
    start_parsed = parse_truth_date(start)
    end_parsed = parse_truth_date(end) if end is not None else (as_of.year, as_of.month)
    if start_parsed is None or end_parsed is None:
        return ""
    start_months = start_parsed[0] * 12 + (start_parsed[1] or 1)
    end_months = end_parsed[0] * 12 + (end_parsed[1] or 12)
    total = end_months - start_months + 1
    if total < 1:
        return strings["less_than_a_month"]
    years, months = divmod(total, 12)
    pieces = []
    if years:
        pieces.append(_plural(strings["years"], language, years))
    if months:
        pieces.append(_plural(strings["months_count"], language, months))
    return strings["duration_joiner"].join(pieces)


# -------------------------------------------------------------------------------------------- the page builder


class _Page:
    """Accumulates HTML parts and remembers where each profile entry's ``</li>`` ends, so that a truncated
    page's expectation is exactly the entries that arrived whole."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.entry_ends: dict[str, list[int]] = {"positions": [], "education": [], "certifications": []}
        self.section_spans: dict[str, tuple[int, int]] = {}

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def end_entry(self, kind: str) -> None:
        self.entry_ends[kind].append(self.length)

    def html(self) -> str:
        return "".join(self.parts)


@dataclass
class _Context:
    profile: dict[str, Any]
    language: str
    strings: dict[str, Any]
    noise: dict[str, Any]
    rng: random.Random
    as_of: date
    display_name: str
    host: str


@dataclass(frozen=True)
class RenderedPage:
    """One crawl response: the body, its HTTP status, and what a correct parser must output from it."""
    body: str
    http_status: int
    content_type: str
    expected: dict[str, Any]


@dataclass
class CrawlSummary:
    crawl_dir: Path
    expected_path: Path
    parts: list[Path] = field(default_factory=list)
    records: int = 0
    by_page_fault: Counter = field(default_factory=Counter)
    by_expected_status: Counter = field(default_factory=Counter)
    by_language: Counter = field(default_factory=Counter)
    body_bytes: int = 0
    seconds: float = 0.0


def _rng_for(seed: int, profile: dict[str, Any], stream: str) -> random.Random:
    # str seeds are hashed with SHA-512 by random.Random: stable across processes and PYTHONHASHSEED.
    return random.Random(f"{seed}|{stream}|{profile.get('profile_url') or profile.get('learner_id')}")


def _pick(rng: random.Random, pool: list[str]) -> str:
    return pool[rng.randrange(len(pool))]


def _by_language(table: dict[str, list[str]], language: str) -> list[str]:
    return table.get(language) or table["en"]


def _make_context(profile: dict[str, Any], seed: int, as_of: str | date) -> _Context:
    language = profile.get("language") if profile.get("language") in LANGUAGES else "en"
    rng = _rng_for(seed, profile, "page")
    noise = page_noise()
    name = f"{_pick(rng, _by_language(noise['first_names'], language))} {_pick(rng, _by_language(noise['last_names'], language))}"
    host = {"en": "www", "pt": "br", "es": "es", "fr": "fr", "ar": "ae"}[language]
    as_of_date = as_of if isinstance(as_of, date) else date.fromisoformat(str(as_of)[:10])
    return _Context(profile, language, _strings(language), noise, rng, as_of_date, name, host)


# ------------------------------------------------------------------------------------------------- public API


def render_profile_page(profile: dict[str, Any], *, seed: int, padding: bool = True,
                        as_of: str | date = DEFAULT_AS_OF) -> str:
    """The body the crawler would have stored for ``profile`` (its ``page_fault`` applied)."""
    return render_page(profile, seed=seed, padding=padding, as_of=as_of).body


def render_page(profile: dict[str, Any], *, seed: int, padding: bool = True, as_of: str | date = DEFAULT_AS_OF,
                rate_limited: bool = False) -> RenderedPage:
    """Body, HTTP status and parser expectation for one profile. ``as_of`` is the fetch day ("Present")."""
    context = _make_context(profile, seed, as_of)
    fault = RATE_LIMITED if rate_limited else profile.get("page_fault")
    if fault not in PAGE_FAULTS and fault != RATE_LIMITED:
        fault = None
    status = HTTP_STATUS.get(fault, 200)
    if fault == "empty":
        return RenderedPage("", status, "text/html", _expectation(profile, fault, context.language))
    if fault == "authwall":
        body = _authwall_page(context, padding)
        return RenderedPage(body, status, "text/html", _expectation(profile, fault, context.language))
    if fault == "not_found":
        return RenderedPage(_not_found_page(context), status, "text/html",
                            _expectation(profile, fault, context.language))
    if fault == RATE_LIMITED:
        return RenderedPage(_rate_limit_page(context), status, "text/html",
                            _expectation(profile, fault, context.language))

    page = _profile_page(context, padding)
    expected = _expectation(profile, None, context.language, entries=_expected_entries(context))
    body = page.html()
    if fault == "truncated":
        cut = _truncation_point(page, context.rng)
        body = body[:cut]
        for kind, ends in page.entry_ends.items():
            complete = sum(1 for end in ends if end <= cut)
            expected[kind] = expected[kind][:complete]
        expected["status"] = EXPECTED_STATUS["truncated"]
        expected["page_fault"] = "truncated"
        expected["truncated_at"] = cut
    return RenderedPage(body, status, "text/html", expected)


def _expectation(profile: dict[str, Any], fault: str | None, language: str,
                 entries: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    entries = entries or {"positions": [], "education": [], "certifications": []}
    return {
        "profile_url": profile.get("profile_url"),
        "learner_id": profile.get("learner_id"),
        "status": EXPECTED_STATUS[fault],
        "page_fault": fault,
        "language": language if fault in (None, "truncated") else None,
        "positions": entries["positions"],
        "education": entries["education"],
        "certifications": entries["certifications"],
    }


def _truncation_point(page: _Page, rng: random.Random) -> int:
    """A cut inside the certifications or the experience section (falls back to any profile section)."""
    for preferred in (rng.choice(["experience", "certifications"]), "experience", "certifications", "education"):
        if preferred in page.section_spans:
            start, end = page.section_spans[preferred]
            return rng.randint(start + 1, max(start + 1, end - 1))
    return rng.randint(page.length // 3, max(page.length // 3, page.length * 2 // 3))


# -------------------------------------------------------------------------------------------- expectations


def _expected_position(position: dict[str, Any]) -> dict[str, Any]:
    is_current = bool(position.get("is_current"))
    start = normalized_date(position.get("start"))
    end = None if is_current else normalized_date(position.get("end"))
    has_company = collapse(position.get("company")) is not None
    if start is None and not has_company:
        # No visible date range and no JSON-LD role to match it to: nothing on the page carries the dates.
        end, is_current = None, False
    return {"title": collapse(position.get("title")), "company": collapse(position.get("company")),
            "location": collapse(position.get("location")), "start": start, "end": end, "is_current": is_current}


def _expected_education(entry: dict[str, Any]) -> dict[str, Any]:
    degree, field_of_study = collapse(entry.get("degree")), collapse(entry.get("field"))
    if degree is None and field_of_study is not None:
        # The degree-info spans are positional and unlabeled: a lone field reads as the degree.
        degree, field_of_study = field_of_study, None
    return {"school": collapse(entry.get("school")), "degree": degree, "field": field_of_study,
            "start_year": year_text(entry.get("start_year")), "end_year": year_text(entry.get("end_year"))}


def _expected_certification(cert: dict[str, Any]) -> dict[str, Any]:
    return {"name": collapse(cert.get("name")), "issuer": collapse(cert.get("issuer")),
            "issued": normalized_date(cert.get("issued")), "expires": normalized_date(cert.get("expires")),
            "credential_id": collapse(cert.get("credential_id")),
            "credential_url": (cert.get("credential_url") or "").strip() or None}


def _expected_entries(context: _Context) -> dict[str, list[dict[str, Any]]]:
    profile = context.profile
    return {"positions": [_expected_position(p) for p in profile.get("positions") or []],
            "education": [_expected_education(e) for e in profile.get("education") or []],
            "certifications": [_expected_certification(c) for c in profile.get("certifications") or []]}


# --------------------------------------------------------------------------------------------- the full page

_SECTION_CLASS = ("core-section-container my-3 core-section-container--with-border border-b-1 border-solid "
                  "border-color-border-faint m-0 py-3 pp-section")
_GHOST_LOGO = "https://static.licdn.com/aero-v1/sc/h/3dtfvv2esz58o2zimai1h3v2d"
_GHOST_SCHOOL = "https://static.licdn.com/aero-v1/sc/h/csnc6op83cjt60ym5equoy1km"
_EDUCATIONS_ATTR = ' data-section="educations"'


def _profile_page(context: _Context, padding: bool) -> _Page:
    page = _Page()
    rng = context.rng
    target_size = rng.randint(*PAGE_SIZE_RANGE) if padding else 0
    page.add(_head(context, padding))
    page.add(_body_open(context))
    page.add(_top_card(context))
    if rng.random() < 0.75:
        page.add(_about_section(context))
    if rng.random() < 0.6:
        page.add(_activity_section(context))
    positions = context.profile.get("positions") or []
    if positions:
        start = page.length
        _experience_section(page, context, positions)
        page.section_spans["experience"] = (start, page.length)
    education = context.profile.get("education") or []
    if education:
        start = page.length
        _education_section(page, context, education)
        page.section_spans["education"] = (start, page.length)
    certifications = context.profile.get("certifications") or []
    if certifications:
        start = page.length
        _certifications_section(page, context, certifications)
        page.section_spans["certifications"] = (start, page.length)
    if rng.random() < 0.5:
        page.add(_languages_section(context))
    page.add(_main_close_and_right_rail(context))
    page.add(_sign_in_modal(context))
    if padding:
        page.add(_tail_padding(rng, target_size - page.length))
    page.add("\n  </body>\n</html>\n")
    return page


def _head(context: _Context, padding: bool) -> str:
    s, rng, name = context.strings, context.rng, context.display_name
    url = context.profile.get("profile_url") or ""
    headline = _headline(context)
    description = s["chrome"]["meta_description"].format(name=name, n=len(context.profile.get("positions") or []))
    page_instance = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(22))
    styles = _head_padding(rng) if padding else ""
    return f"""<!DOCTYPE html>
<html lang="{s['html_lang']}">
  <head>
    <meta name="pageKey" content="public_profile_v3_desktop">
    <meta name="linkedin:pageTag" content="openToProvider">
    <meta name="locale" content="{s['locale']}">
    <meta id="config" data-app-version="2.0.{rng.randint(900, 1400)}" data-multiproduct-name="public-profile-frontend" data-service-name="public-profile-frontend" data-page-instance="urn:li:page:public_profile_v3;{page_instance}==" data-disable-jsbeacon-pagekey-suffix="false" data-member-id="0" data-logout-url="/uas/logout">
    <link rel="canonical" href="{esc(url)}">
<!----><!---->
      <meta property="al:android:url" content="{esc(url)}">
      <meta property="al:android:package" content="com.linkedin.android">
      <meta property="al:android:app_name" content="LinkedIn">
      <meta property="al:ios:url" content="{esc(url)}">
      <meta property="al:ios:app_store_id" content="288429040">
      <meta property="al:ios:app_name" content="LinkedIn">
      <link rel="icon" href="https://static.licdn.com/aero-v1/sc/h/al2o9zrvru7aqj8e1x2rzsrca">
    <script>
      function getDfd() {{let yFn,nFn;const p=new Promise(function(y, n){{yFn=y;nFn=n;}});p.resolve=yFn;p.reject=nFn;return p;}}
      window.lazyloader = getDfd();
      window.tracking = getDfd();
      window.impressionTracking = getDfd();
      window.ingraphTracking = getDfd();
      window.appDetection = getDfd();
      window.pemTracking = getDfd();
    </script>
    <title>{esc(name)} - {esc(headline)} | {s['chrome']['title_suffix']}</title>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<meta name="litmsProfileName" content="public-profile-frontend">
  <meta name="description" content="{esc(description)}">
  <meta name="og:description" content="{esc(description)}">
<meta property="og:title" content="{esc(name)} - {esc(headline)} | LinkedIn">
<meta property="og:type" content="profile">
<meta property="og:url" content="{esc(url)}">
<meta property="profile:first_name" content="{esc(name.split(' ')[0])}">
<meta name="robots" content="noarchive">
    <link rel="stylesheet" href="https://static.licdn.com/aero-v1/sc/h/ew93bnqzc9gosf4vfd82yhvbt">
{styles}
        <script type="application/ld+json">
          {_jsonld(context, headline)}
        </script>
<!---->      </head>
"""


def _headline(context: _Context) -> str:
    positions = context.profile.get("positions") or []
    current = next((p for p in positions if p.get("is_current") and p.get("title")), None)
    rng = context.rng
    title = (current or {}).get("title") or _pick(rng, _by_language(context.noise["other_titles"], context.language))
    company = (current or {}).get("company") or _pick(rng, context.noise["other_companies"])
    pattern = _pick(rng, _by_language(context.noise["headline_patterns"], context.language))
    return pattern.format(title=title, company=company)


def _jsonld(context: _Context, headline: str) -> str:
    """The ``Person`` block. Machine dates keep the truth's precision ("YYYY-MM" or a year), as LinkedIn's do."""
    profile = context.profile
    works_for, alumni_of = [], []
    for position in profile.get("positions") or []:
        company = collapse(position.get("company"))
        if company is None:
            continue
        member: dict[str, Any] = {"@type": "OrganizationRole"}
        start = normalized_date(position.get("start"))
        if start:
            member["startDate"] = start
        organization: dict[str, Any] = {"@type": "Organization", "name": company,
                                        "url": f"https://{context.host}.linkedin.com/company/{slugify(company)}?trk=ppro_cprof"}
        if position.get("location"):
            organization["location"] = collapse(position.get("location"))
        organization["member"] = member
        if position.get("is_current"):
            works_for.append(organization)
        else:
            end = normalized_date(position.get("end"))
            if end:
                member["endDate"] = end
            alumni_of.append(organization)
    for entry in profile.get("education") or []:
        school = collapse(entry.get("school"))
        if school is None:
            continue
        member = {"@type": "OrganizationRole"}
        start_year, end_year = year_text(entry.get("start_year")), year_text(entry.get("end_year"))
        if start_year:
            member["startDate"] = int(start_year)
        if end_year:
            member["endDate"] = int(end_year)
        alumni_of.append({"@type": "EducationalOrganization", "name": school, "member": member})
    current_titles = [p["title"] for p in profile.get("positions") or [] if p.get("is_current") and p.get("title")]
    person = {
        "@type": "Person",
        "address": {"@type": "PostalAddress", "addressLocality": _pick(context.rng, _by_language(context.noise["cities"], context.language))},
        "alumniOf": alumni_of,
        "image": {"@type": "ImageObject", "contentUrl": "https://static.licdn.com/aero-v1/sc/h/9c8pery4andzj6ohjkjp54ma2"},
        "jobTitle": current_titles,
        "name": context.display_name,
        "sameAs": profile.get("profile_url"),
        "url": profile.get("profile_url"),
        "memberOf": [],
        "worksFor": works_for,
        "knowsLanguage": [{"@type": "Language", "name": lang} for lang in _by_language(context.noise["spoken_languages"], context.language)[:2]],
        "description": headline,
        "interactionStatistic": {"@type": "InteractionCounter", "interactionType": "https://schema.org/FollowAction",
                                 "name": "Follows", "userInteractionCount": context.rng.randint(20, 4000)},
    }
    document = {"@context": "http://schema.org", "@graph": [
        person, {"@type": "WebPage", "url": profile.get("profile_url"),
                 "reviewedBy": {"@type": "Person", "name": context.display_name}}]}
    # LinkedIn escapes "<" so that no string can close the script element.
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003C")


def _body_open(context: _Context) -> str:
    s = context.strings
    return f"""      <body dir="{s['dir']}">
<!---->    <a href="#main-content" class="skip-link btn-md btn-primary absolute z-11 -top-[100vh] focus:top-0">Skip to main content</a>
    <header class="header base-container-container">
      <nav class="nav pt-1.5 pb-2 flex items-center justify-between relative flex-nowrap babybear:py-1.5">
        <a href="https://{context.host}.linkedin.com/?trk=public_profile_nav-header-logo" class="nav__logo-link link-no-visited-state" data-tracking-control-name="public_profile_nav-header-logo" data-tracking-will-navigate>
          <span class="sr-only">LinkedIn</span>
          <icon class="block text-color-brand w-[102px] h-[26px]" data-svg-class-name="h-[26px] w-[102px]" data-delayed-url="https://static.licdn.com/aero-v1/sc/h/8fkga714vy9b2wk5auqo5reeb"></icon>
        </a>
        <div class="nav__cta-container order-3 flex gap-x-1 justify-end min-w-[100px] flex-nowrap flex-shrink-0 babybear:flex-wrap flex-2">
          <a class="nav__button-tertiary btn-md btn-tertiary" href="https://www.linkedin.com/signup/cold-join?trk=public_profile_nav-header-join" data-tracking-control-name="public_profile_nav-header-join" data-tracking-will-navigate>{esc(s['chrome']['join_now'])}</a>
          <a class="nav__button-secondary btn-md btn-secondary-emphasis" href="https://www.linkedin.com/login?trk=public_profile_nav-header-signin" data-tracking-control-name="public_profile_nav-header-signin" data-tracking-will-navigate>{esc(s['chrome']['sign_in'])}</a>
        </div>
      </nav>
    </header>
    <main class="main papabear:flex papabear:w-content-width papabear:mx-auto papabear:pt-desktop-content-top-margin mamabear:pt-desktop-content-top-margin" id="main-content" role="main">
      <section class="core-rail mx-auto papabear:w-core-rail-width mamabear:max-w-[790px] babybear:max-w-[790px]">
        <div class="details mx-details-container-padding">
          <section class="profile">
"""


def _top_card(context: _Context) -> str:
    s, rng, profile = context.strings, context.rng, context.profile
    name = context.display_name
    current = next((p for p in profile.get("positions") or [] if p.get("is_current") and p.get("company")), None)
    school = next((e for e in profile.get("education") or [] if e.get("school")), None)
    right_column = ""
    if current is not None:
        right_column += f"""
              <div data-section="currentPositionsDetails" class="top-card__right-column-link top-card__position-info with-transition">
                <img class="artdeco-entity-image artdeco-entity-image--square-1 artdeco-entity-image--ghost" data-delayed-url="{_GHOST_LOGO}" alt="">
                <span class="top-card-link__description">{esc(current['company'])}</span>
              </div>"""
    if school is not None:
        right_column += f"""
              <div data-section="educationsDetails" class="top-card__right-column-link top-card__education-info with-transition">
                <img class="artdeco-entity-image artdeco-entity-image--square-1 artdeco-entity-image--ghost" data-delayed-url="{_GHOST_SCHOOL}" alt="">
                <span class="top-card-link__description">{esc(school['school'])}</span>
              </div>"""
    city = _pick(rng, _by_language(context.noise["cities"], context.language))
    followers = s["chrome"]["followers"].format(n=rng.randint(30, 3000))
    return f"""
  <section class="top-card-layout container-lined overflow-hidden babybear:rounded-[0px]">
    <figure class="top-card-layout__cover-image-container">
      <img class="top-card-layout__cover-image" data-delayed-url="https://static.licdn.com/aero-v1/sc/h/5q92mjc5c51bjlwaj3rs9aa82" alt="">
    </figure>
    <div class="top-card-layout__card relative p-2 papabear:p-details-container-padding">
      <img class="inline-block relative rounded-[50%] w-16 h-16 top-card-layout__entity-image top-card__profile-image" data-delayed-url="https://static.licdn.com/aero-v1/sc/h/9c8pery4andzj6ohjkjp54ma2" alt="{esc(name)}">
      <div class="top-card-layout__entity-info-container flex flex-wrap papabear:flex-nowrap">
        <div class="top-card-layout__entity-info flex-grow flex-shrink-0 basis-0 babybear:flex-none babybear:w-full babybear:flex-none babybear:w-full">
          <h1 class="top-card-layout__title font-sans text-lg papabear:text-xl font-bold leading-open text-color-text mb-0">
            {esc(name)}
          </h1>
          <h2 class="top-card-layout__headline break-words font-sans text-md leading-open text-color-text">
            {esc(_headline(context))}
          </h2>
          <h3 class="top-card-layout__first-subline font-sans text-md leading-open text-color-text-low-emphasis">
            <div class="top-card__subline-item">{esc(city)}</div>
            <span class="top-card__subline-item top-card__subline-item--followers">{esc(followers)}</span>
            <span class="top-card__subline-item top-card__subline-item--connections">{esc(s['chrome']['connections'])}</span>
          </h3>
        </div>
        <div class="top-card-layout__entity-info top-card-layout__entity-info--right-column ml-details-container-padding max-w-[288px] babybear:my-2 babybear:ml-0">{right_column}
        </div>
      </div>
      <div class="top-card-layout__cta-container flex flex-wrap mt-0.5 papabear:mt-0 ml-[-12px] mr-[-12px]">
        <a class="top-card-layout__cta mt-2 ml-1.5 h-auto babybear:flex-auto top-card-layout__cta--primary btn-md btn-primary" href="https://www.linkedin.com/signup/public-profile-join?trk=public_profile_top-card-primary-button-join-to-view-profile" data-tracking-control-name="public_profile_top-card-primary-button-join-to-view-profile" data-tracking-will-navigate>{esc(s['chrome']['join_to_view'])}</a>
      </div>
    </div>
  </section>
"""


def _section_open(kind: str, title: str, data_section: str | None) -> str:
    data = f' data-section="{data_section}"' if data_section else ""
    return f"""
<section class="{_SECTION_CLASS} {kind}"{data}>
<!---->
        <h2 class="core-section-container__title section-title">
    {esc(title)}
        </h2>
<!---->
  <div class="core-section-container__content break-words">
"""


_SECTION_CLOSE = """  </div>
</section>
"""


def _about_section(context: _Context) -> str:
    text = _pick(context.rng, _by_language(context.noise["about_texts"], context.language))
    return (_section_open("summary", context.strings["sections"]["about"], "summary")
            + f"""    <div class="core-section-container__content break-words">
<p>{esc(text)}<br><br>{esc(_headline(context))}</p>
    </div>
""" + _SECTION_CLOSE)


def _activity_section(context: _Context) -> str:
    rng, noise, language = context.rng, context.noise, context.language
    items = []
    for _ in range(rng.randint(1, 4)):
        post = _pick(rng, _by_language(noise["activity_posts"], language)).format(
            title=_pick(rng, _by_language(noise["other_titles"], language)), company=_pick(rng, noise["other_companies"]))
        liker = f"{_pick(rng, _by_language(noise['first_names'], language))} {_pick(rng, _by_language(noise['last_names'], language))}"
        activity_id = rng.randint(7_000_000_000_000_000_000, 7_099_999_999_999_999_999)
        items.append(f"""
      <li>
  <a href="https://www.linkedin.com/posts/activity-{activity_id}?trk=public_profile_like_view" class="base-card relative w-full hover:no-underline focus:no-underline base-card--link base-main-card flex flex-wrap" data-tracking-control-name="public_profile_like_view" data-tracking-will-navigate>
      <div class="base-main-card__info self-center ml-1 flex-1 relative break-words papabear:min-w-0 mamabear:min-w-0 babybear:w-full">
        <h3 class="base-main-card__title font-sans text-[18px] font-bold text-color-text overflow-hidden">
          {esc(post)}
        </h3>
          <h4 class="base-main-card__subtitle body-text text-color-text overflow-hidden">
            {esc(context.strings['chrome']['liked_by'].format(name=liker))}
          </h4>
      </div>
  </a>
      </li>""")
    return (_section_open("activities", context.strings["sections"]["activity"], "posts")
            + '    <ul class="activities__list show-more-less__list">' + "".join(items) + "\n    </ul>\n"
            + _SECTION_CLOSE)


def _date_range_html(start: Any, end: Any, is_current: bool, context: _Context, with_duration: bool) -> str | None:
    s = context.strings
    start_text = format_month_year(start, s)
    end_text = None if is_current else format_month_year(end, s)
    if start_text is None:
        return None
    inner = f"<time>{esc(start_text)}</time>"
    if is_current:
        inner += f" - {esc(s['present'])}"
    elif end_text:
        inner += f" - <time>{esc(end_text)}</time>"
    else:
        # A lone date reads as a one-month (or one-year) span; an open end keeps its dash.
        inner += " - "
    if with_duration:
        duration = duration_text(start, None if is_current else end, context.as_of, context.language)
        if not is_current and end_text is None:
            duration = ""
        inner += f'<span class="date-range__duration">{esc(duration)}</span>' if duration else "<!---->"
    else:
        inner += "<!---->"
    return f"""
  <span class="date-range">
{inner}
  </span>
"""


def _company_link(company: str, context: _Context, tracking: str) -> str:
    return f"https://{context.host}.linkedin.com/company/{slugify(company)}?trk={tracking}"


def _position_card(position: dict[str, Any], context: _Context, in_group: bool) -> str:
    rng = context.rng
    kind = "experience-group-position" if in_group else "experience-item"
    is_current = bool(position.get("is_current"))
    title = position.get("title")
    company = collapse(position.get("company"))
    has_link = company is not None and rng.random() < 0.75
    image = ""
    if company is not None:
        alt = f"{esc(company)} Graphic"
        image_tag = f"""
  <img class="artdeco-entity-image artdeco-entity-image--square-4
      artdeco-entity-image--ghost profile-section-card__image" data-delayed-url="{_GHOST_LOGO}" data-ghost-classes="artdeco-entity-image--ghost" data-ghost-url="{_GHOST_LOGO}" alt="{alt}">
"""
        if has_link:
            href = _company_link(company, context, "public_profile_experience-item_profile-section-card_image-click")
            image = f"""<!---->          <a class="profile-section-card__image-link" href="{href}" data-tracking-control-name="public_profile_experience-item_profile-section-card_image-click" data-tracking-will-navigate>
        {image_tag}
      </a>
"""
        else:
            image = f"<!---->          {image_tag}"
    subtitle = ""
    if company is not None:
        if has_link:
            href = _company_link(company, context, "public_profile_experience-item_profile-section-card_subtitle-click")
            subtitle = f"""
      <h4 class="profile-section-card__subtitle">
          <a class="profile-section-card__subtitle-link" href="{href}" data-tracking-control-name="public_profile_experience-item_profile-section-card_subtitle-click" data-tracking-will-navigate>
    {esc(company)}
          </a>
      </h4>
"""
        else:
            subtitle = f"""
      <h4 class="profile-section-card__subtitle">
    {esc(company)}
      </h4>
"""
    meta = []
    date_range = _date_range_html(position.get("start"), position.get("end"), is_current, context, True)
    if date_range is not None:
        meta.append(f"""
      <p class="{kind}__duration {kind}__meta-item">
{date_range}
      </p>
""")
    if collapse(position.get("location")):
        meta.append(f"""
      <p class="{kind}__location {kind}__meta-item">
        {esc(position['location'])}
      </p>
""")
    if rng.random() < 0.35:
        description = _pick(rng, _by_language(context.noise["position_descriptions"], context.language)).format(
            title=title or "")
        data_section = "currentPositions" if is_current else "pastPositions"
        meta.append(f"""
      <div class="{kind}__description {kind}__meta-item" data-section="{data_section}">
<div class="show-more-less-text">
  <p class="show-more-less-text__text--less">
    {esc(description)}
<!---->      </p>
<!---->    </div>
      </div>
""")
    details = "currentPositionsDetails" if is_current else "pastPositionsDetails"
    return f"""
<li class="profile-section-card  {kind}" data-section="{details}">
{image}
  <div class="profile-section-card__contents">
    <h3 class="profile-section-card__title">
    {esc(title)}
    </h3>
{subtitle}
    <div class="profile-section-card__meta">
{''.join(meta)}
    </div>
  </div>
</li>
"""


def _group_runs(positions: list[dict[str, Any]], rng: random.Random) -> list[list[dict[str, Any]]]:
    """Consecutive roles at one employer, grouped on most (not all) pages, as LinkedIn does for most members."""
    group_this_page = rng.random() < 0.8
    runs: list[list[dict[str, Any]]] = []
    for position in positions:
        company = collapse(position.get("company"))
        if (group_this_page and runs and company is not None
                and collapse(runs[-1][-1].get("company")) == company):
            runs[-1].append(position)
        else:
            runs.append([position])
    return runs


def _experience_section(page: _Page, context: _Context, positions: list[dict[str, Any]]) -> None:
    page.add(_section_open("experience", context.strings["sections"]["experience"], None))
    page.add('    <ul class="experience__list">\n')
    for run in _group_runs(positions, context.rng):
        if len(run) == 1:
            page.add(_position_card(run[0], context, in_group=False))
            page.end_entry("positions")
            continue
        company = collapse(run[0]["company"]) or ""
        current_count = sum(1 for p in run if p.get("is_current"))
        group_start = run[-1].get("start")
        group_end = None if current_count else run[0].get("end")
        group_duration = duration_text(group_start, group_end, context.as_of, context.language) if group_start else ""
        page.add(f"""
<li class="experience-group experience-item" data-numcurrent="{current_count}" data-numpast="{len(run) - current_count}">
  <a class="experience-group-header__url" data-tracking-control-name="public_profile_experience-group-header" data-tracking-will-navigate href="{_company_link(company, context, 'public_profile_experience-group-header')}" title="{esc(company)}">
<div class="experience-group-header">
  <div class="experience-group-header__image-container">
  <img class="artdeco-entity-image artdeco-entity-image--square-4
      artdeco-entity-image--ghost experience-group-header__image" data-delayed-url="{_GHOST_LOGO}" data-ghost-classes="artdeco-entity-image--ghost" data-ghost-url="{_GHOST_LOGO}" alt="{esc(company)}">
  </div>
  <div class="experience-group-header__content">
    <h4 class="experience-group-header__company">
      {esc(company)}
    </h4>
      <p class="experience-group-header__duration">
        {esc(group_duration)}
      </p>
  </div>
</div>
  </a>
  <ul class="experience-group__positions">
""")
        for position in run:
            page.add(_position_card(position, context, in_group=True))
            page.end_entry("positions")
        page.add("  </ul>\n</li>\n")
    page.add("    </ul>\n" + _SECTION_CLOSE)


def _education_section(page: _Page, context: _Context, education: list[dict[str, Any]]) -> None:
    rng, noise = context.rng, context.noise
    page.add(_section_open("education", context.strings["sections"]["education"], "educationsDetails"))
    page.add('    <ul class="education__list">\n')
    for entry in education:
        school = collapse(entry.get("school"))
        if school is not None and rng.random() < 0.6:
            href = f"https://{context.host}.linkedin.com/school/{slugify(school)}/?trk=public_profile_school"
            school_html = f"""
      <a class="profile-section-card__title-link" href="{href}" data-tracking-control-name="public_profile_school" data-tracking-will-navigate>
        {esc(school)}
      </a>
"""
        else:
            school_html = f"\n        {esc(school)}\n"
        degree_info = [value for value in (collapse(entry.get("degree")), collapse(entry.get("field"))) if value]
        if degree_info and rng.random() < 0.2:
            degree_info.append(_pick(rng, noise["grades"]))
        # LinkedIn marks the field and grade spans, not the degree, with data-section="educations".
        spans = "".join(
            f'<span class="education__item education__item--degree-info"{"" if index == 0 else _EDUCATIONS_ATTR}>'
            f'{esc(value)}</span>' for index, value in enumerate(degree_info))
        subtitle = f"""
      <h4 class="profile-section-card__subtitle">
          {spans}
      </h4>
""" if spans else ""
        date_range = _date_range_html(entry.get("start_year"), entry.get("end_year"), False, context, False) or ""
        if year_text(entry.get("start_year")) is None and year_text(entry.get("end_year")) is not None:
            # An end year alone: say which end it is, with the range dash, so the page stays unambiguous.
            date_range = f"""
  <span class="date-range">
 - <time>{year_text(entry.get('end_year'))}</time><!---->
  </span>
"""
        details = ""
        if rng.random() < 0.25:
            details = f"""
      <div class="education__item--details" data-section="educations">
          <p class="education__item education__item--activities-and-societies">
            {esc(context.strings['chrome']['activities_and_societies'])} {esc(_pick(rng, noise['activities_and_societies']))}
          </p>
      </div>
"""
        page.add(f"""
<li class="profile-section-card  education__list-item" data-id="{rng.randint(100_000_000, 999_999_999)}">
<!---->
  <img class="artdeco-entity-image artdeco-entity-image--square-4
      artdeco-entity-image--ghost profile-section-card__image" data-delayed-url="{_GHOST_SCHOOL}" data-ghost-classes="artdeco-entity-image--ghost" data-ghost-url="{_GHOST_SCHOOL}" alt="{esc(school)} Graphic" aria-hidden="true">
  <div class="profile-section-card__contents">
    <h3 class="profile-section-card__title">{school_html}    </h3>
{subtitle}
    <div class="profile-section-card__meta">
    <p class="education__item education__item--duration">
{date_range}
    </p>{details}
    </div>
  </div>
</li>
""")
        page.end_entry("education")
    page.add("    </ul>\n" + _SECTION_CLOSE)


def _certifications_section(page: _Page, context: _Context, certifications: list[dict[str, Any]]) -> None:
    s, rng = context.strings, context.rng
    page.add(_section_open("certifications", s["sections"]["certifications"], "certifications"))
    page.add('    <ul class="certifications__list">\n')
    for cert in certifications:
        name = collapse(cert.get("name"))
        issuer = collapse(cert.get("issuer"))
        url = (cert.get("credential_url") or "").strip() or None
        if url:
            title_html = f"""
          <a class="profile-section-card__title-link" href="{esc(linkedin_redirect(url, rng, 'public_profile_certification-title'))}" data-tracking-control-name="public_profile_certification-title" data-tracking-will-navigate>
            {esc(name)}
          </a>
"""
        else:
            title_html = f"\n            {esc(name)}\n"
        subtitle = ""
        if issuer is not None:
            if rng.random() < 0.7:
                subtitle = f"""
      <h4 class="profile-section-card__subtitle">
          <a class="profile-section-card__subtitle-link" href="{_company_link(issuer, context, 'public_profile_profile-section-card_subtitle-click')}" data-tracking-control-name="public_profile_profile-section-card_subtitle-click" data-tracking-will-navigate>
            {esc(issuer)}
          </a>
      </h4>
"""
            else:
                subtitle = f"""
      <h4 class="profile-section-card__subtitle">
            {esc(issuer)}
      </h4>
"""
        issued = format_month_year(cert.get("issued"), s)
        expires = format_month_year(cert.get("expires"), s)
        dates = ""
        if issued or expires:
            start_span = f"""
            <span class="certifications__start-date">
              {esc(s['issued'])} <time>{esc(issued)}</time>
            </span>
""" if issued else "<!---->"
            end_span = f"""
            <span class="certifications__end-date">
              {esc(s['expires'])} <time>{esc(expires)}</time>
            </span>
""" if expires else "<!---->"
            dates = f"""
          <div class="certifications__date-range">{start_span}{end_span}          </div>
"""
        credential_id = collapse(cert.get("credential_id"))
        id_html = f"""
          <div class="certifications__credential-id">
            {esc(s['credential_id'])} {esc(credential_id)}
          </div>
""" if credential_id else "\n<!---->\n"
        button = f"""
          <div class="certifications__external-link">
            <a class="certifications__button" href="{esc(linkedin_redirect(url, rng, 'public_profile_see-credential'))}" rel="nofollow" target="_blank" data-tracking-control-name="public_profile_see-credential" data-tracking-will-navigate>
              {esc(s['see_credential'])}<img class="certifications__button-external-icon" data-delayed-url="https://static.licdn.com/aero-v1/sc/h/8w0vew433o9nluoruq9k5eqy" alt="" aria-hidden="true" data-tracking-will-navigate>
            </a>
          </div>
""" if url else ""
        page.add(f"""
<li class="profile-section-card ">
<!---->
  <img class="artdeco-entity-image artdeco-entity-image--square-4
      artdeco-entity-image--ghost profile-section-card__image" data-delayed-url="{_GHOST_LOGO}" data-ghost-classes="artdeco-entity-image--ghost" data-ghost-url="{_GHOST_LOGO}" alt="{esc(name)} Graphic" aria-hidden="true">
  <div class="profile-section-card__contents">
    <h3 class="profile-section-card__title">{title_html}    </h3>
{subtitle}
    <div class="profile-section-card__meta">{dates}{id_html}{button}
    </div>
  </div>
</li>
""")
        page.end_entry("certifications")
    page.add("    </ul>\n" + _SECTION_CLOSE)


def _languages_section(context: _Context) -> str:
    languages = _by_language(context.noise["spoken_languages"], context.language)
    items = "".join(f"""
      <li class="profile-section-card ">
  <div class="profile-section-card__contents">
    <h3 class="profile-section-card__title">{esc(language)}</h3>
  </div>
      </li>""" for language in context.rng.sample(languages, k=min(len(languages), context.rng.randint(1, 3))))
    return (_section_open("languages", context.strings["sections"]["languages"], "languages")
            + f'    <ul class="languages__list">{items}\n    </ul>\n' + _SECTION_CLOSE)


def _aside_cards(context: _Context, count: int, tracking: str) -> str:
    rng, noise, language = context.rng, context.noise, context.language
    cards = []
    for _ in range(count):
        name = f"{_pick(rng, _by_language(noise['first_names'], language))} {_pick(rng, _by_language(noise['last_names'], language))}"
        title = _pick(rng, _by_language(noise["other_titles"], language))
        company = _pick(rng, noise["other_companies"])
        slug = f"{slugify(name)}-{rng.randrange(16 ** 8):08x}"
        cards.append(f"""
      <li>
  <a href="https://{context.host}.linkedin.com/in/{slug}?trk={tracking}" class="base-card relative w-full hover:no-underline focus:no-underline base-card--link base-aside-card hover:!text-color-text-secondary !text-color-text-secondary" data-tracking-control-name="{tracking}" data-tracking-will-navigate>
    <img class="inline-block relative rounded-[50%] w-6 h-6 base-aside-card__media-element" data-delayed-url="https://static.licdn.com/aero-v1/sc/h/9c8pery4andzj6ohjkjp54ma2" alt="">
    <div class="base-aside-card__info self-center pl-0.5 flex flex-col flex-1">
      <h3 class="base-aside-card__title font-sans text-md font-bold text-color-text relative">
        {esc(name)}
      </h3>
        <p class="base-aside-card__subtitle font-sans text-sm text-color-text leading-open mt-0.5 break-words">
          {esc(title)} at {esc(company)}
        </p>
        <p class="base-aside-card__metadata font-sans text-sm leading-open text-color-text-low-emphasis">
          {esc(_pick(rng, _by_language(noise['cities'], language)))}
        </p>
    </div>
  </a>
      </li>""")
    return "".join(cards)


def _main_close_and_right_rail(context: _Context) -> str:
    s, rng = context.strings, context.rng
    similar_title = (s["sections"]["similar_profiles"] if rng.random() < 0.5
                     else s["sections"]["others_named"].format(name=context.display_name.split(" ")[0]))
    return f"""
          </section>
        </div>
      </section>
      <section class="right-rail papabear:w-right-rail-width papabear:ml-column-gutter mamabear:max-w-[790px] mamabear:px-mobile-container-padding babybear:max-w-[790px] babybear:px-mobile-container-padding">
        <section class="aside-section-container mb-4 browsemap">
          <h2 class="aside-section-container__title section-title">{esc(s['sections']['people_also_viewed'])}</h2>
          <div class="aside-section-container__content break-words">
            <ul class="aside-profiles-list">{_aside_cards(context, rng.randint(4, 10), 'public_profile_browsemap')}
            </ul>
          </div>
        </section>
        <section class="aside-section-container mb-4 similar-profiles">
          <h2 class="aside-section-container__title section-title">{esc(similar_title)}</h2>
          <div class="aside-section-container__content break-words">
            <ul class="aside-profiles-list">{_aside_cards(context, rng.randint(2, 6), 'public_profile_samename-profile')}
            </ul>
          </div>
        </section>
      </section>
    </main>
"""


def _sign_in_modal(context: _Context) -> str:
    s = context.strings
    return f"""
    <div class="contextual-sign-in-modal base-contextual-sign-in-modal" data-impression-id="public_profile_contextual-sign-in-modal" data-cool-off-enabled data-show-on-page-load>
      <div class="modal modal--contextual-sign-in" data-outlet="base-contextual-sign-in-modal-modal">
        <div class="modal__overlay flex items-center bg-color-background-scrim justify-center fixed bottom-0 left-0 right-0 top-0 opacity-0 invisible pointer-events-none z-[1000] transition-[opacity] ease-[cubic-bezier(0.25,0.1,0.25,1.0)] duration-[0.17s] py-4" aria-hidden="true">
          <section aria-modal="true" role="dialog" tabindex="-1" class="max-h-full modal__wrapper overflow-auto p-0 bg-color-surface max-w-[1128px] min-h-[160px] relative scale-[0.25] shadow-sm shadow-color-border-faint transition-[transform] ease-[cubic-bezier(0.25,0.1,0.25,1.0)] duration-[0.33s] focus:outline-0 rounded-md w-[1128px] mamabear:w-[744px] babybear:w-[360px]">
            <div class="contextual-sign-in-modal__modal-dismiss-icon"></div>
            <div class="contextual-sign-in-modal__content-container">
              <h2 class="contextual-sign-in-modal__context-screen-title font-sans py-2 px-4 text-xl text-color-text">{esc(s['chrome']['view_profile'].format(name=context.display_name))}</h2>
              <div class="contextual-sign-in-modal__sign-in-form-container">
                <form data-id="sign-in-form" action="https://www.linkedin.com/uas/login-submit" method="post" novalidate class="mt-1.5 mb-2">
                  <input name="loginCsrfParam" value="{context.rng.randrange(16 ** 12):012x}" type="hidden">
                  <label class="input__label" for="public_profile_contextual-sign-in-modal_sign-in-modal_session_key">{esc(s['authwall']['email'])}</label>
                  <input autocomplete="username" id="public_profile_contextual-sign-in-modal_sign-in-modal_session_key" name="session_key" required type="text">
                  <label class="input__label" for="public_profile_contextual-sign-in-modal_sign-in-modal_session_password">{esc(s['authwall']['password'])}</label>
                  <input autocomplete="current-password" id="public_profile_contextual-sign-in-modal_sign-in-modal_session_password" name="session_password" required type="password">
                  <button class="btn-md btn-primary flex-shrink-0 cursor-pointer sign-in-form__submit-btn--full-width" type="submit">{esc(s['chrome']['sign_in'])}</button>
                </form>
              </div>
            </div>
          </section>
        </div>
      </div>
    </div>
    <footer class="li-footer bg-transparent w-full">
      <ul class="li-footer__list flex flex-wrap flex-row items-start justify-start w-full h-auto min-h-[50px] py-2 px-2 papabear:p-0">
        <li class="li-footer__item font-sans text-xs text-color-text-low-emphasis flex flex-shrink-0 justify-start p-1 papabear:p-0.5"><span class="sr-only">LinkedIn</span> &copy; 2023</li>
        <li class="li-footer__item"><a class="li-footer__item-link" href="https://about.linkedin.com?trk=public_profile_footer-about">About</a></li>
        <li class="li-footer__item"><a class="li-footer__item-link" href="https://www.linkedin.com/legal/user-agreement?trk=public_profile_footer-user-agreement">User Agreement</a></li>
        <li class="li-footer__item"><a class="li-footer__item-link" href="https://www.linkedin.com/legal/privacy-policy?trk=public_profile_footer-privacy-policy">Privacy Policy</a></li>
        <li class="li-footer__item"><a class="li-footer__item-link" href="https://www.linkedin.com/legal/cookie-policy?trk=public_profile_footer-cookie-policy">Cookie Policy</a></li>
      </ul>
    </footer>
"""


# ------------------------------------------------------------------------------------- non-profile responses


def _authwall_page(context: _Context, padding: bool) -> str:
    a, s, rng = context.strings["authwall"], context.strings, context.rng
    filler = _tail_padding(rng, rng.randint(*SMALL_AUTHWALL_SIZE_RANGE)) if padding else ""
    return f"""<!DOCTYPE html>
<html lang="{s['html_lang']}">
  <head>
    <meta name="pageKey" content="d_authwall_join">
    <meta name="locale" content="{s['locale']}">
    <meta charset="UTF-8">
    <title>{esc(a['title'])}</title>
    <link rel="canonical" href="https://www.linkedin.com/authwall">
  </head>
  <body dir="{s['dir']}" class="authwall">
    <main class="authwall-join-form" role="main">
      <section class="authwall-join-form__form-container">
        <h1 class="authwall-join-form__title">{esc(a['heading'].format(name=context.display_name))}</h1>
        <h2 class="authwall-join-form__subtitle">{esc(a['subheading'])}</h2>
        <form class="join-form" action="https://www.linkedin.com/signup/cold-join?trk=authwall_join" method="post" novalidate>
          <label for="email-or-phone" class="join-form__form-body-label">{esc(a['email'])}</label>
          <input id="email-or-phone" name="session_key" type="text" autocomplete="username" required>
          <label for="password" class="join-form__form-body-label">{esc(a['password'])}</label>
          <input id="password" name="session_password" type="password" autocomplete="new-password" required>
          <p class="join-form__form-body-agreement">{esc(a['agree'])}</p>
          <button class="join-form__form-body-submit-button btn-md btn-primary" type="submit">{esc(a['join'])}</button>
        </form>
        <p class="authwall-join-form__sign-in">{esc(a['already'])} <a class="authwall-join-form__form-toggle--bottom" href="https://www.linkedin.com/uas/login?session_redirect={quote(context.profile.get('profile_url') or '', safe='')}&amp;trk=authwall">{esc(s['chrome']['sign_in'])}</a></p>
      </section>
    </main>
{filler}
  </body>
</html>
"""


def _not_found_page(context: _Context) -> str:
    n, s = context.strings["not_found"], context.strings
    return f"""<!DOCTYPE html>
<html lang="{s['html_lang']}">
  <head>
    <meta name="pageKey" content="d_404">
    <meta name="locale" content="{s['locale']}">
    <meta charset="UTF-8">
    <title>{esc(n['title'])}</title>
  </head>
  <body dir="{s['dir']}">
    <main class="page-not-found error-404" role="main">
      <img class="page-not-found__illustration" data-delayed-url="https://static.licdn.com/aero-v1/sc/h/4z2r5k7n0s9l1m3q8w6e2t0yu" alt="">
      <h1 class="page-not-found__title">{esc(n['heading'])}</h1>
      <p class="page-not-found__body">{esc(n['body'])}</p>
      <a class="page-not-found__home btn-md btn-primary" href="https://www.linkedin.com/feed/?trk=404_page">{esc(n['home'])}</a>
    </main>
  </body>
</html>
"""


def _rate_limit_page(context: _Context) -> str:
    """LinkedIn's "999" answer to crawlers: a tiny script page that bounces the visitor to the auth wall."""
    return """<html><head>
<script type="text/javascript">
window.onload = function() {
  // Read the tracking values the edge stored in cookies.
  var trk = "bf";
  var trkInfo = "bf";
  var cookies = document.cookie.split("; ");
  for (var i = 0; i < cookies.length; ++i) {
    if ((cookies[i].indexOf("trkCode=") == 0) && (cookies[i].length > 8)) {
      trk = cookies[i].substring(8);
    } else if ((cookies[i].indexOf("trkInfo=") == 0) && (cookies[i].length > 8)) {
      trkInfo = cookies[i].substring(8);
    }
  }
  // Country hosts such as fr.linkedin.com all go to the www auth wall.
  var domain = "www.linkedin.com";
  window.location.href = "https://" + domain + "/authwall?trk=" + trk + "&trkInfo=" + trkInfo +
      "&originalReferer=" + document.referrer.substr(0, 200) +
      "&sessionRedirect=" + encodeURIComponent(window.location.href);
}
</script>
</head></html>
"""


# ----------------------------------------------------------------------------------------------------- padding


@lru_cache(maxsize=1)
def _padding_pool() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Style, script and hidden-data blocks, generated once with a fixed seed. Real guest pages spend most of
    their 100-250 KB on such blocks and on verbose markup; parsers must skip all of it."""
    rng = random.Random(20230401)
    words = ["artdeco", "profile", "card", "top", "rail", "aside", "base", "main", "nav", "footer", "modal", "btn",
             "entity", "image", "media", "section", "container", "title", "subtitle", "list", "item", "link",
             "contextual", "sign", "form", "input", "label", "toggle", "dismiss", "overlay", "wrapper", "ghost"]
    properties = ["display:flex", "display:block", "align-items:center", "justify-content:space-between",
                  "margin:0 auto", "padding:.8rem 1.6rem", "font-size:1.4rem", "line-height:1.42857",
                  "color:rgba(0,0,0,.9)", "background-color:#fff", "border-radius:.8rem", "position:relative",
                  "overflow:hidden", "min-height:3.2rem", "box-shadow:0 0 0 1px rgba(0,0,0,.15)", "z-index:1"]

    def class_name() -> str:
        return "-".join(rng.sample(words, k=rng.randint(1, 3))) + rng.choice(["", "__" + rng.choice(words), "--" + rng.choice(words)])

    styles = []
    for _ in range(24):
        rules = [f".{class_name()}{{{';'.join(rng.sample(properties, k=rng.randint(2, 5)))}}}" for _ in range(rng.randint(60, 140))]
        media = rng.choice(["", "@media (max-width:767px){", "@media (min-width:768px) and (max-width:1023px){"])
        body = "".join(rules)
        styles.append(f"<style>{media}{body}{'}' if media else ''}</style>\n")
    scripts = []
    for index in range(24):
        functions = []
        for _ in range(rng.randint(40, 90)):
            name = rng.choice(words) + rng.choice(words).capitalize()
            functions.append(
                f'define("public-profile-frontend/{rng.choice(words)}/{name}",["exports","@ember/component"],'
                f'function(e,t){{"use strict";Object.defineProperty(e,"__esModule",{{value:!0}}),'
                f'e.default=t.default.extend({{tagName:"{rng.choice(["div", "section", "span"])}",'
                f'classNames:["{class_name()}"],trackingControlName:"public_profile_{rng.choice(words)}",'
                f'didInsertElement(){{this._super(...arguments);this.{name}=window.{rng.choice(words)}||{{}}}}}})}});')
        scripts.append(f'<script src-id="chunk-{index}" type="text/javascript">{"".join(functions)}</script>\n')
    data_blocks = []
    for index in range(12):
        entries = {f"i18n_{rng.choice(words)}_{rng.choice(words)}_{n}": " ".join(rng.sample(words, k=rng.randint(2, 6)))
                   for n in range(rng.randint(150, 300))}
        data_blocks.append(f'<code style="display: none" id="bpr-guid-{rng.randrange(10 ** 7)}-{index}">'
                           f'<!--{json.dumps(entries, separators=(",", ":"))}--></code>\n')
    return tuple(styles), tuple(scripts), tuple(data_blocks)


def _head_padding(rng: random.Random) -> str:
    styles, _, _ = _padding_pool()
    return "".join(rng.sample(styles, k=rng.randint(2, 5)))


def _tail_padding(rng: random.Random, budget: int) -> str:
    """Script and data blocks until ``budget`` characters are used (each block is a few KB)."""
    if budget <= 0:
        return ""
    styles, scripts, data_blocks = _padding_pool()
    pool = styles + scripts + data_blocks
    chosen: list[str] = []
    used = 0
    while used < budget:
        block = pool[rng.randrange(len(pool))]
        chosen.append(block)
        used += len(block)
    return "".join(chosen)


# --------------------------------------------------------------------------------------------- writing a crawl


def read_truth_profiles(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _parse_timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def _format_timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _GzipJsonLines:
    """A gzip JSON-lines file with a zero mtime and no name in the header, so equal input gives equal bytes."""

    def __init__(self, path: Path, compresslevel: int = 6) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.temporary = path.with_name(path.name + ".tmp")
        self._raw = open(self.temporary, "wb")
        self._gzip = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=compresslevel)

    def write(self, record: dict[str, Any]) -> int:
        data = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        self._gzip.write(data)
        return len(data)

    def close(self) -> None:
        self._gzip.close()
        self._raw.close()
        self.temporary.replace(self.path)


def _crawl_schedule(profiles: Iterable[dict[str, Any]], *, seed: int, fetched_at: str, rate_limited_share: float
                    ) -> Iterator[tuple[dict[str, Any], datetime, bool]]:
    """(profile, fetch moment, rate limited) per profile, in input order. Fetch times advance a few seconds per page,
    so the schedule is sequential; rendering each page is not, and may run in other processes."""
    moment = _parse_timestamp(fetched_at)
    for profile in profiles:
        crawl_rng = _rng_for(seed, profile, "crawl")
        moment += timedelta(seconds=crawl_rng.randint(1, 6))
        rate_limited = profile.get("page_fault") is None and crawl_rng.random() < rate_limited_share
        yield profile, moment, rate_limited


def _crawl_record(profile: dict[str, Any], moment: datetime, rate_limited: bool, *, seed: int, padding: bool
                  ) -> tuple[dict[str, Any], dict[str, Any]]:
    rendered = render_page(profile, seed=seed, padding=padding, as_of=moment.date(), rate_limited=rate_limited)
    record = {"profile_url": profile.get("profile_url"), "fetched_at": _format_timestamp(moment),
              "http_status": rendered.http_status, "content_type": rendered.content_type, "body": rendered.body}
    expected = dict(rendered.expected)
    expected["http_status"] = rendered.http_status
    expected["fetched_at"] = record["fetched_at"]
    return record, expected


def crawl_records(profiles: Iterable[dict[str, Any]], *, seed: int = 7, fetched_at: str = "2023-09-15T06:00:00Z",
                  rate_limited_share: float = 0.01, padding: bool = True
                  ) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(crawl record, expectation) per profile, in input order."""
    for profile, moment, rate_limited in _crawl_schedule(profiles, seed=seed, fetched_at=fetched_at,
                                                         rate_limited_share=rate_limited_share):
        yield _crawl_record(profile, moment, rate_limited, seed=seed, padding=padding)


def _write_crawl_part(path: Path, scheduled: list[tuple[dict[str, Any], datetime, bool]], seed: int, padding: bool,
                      compresslevel: int) -> tuple[list[dict[str, Any]], int]:
    """Renders and writes one part file; returns the pages' expectations, in order, and the bodies' UTF-8 bytes."""
    part = _GzipJsonLines(path, compresslevel)
    expectations = []
    body_bytes = 0
    try:
        for profile, moment, rate_limited in scheduled:
            record, expected = _crawl_record(profile, moment, rate_limited, seed=seed, padding=padding)
            body_bytes += len(record["body"].encode("utf-8"))
            part.write(record)
            expectations.append(expected)
    finally:
        part.close()
    return expectations, body_bytes


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_crawl(landing: Path, *, crawl_id: str = "2023-09", seed: int = 7,
                fetched_at: str = "2023-09-15T06:00:00Z", records_per_part: int = RECORDS_PER_PART,
                rate_limited_share: float = 0.01, padding: bool = True, compresslevel: int = 6,
                workers: int = 1) -> CrawlSummary:
    """Render every true profile and write the crawl plus ``_truth/crawl_expected.jsonl.gz``.

    Existing part files of this crawl are replaced, so a re-run with the same seed reproduces the same bytes, with
    any number of `workers` (processes rendering part files side by side; 1 renders in this process).
    """
    started = time.perf_counter()
    landing = Path(landing)
    truth_path = landing / "_truth" / "profiles.jsonl.gz"
    crawl_dir = landing / "linkedin" / f"crawl={crawl_id}"
    crawl_dir.mkdir(parents=True, exist_ok=True)
    for stale in crawl_dir.glob("part-*.jsonl.gz"):
        stale.unlink()
    summary = CrawlSummary(crawl_dir=crawl_dir, expected_path=landing / "_truth" / "crawl_expected.jsonl.gz")
    schedule = _crawl_schedule(read_truth_profiles(truth_path), seed=seed, fetched_at=fetched_at,
                               rate_limited_share=rate_limited_share)
    parts = ((crawl_dir / f"part-{index:05d}.jsonl.gz", chunk)
             for index, chunk in enumerate(_chunks(schedule, records_per_part)))
    expected_file = _GzipJsonLines(summary.expected_path, compresslevel)
    try:
        for path, (expectations, body_bytes) in _render_parts(parts, seed, padding, compresslevel, workers):
            summary.parts.append(path)
            summary.body_bytes += body_bytes
            for expected in expectations:
                expected_file.write({"crawl_id": crawl_id, **expected})
                summary.records += 1
                summary.by_page_fault[expected["page_fault"] or "none"] += 1
                summary.by_expected_status[expected["status"]] += 1
                summary.by_language[expected["language"] or "-"] += 1
    finally:
        expected_file.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _render_parts(parts: Iterator[tuple[Path, list]], seed: int, padding: bool, compresslevel: int, workers: int
                  ) -> Iterator[tuple[Path, tuple[list[dict[str, Any]], int]]]:
    """(path, part result) in part order. With several workers, at most two parts per worker are in flight, so
    memory stays bounded whatever the crawl's size."""
    if workers <= 1:
        for path, chunk in parts:
            yield path, _write_crawl_part(path, chunk, seed, padding, compresslevel)
        return
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers) as pool:
        in_flight: deque = deque()
        for path, chunk in parts:
            in_flight.append((path, pool.submit(_write_crawl_part, path, chunk, seed, padding, compresslevel)))
            if len(in_flight) >= 2 * workers:
                done_path, future = in_flight.popleft()
                yield done_path, future.result()
        while in_flight:
            done_path, future = in_flight.popleft()
            yield done_path, future.result()
