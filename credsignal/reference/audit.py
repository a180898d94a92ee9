"""CSV audits of the title and degree classifiers (wired to ``credsignal classify titles|degrees``)."""

from __future__ import annotations

import csv
from typing import Iterable, TextIO

from credsignal.reference.degrees import degree_level
from credsignal.reference.job_titles import classify_title

TITLE_AUDIT_COLUMNS = ("text", "tech", "managerial", "internship", "in_scope")
DEGREE_AUDIT_COLUMNS = ("text", "level")


def _non_blank_lines(lines: Iterable[str]) -> Iterable[str]:
    for line in lines:
        text = line.rstrip("\r\n")
        if text.strip():
            yield text


def classify_titles_csv(lines: Iterable[str], out: TextIO) -> int:
    """Writes one CSV row (0/1 flags) per non-blank input line; returns the number of rows written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TITLE_AUDIT_COLUMNS)
    written = 0
    for text in _non_blank_lines(lines):
        title_class = classify_title(text)
        writer.writerow(
            (text, int(title_class.tech), int(title_class.managerial), int(title_class.internship), int(title_class.in_scope))
        )
        written += 1
    return written


def classify_degrees_csv(lines: Iterable[str], out: TextIO) -> int:
    """Writes one CSV row per non-blank input line; returns the number of rows written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DEGREE_AUDIT_COLUMNS)
    written = 0
    for text in _non_blank_lines(lines):
        writer.writerow((text, degree_level(text)))
        written += 1
    return written
