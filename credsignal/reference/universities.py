"""National university ranking of a school name (paper appendix B.4), from the CWUR table.

The CWUR file is the Kaggle "World University Rankings" table used by the
paper. It is read from a configurable location and never copied into the
repository: an explicit path, else ``$CREDSIGNAL_CWUR_PATH``, else
``<repository root>/../shared/reference/cwurData.csv``.

Names are normalised identically on both sides (accents, punctuation,
stopwords, local-language generic words such as "Universidade" -> "university",
see ``data/university_names.json``) and compared with rapidfuzz's
``token_sort_ratio``; matches under :data:`DEFAULT_SCORE_CUTOFF`, or whose
distinctive (non-generic) words differ, are rejected.
"""

from __future__ import annotations

import csv
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, NamedTuple

from rapidfuzz import fuzz, process

from credsignal.core.config import CWUR_PATH_ENV_VAR, default_cwur_path
from credsignal.reference.data_files import load_json
from credsignal.reference.textnorm import normalise
from credsignal.reference.countries import resolve_country

UNIVERSITY_NAMES_FILE = "university_names.json"
# token_sort_ratio of 92 allows a typo or a dropped short word in a long name
# but rejects "University of Mexico" vs "University of New Mexico" (~89).
DEFAULT_SCORE_CUTOFF = 92.0
# The words that name the place or person ("Bern", "Bergen") must agree on
# their own; otherwise the shared "University of" carries near-misses over
# the overall cutoff.
DISTINCTIVE_WORDS_CUTOFF = 88.0
_GENERIC_WORD_TYPO_CUTOFF = 85.0
_CANDIDATES_CHECKED = 5

_PARENTHESISED = re.compile(r"\([^)]*\)")
_MAX_CACHED_MATCHES = 200_000


class RankMatch(NamedTuple):
    institution: str
    country: str
    national_rank: int
    score: float  # rapidfuzz 0-100 similarity of the normalised names: the 'university_match_score' feature


class CwurRow(NamedTuple):
    institution: str
    country: str
    country_alpha2: str | None
    national_rank: int
    world_rank: int
    year: int
    match_key: str


class _NameRules(NamedTuple):
    translations: dict[str, str]
    stopwords: frozenset[str]
    aliases: dict[str, str]
    generic_words: tuple[str, ...]


@lru_cache(maxsize=1)
def _name_rules() -> _NameRules:
    config: dict[str, Any] = load_json(UNIVERSITY_NAMES_FILE)
    return _NameRules(
        translations={normalise(word): normalise(replacement) for word, replacement in config["word_translations"].items()},
        stopwords=frozenset(normalise(word) for word in config["stopwords"]),
        aliases={normalise(alias): institution for alias, institution in config["aliases"].items()},
        generic_words=tuple(sorted(normalise(word) for word in config["generic_words"])),
    )


@lru_cache(maxsize=100_000)
def _is_generic_word(token: str) -> bool:
    generic_words = _name_rules().generic_words
    if token in generic_words:
        return True
    # "Univeristy", "Institue": typos of generic words must not count as distinctive.
    return len(token) >= 6 and process.extractOne(
        token, generic_words, scorer=fuzz.ratio, score_cutoff=_GENERIC_WORD_TYPO_CUTOFF
    ) is not None


def distinctive_words(match_key: str) -> str:
    return " ".join(sorted(token for token in match_key.split() if not _is_generic_word(token)))


@lru_cache(maxsize=200_000)
def university_match_key(name: str) -> str:
    """Normalised comparison form of an institution name (same function for CWUR and profile names)."""
    rules = _name_rules()
    tokens: list[str] = []
    for token in normalise(_PARENTHESISED.sub(" ", name)).split():
        tokens.extend(rules.translations.get(token, token).split())
    return " ".join(token for token in tokens if token not in rules.stopwords)


def read_latest_cwur_rows(cwur_path: str | os.PathLike[str]) -> list[CwurRow]:
    """One row per institution: its most recent year in the table."""
    latest: dict[str, CwurRow] = {}
    with open(cwur_path, newline="", encoding="utf-8") as cwur_file:
        for record in csv.DictReader(cwur_file):
            institution = record["institution"].strip()
            year = int(record["year"])
            if institution in latest and latest[institution].year >= year:
                continue
            country = resolve_country(record["country"])
            latest[institution] = CwurRow(
                institution=institution,
                country=record["country"].strip(),
                country_alpha2=country.alpha2 if country else None,
                national_rank=int(record["national_rank"]),
                world_rank=int(record["world_rank"]),
                year=year,
                match_key=university_match_key(institution),
            )
    return list(latest.values())


