"""CSV audits of the title and degree classifiers (wired to ``credsignal classify titles|degrees``)."""

from __future__ import annotations

import csv
from typing import Callable, Iterable, TextIO

from credsignal.reference.degrees import degree_level
from credsignal.reference.job_titles import classify_title

TITLE_AUDIT_COLUMNS = ("text", "tech", "managerial", "internship", "in_scope")
DEGREE_AUDIT_COLUMNS = ("text", "level")


def _audit_csv(lines: Iterable[str], out: TextIO, columns: tuple[str, ...],
               row_of: Callable[[str], tuple]) -> int:
    """Writes the header, then one CSV row per non-blank input line; returns the number of rows written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    written = 0
    for line in lines:
        text = line.rstrip("\r\n")
        if text.strip():
            writer.writerow((text, *row_of(text)))
            written += 1
    return written


def _title_flags(text: str) -> tuple[int, ...]:
    title_class = classify_title(text)
    return (int(title_class.tech), int(title_class.managerial), int(title_class.internship),
            int(title_class.in_scope))


def classify_titles_csv(lines: Iterable[str], out: TextIO) -> int:
    """One CSV row of 0/1 flags per non-blank input line; returns the number of rows written."""
    return _audit_csv(lines, out, TITLE_AUDIT_COLUMNS, _title_flags)


def classify_degrees_csv(lines: Iterable[str], out: TextIO) -> int:
    """One CSV row (the degree level) per non-blank input line; returns the number of rows written."""
    return _audit_csv(lines, out, DEGREE_AUDIT_COLUMNS, lambda text: (degree_level(text),))
