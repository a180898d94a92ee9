"""Loader for the per-language word tables kept as JSON data files beside this module.

One file per concern: months.json, present_words.json, labels.json, section_titles.json, page_markers.json,
grades.json.
Each maps a language code to words; keys starting with "_" are documentation. Words handed out for matching
are already folded (see parsers.textnorm.fold) and sorted longest first, so callers can match greedily.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from importlib import resources
from typing import Any

from parsers.textnorm import fold

LEXICON_FILES = (
    "months.json", "present_words.json", "labels.json", "section_titles.json", "page_markers.json", "grades.json"
)


class LexiconError(ValueError):
    """A lexicon file contradicts itself (e.g. one month word meaning two months)."""


@lru_cache(maxsize=None)
def load_table(file_name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath(file_name).read_text(encoding="utf-8")
    return {key: value for key, value in json.loads(text).items() if not key.startswith("_")}


def _longest_first(words: set[str]) -> tuple[str, ...]:
    return tuple(sorted(words, key=lambda word: (-len(word), word)))


@lru_cache(maxsize=None)
def month_numbers() -> dict[str, int]:
    """Folded month word -> month number (1-12), over all languages."""
    numbers: dict[str, int] = {}
    for language, months in load_table("months.json").items():
        for month, words in months.items():
            for word in words:
                key = fold(word)
                if numbers.setdefault(key, int(month)) != int(month):
                    raise LexiconError(f"month word {word!r} ({language}) means two different months")
    return numbers


@lru_cache(maxsize=None)
def month_word_languages() -> dict[str, frozenset[str]]:
    """Folded month word -> languages that use it (an abbreviation like 'jan' is shared)."""
    languages: dict[str, set[str]] = {}
    for language, months in load_table("months.json").items():
        for words in months.values():
            for word in words:
                languages.setdefault(fold(word), set()).add(language)
    return {word: frozenset(langs) for word, langs in languages.items()}


@lru_cache(maxsize=None)
def present_word_languages() -> dict[str, frozenset[str]]:
    """Folded 'present' phrase -> languages that use it."""
    languages: dict[str, set[str]] = {}
    for language, words in load_table("present_words.json").items():
        for word in words:
            languages.setdefault(fold(word), set()).add(language)
    return {word: frozenset(langs) for word, langs in languages.items()}


@lru_cache(maxsize=None)
def exact_word_languages() -> dict[str, frozenset[str]]:
    """Lower-cased but NOT accent-folded month and 'present' words -> languages.

    Used to guess a page's language: folding makes "présent" (fr) and "present" (en) collide.
    """
    languages: dict[str, set[str]] = {}
    for language, months in load_table("months.json").items():
        for words in months.values():
            for word in words:
                languages.setdefault(unicodedata.normalize("NFC", word).lower(), set()).add(language)
    for language, words in load_table("present_words.json").items():
        for word in words:
            languages.setdefault(unicodedata.normalize("NFC", word).lower(), set()).add(language)
    return {word: frozenset(langs) for word, langs in languages.items()}


@lru_cache(maxsize=None)
def label_languages() -> dict[str, frozenset[str]]:
    """Lower-cased but NOT accent-folded field labels and section headings -> languages that print them.

    Used, with the month words, to guess the language of a page that does not declare it.
    """
    languages: dict[str, set[str]] = {}
    tables = [*load_table("labels.json").values(), *load_table("section_titles.json").values()]
    for by_language in tables:
        for language, words in by_language.items():
            for word in words:
                languages.setdefault(unicodedata.normalize("NFC", word).lower(), set()).add(language)
    return {word: frozenset(langs) for word, langs in languages.items()}


@lru_cache(maxsize=None)
def month_words_longest_first() -> tuple[str, ...]:
    return _longest_first(set(month_numbers()))


@lru_cache(maxsize=None)
def present_words_longest_first() -> tuple[str, ...]:
    return _longest_first(set(present_word_languages()))


@lru_cache(maxsize=None)
def labels(concern: str) -> tuple[str, ...]:
    """Folded labels of one concern (credential_id, issued, expires, see_credential), all languages."""
    by_language: dict[str, list[str]] = load_table("labels.json")[concern]
    return _longest_first({fold(label) for words in by_language.values() for label in words})


@lru_cache(maxsize=None)
def section_for_title() -> dict[str, str]:
    """Folded section heading -> section key (experience, education, certifications)."""
    mapping: dict[str, str] = {}
    for section, by_language in load_table("section_titles.json").items():
        for words in by_language.values():
            for word in words:
                mapping[fold(word)] = section
    return mapping


@lru_cache(maxsize=None)
def page_markers() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(reason, lower-cased markers) for pages that are not a profile, in the order they must be checked."""
    return tuple(
        (reason, tuple(unicodedata.normalize("NFC", marker).lower()
                       for markers in by_language.values() for marker in markers))
        for reason, by_language in load_table("page_markers.json").items()
    )


_NUMERIC_SCORE = re.compile(r"^\d{1,3}(?:[.,]\d{1,2})?(?:\s*/\s*\d{1,3}(?:[.,]\d{1,2})?)?$")


@lru_cache(maxsize=None)
def _grade_pattern() -> re.Pattern[str]:
    words = _longest_first({fold(word) for words in load_table("grades.json").values() for word in words})
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(word) for word in words) + r")(?!\w)")


def looks_like_grade(text: str | None) -> bool:
    """True for an education span that states a grade ("3.6 GPA", "16/20", "Cum Laude"), not a field of study."""
    if not text:
        return False
    folded = fold(text).strip()
    return bool(_NUMERIC_SCORE.match(folded) or _grade_pattern().search(folded))
