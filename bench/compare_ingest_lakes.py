"""Compare what ingest (bronze, quarantine, ingest reports) or parse (the silver profile tables, parse reports)
wrote into two lakes from the same landing zone.

Every partition's Parquet files by name, every partition's rows in file order and with their schema
(pyarrow Table.equals), and every report's JSON. Exits 1 and names each difference, 0 when identical: the proof
that a change to jobs/ingest.py kept the quarantine reasons and the row accounting, or that a change to
jobs/parse.py kept the silver tables and the counts by status.

    .venv/bin/python bench/compare_ingest_lakes.py LAKE_BEFORE LAKE_AFTER
    .venv/bin/python bench/compare_ingest_lakes.py --stage parse LAKE_BEFORE LAKE_AFTER
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pyarrow.parquet as pq

# stage -> (table folders, partition folders under each, report files)
STAGES = {
    "ingest": (("bronze", "quarantine"), "*/dt=*", "_reports/ingest/*/*.json"),
    "parse": (("silver",), "profile*/crawl_id=*", "_reports/parse/*.json"),
}


def partitions(root: Path, layer: str, pattern: str) -> list[Path]:
    return sorted(p.relative_to(root) for p in (root / layer).glob(pattern) if p.is_dir())


def differences(a: Path, b: Path, stage: str = "ingest") -> list[str]:
    layers, pattern, report_pattern = STAGES[stage]
    found = []
    for layer in layers:
        left, right = partitions(a, layer, pattern), partitions(b, layer, pattern)
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
    reports = [sorted(p.relative_to(root) for p in root.glob(report_pattern)) for root in (a, b)]
    if reports[0] != reports[1]:
        found.append(f"reports only on one side: {sorted(map(str, set(reports[0]) ^ set(reports[1])))}")
    for relative in sorted(set(reports[0]) & set(reports[1])):
        if json.loads((a / relative).read_text()) != json.loads((b / relative).read_text()):
            found.append(f"{relative}: report differs")
    print(f"reports: {len(reports[0])} compared")
    return found


def main(argv: list[str] | None = None) -> int:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--stage", choices=sorted(STAGES), default="ingest")
    arguments.add_argument("before", type=Path)
    arguments.add_argument("after", type=Path)
    options = arguments.parse_args(argv)
    found = differences(options.before, options.after, options.stage)
    for line in found:
        print(line)
    print("identical" if not found else f"{len(found)} difference(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
