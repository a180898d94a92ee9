"""The guest page's JSON-LD ``Person`` block: used to confirm or complete dates the visible text leaves vague.

``worksFor`` lists current jobs, ``alumniOf`` past employers (``Organization``) and schools
(``EducationalOrganization``), with machine dates ("YYYY-MM" or a year). It carries no job titles, so it never
creates positions; it only fills a missing or year-only date and marks a role current.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from credsignal.reference.textnorm import collapse_whitespace, fold
from parsers.dates import parse_single_date, year_of
from parsers.linkedin.result import Education, Position

MAX_JSONLD_CHARS = 1_000_000


@dataclass
class JsonLdRole:
    company_key: str
    start: str | None
    end: str | None
    is_current: bool


@dataclass
class JsonLdSchool:
    school_key: str
    start_year: str | None
    end_year: str | None


@dataclass
class JsonLdPerson:
    roles: list[JsonLdRole] = field(default_factory=list)
    schools: list[JsonLdSchool] = field(default_factory=list)
    url: str | None = None


def _name_key(name: Any) -> str:
    return fold(collapse_whitespace(name)) if isinstance(name, str) else ""


def _date(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return parse_single_date(str(value))


def _find_person(document: Any) -> dict[str, Any] | None:
    candidates = document.get("@graph", [document]) if isinstance(document, dict) else document
    if not isinstance(candidates, list):
        return None
    for candidate in candidates:
        if isinstance(candidate, dict) and candidate.get("@type") == "Person":
            return candidate
    return None


_JSONLD_SCRIPTS = etree.XPath("//script[@type='application/ld+json']")


def read_jsonld_person(root: etree._Element) -> JsonLdPerson | None:
    for script in _JSONLD_SCRIPTS(root):
        if not script.text:
            continue
        if len(script.text) > MAX_JSONLD_CHARS:
            continue
        try:
            person = _find_person(json.loads(script.text))
        except (ValueError, RecursionError):
            continue
        if person is not None:
            return _to_person(person)
    return None


def _organizations(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _to_person(person: dict[str, Any]) -> JsonLdPerson:
    result = JsonLdPerson(url=person.get("url") if isinstance(person.get("url"), str) else None)
    for key, is_current in (("worksFor", True), ("alumniOf", False)):
        for organization in _organizations(person.get(key)):
            member = organization.get("member") if isinstance(organization.get("member"), dict) else {}
            start, end = _date(member.get("startDate")), _date(member.get("endDate"))
            if organization.get("@type") == "EducationalOrganization":
                result.schools.append(JsonLdSchool(_name_key(organization.get("name")), year_of(start), year_of(end)))
            else:
                result.roles.append(JsonLdRole(_name_key(organization.get("name")), start, end,
                                               is_current and end is None))
    return result


def _agrees(visible: str | None, machine: str | None) -> bool:
    if visible is None or machine is None:
        return True
    shorter = min(len(visible), len(machine))
    return visible[:shorter] == machine[:shorter]


def _more_precise(visible: str | None, machine: str | None) -> str | None:
    if machine and (visible is None or (len(visible) < len(machine) and machine.startswith(visible))):
        return machine
    return visible


def reconcile_positions(positions: list[Position], person: JsonLdPerson) -> None:
    """Fill missing or year-only dates from the JSON-LD role of the same company (in page order)."""
    unused = list(person.roles)
    for position in positions:
        key = _name_key(position["company"])
        role = next((candidate for candidate in unused if candidate.company_key == key
                     and _agrees(position["start"], candidate.start)), None)
        if role is None:
            continue
        unused.remove(role)
        position["start"] = _more_precise(position["start"], role.start)
        if position["is_current"]:
            continue
        if role.is_current and position["end"] is None:
            position["is_current"] = True
        elif _agrees(position["end"], role.end):
            position["end"] = _more_precise(position["end"], role.end)


def reconcile_education(education: list[Education], person: JsonLdPerson) -> None:
    unused = list(person.schools)
    for entry in education:
        key = _name_key(entry["school"])
        school = next((candidate for candidate in unused if candidate.school_key == key), None)
        if school is None:
            continue
        unused.remove(school)
        entry["start_year"] = entry["start_year"] or school.start_year
        entry["end_year"] = entry["end_year"] or school.end_year
