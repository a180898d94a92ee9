"""Highest degree level named in a degree title (paper appendix B.4, 'Level of Education')."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from credsignal.reference.data_files import load_json
from credsignal.reference._keywords import KeywordMatcher

DegreeLevel = Literal["doctor", "master", "bachelor", "none"]

DEGREE_DICTIONARY_FILE = "degree_keywords.json"
# Highest first: a title naming several levels ("BS/MS", "PhD candidate; MSc") gets the highest.
DEGREE_LEVELS_HIGHEST_FIRST: tuple[DegreeLevel, ...] = ("doctor", "master", "bachelor")


@lru_cache(maxsize=None)
def degree_matchers() -> tuple[tuple[DegreeLevel, KeywordMatcher], ...]:
    config = load_json(DEGREE_DICTIONARY_FILE)
    shared_not_misspellings = config.get("not_misspellings", [])
    return tuple(
        (
            level,
            KeywordMatcher.from_config(
                f"{DEGREE_DICTIONARY_FILE}:{level}",
                {**config["levels"][level], "not_misspellings": shared_not_misspellings},
            ),
        )
        for level in DEGREE_LEVELS_HIGHEST_FIRST
    )


@lru_cache(maxsize=100_000)
def degree_level(text: str | None) -> DegreeLevel:
    if not text or not text.strip():
        return "none"
    for level, matcher in degree_matchers():
        if matcher.matches(text):
            return level
    return "none"


def has_degree(text: str | None) -> bool:
    """The paper's 'Degree' feature: true when any level is recognised."""
    return degree_level(text) != "none"
