"""Text normalisation shared by every reference classifier.

All dictionaries and all inputs go through the same functions, so a keyword
written with accents in a data file ("ingénieur") matches an input typed
without them ("Ingenieur") and vice versa.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Dotted abbreviations collapse into one token ("U.S.A." -> "usa", "Ph.D." ->
# "phd", "M.Sc" -> "msc") while a period glued between two ordinary words
# ("Sr.Developer") still separates them.
_DOTTED_ABBREVIATION = re.compile(r"\b(?:[^\W\d_]{1,3}\.)+[^\W\d_]{0,4}(?!\w)")
_NON_WORD = re.compile(r"[^\w]+|_")
_ARABIC_LETTER = re.compile(r"[\u0600-\u06ff]")
# Alef/yeh/teh-marbuta spellings vary freely in user-typed Arabic.
_ARABIC_FOLDING = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ـ": ""})
# The definite article and its common proclitic combinations are glued to the
# noun ("البيانات" = "the data"); strip them so the bare noun can match.
_ARABIC_ARTICLE = re.compile(r"^(?:وال|بال|فال|كال|ال|لل)(?=\w{2,})")


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _collapse_abbreviations(text: str) -> str:
    return _DOTTED_ABBREVIATION.sub(lambda match: match.group(0).replace(".", ""), text)


def _normalise_arabic_token(token: str) -> str:
    if not _ARABIC_LETTER.search(token):
        return token
    return _ARABIC_ARTICLE.sub("", token.translate(_ARABIC_FOLDING))


@lru_cache(maxsize=200_000)
def normalise(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form: lowercase ASCII-ish words separated by one space."""
    folded = strip_accents(text).casefold()
    folded = _collapse_abbreviations(folded)
    tokens = (_normalise_arabic_token(token) for token in _NON_WORD.split(folded) if token)
    return " ".join(token for token in tokens if token)


def tokenise(text: str) -> tuple[str, ...]:
    normalised = normalise(text)
    return tuple(normalised.split(" ")) if normalised else ()


def raw_tokens(text: str) -> tuple[str, ...]:
    """Tokens with their original case kept (accents stripped), aligned with :func:`tokenise`."""
    folded = _collapse_abbreviations(strip_accents(text))
    return tuple(token for token in _NON_WORD.split(folded) if token and _normalise_arabic_token(token.casefold()))
