"""The feature job end to end on synthetic exports and profile pages, against the generator's planted truth.

A small landing zone (synth.platform.generate + synth.profile_pages.write_crawl) goes through the real ingest and
parse jobs, then jobs.features.build_tables. Every flag and covariate of the truth table must agree for every
learner whose inputs are clean. The exclusions are explicit and each is counted (none may swallow the sample):

- LinkedIn outcomes: learners whose page could not be read as planted: a page fault (authwall, empty, not found,
  truncated: a planted job or credential may sit past the cut) or a rate-limited fetch (crawl_expected status).
  Those learners' truth is NaN or their page is not in the crawl as planted, so there is nothing to compare.
"""

from __future__ import annotations

import gzip
import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from credsignal import lake
from credsignal.config import Config
from credsignal.privacy import keyed_hash
from jobs import features, ingest, parse
from personal_data import personal_values
from synth.platform import generate
from synth.profile_pages import write_crawl

N_LEARNERS = 2500
LINKEDIN_SHARE = 0.2  # more profiles than the paper's 4.2%, so the LinkedIn checks see a few hundred pages
AS_OF = date(2023, 9, 30)
# A shorter export window than the default (one partition per day per source): same definitions, faster ingest.
WINDOW_START = date(2023, 3, 1)
CRAWL_ID = "2023-09"

PSEUDONYM_KEY = b"features-e2e-test-key-not-for-production-use"
FULL_COLUMNS = [
    "batch", "treatment", "randomized_at", "stratum", "primary_domain", "credential_type",
    "developing_country", "education_level", "gender", "main_skill", "main_skill_score", "main_skill_standardized",
    "logged_in_after_randomization", "count_views_all", "count_views_by_others", "count_views_linkedin",
    "count_views_linkedin_by_others", "views_all", "views_all_by_others", "views_linkedin",
    "views_linkedin_by_others", "has_linkedin_url",
]
FLOAT_COLUMNS = {"main_skill_score", "main_skill_standardized"}
LINKEDIN_COLUMNS = ["credential_shared", "new_job", "new_job_4m", "new_job_in_scope", "new_job_in_scope_4m"]


