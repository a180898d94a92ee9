"""Word-level keyword matching shared by the job-title and degree dictionaries.

A dictionary file maps languages to keyword phrases. Inputs and phrases are
normalised the same way (see ``textnorm``) and compared token by token, so a
keyword never matches inside a longer word ("ma" does not match "Mathematics",
"bs" does not match "Jobs"). Misspellings are tolerated only for long tokens
and only against this dictionary's own vocabulary, at a conservative
rapidfuzz ratio.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from rapidfuzz import fuzz, process

from credsignal.reference.textnorm import normalise, raw_tokens, tokenise

FUZZY_MIN_TOKEN_LENGTH = 6
FUZZY_MIN_RATIO = 90.0
_MAX_CACHED_CORRECTIONS = 200_000


@dataclass(frozen=True)
class _Phrase:
    tokens: tuple[str, ...]
    # Short keywords that are also ordinary words ("IT", "BE") count only when
    # written in capitals, as abbreviations are on profiles.
    requires_uppercase: bool = False


@dataclass(frozen=True)
class KeywordMatcher:
    name: str
    phrases_by_first_token: dict[str, tuple[_Phrase, ...]]
    exclusions_by_first_token: dict[str, tuple[tuple[str, ...], ...]]
    fuzzy_vocabulary: tuple[str, ...]
    not_misspellings: frozenset[str]
    _exact_vocabulary: frozenset[str] = field(default=frozenset())
    _corrections: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_config(cls, name: str, config: dict[str, Any]) -> "KeywordMatcher":
        phrases: list[_Phrase] = []
        for keyword in _flatten_languages(config.get("keywords", {})):
            phrases.append(_Phrase(tokenise(keyword)))
        for keyword in _flatten_languages(config.get("uppercase_keywords", {})):
            phrases.append(_Phrase(tokenise(keyword), requires_uppercase=True))
        exclusions = [tokenise(phrase) for phrase in _flatten_languages(config.get("exclusions", {}))]

        phrases_by_first_token: dict[str, list[_Phrase]] = {}
        for phrase in phrases:
            if phrase.tokens:
                phrases_by_first_token.setdefault(phrase.tokens[0], []).append(phrase)
        exclusions_by_first_token: dict[str, list[tuple[str, ...]]] = {}
        for exclusion in exclusions:
            if exclusion:
                exclusions_by_first_token.setdefault(exclusion[0], []).append(exclusion)

        vocabulary = {token for phrase in phrases if not phrase.requires_uppercase for token in phrase.tokens}
        fuzzy_vocabulary = tuple(sorted(token for token in vocabulary if len(token) >= FUZZY_MIN_TOKEN_LENGTH - 1))
        return cls(
            name=name,
            phrases_by_first_token={
                token: tuple(sorted(group, key=lambda phrase: -len(phrase.tokens)))
                for token, group in phrases_by_first_token.items()
            },
            exclusions_by_first_token={token: tuple(group) for token, group in exclusions_by_first_token.items()},
            fuzzy_vocabulary=fuzzy_vocabulary,
            not_misspellings=frozenset(normalise(word) for word in config.get("not_misspellings", [])),
            _exact_vocabulary=frozenset(vocabulary),
        )

    def matches(self, text: str | None) -> bool:
        if not text:
            return False
        tokens, capitalised = self._prepare(text)
        return next(iter(self._iter_matches(tokens, capitalised)), None) is not None

    def matched_phrases(self, text: str | None) -> list[str]:
        """The keyword phrases found in ``text`` (after misspelling correction); for audits and debugging."""
        if not text:
            return []
        tokens, capitalised = self._prepare(text)
        return [" ".join(phrase.tokens) for _, phrase in self._iter_matches(tokens, capitalised)]

    def _prepare(self, text: str) -> tuple[tuple[str, ...], tuple[bool, ...]]:
        tokens = tokenise(text)
        originals = raw_tokens(text)
        if len(originals) != len(tokens):  # defensive: alignment only matters for uppercase-only keywords
            originals = tokens
        capitalised = tuple(original.isupper() for original in originals)
        return tuple(self._correct(token) for token in tokens), capitalised

    def _correct(self, token: str) -> str:
        if (
            len(token) < FUZZY_MIN_TOKEN_LENGTH
            or token in self._exact_vocabulary
            or token in self.not_misspellings
            or not token.isalpha()
        ):
            return token
        corrected = self._corrections.get(token)
        if corrected is None:
            if len(self._corrections) >= _MAX_CACHED_CORRECTIONS:
                self._corrections.clear()
            best = process.extractOne(token, self.fuzzy_vocabulary, scorer=fuzz.ratio, score_cutoff=FUZZY_MIN_RATIO)
            corrected = best[0] if best else token
            self._corrections[token] = corrected
        return corrected

    def _iter_matches(self, tokens: tuple[str, ...], capitalised: tuple[bool, ...]) -> Iterable[tuple[int, _Phrase]]:
        blocked = self._excluded_positions(tokens)
        for start, token in enumerate(tokens):
            for phrase in self.phrases_by_first_token.get(token, ()):
                end = start + len(phrase.tokens)
                if tokens[start:end] != phrase.tokens or any(position in blocked for position in range(start, end)):
                    continue
                if phrase.requires_uppercase and not all(capitalised[start:end]):
                    continue
                yield start, phrase
                break

    def _excluded_positions(self, tokens: tuple[str, ...]) -> set[int]:
        blocked: set[int] = set()
        for start, token in enumerate(tokens):
            for exclusion in self.exclusions_by_first_token.get(token, ()):
                if tokens[start : start + len(exclusion)] == exclusion:
                    blocked.update(range(start, start + len(exclusion)))
        return blocked


def _flatten_languages(by_language: dict[str, list[str]]) -> list[str]:
    return [keyword for keywords in by_language.values() for keyword in keywords]
