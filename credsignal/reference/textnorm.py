"""The pipeline's one text normaliser: word lists and inputs go through the same functions, so a word written
with accents in a data file ("ingénieur") matches an input typed without them ("Ingenieur") and vice versa.

One core, :func:`strip_accents` then case folding, and two forms on top of it, because the two kinds of matching
need different things:

* :func:`normalise` (:func:`tokenise`, :func:`raw_tokens`): the word-level key of the reference dictionaries and
  of employer and certificate names. Punctuation becomes a word break, dotted abbreviations collapse into one word
  and Arabic spelling variants and the article are folded away.
* :func:`fold` (:func:`fold_with_offsets`): the character-level form the parsers find lexicon words with inside
  running page text. Punctuation is kept and each folded character maps back to the original one, so a label
  found in the folded text can be cut from the original; Eastern Arabic digits become ASCII, typographic
  apostrophes and dashes are unified and invisible marks are dropped, so one lexicon entry covers "fév."/"fev.",
  "aujourd’hui"/"aujourd'hui" and "معرّف"/"معرف".
* :func:`lower_keeping_accents`: only composed and lower-cased, for the parsers' guess of a page's language, where
  the accents are the evidence.

Lives in ``credsignal.reference`` beside the word lists, so every layer above it can import it (the parsers, the
feature job, the generator) and the classifiers never have to import a parser.
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

_DIGIT_MAP = str.maketrans(
    "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹",
    "01234567890123456789",
)
_CHAR_MAP = str.maketrans({
    "’": "'", "‘": "'", "ʼ": "'", "`": "'",
    "–": "-", "—": "-", "‒": "-", "―": "-", "−": "-",
    "ـ": None,  # Arabic tatweel only stretches a word; it carries no meaning
    "\u200e": None, "\u200f": None, "\u200b": None, "\u200c": None, "\u200d": None, "\ufeff": None,
})


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


def _fold_char(char: str) -> str:
    if char.isascii():
        return char.lower()
    return strip_accents(char.translate(_CHAR_MAP).translate(_DIGIT_MAP)).casefold()


def fold(text: str) -> str:
    """Matching form of ``text`` inside running text (see the module docstring); length may differ from the input."""
    if text.isascii():
        return text.lower()
    return "".join(_fold_char(c) for c in text)


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """Folded text plus, for every folded character, the index of the original character it came from."""
    folded_chars: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(text):
        folded = _fold_char(char)
        folded_chars.append(folded)
        offsets.extend([index] * len(folded))
    return "".join(folded_chars), offsets


def lower_keeping_accents(text: str) -> str:
    """Composed (NFC) and lower-cased, accents kept: "présent" (French) stays apart from "present" (English)."""
    return unicodedata.normalize("NFC", text).lower()


def collapse_whitespace(text: str | None) -> str:
    """Runs of any Unicode whitespace (incl. NBSP) become one space; ends are stripped."""
    if not text:
        return ""
    return " ".join(text.split())
