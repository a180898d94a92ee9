"""Text normalisation shared by the lexicon loader and the parsers.

Matching is done on a "folded" form (accents and Arabic diacritics removed, case-folded, Eastern Arabic digits
mapped to ASCII, typographic apostrophes unified) so that one lexicon entry covers "fév."/"fev.",
"aujourd’hui"/"aujourd'hui" and "معرّف"/"معرف".
"""

from __future__ import annotations

import unicodedata

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


def _fold_char(char: str) -> str:
    if char.isascii():
        return char.lower()
    decomposed = unicodedata.normalize("NFKD", char.translate(_CHAR_MAP).translate(_DIGIT_MAP))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def fold(text: str) -> str:
    """Matching form of ``text`` (see the module docstring); length may differ from the input."""
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


def collapse_whitespace(text: str | None) -> str:
    """Runs of any Unicode whitespace (incl. NBSP) become one space; ends are stripped."""
    if not text:
        return ""
    return " ".join(text.split())


def strip_leading_label(text: str, folded_labels: list[str]) -> tuple[bool, str]:
    """Remove the first label (already folded, longest first) that ``text`` starts with.

    Returns (label_found, rest of the ORIGINAL text, with separators like ':' and spaces stripped).
    """
    stripped = collapse_whitespace(text)
    folded, offsets = fold_with_offsets(stripped)
    for label in folded_labels:
        if label and folded.startswith(label):
            end = len(label)
            # A label must end on a word boundary: "ID" must not eat the start of "IDX123".
            if end < len(folded) and folded[end].isalnum() and label[-1].isalnum():
                continue
            original_end = offsets[end] if end < len(offsets) else len(stripped)
            return True, stripped[original_end:].lstrip(" :：-–—\u00a0").strip()
    return False, stripped
