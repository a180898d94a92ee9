"""Loaders for the generator's domain data (synth/data/*.json) and the CWUR university list."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from credsignal.reference.universities import default_cwur_path

DATA_DIR = Path(__file__).resolve().parent / "data"


@cache
def load_json(name: str) -> dict[str, Any]:
    with open(DATA_DIR / name, encoding="utf-8") as handle:
        return json.load(handle)


@dataclass(frozen=True)
class Country:
    name: str
    iso2: str
    developing: bool
    language: str
    weight: float
    subdomain: str
    cities: tuple[str, ...]
    utc_offset: str


@dataclass(frozen=True)
class Course:
    course_id: str
    name: str
    domain: str
    credential_type: str


def countries() -> list[Country]:
    return [
        Country(
            name=c["name"],
            iso2=c["iso2"],
            developing=c["developing"],
            language=c["language"],
            weight=c["weight"],
            subdomain=c["subdomain"],
            cities=tuple(c["cities"]),
            utc_offset=c["utc_offset"],
        )
        for c in load_json("countries.json")["countries"]
    ]


def courses() -> list[Course]:
    return [
        Course(c["course_id"], c["name"], c["domain"], c["type"]) for c in load_json("courses.json")["courses"]
    ]


def skills_by_domain() -> dict[str, list[str]]:
    return load_json("courses.json")["skills"]


def other_certifications() -> list[dict[str, str]]:
    return load_json("courses.json")["other_certifications"]


def job_titles() -> dict[str, Any]:
    return load_json("job_titles.json")


def people() -> dict[str, Any]:
    return load_json("people.json")


def education() -> dict[str, Any]:
    return load_json("education.json")


def ranked_schools(cwur_path: Path | None) -> dict[str, list[str]]:
    """Ranked universities per country (our English country name), from the CWUR rankings file.

    Falls back to a small built-in list under the key "*" when the file is absent, so the generator runs anywhere.
    """
    path = cwur_path if cwur_path is not None else default_cwur_path()
    fallback = {"*": list(education()["generic_ranked_fallback"])}
    if not path.exists():
        return fallback
    name_map: dict[str, str] = load_json("countries.json")["cwur_country_names"]
    schools: dict[str, set[str]] = {}
    with open(path, encoding="utf-8", newline="") as handle:
        for record in csv.DictReader(handle):
            country = name_map.get(record.get("country", ""))
            if country and record.get("institution"):
                schools.setdefault(country, set()).add(record["institution"])
    result = {country: sorted(names) for country, names in sorted(schools.items())}
    result["*"] = sorted({name for names in result.values() for name in names}) or fallback["*"]
    return result
