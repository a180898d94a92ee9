"""Precision and recall of the reference dictionaries on the labelled evaluation sets.

Usage: python bench/eval_dictionaries.py [--errors]
Prints a markdown table (the figures quoted in docs/dictionaries.md); --errors
also lists every misclassified example.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from credsignal.reference.degrees import degree_level
from credsignal.reference.job_titles import classify_title

EVAL_SETS_DIR = Path(__file__).resolve().parents[1] / "tests" / "eval_sets"
JOB_TITLES_CSV = EVAL_SETS_DIR / "job_titles.csv"
DEGREE_TITLES_CSV = EVAL_SETS_DIR / "degree_titles.csv"
# Labelled after the dictionaries were written and never used to change them.
JOB_TITLES_HOLDOUT_CSV = EVAL_SETS_DIR / "job_titles_holdout.csv"
DEGREE_TITLES_HOLDOUT_CSV = EVAL_SETS_DIR / "degree_titles_holdout.csv"
EVAL_SET_PAIRS = {
    "development": (JOB_TITLES_CSV, DEGREE_TITLES_CSV),
    "holdout": (JOB_TITLES_HOLDOUT_CSV, DEGREE_TITLES_HOLDOUT_CSV),
}
DEGREE_LEVELS = ("doctor", "master", "bachelor")


@dataclass(frozen=True)
class BinaryScore:
    dictionary: str
    support: int
    true_positives: int
    false_positives: int
    false_negatives: int
    false_positive_texts: tuple[str, ...]
    false_negative_texts: tuple[str, ...]

    @property
    def precision(self) -> float:
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else 1.0

    @property
    def recall(self) -> float:
        actual = self.true_positives + self.false_negatives
        return self.true_positives / actual if actual else 1.0


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as eval_file:
        return list(csv.DictReader(eval_file))


def score_binary(
    dictionary: str, rows: Iterable[dict[str, str]], expected: Callable[[dict[str, str]], bool], predicted: Callable[[str], bool]
) -> BinaryScore:
    true_positives, false_positive_texts, false_negative_texts, support = 0, [], [], 0
    for row in rows:
        is_expected, is_predicted = expected(row), predicted(row["text"])
        support += is_expected
        if is_expected and is_predicted:
            true_positives += 1
        elif is_predicted:
            false_positive_texts.append(row["text"])
        elif is_expected:
            false_negative_texts.append(row["text"])
    return BinaryScore(
        dictionary=dictionary,
        support=support,
        true_positives=true_positives,
        false_positives=len(false_positive_texts),
        false_negatives=len(false_negative_texts),
        false_positive_texts=tuple(false_positive_texts),
        false_negative_texts=tuple(false_negative_texts),
    )


def title_scores(rows: list[dict[str, str]]) -> list[BinaryScore]:
    def label(row: dict[str, str], field: str) -> bool:
        return row[field] == "1"

    scores = [
        score_binary(field, rows, lambda row, field=field: label(row, field), lambda text, field=field: getattr(classify_title(text), field))
        for field in ("tech", "managerial", "internship")
    ]
    scores.append(
        score_binary(
            "in_scope",
            rows,
            lambda row: label(row, "tech") or label(row, "managerial"),
            lambda text: classify_title(text).in_scope,
        )
    )
    return scores


def degree_scores(rows: list[dict[str, str]]) -> list[BinaryScore]:
    scores = [
        score_binary(f"degree: {level}", rows, lambda row, level=level: row["level"] == level, lambda text, level=level: degree_level(text) == level)
        for level in DEGREE_LEVELS
    ]
    scores.append(
        score_binary("degree: any (Degree flag)", rows, lambda row: row["level"] != "none", lambda text: degree_level(text) != "none")
    )
    return scores


def all_scores(eval_set: str = "development") -> list[BinaryScore]:
    job_titles_csv, degree_titles_csv = EVAL_SET_PAIRS[eval_set]
    return title_scores(read_rows(job_titles_csv)) + degree_scores(read_rows(degree_titles_csv))


def markdown_table(scores: list[BinaryScore]) -> str:
    lines = ["| dictionary | positives | TP | FP | FN | precision | recall |", "|---|---:|---:|---:|---:|---:|---:|"]
    for score in scores:
        lines.append(
            f"| {score.dictionary} | {score.support} | {score.true_positives} | {score.false_positives} | "
            f"{score.false_negatives} | {score.precision:.3f} | {score.recall:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", action="store_true", help="list misclassified examples")
    arguments = parser.parse_args()
    for eval_set, (job_titles_csv, degree_titles_csv) in EVAL_SET_PAIRS.items():
        title_rows, degree_rows = read_rows(job_titles_csv), read_rows(degree_titles_csv)
        print(f"### {eval_set} set: {len(title_rows)} job titles, {len(degree_rows)} degree titles\n")
        scores = title_scores(title_rows) + degree_scores(degree_rows)
        print(markdown_table(scores))
        print()
        if arguments.errors:
            for score in scores:
                for text in score.false_positive_texts:
                    print(f"FP {score.dictionary}: {text}")
                for text in score.false_negative_texts:
                    print(f"FN {score.dictionary}: {text}")
            print()


if __name__ == "__main__":
    main()
