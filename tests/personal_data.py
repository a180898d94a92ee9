"""A scan of curated tables for personal data (docs/privacy.md): URLs, e-mail addresses, the synthetic generator's
people names and raw platform IDs. Used by the end-to-end tests on full synthetic runs."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

import pandas as pd

from synth import reference

URL = re.compile(r"(?i)\b(?:https?://|www\.)|linkedin\.com|lnkd\.in|/in/[\w%-]+")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
WORD = re.compile(r"[^\W\d_]+")


def _folded(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


def people_name_words() -> set[str]:
    """Every word of the generator's first and last names, case- and accent-folded (as in profile slugs)."""
    words = set()
    for pools in reference.people()["names"].values():
        for name in (*pools["first"], *pools["last"]):
            words.update(WORD.findall(_folded(name)))
    return words


def personal_values(tables: Mapping[str, pd.DataFrame], *, platform_ids: Iterable[str],
                    names: set[str] | None = None) -> list[str]:
    """One line per (table, column, kind) where a curated value is a URL, an e-mail address, a generator name or a
    raw platform ID, with an example value; empty when the tables are clean."""
    names = people_name_words() if names is None else names
    platform_ids = {str(value) for value in platform_ids}
    findings = []
    for table, frame in tables.items():
        for column in frame.columns:
            values = {str(value) for value in frame[column].dropna().unique()}
            kinds = {
                "url": [v for v in values if URL.search(v)],
                "e-mail": [v for v in values if EMAIL.search(v)],
                "name": [v for v in values if names & set(WORD.findall(_folded(v)))],
                "platform id": [v for v in values if v in platform_ids],
            }
            findings += [f"{table}.{column}: {kind}, e.g. {hits[0]!r} ({len(hits)} values)"
                         for kind, hits in kinds.items() if hits]
    return findings