class UniversityRanker:
    """Matches profile school names to CWUR institutions; build once per process (see :func:`default_ranker`)."""

    def __init__(self, cwur_path: str | os.PathLike[str] | None = None, score_cutoff: float = DEFAULT_SCORE_CUTOFF) -> None:
        self.cwur_path = Path(cwur_path) if cwur_path is not None else default_cwur_path()
        if not self.cwur_path.is_file():
            raise FileNotFoundError(
                f"CWUR ranking table not found at {self.cwur_path}; pass its path or set {CWUR_PATH_ENV_VAR}"
            )
        self.score_cutoff = score_cutoff
        self._rows = read_latest_cwur_rows(self.cwur_path)
        self._rows_by_institution = {row.institution: row for row in self._rows}
        self._keys_by_country: dict[str | None, list[str]] = {None: [row.match_key for row in self._rows]}
        self._rows_by_country_key: dict[tuple[str | None, str], CwurRow] = {}
        # Same normalised name in two countries ("Northeastern University", USA
        # and China): only a known country can tell them apart.
        self._keys_ambiguous_without_country: set[str] = set()
        for row in self._rows:
            self._keys_by_country.setdefault(row.country_alpha2, []).append(row.match_key)
            self._rows_by_country_key[(row.country_alpha2, row.match_key)] = row
            if (None, row.match_key) in self._rows_by_country_key:
                self._keys_ambiguous_without_country.add(row.match_key)
            self._rows_by_country_key.setdefault((None, row.match_key), row)
        self._cache: dict[tuple[str, str | None], RankMatch | None] = {}

    def iter_rows(self) -> Iterator[CwurRow]:
        """The deduplicated (latest-year) table, e.g. to build a Spark broadcast or DataFrame."""
        return iter(self._rows)

    def to_records(self) -> list[dict[str, Any]]:
        return [row._asdict() for row in self._rows]

    def match(self, school: str | None, country: str | None = None) -> RankMatch | None:
        """Best CWUR institution for ``school``, or None when nothing reaches the cutoff.

        A recognised ``country`` restricts candidates to that country (so a
        school in a country absent from CWUR never matches); an unrecognised
        country string is ignored rather than guessed.
        """
        if not school or not school.strip():
            return None
        resolved_country = resolve_country(country)
        country_code = resolved_country.alpha2 if resolved_country else None
        cache_key = (school, country_code)
        if cache_key not in self._cache:
            if len(self._cache) >= _MAX_CACHED_MATCHES:
                self._cache.clear()
            self._cache[cache_key] = self._match_uncached(school, country_code, country_filter=resolved_country is not None)
        return self._cache[cache_key]

    def _match_uncached(self, school: str, country_code: str | None, country_filter: bool) -> RankMatch | None:
        alias_target = _name_rules().aliases.get(normalise(school))
        if alias_target is not None and alias_target in self._rows_by_institution:
            row = self._rows_by_institution[alias_target]
            if not country_filter or row.country_alpha2 == country_code:
                return self._as_match(row, 100.0)
            return None

        query = university_match_key(school)
        if not query:
            return None
        candidates_country = country_code if country_filter else None
        candidates = self._keys_by_country.get(candidates_country, [])
        query_distinctive = distinctive_words(query)
        for matched_key, score, _ in process.extract(
            query, candidates, scorer=fuzz.token_sort_ratio, score_cutoff=self.score_cutoff, limit=_CANDIDATES_CHECKED
        ):
            if candidates_country is None and matched_key in self._keys_ambiguous_without_country:
                return None
            distinctive_score = fuzz.ratio(query_distinctive, distinctive_words(matched_key))
            if distinctive_score >= DISTINCTIVE_WORDS_CUTOFF:
                return self._as_match(self._rows_by_country_key[(candidates_country, matched_key)], float(score))
        return None

    @staticmethod
    def _as_match(row: CwurRow, score: float) -> RankMatch:
        return RankMatch(institution=row.institution, country=row.country, national_rank=row.national_rank, score=round(score, 2))


@lru_cache(maxsize=4)
def default_ranker(cwur_path: str | None = None) -> UniversityRanker:
    """Process-wide ranker (one per Spark executor when called inside a UDF)."""
    return UniversityRanker(cwur_path)


def university_national_rank(school: str | None, country: str | None = None, cwur_path: str | None = None) -> int | None:
    match = default_ranker(cwur_path).match(school, country)
    return match.national_rank if match else None
