"""Multilingual LinkedIn date parsing: a month table (credsignal/reference/data/month_names.json) plus one regex.

Dates come out as "YYYY-MM", or "YYYY" when the page gives only a year. Anything that is not a month word
followed by a year, a bare year, an ISO "YYYY-MM" or a "present" word is ignored, which is how duration
suffixes ("· 2 yrs 3 mos", "1 year 2 months", "2 anos 3 meses") and labels ("Issued", "Émis le") drop out.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from credsignal.reference.textnorm import fold, fold_with_offsets
from parsers import lexicon

# Only the start of a field is looked at: a date range is short, and this bounds regex work on hostile input.
MAX_DATE_TEXT_CHARS = 300


@dataclass(frozen=True)
class DateRange:
    start: str | None
    end: str | None
    is_current: bool


@lru_cache(maxsize=None)
def _date_token_pattern() -> re.Pattern[str]:
    months = "|".join(re.escape(word) for word in lexicon.month_words_longest_first())
    present = "|".join(re.escape(word) for word in lexicon.present_words_longest_first())
    year = r"(?<!\d)(?:19|20)\d\d(?!\d)"
    return re.compile(
        rf"(?P<iso>(?<!\d)(?P<iso_year>(?:19|20)\d\d)-(?P<iso_month>1[0-2]|0?[1-9])(?!\d))"
        rf"|(?:(?<!\w)(?P<month>{months})(?:\.|(?!\w))\s*,?\s*(?:(?:de|del)\s+)?)?(?P<year>{year})"
        rf"|(?<!\w)(?P<present>{present})(?![^\W\d_])"
    )


def _date_tokens(text: str) -> list[re.Match[str]]:
    return list(_date_token_pattern().finditer(fold(text[:MAX_DATE_TEXT_CHARS])))


def _token_date(match: re.Match[str]) -> str | None:
    if match.group("iso"):
        return f"{match.group('iso_year')}-{int(match.group('iso_month')):02d}"
    if match.group("year"):
        month_word = match.group("month")
        if month_word:
            return f"{match.group('year')}-{lexicon.month_numbers()[month_word]:02d}"
        return match.group("year")
    return None


def parse_single_date(text: str | None) -> str | None:
    """First date in ``text`` ("Issued Dec 2022" -> "2022-12"), or None."""
    if not text:
        return None
    for match in _date_tokens(text):
        date = _token_date(match)
        if date:
            return date
    return None


def parse_date_range(text: str | None) -> DateRange:
    """Parse "Mar 2022 - Present · 1 yr 2 mos", "jan. de 2021 – o momento", "2016 - 2020", "May 2016 · 1 mo".

    A lone date without a dash after it is a one-month role: start == end. A dash followed by nothing
    readable leaves the end unknown (None) and the role not marked current; a dash before a lone date
    leaves the start unknown.
    """
    if not text:
        return DateRange(None, None, False)
    folded = fold(text[:MAX_DATE_TEXT_CHARS])
    dates: list[str] = []
    is_current = False
    first_date_start = first_date_end = None
    for match in _date_token_pattern().finditer(folded):
        if match.group("present"):
            is_current = True
            continue
        date = _token_date(match)
        if date and len(dates) < 2:
            dates.append(date)
            if first_date_end is None:
                first_date_start, first_date_end = match.start(), match.end()
    if not dates:
        return DateRange(None, None, is_current)
    start = dates[0]
    if is_current:
        return DateRange(start, None, True)
    if len(dates) >= 2:
        return DateRange(start, dates[1], False)
    if "-" in folded[:first_date_start]:
        return DateRange(None, start, False)  # " - 2011": only the end is known
    has_range_dash = "-" in folded[first_date_end:].split("·")[0]
    return DateRange(start, None if has_range_dash else start, False)


def year_of(date: str | None) -> str | None:
    return date[:4] if date else None


@lru_cache(maxsize=None)
def _leading_label_pattern() -> re.Pattern[str]:
    labels = sorted(lexicon.label_languages(), key=lambda label: (-len(label), label))
    return re.compile("(?:" + "|".join(re.escape(label) for label in labels) + r")(?!\w)")


def guess_language(texts: Iterable[str | None]) -> str | None:
    """Language whose month/'present' words and labels explain most texts; None when undecidable (a tie).

    Month and 'present' words vote wherever they stand in a text; a field label or section heading
    ("Issued", "ID da credencial", "Experiencia") votes when it starts the text. A word several languages share
    votes for each of them.
    """
    exact_languages = lexicon.exact_word_languages()
    folded_languages = {**lexicon.month_word_languages(), **lexicon.present_word_languages()}
    label_languages = lexicon.label_languages()
    votes: Counter[str] = Counter()
    for text in texts:
        if not text:
            continue
        # The lexicon's lower_keeping_accents form, taken in two steps: composed once here, because the offsets of
        # fold_with_offsets point into this text, then lower-cased piece by piece.
        original = unicodedata.normalize("NFC", text[:MAX_DATE_TEXT_CHARS])
        label = _leading_label_pattern().match(original.lstrip().lower())
        if label:
            votes.update(label_languages[label.group()])
        folded, offsets = fold_with_offsets(original)
        for match in _date_token_pattern().finditer(folded):
            group = "month" if match.group("month") else "present" if match.group("present") else None
            if group is None:
                continue
            start, end = match.span(group)
            exact_word = original[offsets[start]:offsets[end - 1] + 1].lower()
            languages = exact_languages.get(exact_word) or folded_languages.get(match.group(group), frozenset())
            votes.update(languages)
    if not votes:
        return None
    ranked = votes.most_common(2)
    if len(ranked) == 2 and ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]
