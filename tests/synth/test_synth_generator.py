"""Tests for the synthetic landing-zone generator (synth/).

The reference line classifier below is written independently of synth.contract on purpose: it re-reads the files
the way ingestion must (docs/landing_contract.md) and its counts must equal _truth/ingest_expected.json.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import unicodedata
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from credsignal.core.config import Config
from synth.platform import generate, simulate_truth

SOURCES = ["learners", "certificates", "certificate_views", "experiment_assignments", "app_sessions", "skill_scores"]
CALIBRATION_SCALE = 20_000
DAILY = set(Config().daily_sources())

# ---------------------------------------------------------------------------------------------------------------
# An independent reading of the contract.
# (field, kind, required, allowed) in table order.
CONTRACT: dict[str, list[tuple[str, str, bool, set[str] | None]]] = {
    "learners": [
        ("learner_id", "str", True, None), ("country", "str", False, None),
        ("education_level", "str", False, {
            "less than high school diploma", "high school diploma", "college no degree", "associate degree",
            "bachelor degree", "masters degree", "professional degree", "doctorate degree"}),
        ("gender", "str", False, {"male", "female", "other"}), ("linkedin_url", "str", False, None),
        ("registered_at", "ts", True, None), ("updated_at", "ts", True, None),
    ],
    "certificates": [
        ("certificate_id", "str", True, None), ("learner_id", "str", True, None), ("course_id", "str", True, None),
        ("course_name", "str", False, None),
        ("primary_domain", "str", True, {"Business", "Computer Science", "Data Science", "Information Technology"}),
        ("credential_type", "str", True, {"Course", "Guided Project", "Specialization", "Professional Certificate"}),
        ("granted_at", "ts", True, None),
    ],
    "certificate_views": [
        ("view_id", "str", True, None), ("certificate_id", "str", True, None), ("viewed_at", "ts", True, None),
        ("referrer", "str", False, None), ("by_owner", "bool", True, None),
    ],
    "experiment_assignments": [
        ("learner_id", "str", True, None), ("experiment_id", "str", True, None), ("batch", "int", True, None),
        ("arm", "str", True, {"treatment", "control"}), ("randomized_at", "date", True, None),
        ("stratum", "str", True, None),
    ],
    "app_sessions": [
        ("learner_id", "str", True, None), ("started_at", "ts", True, None),
        ("platform", "str", True, {"web", "ios", "android"}),
    ],
    "skill_scores": [
        ("learner_id", "str", True, None), ("skill", "str", True, None), ("score", "num", True, None),
        ("measured_at", "ts", True, None),
    ],
}
KEYS = {
    "learners": ["learner_id", "updated_at"], "certificates": ["certificate_id"], "certificate_views": ["view_id"],
    "experiment_assignments": ["experiment_id", "learner_id"], "app_sessions": ["learner_id", "started_at", "platform"],
    "skill_scores": ["learner_id", "skill", "measured_at"],
}
TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)")
DATE = re.compile(r"\d{4}-\d\d-\d\d")


def parse_instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def timestamp_ok(value: Any, kind: str) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return False
    if kind == "date":
        if not DATE.fullmatch(value):
            return False
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
        return True
    if not TS.fullmatch(value):
        return False
    try:
        parse_instant(value)
    except ValueError:
        return False
    return True


def reference_classify(source: str, raw: bytes) -> tuple[str | None, dict | None]:
    try:
        row = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "malformed_json", None
    if type(row) is not dict:
        return "malformed_json", None
    spec = CONTRACT[source]
    missing = [name for name, _, required, _ in spec if required and row.get(name) in (None, "")]
    if missing:
        return f"missing_field:{missing[0]}", row
    for name, kind, _, _ in spec:
        if kind in ("ts", "date") and row.get(name) is not None and not timestamp_ok(row[name], kind):
            return f"bad_timestamp:{name}", row
    for name, kind, _, _ in spec:
        value = row.get(name)
        if value is None:
            continue
        wrong = (
            (kind == "int" and (type(value) is not int))
            or (kind == "num" and type(value) not in (int, float))
            or (kind == "bool" and type(value) is not bool)
        )
        if wrong:
            return f"bad_type:{name}", row
    for name, _, _, allowed in spec:
        value = row.get(name)
        if allowed is not None and value is not None and str(value) not in allowed:
            return f"bad_enum:{name}", row
    return None, row


def read_partitions(landing: Path, source: str) -> dict[str, list[tuple[str, int, bytes]]]:
    """{dt: [(file, line number, raw line)]} in file-name then line order; only folders with _SUCCESS."""
    result: dict[str, list[tuple[str, int, bytes]]] = {}
    for folder in sorted((landing / "platform" / source).iterdir()):
        if not (folder / "_SUCCESS").exists():
            continue
        lines: list[tuple[str, int, bytes]] = []
        for part in sorted(folder.glob("part-*.jsonl.gz")):
            data = gzip.decompress(part.read_bytes())
            for number, raw in enumerate(data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n"), 1):
                lines.append((part.name, number, raw))
        result[folder.name.removeprefix("dt=")] = lines
    return result


def ingest(landing: Path, source: str) -> tuple[dict[str, dict[str, Any]], list[dict]]:
    """Reference ingestion: per-dt accounting and the kept rows."""
    accounting: dict[str, dict[str, Any]] = {}
    kept_rows: list[dict] = []
    for dt, lines in read_partitions(landing, source).items():
        seen: set[tuple] = set()
        stats = {"rows_in": 0, "rows_kept": 0, "duplicates": 0, "quarantined": Counter()}
        for _, _, raw in lines:
            if raw == b"":
                continue
            stats["rows_in"] += 1
            reason, row = reference_classify(source, raw)
            if reason:
                stats["quarantined"][reason] += 1
                continue
            key = tuple(str(row.get(k)) for k in KEYS[source])
            if key in seen:
                stats["duplicates"] += 1
                continue
            seen.add(key)
            stats["rows_kept"] += 1
            kept_rows.append(row | {"_dt": dt})
        stats["quarantined"] = dict(sorted(stats["quarantined"].items()))
        accounting[dt] = stats
    return accounting, kept_rows


# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("landing20k")
    generate(root, n_learners=CALIBRATION_SCALE, seed=11)
    return root


@pytest.fixture(scope="module")
def truth(landing: Path) -> pd.DataFrame:
    return pd.read_parquet(landing / "_truth" / "learners_truth.parquet")


@pytest.fixture(scope="module")
def kept(landing: Path) -> dict[str, list[dict]]:
    return {source: ingest(landing, source)[1] for source in SOURCES}


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_arguments_give_identical_bytes(tmp_path: Path) -> None:
    generate(tmp_path / "a", n_learners=1500, seed=5)
    generate(tmp_path / "b", n_learners=1500, seed=5)
    generate(tmp_path / "c", n_learners=1500, seed=6)
    first, second, other = _digest(tmp_path / "a"), _digest(tmp_path / "b"), _digest(tmp_path / "c")
    assert first == second
    assert first != other
    # Re-running into the same folder replaces the previous output rather than mixing with it.
    generate(tmp_path / "a", n_learners=1500, seed=5)
    assert _digest(tmp_path / "a") == first


def test_layout_follows_the_contract(landing: Path, kept: dict[str, list[dict]]) -> None:
    """Daily sources have a folder every day (empty on a day without rows); event-driven ones only on days with
    rows: assignments on randomization days, skill scores and learner records on the days they change."""
    expected_days = {(date(2022, 8, 31) + timedelta(days=k)).isoformat() for k in range((date(2023, 9, 30) - date(2022, 8, 31)).days + 1)}
    for source in SOURCES:
        folders = sorted((landing / "platform" / source).iterdir())
        days = {f.name.removeprefix("dt=") for f in folders}
        if source in DAILY:
            assert days == expected_days, source
        else:
            assert days <= expected_days, source
            with_rows = {row["_dt"] for row in kept[source]}
            quarantined_only = days - with_rows
            assert len(quarantined_only) <= 0.05 * len(days), (source, sorted(quarantined_only)[:5])
        for folder in folders:
            names = {p.name for p in folder.iterdir()}
            assert "_SUCCESS" in names and "part-00000.jsonl.gz" in names
            assert (folder / "_SUCCESS").stat().st_size == 0
            assert all(re.fullmatch(r"part-\d{5}\.jsonl\.gz|_SUCCESS", n) for n in names)
            if source not in DAILY:
                assert any(gzip.decompress(p.read_bytes()).strip() for p in folder.glob("part-*.jsonl.gz")), folder
    assignment_days = {f.name.removeprefix("dt=") for f in (landing / "platform" / "experiment_assignments").iterdir()}
    assert assignment_days == {row["randomized_at"] for row in kept["experiment_assignments"]}
    assert len(assignment_days) == 5 + 3  # five study batches, three waves of the other experiments
    for name in ("learners_truth.parquet", "profiles.jsonl.gz", "ingest_expected.json"):
        assert (landing / "_truth" / name).exists()


def test_rows_land_in_the_folder_of_their_event_day_unless_late(kept: dict[str, list[dict]]) -> None:
    event_field = {"learners": "updated_at", "certificates": "granted_at", "certificate_views": "viewed_at",
                   "app_sessions": "started_at", "skill_scores": "measured_at"}
    backfill = date(2022, 8, 31)
    for source, name in event_field.items():
        late = 0
        for row in kept[source]:
            day = max(parse_instant(row[name]).date(), backfill)
            folder = date.fromisoformat(row["_dt"])
            assert folder >= day, (source, row)
            late += folder > day
        if source in ("learners", "certificates", "skill_scores"):
            assert late == 0, source
        else:
            assert late > 0, f"{source}: expected some late-arriving rows"
    for row in kept["experiment_assignments"]:
        assert row["_dt"] == row["randomized_at"]


def test_ingest_expected_matches_a_reference_reading(landing: Path) -> None:
    expected = json.loads((landing / "_truth" / "ingest_expected.json").read_text())
    reasons: Counter[str] = Counter()
    for source in SOURCES:
        accounting, _ = ingest(landing, source)
        assert accounting == expected[source], source
        for stats in accounting.values():
            assert stats["rows_in"] == stats["rows_kept"] + stats["duplicates"] + sum(stats["quarantined"].values())
            reasons.update(stats["quarantined"])
    kinds = {reason.split(":")[0] for reason in reasons}
    assert kinds == {"malformed_json", "missing_field", "bad_timestamp", "bad_type", "bad_enum"}
    assert sum(
        s["duplicates"] for src in expected.values() for s in src.values()
    ) > 0


def test_dirt_rate_is_about_the_requested_share(landing: Path) -> None:
    expected = json.loads((landing / "_truth" / "ingest_expected.json").read_text())
    for source in SOURCES:
        kept_rows = sum(s["rows_kept"] for s in expected[source].values())
        bad = sum(s["duplicates"] + sum(s["quarantined"].values()) for s in expected[source].values())
        assert 0.004 < bad / kept_rows < 0.015, source


def test_truth_is_recomputable_from_the_clean_files(kept: dict[str, list[dict]], truth: pd.DataFrame) -> None:
    assignments = {r["learner_id"]: r for r in kept["experiment_assignments"] if r["experiment_id"] == "credential-feature-2022"}
    assert set(assignments) == set(truth["learner_id"])
    # Study certificate = the learner's certificate granted in the (UTC) month of randomized_at.
    study: dict[str, str] = {}
    for cert in kept["certificates"]:
        assignment = assignments.get(cert["learner_id"])
        if assignment and parse_instant(cert["granted_at"]).strftime("%Y-%m") == assignment["randomized_at"][:7]:
            assert cert["learner_id"] not in study
            study[cert["learner_id"]] = cert["certificate_id"]
    owner_of = {certificate: learner for learner, certificate in study.items()}
    views: dict[str, Counter] = defaultdict(Counter)
    seen_views: set[str] = set()
    linkedin = re.compile(r"^(https?://([a-z0-9-]+\.)*linkedin\.com(/|$)|https?://lnkd\.in(/|$)|android-app://com\.linkedin\.android)")
    as_of_end = datetime(2023, 10, 1, tzinfo=timezone.utc)
    for view in kept["certificate_views"]:
        if view["view_id"] in seen_views:
            continue  # re-exported in a later partition: counts once
        seen_views.add(view["view_id"])
        learner = owner_of.get(view["certificate_id"])
        if learner is None:
            continue
        start = datetime.fromisoformat(assignments[learner]["randomized_at"]).replace(tzinfo=timezone.utc)
        if not start <= parse_instant(view["viewed_at"]) < as_of_end:
            continue
        is_linkedin = bool(linkedin.match(view["referrer"] or ""))
        views[learner]["all"] += 1
        views[learner]["others"] += not view["by_owner"]
        views[learner]["linkedin"] += is_linkedin
        views[learner]["linkedin_others"] += is_linkedin and not view["by_owner"]
    logged_in: set[str] = set()
    for session in kept["app_sessions"]:
        assignment = assignments.get(session["learner_id"])
        if assignment:
            start = datetime.fromisoformat(assignment["randomized_at"]).replace(tzinfo=timezone.utc)
            if start < parse_instant(session["started_at"]) <= start + timedelta(days=30):
                logged_in.add(session["learner_id"])
    indexed = truth.set_index("learner_id")
    recomputed = pd.DataFrame(
        {
            "certificate_id": pd.Series(study),
            "count_views_all": pd.Series({k: v["all"] for k, v in views.items()}),
            "count_views_by_others": pd.Series({k: v["others"] for k, v in views.items()}),
            "count_views_linkedin": pd.Series({k: v["linkedin"] for k, v in views.items()}),
            "count_views_linkedin_by_others": pd.Series({k: v["linkedin_others"] for k, v in views.items()}),
        }
    ).reindex(indexed.index)
    recomputed = recomputed.fillna({c: 0 for c in recomputed.columns if c.startswith("count")})
    for column in recomputed.columns:
        left = indexed[column]
        right = recomputed[column].astype(left.dtype)
        assert (left == right).all(), column
    assert (indexed["logged_in_after_randomization"] == indexed.index.isin(logged_in).astype(int)).all()
    arms = pd.Series({k: int(v["arm"] == "treatment") for k, v in assignments.items()})
    assert (indexed["treatment"] == arms.reindex(indexed.index)).all()
    # The learner row in force at randomization: the latest updated before the end of the randomization day (UTC),
    # else the earliest row.
    in_force = learner_rows_in_force(kept["learners"], {k: v["randomized_at"] for k, v in assignments.items()})
    gender = pd.Series({k: v["gender"] or "not mentioned" for k, v in in_force.items()}).reindex(indexed.index)
    assert (indexed["gender"] == gender).all()
    education = pd.Series({k: v["education_level"] or "not mentioned" for k, v in in_force.items()})
    assert (indexed["education_level"] == education.reindex(indexed.index)).all()
    has_url = pd.Series({k: int(bool(v["linkedin_url"])) for k, v in in_force.items()}).reindex(indexed.index)
    assert (indexed["has_linkedin_url"] == has_url).all()
    latest = learner_rows_in_force(kept["learners"], None)
    has_url_latest = pd.Series({k: int(bool(v["linkedin_url"])) for k, v in latest.items()}).reindex(indexed.index)
    assert (indexed["has_linkedin_url_latest"] == has_url_latest).all()
    # Main skill: per (learner, skill) the latest measurement before the end of the randomization day.
    scores: dict[tuple[str, str], dict] = {}
    for row in kept["skill_scores"]:
        randomized = assignments.get(row["learner_id"])
        if randomized is None or parse_instant(row["measured_at"]) >= day_end(randomized["randomized_at"]):
            continue
        key = (row["learner_id"], row["skill"])
        if key not in scores or parse_instant(row["measured_at"]) > parse_instant(scores[key]["measured_at"]):
            scores[key] = row
    best: dict[str, tuple[float, str]] = {}
    for (learner, skill), row in scores.items():
        if learner not in best or (-row["score"], skill) < (-best[learner][0], best[learner][1]):
            best[learner] = (row["score"], skill)
    main = pd.Series({k: v[1] for k, v in best.items()}).reindex(indexed.index)
    assert (indexed["main_skill"].fillna("-") == main.fillna("-")).all()


def day_end(randomized_at: str) -> datetime:
    return datetime.fromisoformat(randomized_at).replace(tzinfo=timezone.utc) + timedelta(days=1)


def learner_rows_in_force(rows: list[dict], randomized_at: dict[str, str] | None) -> dict[str, dict]:
    """Per learner, the row in force at randomization (or the latest row when `randomized_at` is None)."""
    by_learner: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_learner[row["learner_id"]].append(row)
    chosen = {}
    for learner, versions in by_learner.items():
        versions.sort(key=lambda r: parse_instant(r["updated_at"]))
        if randomized_at is None:
            chosen[learner] = versions[-1]
            continue
        if learner not in randomized_at:
            continue
        early = [r for r in versions if parse_instant(r["updated_at"]) < day_end(randomized_at[learner])]
        chosen[learner] = early[-1] if early else versions[0]
    return chosen


def test_randomization_is_exactly_balanced_within_strata(truth: pd.DataFrame) -> None:
    counts = truth.groupby(["batch", "stratum"])["treatment"].agg(["sum", "size"])
    assert ((counts["size"] - 2 * counts["sum"]).abs() <= 1).all()
    assert set(truth["batch"]) == {1, 2, 3, 4, 5}
    assert truth["randomized_at"].map(lambda d: (d + timedelta(days=1)).day == 1).all()
    assert truth["stratum"].str.fullmatch(
        r"(Business|Computer Science|Data Science|Information Technology)\|(developing|developed)\|(degree|no_degree)"
    ).all()
    # The sample rule: developing country or no college degree (at randomization).
    assert not truth["stratum"].str.endswith("|developed|degree").any()


def test_full_sample_calibration(truth: pd.DataFrame) -> None:
    assert truth["developing_country"].mean() == pytest.approx(0.896, abs=0.01)
    domains = truth["primary_domain"].value_counts(normalize=True)
    for name, share in {"Business": 0.37, "Computer Science": 0.25, "Data Science": 0.24, "Information Technology": 0.14}.items():
        assert domains[name] == pytest.approx(share, abs=0.015)
    assert (truth["credential_type"] == "Guided Project").mean() == pytest.approx(0.168, abs=0.01)
    assert (truth["education_level"] == "not mentioned").mean() == pytest.approx(0.645, abs=0.015)
    assert (truth["gender"] == "not mentioned").mean() == pytest.approx(0.533, abs=0.015)
    for column, target in {"views_all": 0.191, "views_all_by_others": 0.143, "views_linkedin": 0.165,
                           "views_linkedin_by_others": 0.124}.items():
        assert truth[column].mean() == pytest.approx(target, abs=0.012), column
    for column, target in {"count_views_all": 0.71, "count_views_linkedin": 0.58}.items():
        assert truth[column].mean() == pytest.approx(target, rel=0.2), column
    assert truth["main_skill_score"].mean() == pytest.approx(0.099, abs=0.02)
    assert truth["main_skill_standardized"].notna().all()
    login = truth.groupby("batch")["logged_in_after_randomization"].mean()
    for batch, rate in enumerate([0.92, 0.96, 0.93, 0.90, 0.82], 1):
        assert login[batch] == pytest.approx(rate, abs=0.02)
    assert truth["has_linkedin_url"].mean() == pytest.approx(0.042, abs=0.006)


def test_profiles_match_the_truth(landing: Path, truth: pd.DataFrame) -> None:
    profiles = [json.loads(line) for line in gzip.decompress((landing / "_truth" / "profiles.jsonl.gz").read_bytes()).splitlines()]
    with_url = truth[truth["has_linkedin_url"] == 1]
    late = truth[truth["url_case"] == "url_added_after_randomization"]
    # The crawler read the latest export: it fetched the pages of URLs given after randomization too.
    assert {p["learner_id"] for p in profiles} == set(with_url["learner_id"]) | set(late["learner_id"])
    assert late["credential_shared"].isna().all() and late["new_job"].isna().all()
    profiles = [p for p in profiles if p["learner_id"] in set(with_url["learner_id"])]
    assert len({p["profile_url"] for p in profiles}) == len(profiles)
    by_id = with_url.set_index("learner_id")
    faults = Counter(p["page_fault"] for p in profiles)
    assert 0 < sum(v for k, v in faults.items() if k) < 0.08 * len(profiles)
    for profile in profiles:
        row = by_id.loc[profile["learner_id"]]
        assert set(profile) >= {"learner_id", "profile_url", "language", "positions", "education", "certifications", "page_fault"}
        if profile["page_fault"]:
            assert np.isnan(row["credential_shared"])
            continue
        ids = {re.sub(r"[\s-]", "", c["credential_id"] or "").upper() for c in profile["certifications"]}
        urls = " ".join((c["credential_url"] or "") for c in profile["certifications"])
        shown = row["certificate_id"] in ids or row["certificate_id"] in urls
        assert shown == bool(row["credential_shared"])
        for position in profile["positions"]:
            assert set(position) == {"title", "company", "location", "start", "end", "is_current"}
            assert re.fullmatch(r"\d{4}(-\d\d)?", position["start"])
    no_url = truth[truth["has_linkedin_url"] == 0]
    assert no_url["new_job"].isna().all()


def test_a_sharded_population_is_one_consistent_landing_zone(tmp_path: Path) -> None:
    """Large scales are generated shard by shard (bounded memory); the shards must add up to one landing zone."""
    summary = generate(tmp_path, n_learners=3000, seed=5, max_learners_per_shard=1000)
    assert json.loads((tmp_path / "_truth" / "generation.json").read_text())["shards"] == [1000, 1000, 1000]
    expected = json.loads((tmp_path / "_truth" / "ingest_expected.json").read_text())
    for source in SOURCES:
        accounting, _ = ingest(tmp_path, source)
        assert accounting == expected[source], source
    # At this scale learner records and skill scores change on some days only: those days have no folder.
    for source in ("learners", "skill_scores", "experiment_assignments"):
        folders = list((tmp_path / "platform" / source).glob("dt=*"))
        assert len(folders) < len(list((tmp_path / "platform" / "app_sessions").glob("dt=*"))), source
        assert all((folder / "_SUCCESS").exists() for folder in folders)
    first_parts = {p.name for p in (tmp_path / "platform" / "learners").glob("dt=*/part-*.jsonl.gz")}
    assert {"part-00000.jsonl.gz", "part-01000.jsonl.gz", "part-02000.jsonl.gz"} <= first_parts

    truth = pd.read_parquet(summary.truth_path)
    assert len(truth) == 3000 and truth["learner_id"].is_unique
    pd.testing.assert_frame_equal(
        truth, simulate_truth(n_learners=3000, seed=5, max_learners_per_shard=1000), check_dtype=False
    )
    # Each shard randomizes exactly 50/50 within batch x stratum, so the union is off by at most one per shard.
    counts = truth.groupby(["batch", "stratum"])["treatment"].agg(["sum", "size"])
    assert ((counts["size"] - 2 * counts["sum"]).abs() <= 3).all()
    profiles = [json.loads(line) for line in gzip.decompress(summary.profiles_path.read_bytes()).splitlines()]
    assert len(profiles) == summary.profiles
    assert len({p["profile_url"] for p in profiles}) == len(profiles)
    assert {p["learner_id"] for p in profiles} == set(truth.loc[truth["has_linkedin_url_latest"] == 1, "learner_id"])


def test_scope_titles_follow_the_keyword_rule() -> None:
    titles = json.loads((Path(__file__).resolve().parents[2] / "synth" / "data" / "job_titles.json").read_text())

    def plain(text: str) -> str:
        return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))

    keywords = [plain(k) for k in titles["scope_keywords"]]
    for language, groups in titles["titles"].items():
        for group, names in groups.items():
            for name in names:
                in_scope = any(k in plain(name) for k in keywords)
                assert in_scope == (group in ("tech", "managerial", "intern_scope")), (language, name)


def test_planted_effects_have_the_right_sign_and_size() -> None:
    # A LinkedIn-heavy world makes the LinkedIn-sample effects measurable in a few seconds.
    truth = simulate_truth(n_learners=120_000, seed=3, linkedin_share=0.5)
    sample = truth[truth["credential_shared"].notna()]
    means = sample.groupby("treatment")[["credential_shared", "new_job", "new_job_in_scope"]].mean()
    effect = means.loc[1] - means.loc[0]
    assert means.loc[0, "credential_shared"] == pytest.approx(0.167, abs=0.01)
    assert means.loc[0, "new_job"] == pytest.approx(0.173, abs=0.01)
    assert means.loc[0, "new_job_in_scope"] == pytest.approx(0.127, abs=0.01)
    assert 0.015 < effect["credential_shared"] < 0.045
    assert 0.0 < effect["new_job"] < 0.025
    assert 0.0 < effect["new_job_in_scope"] < 0.025
    # Treated learners who never logged in cannot have been nudged.
    quiet = sample[sample["logged_in_after_randomization"] == 0]
    by_arm = quiet.groupby("treatment")["credential_shared"].mean()
    assert abs(by_arm[1] - by_arm[0]) < 0.03
    views = truth.groupby("treatment")["views_linkedin"].mean()
    assert views[1] > views[0]


# ---------------------------------------------------------------------------------------------------------------
# What real exports do around randomization, planted with its truth.


def test_planted_learner_versions_are_in_the_export(kept: dict[str, list[dict]], truth: pd.DataFrame) -> None:
    rows: dict[str, list[dict]] = defaultdict(list)
    for row in kept["learners"]:
        rows[row["learner_id"]].append(row)
    for versions in rows.values():
        versions.sort(key=lambda r: parse_instant(r["updated_at"]))
    counts = Counter()
    for learner, case, randomized_at in truth[["learner_id", "url_case", "randomized_at"]].itertuples(index=False):
        end = day_end(randomized_at.isoformat())
        versions = rows[learner]
        before = [r for r in versions if parse_instant(r["updated_at"]) < end]
        urls_after = [r["linkedin_url"] for r in versions if parse_instant(r["updated_at"]) >= end]
        counts[case] += 1
        if case == "url_added_after_randomization":
            assert not before[-1]["linkedin_url"] and urls_after and urls_after[-1], learner
        elif case == "url_changed_after_randomization":
            assert before[-1]["linkedin_url"] and urls_after[-1] and urls_after[-1] != before[-1]["linkedin_url"]
        elif case == "url_added_on_randomization_day":
            assert not versions[0]["linkedin_url"] and before[-1]["linkedin_url"]
            assert parse_instant(before[-1]["updated_at"]).date() == randomized_at
    assert min(counts.values()) >= 30, counts
    for learner, case, randomized_at in truth[["learner_id", "attribute_case", "randomized_at"]].itertuples(index=False):
        instants = [parse_instant(r["updated_at"]) for r in rows[learner]]
        end = day_end(randomized_at.isoformat())
        if case == "updated_at_end_of_randomization_day":
            assert max(instants) >= end - timedelta(minutes=1) and max(instants) < end
        elif case == "updated_at_start_of_next_day":
            # The exporter may render the instant with sub-second digits; it stays in the first second of R+1.
            assert end <= max(instants) < end + timedelta(seconds=1)
        elif case == "no_version_before_randomization":
            assert min(instants) >= end and len(instants) == 1
        elif case == "updated_after_randomization":
            assert len(instants) == 2 and instants[1] >= end
    assert set(truth["attribute_case"]) == {"none", "updated_before_randomization", "updated_after_randomization",
                                            "updated_at_end_of_randomization_day", "updated_at_start_of_next_day",
                                            "no_version_before_randomization"}
    later_skills = Counter(
        row["learner_id"] for row in kept["skill_scores"]
        if row["learner_id"] in set(truth.loc[truth["skill_case"] == "measured_after_randomization", "learner_id"])
    )
    assert len(later_skills) == (truth["skill_case"] == "measured_after_randomization").sum() > 1000


def test_reading_the_latest_record_would_unbalance_the_linkedin_sample(truth: pd.DataFrame) -> None:
    """Treated learners add their URL after randomization more often (the nudge): the URL in force at randomization
    is balanced by arm, the latest record's is not."""
    from scipy.stats import chi2_contingency

    def p_value(column: str) -> float:
        return chi2_contingency(pd.crosstab(truth["treatment"], truth[column]).values, correction=False).pvalue

    at_randomization = truth.groupby("treatment")["has_linkedin_url"].mean()
    latest = truth.groupby("treatment")["has_linkedin_url_latest"].mean()
    assert p_value("has_linkedin_url") > 0.01, at_randomization
    assert p_value("has_linkedin_url_latest") < 1e-6 and latest[1] - latest[0] > 0.01, latest


def test_the_assignments_export_holds_several_experiments(kept: dict[str, list[dict]], truth: pd.DataFrame) -> None:
    by_experiment: dict[str, set[str]] = defaultdict(set)
    for row in kept["experiment_assignments"]:
        by_experiment[row["experiment_id"]].add(row["learner_id"])
    assert len(by_experiment) == 3
    assert by_experiment["credential-feature-2022"] == set(truth["learner_id"])
    others = set().union(*(ids for name, ids in by_experiment.items() if name != "credential-feature-2022"))
    assert others - set(truth["learner_id"]) and others & set(truth["learner_id"])
