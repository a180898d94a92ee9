"""Dirty lines, always planted as ADDITIONAL lines next to clean ones, so the clean truth stays recoverable.

Corrupted copies of clean rows get a fresh natural key, so they can never collide with a clean row whatever order
ingestion applies quarantine and deduplication in. Each line's expected fate (kept, duplicate, quarantine reason)
is decided with the contract classifier in synth.contract.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from synth.contract import SOURCES, classify

BAD_TIMESTAMPS: list[Any] = [
    "31/12/2022", "2022-13-45T10:00:00Z", "yesterday", "2022-10-05T10:00:00", "2022-02-30T08:00:00Z",
    "2022-10-05 10:00:00Z", 1665000000, "2022-10-05T25:10:00Z",
]
BAD_DATES: list[Any] = ["2022/09/30", "30-09-2022", "2022-09-31", "2022-09-30T00:00:00Z", "Sept 30"]
BAD_TYPES: dict[str, list[Any]] = {
    "batch": ["three", 2.5, "3rd"],
    "score": ["high", "n/a", "0,5"],
    "by_owner": ["yes", "no", 0, "Y"],
}
BAD_ENUMS: dict[str, list[str]] = {
    "arm": ["Treatment ", "placebo", "TREATMENT"],
    "platform": ["tablet", "Web", "iOS", "smart-tv"],
    "primary_domain": ["Art History", "data science"],
    "credential_type": ["expert degree", "course", "MasterTrack"],
    "education_level": ["expert degree", "phd", "Bachelor Degree"],
    "gender": ["M", "prefer not to say"],
}
KIND_WEIGHTS = {
    "malformed": 0.15, "missing": 0.20, "bad_timestamp": 0.20, "bad_type": 0.10, "bad_enum": 0.15, "duplicate": 0.20,
}
# Sources whose key duplicates may differ in payload (the first line in file order wins).
KEY_DUPLICATE_EDITS: dict[str, Callable[[dict[str, Any], np.random.Generator], None]] = {
    "certificate_views": lambda row, rng: row.update(referrer="https://www.google.com/" if row["referrer"] else "https://www.linkedin.com/"),
    "skill_scores": lambda row, rng: row.update(score=round(float(row["score"]) + 0.01 + float(rng.random()), 4)),
}


@dataclass
class Extra:
    day: int
    line: str
    fate: str  # "quarantined" | "duplicate" | "kept" | "blank"
    reason: str | None = None
    anchor: int | None = None  # index of the clean row this line must follow (duplicates)


def _dumps(row: Any) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def _fields_of_kind(source: str, kinds: tuple[str, ...]) -> list[str]:
    return [f.name for f in SOURCES[source] if f.kind in kinds]


def _enum_fields(source: str) -> list[str]:
    return [f.name for f in SOURCES[source] if f.allowed is not None]


def _required(source: str) -> list[str]:
    return [f.name for f in SOURCES[source] if f.required]


def _malformed(rng: np.random.Generator, line: str) -> str:
    variant = int(rng.integers(0, 6))
    if variant == 0:
        return line[: int(rng.integers(max(1, len(line) // 4), len(line) - 1))]
    if variant == 1:
        return "[" + line + "]"
    if variant == 2:
        return "null"
    if variant == 3:
        cut = int(rng.integers(2, len(line) - 2))
        return line[:cut] + "\udcff\udcfe" + line[cut:]  # written as raw bytes 0xff 0xfe: not UTF-8
    if variant == 4:
        return ['42', '"not an object"', "true"][int(rng.integers(0, 3))]
    return line + "}"


def _choice(rng: np.random.Generator, values: list[Any]) -> Any:
    return values[int(rng.integers(0, len(values)))]


def _bad_timestamp(source: str, row: dict[str, Any], rng: np.random.Generator) -> None:
    name = _choice(rng, _fields_of_kind(source, ("timestamp", "date")))
    kind = next(f.kind for f in SOURCES[source] if f.name == name)
    row[name] = _choice(rng, BAD_DATES if kind == "date" else BAD_TIMESTAMPS)


def _bad_type(source: str, row: dict[str, Any], rng: np.random.Generator) -> None:
    names = [n for n in BAD_TYPES if n in row and any(f.name == n for f in SOURCES[source])]
    if not names:
        return
    name = _choice(rng, names)
    row[name] = _choice(rng, BAD_TYPES[name])


def _bad_enum(source: str, row: dict[str, Any], rng: np.random.Generator) -> None:
    name = _choice(rng, _enum_fields(source))
    row[name] = _choice(rng, BAD_ENUMS[name])


def _missing(source: str, row: dict[str, Any], rng: np.random.Generator) -> None:
    name = _choice(rng, _required(source))
    mode = int(rng.integers(0, 3))
    if mode == 0:
        row.pop(name, None)
    else:
        row[name] = None if mode == 1 else ""


def make_extras(
    rng: np.random.Generator,
    source: str,
    lines: list[str],
    folder_day: np.ndarray,
    dirty_rate: float,
    fresh_key: Callable[[dict[str, Any]], None],
    window_start_day: int,
    as_of_day: int,
) -> list[Extra]:
    extras: list[Extra] = []
    n_lines = len(lines)
    if n_lines == 0 or dirty_rate <= 0:
        return extras
    applicable = dict(KIND_WEIGHTS)
    if not any(n in BAD_TYPES for n in (f.name for f in SOURCES[source])):
        applicable.pop("bad_type")
    if not _enum_fields(source):
        applicable.pop("bad_enum")
    kinds = list(applicable)
    weights = np.array([applicable[k] for k in kinds])
    n_dirty = int(round(dirty_rate * n_lines))
    base_rows = rng.integers(0, n_lines, n_dirty)
    picked = np.searchsorted(np.cumsum(weights / weights.sum()), rng.random(n_dirty), side="right")
    corrupt = {"missing": _missing, "bad_timestamp": _bad_timestamp, "bad_type": _bad_type, "bad_enum": _bad_enum}
    later_faults = {
        "missing": ["bad_timestamp", "bad_type", "bad_enum"],
        "bad_timestamp": ["bad_type", "bad_enum"],
        "bad_type": ["bad_enum"],
        "bad_enum": [],
    }
    for row_index, kind_index in zip(base_rows.tolist(), picked.tolist()):
        kind = kinds[min(kind_index, len(kinds) - 1)]
        day = int(folder_day[row_index])
        line = lines[row_index]
        if kind == "duplicate":
            if source in KEY_DUPLICATE_EDITS and rng.random() < 0.25:
                row = json.loads(line)
                KEY_DUPLICATE_EDITS[source](row, rng)
                line = _dumps(row)
            extras.append(Extra(day, line, "duplicate", anchor=row_index))
            continue
        if kind == "malformed":
            text = _malformed(rng, line)
        else:
            row = json.loads(line)
            fresh_key(row)
            corrupt[kind](source, row, rng)
            # Some lines carry a second, later-checked fault: the first one in contract order must win.
            second = [k for k in later_faults[kind] if k in applicable]
            if second and rng.random() < 0.25:
                corrupt[_choice(rng, second)](source, row, rng)
            text = _dumps(row)
        reason, _ = classify(source, text.encode("utf-8", "surrogateescape"))
        if reason is None:  # a corruption that happened to produce a valid row; never plant those
            continue
        extras.append(Extra(day, text, "quarantined", reason=reason))

    for day in rng.integers(window_start_day - 1, as_of_day + 1, int(round(dirty_rate / 4 * n_lines))).tolist():
        extras.append(Extra(int(day), "", "blank"))
    return extras


def make_replays(
    rng: np.random.Generator, lines: list[str], folder_day: np.ndarray, rate: float, as_of_day: int
) -> list[Extra]:
    """Re-exports of a clean row in a later partition: kept there, but the current-state table counts it once."""
    candidates = np.flatnonzero(folder_day < as_of_day)
    if candidates.size == 0:
        return []
    rows = candidates[rng.integers(0, candidates.size, int(round(rate * len(lines))))]
    rows = np.unique(rows)
    days = np.minimum(folder_day[rows] + rng.integers(1, 6, rows.size), as_of_day)
    return [Extra(int(d), lines[r], "kept") for r, d in zip(rows.tolist(), days.tolist())]
