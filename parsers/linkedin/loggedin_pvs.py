"""The logged-in profile layout of 2022 (``pvs-entity`` cards), main page and /details/<section>/ pages.

Each card repeats every text twice: ``<span aria-hidden="true">`` (what is seen) and
``<span class="visually-hidden">`` (for screen readers); only the first is read. A card's role in the entity is
given by its wrapper's classes: ``t-bold`` = title (or the employer of a group of roles), ``t-14 t-normal`` =
subtitle (company · employment type, degree, issuer), ``t-black--light`` = dates, location, credential ID.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from credsignal.reference.textnorm import collapse_whitespace, fold
from parsers import lexicon
from parsers.credentials import credential_id_normalized, unwrap_linkedin_redirect
from parsers.dates import DateRange, parse_date_range
from parsers.linkedin.dom import class_predicate as cls, classes, compiled, prune_invisible, text_of, visible_text
from parsers.linkedin.fields import clean, credential_id_from_labelled_text, split_issued_expires, strip_leading_label
from parsers.linkedin.result import Certification, Education, Position, make_education, make_position

# Anchor id of a main-page section -> length bucket; sections not listed count as "other" unless excluded.
ANCHOR_BUCKETS = {"about": "about", "experience": "experience", "education": "education",
                  "licenses_and_certifications": "certifications"}
NOT_PROFILE_TEXT = frozenset({"recent_activity", "recommendations", "interests", "people_also_viewed",
                              "pymk_recommendation_from_company", "pymk_recommendation_from_school"})
SUBTITLE_SEPARATOR = " · "
_ENTITIES = compiled(f".//div[{cls('pvs-entity')}]")
_TOP_LEVEL_ITEMS = compiled(f"(.//ul[{cls('pvs-list')}])[1]/li")
_VISIBLE_SPANS = compiled(".//span[@aria-hidden='true']")
_ANCHORED_SECTIONS = compiled("//section[div[@id]]")
_DETAILS_SECTIONS = compiled(f"//main//section[.//ul[{cls('pvs-list')}]]")
_LINK_TARGETS = compiled(".//a/@href")
MAX_ANCESTOR_STEPS = 40


@dataclass
class CardHeader:
    bold: list[str] = field(default_factory=list)
    normal: list[str] = field(default_factory=list)
    light: list[str] = field(default_factory=list)


def _is_nested(span: etree._Element, entity: etree._Element) -> bool:
    """True when ``span`` belongs to a list nested inside ``entity`` (a sub-role, a description)."""
    node = span.getparent()
    for _ in range(MAX_ANCESTOR_STEPS):
        if node is None or node is entity:
            return False
        if node.tag == "ul" or "pvs-list__outer-container" in classes(node):
            return True
        node = node.getparent()
    return True


def card_header(entity: etree._Element) -> CardHeader:
    header = CardHeader()
    for span in _VISIBLE_SPANS(entity):
        if _is_nested(span, entity):
            continue
        text = text_of(span)
        wrapper = classes(span.getparent())
        if not text:
            continue
        if "t-bold" in wrapper:
            header.bold.append(text)
        elif "t-black--light" in wrapper:
            header.light.append(text)
        elif "t-normal" in wrapper:
            header.normal.append(text)
    return header


def _dates_and_location(light: list[str]) -> tuple[DateRange, str | None]:
    dates = DateRange(None, None, False)
    location = None
    for text in light:
        parsed = parse_date_range(text)
        if dates.start is None and (parsed.start or parsed.is_current):
            dates = parsed
        elif location is None:
            location = text
    return dates, location


def _sections(root: etree._Element) -> list[tuple[str | None, etree._Element]]:
    """(bucket, section) pairs: anchored sections of the main page, else the section of a /details/ page."""
    found: list[tuple[str | None, etree._Element]] = []
    for section in _ANCHORED_SECTIONS(root):
        anchor = section.xpath("./div[@id]/@id")[0]
        found.append((None if anchor in NOT_PROFILE_TEXT else ANCHOR_BUCKETS.get(anchor, "other"), section))
    if found:
        return found
    titles = lexicon.section_for_title()
    page_title = fold(collapse_whitespace(root.findtext(".//title") or "").split("|")[0].strip())
    for section in _DETAILS_SECTIONS(root):
        heading = fold(text_of(section.find(".//h2")) or "")
        found.append((titles.get(heading) or titles.get(page_title), section))
    return found


def parse_loggedin_pvs(root: etree._Element) -> dict[str, Any]:
    lengths: dict[str, int] = {}
    positions: list[Position] = []
    education: list[Education] = []
    certifications: list[Certification] = []
    for bucket, section in _sections(root):
        if bucket is None:
            continue
        prune_invisible(section)
        items = _TOP_LEVEL_ITEMS(section)
        # List sections are measured on their items (no "Show all" footer); free-text sections such as About
        # have no list, so the whole card counts.
        section_length = sum(len(visible_text(item)) for item in items) if items else len(visible_text(section))
        lengths[bucket] = lengths.get(bucket, 0) + section_length
        for item in items:
            entities = _ENTITIES(item)
            if not entities:
                continue
            if bucket == "experience":
                positions.extend(_positions(entities))
            elif bucket == "education":
                education.append(_education_entry(entities[0]))
            elif bucket == "certifications":
                certifications.append(_certification(entities[0]))
    return {"positions": positions, "education": education, "certifications": certifications, "lengths": lengths}


def _positions(entities: list[etree._Element]) -> list[Position]:
    top, nested = entities[0], entities[1:]
    header = card_header(top)
    roles = [(entity, card_header(entity)) for entity in nested]
    roles = [(entity, role_header) for entity, role_header in roles if role_header.bold]
    if roles:
        # Several roles at one employer: the card's bold line is the employer, each nested card a role.
        employer = header.bold[0] if header.bold else None
        return [_position(entity, role_header, employer) for entity, role_header in roles]
    company = header.normal[0].split(SUBTITLE_SEPARATOR)[0] if header.normal else None
    return [_position(top, header, company)]


def _position(entity: etree._Element, header: CardHeader, company: str | None) -> Position:
    dates, location = _dates_and_location(header.light)
    title = header.bold[0] if header.bold else None
    return make_position(clean(title), clean(company), clean(location), dates.start, dates.end, dates.is_current,
                         len(visible_text(entity)))


def _education_entry(entity: etree._Element) -> Education:
    header = card_header(entity)
    degree, field_of_study = None, None
    if header.normal:
        degree, _, field_of_study = header.normal[0].partition(", ")
    dates, _ = _dates_and_location(header.light)
    return make_education(clean(header.bold[0] if header.bold else None), clean(degree), clean(field_of_study),
                          dates.start and dates.start[:4], dates.end and dates.end[:4])


def _external_url(entity: etree._Element) -> str | None:
    for href in _LINK_TARGETS(entity):
        target = unwrap_linkedin_redirect(href)
        host = (urlsplit(target).hostname or "").lower() if target and "://" in target else ""
        if host and host != "linkedin.com" and not host.endswith(".linkedin.com"):
            return target
    return None


def _certification(entity: etree._Element) -> Certification:
    header = card_header(entity)
    issued = expires = shown_id = None
    credential_labels = list(lexicon.labels("credential_id"))
    for text in header.light:
        is_id_line, _ = strip_leading_label(text, credential_labels)
        if is_id_line:
            shown_id = credential_id_from_labelled_text(text)
        elif issued is None and expires is None:
            issued, expires = split_issued_expires(text)
    url = _external_url(entity)
    return Certification(
        name=clean(header.bold[0] if header.bold else None),
        issuer=clean(header.normal[0].split(SUBTITLE_SEPARATOR)[0] if header.normal else None),
        issued=issued, expires=expires, credential_id=shown_id, credential_url=url,
        credential_id_normalized=credential_id_normalized(shown_id, url),
    )
