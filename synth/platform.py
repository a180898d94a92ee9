"""Entry point: generate the platform exports, the dirt, and the planted ground truth into a landing zone.

    from synth.platform import generate
    summary = generate(Path("demo/landing"), n_learners=3000, seed=7)

Layout written (see docs/landing_contract.md and docs/synthetic_data.md):

    <landing>/platform/<source>/dt=YYYY-MM-DD/part-NNNNN.jsonl.gz + _SUCCESS
    <landing>/_truth/learners_truth.parquet     one row per randomized learner
    <landing>/_truth/profiles.jsonl.gz          true structured LinkedIn profiles (to be rendered as pages)
    <landing>/_truth/ingest_expected.json       per source and dt: rows_in, rows_kept, duplicates, quarantined
    <landing>/_truth/generation.json            arguments and row counts
"""

from __future__ import annotations

import gzip
import json
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from synth.contract import SOURCES
from synth.dirt import Extra, make_extras, make_replays
from synth.encoding import HEX, LOWER_ALNUM, SECONDS_PER_DAY, UPPER_ALNUM, day_number, random_codes
from synth.export import apply_timestamp_styles, build_sources
from synth.population import World, build_world
from synth.profiles import ProfileBuilder, _epoch_month, make_identities, month_index, profile_outcomes
from synth.truth import build_truth
from synth.writer import write_source

MAX_ROWS_PER_PART = 50_000
TRUTH_DIR = "_truth"


@dataclass(frozen=True)
class GenerationSummary:
    landing: Path
    n_learners: int
    seed: int
    clean_rows: dict[str, int]
    extra_lines: dict[str, int]  # dirty, duplicate, replayed and blank lines added on top of the clean rows
    partitions_per_source: int
    part_files: int
    profiles: int
    truth_path: Path
    profiles_path: Path
    expected_path: Path
    seconds: float = field(compare=False)


def _fresh_ids(rng: np.random.Generator, count: int, length: int, alphabet: str, taken: np.ndarray) -> Iterator[str]:
    yield from random_codes(rng, count, length, alphabet, exclude=taken).tolist()


def _prepare(landing: Path) -> None:
    """Remove only what this generator owns, so a re-run gives the same tree (linkedin/ crawls are left alone)."""
    for source in SOURCES:
        shutil.rmtree(landing / "platform" / source, ignore_errors=True)
    shutil.rmtree(landing / TRUTH_DIR, ignore_errors=True)
    (landing / TRUTH_DIR).mkdir(parents=True)


