"""Developed / developing classification of countries (paper appendix B.1).

A value is resolved to an ISO 3166-1 alpha-2 code by exact lookup of its
normalised form (case, accents and punctuation ignored) among the names,
variants and codes listed in ``data/developed_countries.json`` and
``data/other_countries.json``. Nothing is fuzzy-matched: a string that is not
listed is "unknown", never guessed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal, NamedTuple

from credsignal.reference.data_files import load_json
from credsignal.reference.textnorm import normalise

CountryClass = Literal["developed", "developing", "unknown"]

DEVELOPED_COUNTRIES_FILE = "developed_countries.json"
OTHER_COUNTRIES_FILE = "other_countries.json"

# Country names that, as the last part of a free-text location, usually name a
# US state instead ("Atlanta, Georgia"). As a whole value they still resolve.
_AMBIGUOUS_LOCATION_SEGMENTS = frozenset({"georgia"})


class Country(NamedTuple):
    alpha2: str
    name: str
    developed: bool


class _CountryIndex(NamedTuple):
    by_name: dict[str, Country]
    by_alpha2: dict[str, Country]
    by_alpha3: dict[str, Country]


@lru_cache(maxsize=1)
def _country_index() -> _CountryIndex:
    by_name: dict[str, Country] = {}
    by_alpha2: dict[str, Country] = {}
    by_alpha3: dict[str, Country] = {}
    for file_name, developed in ((DEVELOPED_COUNTRIES_FILE, True), (OTHER_COUNTRIES_FILE, False)):
        for record in load_json(file_name)["countries"]:
            country = Country(alpha2=record["alpha2"], name=record["name"], developed=developed)
            by_alpha2[country.alpha2] = country
            by_alpha3[record["alpha3"]] = country
            for variant in [record["name"], *record["variants"]]:
                key = normalise(variant)
                if key in by_name and by_name[key] != country:
                    raise ValueError(f"country variant {variant!r} is listed for two countries")
                by_name[key] = country
    return _CountryIndex(by_name=by_name, by_alpha2=by_alpha2, by_alpha3=by_alpha3)


def _strip_leading_article(key: str) -> str:
    return key[4:] if key.startswith("the ") else key


@lru_cache(maxsize=50_000)
def resolve_country(value: str | None) -> Country | None:
    """The country a name, variant, alpha-2/alpha-3 code or "City, Country" location denotes; None when not listed.

    Codes are only accepted as the whole value: as the tail of a location they
    collide with US state abbreviations ("Pittsburgh, PA" is not Panama).
    Alpha-2 codes are case-insensitive; alpha-3 codes must be in capitals
    because lowercase three-letter values are mostly words ("mar", "can").
    """
    if not value:
        return None
    index = _country_index()
    key = _strip_leading_article(normalise(value))
    if not key:
        return None
    stripped_value = value.strip()
    country = (
        index.by_name.get(key)
        or (index.by_alpha2.get(stripped_value.upper()) if len(stripped_value) == 2 else None)
        or index.by_alpha3.get(stripped_value)
    )
    if country is not None:
        return country
    if "," in value:
        last_segment = _strip_leading_article(normalise(value.rsplit(",", 1)[1]))
        if last_segment and last_segment not in _AMBIGUOUS_LOCATION_SEGMENTS:
            return index.by_name.get(last_segment)
    return None


def country_by_alpha2(alpha2: str) -> Country | None:
    return _country_index().by_alpha2.get(alpha2.upper())


def classify_country(value: str | None) -> CountryClass:
    country = resolve_country(value)
    if country is None:
        return "unknown"
    return "developed" if country.developed else "developing"


def developed_country_flag(value: str | None) -> int | None:
    """1 for an OECD country of appendix B.1, 0 for any other listed country, None when unknown."""
    country = resolve_country(value)
    if country is None:
        return None
    return int(country.developed)


def developed_alpha2_codes() -> frozenset[str]:
    return frozenset(country.alpha2 for country in _country_index().by_alpha2.values() if country.developed)
