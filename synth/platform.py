"""Entry point: generate the platform exports, the dirt, and the planted ground truth into a landing zone.

    from synth.platform import generate
    summary = generate(Path("demo/landing"), n_learners=3000, seed=7)

Layout written (see docs/landing_contract.md and docs/synthetic_data.md):

    <landing>/platform/<source>/dt=YYYY-MM-DD/part-NNNNN.jsonl.gz + _SUCCESS   (daily sources every day, event-driven
                                                ones only on days with rows: see DAILY_SOURCES)
    <landing>/_truth/learners_truth.parquet     one row per randomized learner: values in force at randomization,
                                                outcomes, and the planted case of each learner (url_case,
                                                url_crawled_at, attribute_case, skill_case; synth.population)
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
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from credsignal.core.config import DEFAULT_SOURCE_FRESHNESS
from synth.contract import SOURCES
from synth.dirt import Extra, make_extras, make_replays
from synth.encoding import HEX, LOWER_ALNUM, SECONDS_PER_DAY, UPPER_ALNUM, day_number, day_to_date, random_codes
from synth.export import apply_timestamp_styles, build_sources
from synth.population import World, build_world
from synth.profiles import (
    ProfileBuilder,
    _epoch_month,
    changed_identities,
    make_identities,
    month_index,
    profile_outcomes,
)
from synth.truth import build_truth
from synth.writer import write_source

MAX_ROWS_PER_PART = 50_000
# One shard's world at the full study scale (880k learners) peaks near 4.5 GiB of RAM.
MAX_LEARNERS_PER_SHARD = 1_000_000
# Part numbers a shard may use per day: shard k writes part-{k * PARTS_PER_SHARD + i}.
PARTS_PER_SHARD = 1_000
TRUTH_DIR = "_truth"
# Sources that deliver a folder every day (the contract's default freshness); the others only on days with rows.
DAILY_SOURCES = frozenset(source for source, freshness in DEFAULT_SOURCE_FRESHNESS.items() if freshness is not None)


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


def shard_sizes(n_learners: int, max_learners_per_shard: int) -> list[int]:
    """Near-equal shard sizes, none above the maximum: the generator holds one shard's world in memory at a time."""
    count = -(-n_learners // max_learners_per_shard)
    base, remainder = divmod(n_learners, count)
    return [base + (1 if k < remainder else 0) for k in range(count)]


def _shard_seed(seed: int, shard: int) -> np.random.SeedSequence:
    # Shard 0 keeps the unsharded seed, so a population that fits one shard is generated exactly as before.
    return np.random.SeedSequence(seed) if shard == 0 else np.random.SeedSequence([seed, shard])


@dataclass
class _Accounts:
    """What the shards add up to: per source and dt accounting, row counts, and the learner ids already taken."""

    expected: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    clean_rows: dict[str, int] = field(default_factory=dict)
    extra_lines: dict[str, int] = field(default_factory=dict)
    part_files: int = 0
    profiles: int = 0
    randomized: int = 0
    learner_codes: np.ndarray = field(default_factory=lambda: np.empty(0, "U10"))
    profile_urls: set[str] = field(default_factory=set)

    def add_expected(self, source: str, by_day: dict[str, dict[str, Any]]) -> None:
        totals = self.expected.setdefault(source, {})
        for dt, counts in by_day.items():
            if dt not in totals:
                totals[dt] = counts
                continue
            merged = totals[dt]
            for key in ("rows_in", "rows_kept", "duplicates"):
                merged[key] += counts[key]
            reasons = merged["quarantined"]
            for reason, n in counts["quarantined"].items():
                reasons[reason] = reasons.get(reason, 0) + n
            merged["quarantined"] = dict(sorted(reasons.items()))


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
    max_learners_per_shard: int = MAX_LEARNERS_PER_SHARD,
) -> GenerationSummary:
    """Writes the landing zone shard by shard (each shard an independent population with its own seed and its own
    exact 50/50 randomization, ids distinct across shards), so memory stays that of one shard at any scale."""
    started = time.perf_counter()
    landing = Path(landing)
    if n_learners < 1:
        raise ValueError("n_learners must be positive")
    if not window_start < as_of:
        raise ValueError("window_start must be before as_of")
    _prepare(landing)
    truth_dir = landing / TRUTH_DIR
    truth_path = truth_dir / "learners_truth.parquet"
    profiles_path = truth_dir / "profiles.jsonl.gz"
    days = range(day_number(window_start) - 1, day_number(as_of) + 1)
    sizes = shard_sizes(n_learners, max_learners_per_shard)
    accounts = _Accounts()
    truth_writer: pq.ParquetWriter | None = None
    try:
        with profiles_path.open("wb") as profiles_file:
            for shard, shard_learners in enumerate(sizes):
                truth = _generate_shard(
                    landing, shard, shard_learners, seed, accounts, profiles_file, days,
                    dirty_rate=dirty_rate, linkedin_share=linkedin_share, as_of=as_of, window_start=window_start,
                    cwur_path=cwur_path, max_rows_per_part=max_rows_per_part,
                )
                table = pa.Table.from_pandas(truth, preserve_index=False)
                if truth_writer is None:
                    truth_writer = pq.ParquetWriter(truth_path, table.schema)
                truth_writer.write_table(table.cast(truth_writer.schema))
    finally:
        if truth_writer is not None:
            truth_writer.close()
    # _SUCCESS goes last, once every part of every shard of every day is on disk (event-driven sources have
    # folders only on the days some shard wrote rows).
    for source in SOURCES:
        for folder in sorted((landing / "platform" / source).glob("dt=*")):
            (folder / "_SUCCESS").write_bytes(b"")

    expected_path = truth_dir / "ingest_expected.json"
    expected_path.write_text(json.dumps(accounts.expected, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    (truth_dir / "generation.json").write_text(
        json.dumps(
            {
                "n_learners": n_learners, "seed": seed, "dirty_rate": dirty_rate, "linkedin_share": linkedin_share,
                "as_of": as_of.isoformat(), "window_start": window_start.isoformat(),
                "backfill_dt": (window_start - timedelta(days=1)).isoformat(), "clean_rows": accounts.clean_rows,
                "extra_lines": accounts.extra_lines, "profiles": accounts.profiles,
                "randomized_learners": accounts.randomized, "shards": sizes,
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
        clean_rows=accounts.clean_rows,
        extra_lines=accounts.extra_lines,
        partitions_per_source=len(days),
        part_files=accounts.part_files,
        profiles=accounts.profiles,
        truth_path=truth_path,
        profiles_path=profiles_path,
        expected_path=expected_path,
        seconds=time.perf_counter() - started,
    )


def _generate_shard(
    landing: Path, shard: int, n_learners: int, seed: int, accounts: _Accounts, profiles_file: BinaryIO, days: range,
    *, dirty_rate: float, linkedin_share: float, as_of: date, window_start: date, cwur_path: Path | None,
    max_rows_per_part: int,
) -> pd.DataFrame:
    """Writes one shard's part files and profiles, adds its accounting to `accounts`, returns its truth rows."""
    seed_sequence = _shard_seed(seed, shard)
    streams = [np.random.default_rng(s) for s in seed_sequence.spawn(8)]
    export_rng, dirt_rng, writer_rng, key_rng = streams[3:7]

    world, styles, identities, changed, profiles, outcomes = _world_and_profiles(
        streams, seed_sequence, n_learners, linkedin_share, as_of, window_start, cwur_path, accounts.learner_codes
    )
    learner_codes = np.char.replace(world.learner_id, "lrn_", "")
    urls = {profile["profile_url"] for profile in profiles}
    if len(urls) != len(profiles) or not urls.isdisjoint(accounts.profile_urls):
        raise RuntimeError(f"shard {shard}: a LinkedIn profile URL repeats; use another seed")
    accounts.profile_urls |= urls
    tables = build_sources(
        export_rng, world, styles, {ident.learner_index: ident.linkedin_url for ident in identities},
        {i: ident.linkedin_url for i, ident in changed.items()}, dirty_rate,
    )

    # Dirt, with fresh natural keys for corrupted copies.
    window_start_day, as_of_day = day_number(window_start), day_number(as_of)
    budget = int(round(dirty_rate * sum(len(t.lines) for t in tables.values()))) + 10
    taken_learner_codes = np.concatenate([accounts.learner_codes, learner_codes])
    fresh_learners = _fresh_ids(key_rng, budget, 10, LOWER_ALNUM, taken_learner_codes)
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

    with ThreadPoolExecutor(max_workers=2) as pool:
        for source in SOURCES:
            by_day, n_parts = write_source(
                landing / "platform" / source, tables[source], extras[source], days, writer_rng, max_rows_per_part,
                pool, first_part=shard * PARTS_PER_SHARD, every_day=source in DAILY_SOURCES,
            )
            accounts.add_expected(source, by_day)
            accounts.part_files += n_parts
            accounts.clean_rows[source] = accounts.clean_rows.get(source, 0) + len(tables[source].lines)
            accounts.extra_lines[source] = accounts.extra_lines.get(source, 0) + len(extras[source])

    # Profiles: one gzip member per shard (a concatenation of gzip members is one valid gzip stream).
    profiles.sort(key=lambda p: p["learner_id"])
    text = "".join(json.dumps(p, ensure_ascii=False, separators=(",", ":")) + "\n" for p in profiles)
    profiles_file.write(gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0))
    accounts.profiles += len(profiles)
    accounts.randomized += int((world.kind == 0).sum())
    accounts.learner_codes = np.concatenate([accounts.learner_codes, learner_codes])
    return build_truth(world, outcomes)


def _world_and_profiles(
    streams: list[np.random.Generator], seed_sequence: np.random.SeedSequence, n_learners: int, linkedin_share: float,
    as_of: date, window_start: date, cwur_path: Path | None, taken_learner_codes: np.ndarray | None = None,
) -> tuple[World, dict[str, np.ndarray], list[Any], dict[int, Any], list[dict[str, Any]],
           dict[int, dict[str, Any] | None]]:
    world_rng, style_rng, identity_rng = streams[:3]
    world = build_world(world_rng, n_learners, linkedin_share, as_of, window_start, taken_learner_codes)
    styles = apply_timestamp_styles(style_rng, world)
    identities = make_identities(identity_rng, world)
    changed = changed_identities(identity_rng, world, identities)
    builder = ProfileBuilder(world, cwur_path, seed=int(seed_sequence.generate_state(1)[0]))
    as_of_month = month_index(as_of.year, as_of.month)
    profiles: list[dict[str, Any]] = []
    outcomes: dict[int, dict[str, Any] | None] = {}
    for identity in identities:
        profile = builder.build(identity)
        profile["linkedin_url"] = identity.linkedin_url
        i = identity.learner_index
        if world.url_crawled_later[i]:
            # The crawler read the newer export: the page sits at the changed URL.
            profile["profile_url"], profile["linkedin_url"] = changed[i].profile_url, changed[i].linkedin_url
        profiles.append(profile)
        randomized_month = _epoch_month(int(world.randomized_day[i]) * SECONDS_PER_DAY)
        outcomes[i] = (
            None
            # A URL first given after randomization keeps the learner out of the LinkedIn sample.
            if profile["page_fault"] or not world.has_linkedin_url[i]
            else profile_outcomes(profile, randomized_month, as_of_month, str(world.certificate_id[i]), builder.in_scope)
        )
    return world, styles, identities, changed, profiles, outcomes


def simulate_truth(
    *, n_learners: int, seed: int, linkedin_share: float = 0.042, as_of: date = date(2023, 9, 30),
    window_start: date = date(2022, 9, 1), cwur_path: Path | None = None,
    max_learners_per_shard: int = MAX_LEARNERS_PER_SHARD,
) -> pd.DataFrame:
    """The truth table `generate` would write for these arguments, without writing any file (fast checks)."""
    truths = []
    taken = np.empty(0, "U10")
    for shard, shard_learners in enumerate(shard_sizes(n_learners, max_learners_per_shard)):
        seed_sequence = _shard_seed(seed, shard)
        streams = [np.random.default_rng(s) for s in seed_sequence.spawn(8)]
        world, _, _, _, _, outcomes = _world_and_profiles(
            streams, seed_sequence, shard_learners, linkedin_share, as_of, window_start, cwur_path, taken
        )
        taken = np.concatenate([taken, np.char.replace(world.learner_id, "lrn_", "")])
        truths.append(build_truth(world, outcomes))
    return pd.concat(truths, ignore_index=True) if len(truths) > 1 else truths[0]
