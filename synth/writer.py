"""Writes one source as daily partitions (part files + _SUCCESS) and accounts for what ingestion must report."""

from __future__ import annotations

import gzip
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from synth.dirt import Extra
from synth.encoding import day_to_date
from synth.export import SourceTable

GZIP_LEVEL = 3


def _write_part(path: Path, lines: list[str]) -> None:
    text = "\n".join(lines) + "\n" if lines else ""
    # mtime=0 and no file name in the header: identical input gives identical bytes.
    path.write_bytes(gzip.compress(text.encode("utf-8", "surrogateescape"), compresslevel=GZIP_LEVEL, mtime=0))


def write_source(
    root: Path,
    table: SourceTable,
    extras: list[Extra],
    days: range,
    rng: np.random.Generator,
    max_rows_per_part: int,
    pool: ThreadPoolExecutor,
    *,
    first_part: int = 0,
    every_day: bool = True,
) -> tuple[dict[str, dict[str, Any]], int]:
    """Returns ({dt: accounting}, number of part files). Parts are numbered from `first_part`; the caller writes each
    day's _SUCCESS once every writer of that day is done. A daily source (`every_day`) gets a folder every day, an
    empty part on a day without rows; an event-driven one only on days with lines (blank lines alone do not count)."""
    n = len(table.lines)
    order = np.lexsort((np.arange(n), table.event_seconds, table.folder_day))
    sorted_days = table.folder_day[order]
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    if n and (sorted_days[0] < days.start or sorted_days[-1] >= days.stop):
        raise ValueError("rows outside the partition range")
    day_numbers = np.arange(days.start, days.stop)
    day_starts = np.searchsorted(sorted_days, day_numbers, side="left").tolist()
    day_stops = np.searchsorted(sorted_days, day_numbers, side="right").tolist()
    sorted_lines = [table.lines[i] for i in order.tolist()]

    extras_by_day: dict[int, list[Extra]] = {}
    for extra in extras:
        extras_by_day.setdefault(extra.day, []).append(extra)

    expected: dict[str, dict[str, Any]] = {}
    futures = []
    n_parts = 0
    for day, start, stop in zip(days, day_starts, day_stops):
        clean = sorted_lines[start:stop]
        size = len(clean)
        placed: list[tuple[float, int, str]] = []
        day_extras = extras_by_day.get(day, [])
        if not every_day and size == 0 and all(e.fate == "blank" for e in day_extras):
            continue
        positions = rng.random(len(day_extras))
        for sequence, (extra, u) in enumerate(zip(day_extras, positions.tolist())):
            if extra.anchor is not None:
                low = int(rank[extra.anchor]) - start + 1  # strictly after its original
            else:
                low = 0
            placed.append((low + u * (size - low), sequence, extra.line))
        placed.sort()
        merged: list[str] = []
        cursor = 0
        for position, _, line in placed:
            upto = int(position)
            merged.extend(clean[cursor:max(cursor, upto)])
            cursor = max(cursor, upto)
            merged.append(line)
        merged.extend(clean[cursor:])

        folder = root / f"dt={day_to_date(day).isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        chunks = [merged[i : i + max_rows_per_part] for i in range(0, len(merged), max_rows_per_part)] or [[]]
        for index, chunk in enumerate(chunks):
            futures.append(pool.submit(_write_part, folder / f"part-{first_part + index:05d}.jsonl.gz", chunk))
        n_parts += len(chunks)

        quarantined = Counter(e.reason for e in day_extras if e.fate == "quarantined")
        duplicates = sum(e.fate == "duplicate" for e in day_extras)
        kept = size + sum(e.fate == "kept" for e in day_extras)
        expected[day_to_date(day).isoformat()] = {
            "rows_in": kept + duplicates + sum(quarantined.values()),
            "rows_kept": kept,
            "duplicates": duplicates,
            "quarantined": dict(sorted(quarantined.items())),
        }
    for future in futures:
        future.result()
    return expected, n_parts
