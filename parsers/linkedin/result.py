"""The output contract of the LinkedIn parser (see docs/parser.md)."""

from __future__ import annotations

from typing import Any, TypedDict


class Position(TypedDict):
    title: str | None
    company: str | None
    location: str | None
    start: str | None
    end: str | None
    is_current: bool
    length_chars: int


class Education(TypedDict):
    school: str | None
    degree: str | None
    field: str | None
    start_year: str | None
    end_year: str | None


class Certification(TypedDict):
    name: str | None
    issuer: str | None
    issued: str | None
    expires: str | None
    credential_id: str | None
    credential_url: str | None
    credential_id_normalized: str | None


STATUSES = ("ok", "partial", "not_a_profile", "empty", "too_large", "unparseable")
LAYOUTS = ("guest_v3", "loggedin_pvs", "vendor_json", "legacy_2015", None)
LENGTH_SECTIONS = ("about", "experience", "education", "certifications", "other")

# The keys every result carries, in output order. "reason", "profile_length_by_section" and "profile_url"
# are the documented extras.
CONTRACT_KEYS = (
    "source", "status", "reason", "layout", "language", "positions", "education", "certifications",
    "profile_length_chars", "profile_length_by_section", "profile_url",
)


def new_result(source: str | None, status: str = "ok", reason: str | None = None,
               layout: str | None = None) -> dict[str, Any]:
    return {
        "source": source,
        "status": status,
        "reason": reason,
        "layout": layout,
        "language": None,
        "positions": [],
        "education": [],
        "certifications": [],
        "profile_length_chars": 0,
        "profile_length_by_section": dict.fromkeys(LENGTH_SECTIONS, 0),
        "profile_url": None,
    }


def set_lengths(result: dict[str, Any], by_section: dict[str, int]) -> None:
    lengths = dict.fromkeys(LENGTH_SECTIONS, 0)
    for section, length in by_section.items():
        lengths[section if section in lengths else "other"] += length
    result["profile_length_by_section"] = lengths
    result["profile_length_chars"] = sum(lengths.values())


def make_position(title: str | None, company: str | None, location: str | None, start: str | None,
                  end: str | None, is_current: bool, length_chars: int = 0) -> Position:
    return Position(title=title or None, company=company or None, location=location or None, start=start,
                    end=None if is_current else end, is_current=bool(is_current), length_chars=length_chars)


def make_education(school: str | None, degree: str | None, field: str | None, start_year: str | None,
                   end_year: str | None) -> Education:
    return Education(school=school or None, degree=degree or None, field=field or None,
                     start_year=start_year, end_year=end_year)
