"""Time synthetic generation at a given scale: `python bench/bench_synth.py --scale 880000`."""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from synth.platform import generate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dirty-rate", type=float, default=0.01)
    parser.add_argument("--keep", type=Path, default=None, help="write here and keep the output")
    args = parser.parse_args()
    landing = args.keep or Path(tempfile.mkdtemp(prefix="bench_synth_"))
    started = time.perf_counter()
    summary = generate(landing, n_learners=args.scale, seed=args.seed, dirty_rate=args.dirty_rate)
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    size_mib = sum(p.stat().st_size for p in landing.rglob("*") if p.is_file()) / 2**20
    print(f"scale={args.scale} seed={args.seed} dirty_rate={args.dirty_rate}")
    for source, rows in summary.clean_rows.items():
        print(f"  {source:24s} clean={rows:>10,d} extra={summary.extra_lines[source]:>8,d}")
    print(f"  profiles={summary.profiles:,d} part_files={summary.part_files:,d} output={size_mib:,.1f} MiB")
    print(f"  seconds={seconds:.1f} peak_rss={peak_mib:,.0f} MiB")
    if args.keep is None:
        shutil.rmtree(landing)


if __name__ == "__main__":
    main()
