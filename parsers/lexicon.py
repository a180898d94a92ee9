"""The parsers' view of the per-language word tables of LinkedIn pages.

The tables are data files in ``credsignal/reference/data`` (read through its one loader), one file per concern:
month_names.json, present_words.json, certification_labels.json, profile_section_titles.json,
non_profile_page_markers.json, grade_words.json.
Each maps a language code to words; keys starting with "_" are documentation. Words handed out for matching
are already folded (see credsignal.reference.textnorm.fold) and sorted longest first, so callers can match greedily.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable, Iterable

from credsignal.reference.data_files import load_json
from credsignal.reference.textnorm import fold, lower_keeping_accents

MONTHS_FILE = "month_names.json"
PRESENT_WORDS_FILE = "present_words.json"
LABELS_FILE = "certification_labels.json"
SECTION_TITLES_FILE = "profile_section_titles.json"
PAGE_MARKERS_FILE = "non_profile_page_markers.json"
GRADES_FILE = "grade_words.json"
LEXICON_FILES = (MONTHS_FILE, PRESENT_WORDS_FILE, LABELS_FILE, SECTION_TITLES_FILE, PAGE_MARKERS_FILE, GRADES_FILE)


class LexiconError(ValueError):
    """A lexicon file contradicts itself (e.g. one month word meaning two months)."""


@lru_cache(maxsize=None)
def load_table(file_name: str) -> dict[str, Any]:
    return {key: value for key, value in load_json(file_name).items() if not key.startswith("_")}


def _longest_first(words: set[str]) -> tuple[str, ...]:
    return tuple(sorted(words, key=lambda word: (-len(word), word)))


@lru_cache(maxsize=None)
def month_numbers() -> dict[str, int]:
    """Folded month word -> month number (1-12), over all languages."""
    numbers: dict[str, int] = {}
    for language, months in load_table(MONTHS_FILE).items():
        for month, words in months.items():
            for word in words:
                key = fold(word)
                if numbers.setdefault(key, int(month)) != int(month):
                    raise LexiconError(f"month word {word!r} ({language}) means two different months")
    return numbers


def _languages_by_word(words: Iterable[tuple[str, str]], form: Callable[[str], str]) -> dict[str, frozenset[str]]:
    """``form`` of each word -> the languages that use it, from (language, word) pairs."""
    languages: dict[str, set[str]] = {}
    for language, word in words:
        languages.setdefault(form(word), set()).add(language)
    return {word: frozenset(langs) for word, langs in languages.items()}


def _month_words() -> list[tuple[str, str]]:
    return [(language, word) for language, months in load_table(MONTHS_FILE).items()
            for words in months.values() for word in words]


def _present_words() -> list[tuple[str, str]]:
    return [(language, word) for language, words in load_table(PRESENT_WORDS_FILE).items() for word in words]


@lru_cache(maxsize=None)
def month_word_languages() -> dict[str, frozenset[str]]:
    """Folded month word -> languages that use it (an abbreviation like 'jan' is shared)."""
    return _languages_by_word(_month_words(), fold)


@lru_cache(maxsize=None)
def present_word_languages() -> dict[str, frozenset[str]]:
    """Folded 'present' phrase -> languages that use it."""
    return _languages_by_word(_present_words(), fold)


@lru_cache(maxsize=None)
def exact_word_languages() -> dict[str, frozenset[str]]:
    """Lower-cased but NOT accent-folded month and 'present' words -> languages.

    Used to guess a page's language: folding makes "présent" (fr) and "present" (en) collide.
    """
    return _languages_by_word([*_month_words(), *_present_words()], lower_keeping_accents)


@lru_cache(maxsize=None)
def label_languages() -> dict[str, frozenset[str]]:
    """Lower-cased but NOT accent-folded field labels and section headings -> languages that print them.

    Used, with the month words, to guess the language of a page that does not declare it.
    """
    tables = [*load_table(LABELS_FILE).values(), *load_table(SECTION_TITLES_FILE).values()]
    words = [(language, word) for by_language in tables for language, words in by_language.items() for word in words]
    return _languages_by_word(words, lower_keeping_accents)


@lru_cache(maxsize=None)
def month_words_longest_first() -> tuple[str, ...]:
    return _longest_first(set(month_numbers()))


@lru_cache(maxsize=None)
def present_words_longest_first() -> tuple[str, ...]:
    return _longest_first(set(present_word_languages()))


@lru_cache(maxsize=None)
def labels(concern: str) -> tuple[str, ...]:
    """Folded labels of one concern (credential_id, issued, expires, see_credential), all languages."""
    by_language: dict[str, list[str]] = load_table(LABELS_FILE)[concern]
    return _longest_first({fold(label) for words in by_language.values() for label in words})


@lru_cache(maxsize=None)
def section_for_title() -> dict[str, str]:
    """Folded section heading -> section key (experience, education, certifications)."""
    mapping: dict[str, str] = {}
    for section, by_language in load_table(SECTION_TITLES_FILE).items():
        for words in by_language.values():
            for word in words:
                mapping[fold(word)] = section
    return mapping


@lru_cache(maxsize=None)
def page_markers() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(reason, lower-cased markers) for pages that are not a profile, in the order they must be checked."""
    return tuple(
        (reason, tuple(lower_keeping_accents(marker) for markers in by_language.values() for marker in markers))
        for reason, by_language in load_table(PAGE_MARKERS_FILE).items()
    )


_NUMERIC_SCORE = re.compile(r"^\d{1,3}(?:[.,]\d{1,2})?(?:\s*/\s*\d{1,3}(?:[.,]\d{1,2})?)?$")


@lru_cache(maxsize=None)
def _grade_pattern() -> re.Pattern[str]:
    words = _longest_first({fold(word) for words in load_table(GRADES_FILE).values() for word in words})
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(word) for word in words) + r")(?!\w)")


def looks_like_grade(text: str | None) -> bool:
    """True for an education span that states a grade ("3.6 GPA", "16/20", "Cum Laude"), not a field of study."""
    if not text:
        return False
    folded = fold(text).strip()
    return bool(_NUMERIC_SCORE.match(folded) or _grade_pattern().search(folded))