def _jsonl(path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture(scope="module")
def run(spark, tmp_path_factory, shared_dir):
    root = tmp_path_factory.mktemp("features_e2e")
    config = Config(landing=root / "landing", lake=root / "lake")
    generate(config.landing, n_learners=N_LEARNERS, seed=20231, dirty_rate=0.01, linkedin_share=LINKEDIN_SHARE,
             as_of=AS_OF, window_start=WINDOW_START)
    write_crawl(config.landing, crawl_id=CRAWL_ID, seed=7)
    ingest.run(spark, config)
    parse.run(spark, config)
    tables = features.build_tables(spark, config.lake, as_of=AS_OF, experiment_id=config.experiment_id,
                                   cwur_path=shared_dir / "reference" / "cwurData.csv", pseudonym_key=PSEUDONYM_KEY)
    curated = {name: tables[name].toPandas() for name in features.OUTPUT_TABLES}
    crosswalk = tables["learner_crosswalk"].toPandas()
    report = tables["profile_match_report"].toPandas()
    tables["learner_outcomes_full"].unpersist()
    truth_dir = config.landing / "_truth"

    def by_learner_id(frame: pd.DataFrame) -> pd.DataFrame:
        """The curated rows keyed back to the platform ID through the restricted crosswalk."""
        return frame.merge(crosswalk, on="learner_key", validate="one_to_one").set_index("learner_id").sort_index()

    return {
        "curated": curated,
        "crosswalk": crosswalk,
        "silver_profiles": pd.read_parquet(lake.silver_table(config.lake, "profiles")),
        "full": by_learner_id(curated["learner_outcomes_full"]),
        "linkedin": by_learner_id(curated["learner_outcomes_linkedin"]),
        "report": report,
        "truth": pd.read_parquet(truth_dir / "learners_truth.parquet").set_index("learner_id").sort_index(),
        "crawl": pd.DataFrame(_jsonl(truth_dir / "crawl_expected.jsonl.gz")),
        "profiles": {p["learner_id"]: p for p in _jsonl(truth_dir / "profiles.jsonl.gz")},
    }


def _mismatches(actual: pd.Series, expected: pd.Series, *, floats: bool) -> pd.Index:
    if floats:
        a, e = actual.astype(float), expected.astype(float)
        same = np.isclose(a, e, rtol=1e-9, atol=1e-12) | (a.isna() & e.isna())
    else:
        a = actual.astype(object).where(actual.notna(), None)
        e = expected.astype(object).where(expected.notna(), None)
        same = pd.Series([x == y for x, y in zip(a, e)], index=a.index)
    return actual.index[~np.asarray(same)]


def test_one_row_per_randomized_learner(run):
    assert run["full"].index.is_unique
    assert list(run["full"].index) == list(run["truth"].index)


@pytest.mark.parametrize("column", FULL_COLUMNS)
def test_full_sample_column_agrees_with_truth(run, column):
    full, truth = run["full"], run["truth"]
    expected = truth[column]
    actual = full.loc[truth.index, column]
    if column == "randomized_at":
        actual, expected = pd.to_datetime(actual), pd.to_datetime(expected)
    wrong = _mismatches(actual, expected, floats=column in FLOAT_COLUMNS)
    sample = pd.DataFrame({"pipeline": actual.loc[wrong[:5]], "truth": expected.loc[wrong[:5]]})
    assert len(wrong) == 0, f"{len(wrong)} of {len(truth)} learners disagree on {column}:\n{sample}"


def _readable(run) -> pd.Index:
    """Learners whose page was rendered and fetched as planted: no page fault and a parseable expected status
    (excludes authwall, empty, not-found and truncated pages, and rate-limited fetches)."""
    crawl = run["crawl"]
    clean = crawl[crawl["page_fault"].isna() & crawl["status"].isin(["ok", "partial"])]
    excluded = len(crawl) - len(clean)
    assert excluded < 0.1 * len(crawl), f"{excluded} of {len(crawl)} pages excluded"
    return pd.Index(sorted(clean["learner_id"]))


def test_linkedin_sample_is_every_readable_profile(run):
    readable = _readable(run)
    truth = run["truth"]
    with_url = truth.index[truth["has_linkedin_url"] == 1]
    assert len(readable) > 0.9 * len(with_url) > 100
    # Every readable planted profile is in the table; every row of the table is a learner with a URL.
    assert set(readable) <= set(run["linkedin"].index)
    assert set(run["linkedin"].index) <= set(with_url)


@pytest.mark.parametrize("column", LINKEDIN_COLUMNS)
def test_linkedin_outcome_agrees_with_truth(run, column):
    readable = _readable(run)
    expected = run["truth"].loc[readable, column]
    assert expected.notna().all()
    actual = run["linkedin"].loc[readable, column]
    wrong = _mismatches(actual, expected, floats=False)
    sample = pd.DataFrame({"pipeline": actual.loc[wrong[:5]], "truth": expected.loc[wrong[:5]]})
    assert len(wrong) == 0, f"{len(wrong)} of {len(readable)} readable profiles disagree on {column}:\n{sample}"
    # Not a vacuous comparison: the outcome occurs in the sample.
    assert 0 < expected.sum() < len(expected)


def test_study_certificate_is_keyed(run):
    truth, full = run["truth"], run["full"]
    expected = [None if pd.isna(c) else keyed_hash(PSEUDONYM_KEY, "certificate", c) for c in truth["certificate_id"]]
    actual = full.loc[truth.index, "certificate_key"]
    assert [None if pd.isna(c) else c for c in actual] == expected
    assert actual.notna().any()


def _platform_ids(run) -> set[str]:
    truth = run["truth"]
    return set(truth.index) | set(truth["certificate_id"].dropna())


def test_curated_tables_hold_no_personal_data(run):
    """Every curated column: no URL, e-mail address, generator name or raw platform ID."""
    findings = personal_values(run["curated"], platform_ids=_platform_ids(run))
    assert not findings, "personal data in curated tables:\n" + "\n".join(findings)


def test_the_scan_finds_personal_data_where_it_is_kept(run):
    """The scan is not blind: it finds the raw URLs and names in silver, and the platform IDs in the crosswalk."""
    found = "\n".join(personal_values({"silver.profiles": run["silver_profiles"], "crosswalk": run["crosswalk"]},
                                      platform_ids=_platform_ids(run)))
    assert "silver.profiles.profile_url: url" in found and "silver.profiles.profile_url: name" in found
    assert "crosswalk.learner_id: platform id" in found


def test_linkedin_rows_repeat_the_full_sample_columns(run):
    linkedin, full = run["linkedin"], run["full"]
    columns = [c for c in full.columns]
    pd.testing.assert_frame_equal(linkedin[columns], full.loc[linkedin.index, columns], check_dtype=False)


def test_match_report_accounts_for_every_learner(run):
    report = run["report"]
    learners = report[report["subject"] == "learner"].set_index("outcome")["count"]
    assert learners.sum() == len(run["truth"])
    assert learners["matched"] == len(run["linkedin"])
    assert learners["no_url"] == int((run["truth"]["has_linkedin_url"] == 0).sum())
