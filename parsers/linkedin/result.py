"""The output contract of the LinkedIn parser (see docs/parser.md)."""

from __future__ import annotations

import re
from typing import Any, TypedDict, get_args, get_type_hints


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


_DATE = re.compile(r"(?:19|20)\d\d(?:-(?:0[1-9]|1[0-2]))?")
_YEAR = re.compile(r"(?:19|20)\d\d")
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_ENTRY_TYPES = {"positions": Position, "education": Education, "certifications": Certification}
_DATE_FIELDS = {"positions": ("start", "end"), "education": ("start_year", "end_year"),
                "certifications": ("issued", "expires")}


def contract_violations(result: Any) -> list[str]:
    """What in ``result`` breaks the output contract (docs/parser.md); empty when it holds.

    The entry types are read from the TypedDicts above, so this check and the contract cannot drift apart.
    """
    if not isinstance(result, dict):
        return [f"result is {type(result).__name__}, not dict"]
    problems = []
    if tuple(result) != CONTRACT_KEYS:
        problems.append(f"keys {tuple(result)} != {CONTRACT_KEYS}")
        return problems
    if result["status"] not in STATUSES:
        problems.append(f"status {result['status']!r}")
    if result["layout"] not in LAYOUTS:
        problems.append(f"layout {result['layout']!r}")
    if result["reason"] is not None and not isinstance(result["reason"], str):
        problems.append(f"reason {result['reason']!r}")
    if (result["status"] == "ok") != (result["reason"] is None):
        problems.append(f"status {result['status']!r} with reason {result['reason']!r}")
    if result["language"] is not None and not (isinstance(result["language"], str)
                                               and _LANGUAGE.fullmatch(result["language"])):
        problems.append(f"language {result['language']!r}")
    if result["profile_url"] is not None and not isinstance(result["profile_url"], str):
        problems.append(f"profile_url {result['profile_url']!r}")
    by_section = result["profile_length_by_section"]
    if not isinstance(by_section, dict) or tuple(by_section) != LENGTH_SECTIONS or not all(
            type(length) is int and length >= 0 for length in by_section.values()):
        problems.append(f"profile_length_by_section {by_section!r}")
    elif result["profile_length_chars"] != sum(by_section.values()) or type(result["profile_length_chars"]) is not int:
        problems.append(f"profile_length_chars {result['profile_length_chars']!r} != sum of sections")
    for key, entry_type in _ENTRY_TYPES.items():
        entries = result[key]
        if not isinstance(entries, list):
            problems.append(f"{key} is {type(entries).__name__}")
            continue
        hints = get_type_hints(entry_type)
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict) or tuple(entry) != tuple(hints):
                problems.append(f"{key}[{index}] keys {tuple(entry) if isinstance(entry, dict) else entry!r}")
                continue
            for field, expected in hints.items():
                allowed = get_args(expected) or (expected,)
                if type(entry[field]) not in allowed:
                    problems.append(f"{key}[{index}].{field} {entry[field]!r} is not {expected}")
            pattern = _YEAR if key == "education" else _DATE
            for field in _DATE_FIELDS[key]:
                if isinstance(entry[field], str) and not pattern.fullmatch(entry[field]):
                    problems.append(f"{key}[{index}].{field} {entry[field]!r} is not a date")
    for index, position in enumerate(result["positions"] if isinstance(result["positions"], list) else []):
        if isinstance(position, dict) and position.get("is_current") and position.get("end") is not None:
            problems.append(f"positions[{index}] is current but has an end")
    return problems
