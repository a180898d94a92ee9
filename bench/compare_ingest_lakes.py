"""Compare the bronze, quarantine and ingest reports of two lakes ingested from the same landing zone.

Every partition's Parquet files by name, every partition's rows in file order and with their schema
(pyarrow Table.equals), and every ingest report's JSON. Exits 1 and names each difference, 0 when identical:
the proof that a change to jobs/ingest.py kept the quarantine reasons and the row accounting.

    .venv/bin/python bench/compare_ingest_lakes.py LAKE_BEFORE LAKE_AFTER
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq


def partitions(root: Path, layer: str) -> list[Path]:
    return sorted(p.relative_to(root) for p in (root / layer).glob("*/dt=*") if p.is_dir())


def differences(a: Path, b: Path) -> list[str]:
    found = []
    for layer in ("bronze", "quarantine"):
        left, right = partitions(a, layer), partitions(b, layer)
        if left != right:
            found.append(f"{layer}: partitions only on one side: {sorted(map(str, set(left) ^ set(right)))}")
        rows = 0
        for relative in sorted(set(left) & set(right)):
            names = [sorted(p.name for p in (root / relative).iterdir()) for root in (a, b)]
            if names[0] != names[1]:
                found.append(f"{relative}: files differ: {names[0]} vs {names[1]}")
            table = pq.read_table(a / relative)
            rows += table.num_rows
            if not table.equals(pq.read_table(b / relative)):
                found.append(f"{relative}: rows differ")
        print(f"{layer}: {len(left)} partitions, {rows:,d} rows compared")
    reports = [sorted(p.relative_to(root) for p in root.glob("_reports/ingest/*/*.json")) for root in (a, b)]
    if reports[0] != reports[1]:
        found.append(f"reports only on one side: {sorted(map(str, set(reports[0]) ^ set(reports[1])))}")
    for relative in sorted(set(reports[0]) & set(reports[1])):
        if json.loads((a / relative).read_text()) != json.loads((b / relative).read_text()):
            found.append(f"{relative}: report differs")
    print(f"reports: {len(reports[0])} compared")
    return found


def main(argv: list[str] | None = None) -> int:
    a, b = map(Path, (argv or sys.argv[1:])[:2])
    found = differences(a, b)
    for line in found:
        print(line)
    print("identical" if not found else f"{len(found)} difference(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