def generate(
    landing: Path,
    *,
    n_learners: int,
    seed: int,
    dirty_rate: float = 0.01,
    linkedin_share: float = 0.042,
    as_of: date = date(2023, 9, 30),
    window_start: date = date(2022, 9, 1),
    cwur_path: Path | None = None,
    max_rows_per_part: int = MAX_ROWS_PER_PART,
) -> GenerationSummary:
    started = time.perf_counter()
    landing = Path(landing)
    if n_learners < 1:
        raise ValueError("n_learners must be positive")
    if not window_start < as_of:
        raise ValueError("window_start must be before as_of")
    _prepare(landing)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    export_rng, dirt_rng, writer_rng, key_rng = streams[3:7]

    world, styles, identities, profiles, outcomes = _world_and_profiles(
        streams, seed, n_learners, linkedin_share, as_of, window_start, cwur_path
    )
    tables = build_sources(
        export_rng, world, styles, {ident.learner_index: ident.linkedin_url for ident in identities}, dirty_rate
    )

    # Dirt, with fresh natural keys for corrupted copies.
    window_start_day, as_of_day = day_number(window_start), day_number(as_of)
    budget = int(round(dirty_rate * sum(len(t.lines) for t in tables.values()))) + 10
    fresh_learners = _fresh_ids(key_rng, budget, 10, LOWER_ALNUM, np.char.replace(world.learner_id, "lrn_", ""))
    all_cert_ids = np.concatenate([world.certificate_id, world.other_cert_id])
    fresh_certs = _fresh_ids(key_rng, budget, 12, UPPER_ALNUM, all_cert_ids)
    fresh_views = _fresh_ids(key_rng, budget, 16, HEX, world.view_id)

    def fresh_key_for(source: str) -> Any:
        def refresh(row: dict[str, Any]) -> None:
            if source == "certificates":
                row["certificate_id"] = next(fresh_certs)
            elif source == "certificate_views":
                row["view_id"] = next(fresh_views)
            else:
                row["learner_id"] = "lrn_" + next(fresh_learners)

        return refresh

    extras: dict[str, list[Extra]] = {}
    for source, table in tables.items():
        extras[source] = make_extras(
            dirt_rng, source, table.lines, table.folder_day, dirty_rate, fresh_key_for(source), window_start_day,
            as_of_day,
        )
    extras["certificate_views"] += make_replays(
        dirt_rng, tables["certificate_views"].lines, tables["certificate_views"].folder_day, dirty_rate / 2, as_of_day
    )

    days = range(window_start_day - 1, as_of_day + 1)
    expected: dict[str, Any] = {}
    part_files = 0
    with ThreadPoolExecutor(max_workers=2) as pool:
        for source in SOURCES:
            expected[source], n_parts = write_source(
                landing / "platform" / source, tables[source], extras[source], days, writer_rng, max_rows_per_part, pool
            )
            part_files += n_parts

    truth_dir = landing / TRUTH_DIR
    expected_path = truth_dir / "ingest_expected.json"
    expected_path.write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n", encoding="utf-8")

    truth = build_truth(world, outcomes)
    truth_path = truth_dir / "learners_truth.parquet"
    pq.write_table(pa.Table.from_pandas(truth, preserve_index=False), truth_path)

    profiles.sort(key=lambda p: p["learner_id"])
    profiles_path = truth_dir / "profiles.jsonl.gz"
    text = "".join(json.dumps(p, ensure_ascii=False, separators=(",", ":")) + "\n" for p in profiles)
    profiles_path.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0))

    clean_rows = {source: len(tables[source].lines) for source in SOURCES}
    extra_lines = {source: len(extras[source]) for source in SOURCES}
    (truth_dir / "generation.json").write_text(
        json.dumps(
            {
                "n_learners": n_learners, "seed": seed, "dirty_rate": dirty_rate, "linkedin_share": linkedin_share,
                "as_of": as_of.isoformat(), "window_start": window_start.isoformat(),
                "backfill_dt": (window_start - timedelta(days=1)).isoformat(), "clean_rows": clean_rows,
                "extra_lines": extra_lines, "profiles": len(profiles),
                "randomized_learners": int((world.kind == 0).sum()),
            },
            indent=1,
            sort_keys=True,
        )
        + "\n",
        encoding="utf-8",
    )
    return GenerationSummary(
        landing=landing,
        n_learners=n_learners,
        seed=seed,
        clean_rows=clean_rows,
        extra_lines=extra_lines,
        partitions_per_source=len(days),
        part_files=part_files,
        profiles=len(profiles),
        truth_path=truth_path,
        profiles_path=profiles_path,
        expected_path=expected_path,
        seconds=time.perf_counter() - started,
    )


def _world_and_profiles(
    streams: list[np.random.Generator], seed: int, n_learners: int, linkedin_share: float, as_of: date,
    window_start: date, cwur_path: Path | None,
) -> tuple[World, dict[str, np.ndarray], list[Any], list[dict[str, Any]], dict[int, dict[str, Any] | None]]:
    world_rng, style_rng, identity_rng = streams[:3]
    world = build_world(world_rng, n_learners, linkedin_share, as_of, window_start)
    styles = apply_timestamp_styles(style_rng, world)
    identities = make_identities(identity_rng, world)
    builder = ProfileBuilder(world, cwur_path, seed=int(np.random.SeedSequence(seed).generate_state(1)[0]))
    as_of_month = month_index(as_of.year, as_of.month)
    profiles: list[dict[str, Any]] = []
    outcomes: dict[int, dict[str, Any] | None] = {}
    for identity in identities:
        profile = builder.build(identity)
        profile["linkedin_url"] = identity.linkedin_url
        profiles.append(profile)
        i = identity.learner_index
        randomized_month = _epoch_month(int(world.randomized_day[i]) * SECONDS_PER_DAY)
        outcomes[i] = (
            None
            if profile["page_fault"]
            else profile_outcomes(profile, randomized_month, as_of_month, str(world.certificate_id[i]), builder.in_scope)
        )
    return world, styles, identities, profiles, outcomes


def simulate_truth(
    *, n_learners: int, seed: int, linkedin_share: float = 0.042, as_of: date = date(2023, 9, 30),
    window_start: date = date(2022, 9, 1), cwur_path: Path | None = None,
) -> pd.DataFrame:
    """The truth table `generate` would write for these arguments, without writing any file (fast checks)."""
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    world, _, _, _, outcomes = _world_and_profiles(
        streams, seed, n_learners, linkedin_share, as_of, window_start, cwur_path
    )
    return build_truth(world, outcomes)
