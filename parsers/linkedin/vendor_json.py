"""The data vendor's "people profile" JSON record (one record; files hold a list of them).

Shape: ``experience[]`` (a single role, or an employer with ``positions[]`` for several roles there, each
with ``start_date``/``end_date`` as printed on the page, e.g. "Feb 2020"/"Present"), ``education[]``
(``title`` = school, ``start_year``/``end_year``), ``certifications[]`` (``title``, ``subtitle`` = issuer,
``meta`` = "Issued Aug 2022See credential").
"""

from __future__ import annotations

import html
import re
from typing import Any

from parsers.credentials import credential_id_normalized, unwrap_linkedin_redirect
from parsers.dates import DateRange, parse_date_range, parse_single_date
from parsers.linkedin.fields import clean, credential_id_inside, linkedin_profile_url, split_issued_expires
from parsers.linkedin.result import Certification, Education, Position, make_education, make_position

# Keys of which at least one must be present for a record to describe a person.
PROFILE_KEYS = ("experience", "education", "certifications", "about", "position", "linkedin_id", "name")
_TAG = re.compile(r"<[^>]{0,2000}>")


def _text(value: Any) -> str | None:
    return clean(value) if isinstance(value, str) else None


def _html_text(value: Any) -> str | None:
    return clean(html.unescape(_TAG.sub(" ", value))) if isinstance(value, str) else None


def _records(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _length(*texts: str | None) -> int:
    return len(" ".join(text for text in texts if text))


def is_vendor_profile(record: Any) -> bool:
    return isinstance(record, dict) and any(record.get(key) for key in PROFILE_KEYS)


def _dates(entry: dict[str, Any]) -> DateRange:
    start, end = _text(entry.get("start_date")), _text(entry.get("end_date"))
    if start or end:
        return parse_date_range(f"{start or ''} - {end or ''}")
    return parse_date_range(_text(entry.get("meta")) or _text(entry.get("duration")))


def _position(entry: dict[str, Any], company: str | None, location: str | None) -> Position:
    dates = _dates(entry)
    title = _text(entry.get("title"))
    location = _text(entry.get("location")) or location
    description = _text(entry.get("description")) or _html_text(entry.get("description_html"))
    return make_position(title, company, location, dates.start, dates.end, dates.is_current,
                         _length(title, company, location, description))


def parse_vendor_record(record: dict[str, Any]) -> dict[str, Any]:
    positions: list[Position] = []
    for entry in _records(record.get("experience")):
        company = _text(entry.get("company")) or _text(entry.get("title"))
        roles = _records(entry.get("positions"))
        if roles:
            for role in roles:
                positions.append(_position(role, company or _text(role.get("subtitle")), _text(entry.get("location"))))
        else:
            positions.append(_position(entry, company, None))

    education: list[Education] = []
    education_length = 0
    for entry in _records(record.get("education")):
        start_year = parse_single_date(_text(entry.get("start_year")))
        end_year = parse_single_date(_text(entry.get("end_year")))
        entry_education = make_education(_text(entry.get("title")), _text(entry.get("degree")),
                                         _text(entry.get("field")), start_year and start_year[:4],
                                         end_year and end_year[:4])
        education.append(entry_education)
        education_length += _length(entry_education["school"], entry_education["degree"], entry_education["field"],
                                    _text(entry.get("description")))

    certifications: list[Certification] = []
    certifications_length = 0
    for entry in _records(record.get("certifications")):
        meta = _text(entry.get("meta"))
        issued, expires = split_issued_expires(meta)
        shown_id = _text(entry.get("credential_id")) or credential_id_inside(meta)
        url = unwrap_linkedin_redirect(_text(entry.get("credential_url")) or _text(entry.get("url")))
        name, issuer = _text(entry.get("title")), _text(entry.get("subtitle"))
        certifications.append(Certification(
            name=name, issuer=issuer, issued=issued, expires=expires, credential_id=shown_id, credential_url=url,
            credential_id_normalized=credential_id_normalized(shown_id, url)))
        certifications_length += _length(name, issuer, meta)

    other_length = sum(_length(_text(item.get("title")), _text(item.get("subtitle")), _text(item.get("description")))
                       for key in ("projects", "courses", "publications", "honors_and_awards", "languages",
                                   "organizations", "patents", "volunteer_experience")
                       for item in _records(record.get(key)))
    return {
        "positions": positions,
        "education": education,
        "certifications": certifications,
        "lengths": {
            "about": _length(_text(record.get("about"))),
            "experience": sum(position["length_chars"] for position in positions),
            "education": education_length,
            "certifications": certifications_length,
            "other": other_length,
        },
        "profile_url": linkedin_profile_url(record.get("url")) or linkedin_profile_url(record.get("input_url")),
        "date_texts": [_text(entry.get("start_date")) for entry in _records(record.get("experience"))]
        + [_text(certification.get("meta")) for certification in _records(record.get("certifications"))],
    }
