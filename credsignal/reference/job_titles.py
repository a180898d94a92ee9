"""Job-title classification for 'New Job in Scope' (paper section 3.4.3) and internships (appendix B.4).

Each concern has its own versioned dictionary (``data/job_titles_*.json``,
keyed by language); every dictionary is applied to every title because the
profile language is not reliable per position. Matching rules and the
decisions behind borderline keywords are documented in docs/dictionaries.md.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from credsignal.reference.data_files import load_json
from credsignal.reference._keywords import KeywordMatcher

TECH_DICTIONARY_FILE = "job_titles_tech.json"
MANAGERIAL_DICTIONARY_FILE = "job_titles_managerial.json"
INTERNSHIP_DICTIONARY_FILE = "job_titles_internship.json"


class TitleClass(NamedTuple):
    tech: bool
    managerial: bool
    internship: bool
    in_scope: bool  # tech or managerial: the paper's 'New Job in Scope' criterion


NO_TITLE = TitleClass(tech=False, managerial=False, internship=False, in_scope=False)


@lru_cache(maxsize=None)
def title_matcher(dictionary_file: str) -> KeywordMatcher:
    return KeywordMatcher.from_config(dictionary_file, load_json(dictionary_file))


@lru_cache(maxsize=100_000)
def classify_title(title: str | None) -> TitleClass:
    if not title or not title.strip():
        return NO_TITLE
    tech = title_matcher(TECH_DICTIONARY_FILE).matches(title)
    managerial = title_matcher(MANAGERIAL_DICTIONARY_FILE).matches(title)
    internship = title_matcher(INTERNSHIP_DICTIONARY_FILE).matches(title)
    return TitleClass(tech=tech, managerial=managerial, internship=internship, in_scope=tech or managerial)


def is_tech_title(title: str | None) -> bool:
    return classify_title(title).tech


def is_managerial_title(title: str | None) -> bool:
    return classify_title(title).managerial


def is_internship_title(title: str | None) -> bool:
    return classify_title(title).internship


def is_in_scope_title(title: str | None) -> bool:
    return classify_title(title).in_scope
