"""The public guest page, ``public_profile_v3_desktop`` (2022-2024). DOM notes: docs/parser.md."""

from __future__ import annotations

from typing import Any

from lxml import etree

from parsers.credentials import credential_id_normalized, unwrap_linkedin_redirect
from parsers.dates import parse_date_range, parse_single_date
from parsers.linkedin.dom import class_predicate as cls, compiled, first, first_of, has_class, prune_invisible, \
    text_of, visible_text
from parsers.lexicon import looks_like_grade
from parsers.linkedin.fields import clean, credential_id_from_labelled_text
from parsers.linkedin.result import Certification, Education, Position, make_education, make_position

# Section class token -> length bucket. Sections written by other people (recommendations), activity feeds
# and LinkedIn's own suggestions are not the owner's profile text.
SECTION_BUCKETS = {"summary": "about", "experience": "experience", "education": "education",
                   "certifications": "certifications"}
NOT_PROFILE_TEXT = frozenset({"activities", "recommended-content", "recommendations", "bottom-cta-banner",
                              "browsemap", "people-also-viewed"})
PROFILE_SECTION_CLASS = "pp-section"

_SECTIONS = compiled("//section[contains(@class, 'core-section-container')]")
_EXPERIENCE_ITEMS = compiled(f".//ul[{cls('experience__list')}]/li")
_GROUP_EMPLOYER = compiled(f".//*[{cls('experience-group-header__company')}]")
_GROUP_ROLES = compiled(f".//ul[{cls('experience-group__positions')}]/li")
_CARD_TITLE = compiled(f".//h3[{cls('profile-section-card__title')}]")
_ANY_H3 = compiled(".//h3")
_ANY_H4 = compiled(".//h4")
_CARD_SUBTITLE = compiled(f".//h4[{cls('profile-section-card__subtitle')}]")
_DATE_RANGE = compiled(f".//span[{cls('date-range')}]")
_LOCATION = compiled(".//p[contains(@class, '__location')]")
_EDUCATION_ITEMS = compiled(f".//ul[{cls('education__list')}]/li")
_DEGREE_INFO = compiled(f".//span[{cls('education__item--degree-info')}]")
_CERTIFICATION_ITEMS = compiled(f".//ul[{cls('certifications__list')}]/li")
_TITLE_LINK = compiled(".//h3//a[@href]")
_CREDENTIAL_BUTTON = compiled(f".//a[{cls('certifications__button')}][@href]")
_ISSUED = compiled(f".//*[{cls('certifications__start-date')}]")
_EXPIRES = compiled(f".//*[{cls('certifications__end-date')}]")
_CREDENTIAL_ID = compiled(f".//*[{cls('certifications__credential-id')}]")


def section_bucket(section: etree._Element) -> str | None:
    names = set((section.get("class") or "").split())
    if "core-section-container" not in names or PROFILE_SECTION_CLASS not in names or names & NOT_PROFILE_TEXT:
        return None
    for class_name, bucket in SECTION_BUCKETS.items():
        if class_name in names:
            return bucket
    return "other"


def parse_guest_v3(root: etree._Element) -> dict[str, Any]:
    """Positions, education, certifications and per-section lengths of a guest page."""
    lengths: dict[str, int] = {}
    positions: list[Position] = []
    education: list[Education] = []
    certifications: list[Certification] = []
    profile_sections = 0
    for section in _SECTIONS(root):
        bucket = section_bucket(section)
        if bucket is None:
            continue
        profile_sections += 1
        prune_invisible(section)
        lengths[bucket] = lengths.get(bucket, 0) + len(visible_text(section))
        if bucket == "experience":
            positions.extend(_positions(section))
        elif bucket == "education":
            education.extend(_education_entry(item) for item in _EDUCATION_ITEMS(section))
        elif bucket == "certifications":
            certifications.extend(_certification(item) for item in _CERTIFICATION_ITEMS(section))
    return {"positions": positions, "education": education, "certifications": certifications, "lengths": lengths,
            "profile_sections": profile_sections}


def _positions(section: etree._Element) -> list[Position]:
    positions: list[Position] = []
    for item in _EXPERIENCE_ITEMS(section):
        if has_class(item, "experience-group"):
            employer = text_of(first(item, _GROUP_EMPLOYER))
            positions.extend(_position(role, employer) for role in _GROUP_ROLES(item))
        else:
            positions.append(_position(item, None))
    return positions


def _position(card: etree._Element, employer: str | None) -> Position:
    title = text_of(first_of(card, _CARD_TITLE, _ANY_H3))
    company = employer or text_of(first(card, _CARD_SUBTITLE))
    dates = parse_date_range(visible_text(first(card, _DATE_RANGE)))
    location = text_of(first(card, _LOCATION))
    return make_position(clean(title), clean(company), clean(location), dates.start, dates.end, dates.is_current,
                         len(visible_text(card)))


def _education_entry(item: etree._Element) -> Education:
    degree_info = [text for text in (text_of(span) for span in _DEGREE_INFO(item)) if not looks_like_grade(text)]
    dates = parse_date_range(visible_text(first(item, _DATE_RANGE)))
    degree = degree_info[0] if degree_info else None
    field = degree_info[1] if len(degree_info) > 1 else None
    return make_education(clean(text_of(first(item, _ANY_H3))), clean(degree), clean(field),
                          dates.start and dates.start[:4], dates.end and dates.end[:4])


def _certification(item: etree._Element) -> Certification:
    link = first_of(item, _TITLE_LINK, _CREDENTIAL_BUTTON)
    url = unwrap_linkedin_redirect(link.get("href")) if link is not None else None
    shown_id = credential_id_from_labelled_text(text_of(first(item, _CREDENTIAL_ID)))
    return Certification(
        name=clean(text_of(first(item, _ANY_H3))),
        issuer=clean(text_of(first(item, _ANY_H4))),
        issued=parse_single_date(visible_text(first(item, _ISSUED))),
        expires=parse_single_date(visible_text(first(item, _EXPIRES))),
        credential_id=shown_id,
        credential_url=url,
        credential_id_normalized=credential_id_normalized(shown_id, url),
    )
