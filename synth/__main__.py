"""`python -m synth --landing DIR --scale N --seed S [--dirty-rate R]`: the same entry the credsignal CLI uses."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from synth.platform import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m synth", description="Generate a synthetic landing zone.")
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--scale", type=int, default=3000, help="number of randomized learners")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dirty-rate", type=float, default=0.01)
    parser.add_argument("--linkedin-share", type=float, default=0.042)
    args = parser.parse_args(argv)
    summary = generate(
        args.landing, n_learners=args.scale, seed=args.seed, dirty_rate=args.dirty_rate,
        linkedin_share=args.linkedin_share,
    )
    print(json.dumps({"clean_rows": summary.clean_rows, "extra_lines": summary.extra_lines,
                      "profiles": summary.profiles, "seconds": round(summary.seconds, 1)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
