"""A builder of random, valid true profiles (the shape synth/platform.py writes to _truth/profiles.jsonl.gz), so
the page renderer can be tested before and independently of the platform generator."""

from __future__ import annotations

import gzip
import json
import random
import string
from pathlib import Path
from typing import Any, Callable

import pytest

LANGUAGES = ("en", "pt", "es", "fr", "ar")
TITLES = {
    "en": ["Data Analyst", "Software Engineer", "Project Manager", "Customer Support Specialist", "Sales & Marketing Lead"],
    "pt": ["Analista de Dados", "Engenheiro de Software", "Gerente de Projetos", "Assistente Administrativo"],
    "es": ["Analista de Datos", "Ingeniera de Software", "Jefe de Proyectos", "Asistente Administrativo"],
    "fr": ["Analyste de données", "Ingénieur logiciel", "Chef de projet", "Assistante administrative"],
    "ar": ["محلل بيانات", "مهندس برمجيات", "مدير مشروع", "مساعد إداري"],
}
COMPANIES = ["Acme Corp", "Banco Azul", "Globex <Digital>", "O'Reilly & Sons", "Société Générale Tech", "شركة النور",
             "Tata Consultancy Services", "Nubank"]
LOCATIONS = ["Lagos, Nigeria", "São Paulo, Brasil", "Bogotá, Colombia", "Paris, France", "القاهرة، مصر", None]
SCHOOLS = ["University of Lagos", "Universidade de São Paulo", "Universidad Nacional de Colombia", "Université Paris Cité",
           "جامعة القاهرة", "IIT Bombay"]
DEGREES = ["Bachelor of Science - BS", "Bacharelado", "Licenciatura", "Master", "بكالوريوس", None]
FIELDS = ["Computer Science", "Economia", "Ingeniería Industrial", "Gestion", "إدارة الأعمال", None]
CERT_NAMES = ["Google Data Analytics", "IBM Data Science", "Google IT Support", "Machine Learning",
              "Gestão de Projetos do Google", "Análisis de datos de Google"]
ISSUERS = ["Coursera", "Google", "IBM", "DeepLearning.AI", None]
FAULTS = [None] * 16 + ["authwall", "empty", "truncated", "not_found"]


def _month(rng: random.Random, year: int, year_only_share: float = 0.1) -> str:
    return str(year) if rng.random() < year_only_share else f"{year}-{rng.randint(1, 12):02d}"


def _code(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(12))


def build_profile(rng: random.Random, index: int, language: str | None = None,
                  page_fault: str | None | bool = False) -> dict[str, Any]:
    """One random profile. ``page_fault=False`` draws a fault at random (mostly none)."""
    language = language or rng.choice(LANGUAGES)
    positions = []
    year = 2023
    for position_index in range(rng.choice([0, 1, 1, 2, 3, 3, 4, 6])):
        start_year = year - rng.randint(0, 3)
        is_current = position_index == 0 and rng.random() < 0.7
        start = _month(rng, start_year)
        end = None if is_current else (_month(rng, year) if rng.random() < 0.95 else None)
        if rng.random() < 0.03:
            start = None
        same_company = positions and rng.random() < 0.3
        positions.append({
            "title": rng.choice(TITLES[language]) if rng.random() < 0.98 else None,
            "company": positions[-1]["company"] if same_company else (rng.choice(COMPANIES) if rng.random() < 0.97 else None),
            "location": rng.choice(LOCATIONS),
            "start": start, "end": end, "is_current": is_current,
        })
        year = start_year - rng.randint(0, 1)
    education = []
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        start_year = rng.randint(2005, 2019)
        education.append({
            "school": rng.choice(SCHOOLS),
            "degree": rng.choice(DEGREES),
            "field": rng.choice(FIELDS),
            "start_year": start_year if rng.random() < 0.9 else None,
            "end_year": start_year + rng.randint(1, 5) if rng.random() < 0.85 else None,
        })
    certifications = []
    for _ in range(rng.choice([0, 0, 1, 2, 3, 5])):
        code = _code(rng)
        url_kind = rng.random()
        if url_kind < 0.6:
            url = f"https://www.coursera.org/account/accomplishments/certificate/{code}"
        elif url_kind < 0.8:
            url = f"https://coursera.org/verify/professional-cert/{code}?utm_source=link&utm_medium=certificate"
        elif url_kind < 0.9:
            url = f"https://www.credly.com/badges/{rng.randrange(16 ** 8):08x}-1370-4932-90b6-{rng.randrange(16 ** 12):012x}/public_url"
        else:
            url = None
        issued_year = rng.randint(2018, 2023)
        certifications.append({
            "name": rng.choice(CERT_NAMES),
            "issuer": rng.choice(ISSUERS),
            "issued": _month(rng, issued_year, 0.05) if rng.random() < 0.95 else None,
            "expires": _month(rng, issued_year + 3, 0) if rng.random() < 0.15 else None,
            "credential_id": code if (url is None or rng.random() < 0.6) else None,
            "credential_url": url,
        })
    fault = rng.choice(FAULTS) if page_fault is False else page_fault
    return {
        "learner_id": f"L{index:06d}",
        "profile_url": f"https://www.linkedin.com/in/learner-{index}-{rng.randrange(16 ** 6):06x}",
        "language": language,
        "page_fault": fault,
        "positions": positions,
        "education": education,
        "certifications": certifications,
    }


def build_profiles(count: int, seed: int = 0, *, page_fault: str | None | bool = False,
                   language: str | None = None) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [build_profile(rng, index, language or LANGUAGES[index % len(LANGUAGES)], page_fault)
            for index in range(count)]


@pytest.fixture
def make_profiles() -> Callable[..., list[dict[str, Any]]]:
    return build_profiles


@pytest.fixture
def write_truth() -> Callable[[Path, list[dict[str, Any]]], Path]:
    def write(landing: Path, profiles: list[dict[str, Any]]) -> Path:
        path = landing / "_truth" / "profiles.jsonl.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            for profile in profiles:
                handle.write(json.dumps(profile, ensure_ascii=False) + "\n")
        return path
    return write
