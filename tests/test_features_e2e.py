"""The feature job end to end on synthetic exports and profile pages, against the generator's planted truth.

A small landing zone (synth.platform.generate + synth.profile_pages.write_crawl) goes through the real ingest and
parse jobs, then jobs.features.build_tables. Every flag and covariate of the truth table must agree for every
learner whose inputs are clean. The exclusions are explicit and each is counted (none may swallow the sample):

- LinkedIn outcomes: learners whose page could not be read as planted: a page fault (authwall, empty, not found,
  truncated: a planted job or credential may sit past the cut) or a rate-limited fetch (crawl_expected status).
  Those learners' truth is NaN or their page is not in the crawl as planted, so there is nothing to compare.

The generator also plants what real exports do around randomization (synth.population: url_case, attribute_case,
skill_case in the truth): URLs given after randomization (more in the treatment arm), URLs changed after it (the
crawl fetched either URL), attribute updates at the edges of the randomization day, learners with no version by
then, skill measurements after it, and two more experiments in the assignments export. The tests at the end check
each case against the truth, and that reading the latest record instead would have got them wrong.
"""

from __future__ import annotations

import gzip
import json
from datetime import date
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest

from credsignal.core import contracts, lake
from credsignal.core.config import Config
from credsignal.core.privacy import keyed_hash
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


def _executed_nodes(node) -> list[str]:
    """The names of an executed plan's nodes, through adaptive query stages but not into the plans of cached
    relations (which ran when the cache was filled)."""
    name = node.nodeName()
    if name == "AdaptiveSparkPlan":
        inner = [node.executedPlan()]
    elif name.endswith("QueryStage"):
        inner = [node.plan()]
    else:
        children = node.children()
        inner = [children.apply(i) for i in range(children.size())]
    return [name, *(nested for child in inner for nested in _executed_nodes(child))]


@pytest.fixture(scope="module")
def run(spark, tmp_path_factory, shared_dir):
    root = tmp_path_factory.mktemp("features_e2e")
    config = Config(landing=root / "landing", lake=root / "lake")
    generate(config.landing, n_learners=N_LEARNERS, seed=20231, dirty_rate=0.01, linkedin_share=LINKEDIN_SHARE,
             as_of=AS_OF, window_start=WINDOW_START)
    write_crawl(config.landing, crawl_id=CRAWL_ID, seed=7)
    ingest.run(spark, config)
    parse.run(spark, config)
    references = features.StudyReferences(cwur_path=shared_dir / "reference" / "cwurData.csv")
    tables = features.build_tables(spark, config.lake, as_of=AS_OF, experiment_id=config.experiment_id,
                                   references=references, pseudonym_key=PSEUDONYM_KEY)
    curated = {name: tables[name].toPandas() for name in contracts.OUTPUT_TABLES}
    crosswalk = tables["learner_crosswalk"].toPandas()
    report = tables["profile_match_report"].toPandas()
    executed_plans = {name: _executed_nodes(tables[name]._jdf.queryExecution().executedPlan())
                      for name in ("learner_outcomes_full", "learner_crosswalk")}
    persisted = tables[features.PERSISTED_FULL]
    cached = {"persisted": persisted.storageLevel, "published": tables["learner_outcomes_full"].storageLevel}
    persisted.unpersist()
    cached["persisted_after_release"] = persisted.storageLevel
    truth_dir = config.landing / "_truth"

    def by_learner_id(frame: pd.DataFrame) -> pd.DataFrame:
        """The curated rows keyed back to the platform ID through the restricted crosswalk."""
        return frame.merge(crosswalk, on="learner_key", validate="one_to_one").set_index("learner_id").sort_index()

    bronze = {source: spark.read.parquet(str(lake.bronze_table(config.lake, source))).toPandas()
              for source in ("learners", "skill_scores", "experiment_assignments")}
    return {
        "bronze": bronze,
        "curated": curated,
        "crosswalk": crosswalk,
        "silver_profiles": pd.read_parquet(lake.silver_table(config.lake, "profiles")),
        "full": by_learner_id(curated["learner_outcomes_full"]),
        "linkedin": by_learner_id(curated["learner_outcomes_linkedin"]),
        "report": report,
        "config": config,
        "references": references,
        "cached": cached,
        "executed_plans": executed_plans,
        "truth": pd.read_parquet(truth_dir / "learners_truth.parquet").set_index("learner_id").sort_index(),
        "crawl": pd.DataFrame(_jsonl(truth_dir / "crawl_expected.jsonl.gz")),
        "profiles": {p["learner_id"]: p for p in _jsonl(truth_dir / "profiles.jsonl.gz")},
        "learner_versions": pd.read_parquet(config.lake / "bronze" / "learners",
                                            columns=["learner_id", "education_level", "gender", "updated_at"]),
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


def test_the_full_table_is_cached_once_and_released_by_its_handle(run):
    from pyspark import StorageLevel

    # Only the frame build_tables persisted releases the cache: the published table derives from it.
    assert run["cached"]["persisted"] != StorageLevel.NONE
    assert run["cached"]["published"] == StorageLevel.NONE
    assert run["cached"]["persisted_after_release"] == StorageLevel.NONE


@pytest.mark.parametrize("table", ["learner_outcomes_full", "learner_crosswalk"])
def test_the_full_tables_keys_are_hashed_once_before_it_is_cached(run, table):
    """Both tables read the keys from the cached full table: no pandas UDF (the keyed hash) runs in their plans."""
    nodes = run["executed_plans"][table]
    assert "InMemoryTableScan" in nodes and "ArrowEvalPython" not in nodes


def test_the_feature_job_releases_the_full_table_it_cached(run, spark, monkeypatch, tmp_path):
    from pyspark import StorageLevel

    from credsignal.core import privacy
    from jobs.features import job

    built = []
    derive = job.build_tables

    def build_tables(*args, **kwargs):  # the real derivation; its tables are kept to look at after the run
        built.append(derive(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(job, "build_tables", build_tables)
    monkeypatch.setenv(privacy.KEY_ENV, PSEUDONYM_KEY.decode())
    summary = job.run(spark, run["config"], as_of=AS_OF, write_to=tmp_path / "staged",
                      cwur_path=run["references"].cwur_path)
    assert summary["rows"] == {name: len(run["curated"][name]) for name in contracts.OUTPUT_TABLES}
    assert built[0][features.PERSISTED_FULL].storageLevel == StorageLevel.NONE


def test_one_row_per_randomized_learner(run):
    assert run["full"].index.is_unique
    assert list(run["full"].index) == list(run["truth"].index)


# Survey answers are read as of randomization (the learner version in force at the end of the randomization day),
# while the generator's truth holds each learner's latest answers. For the learners the generator updated after
# their randomization day, the expected answer is that of their version at randomization, read here from the
# delivered versions (bronze learners, rows as exported).
AS_OF_RANDOMIZATION_COLUMNS = ("education_level", "gender")


def _answers_at_randomization(run, column: str) -> pd.Series:
    """{learner_id: answer} of the learners with a version after their randomization day: the answer of their latest
    version on or before it ("not mentioned" when null)."""
    versions = run["learner_versions"].copy()
    versions["updated_at"] = pd.to_datetime(versions["updated_at"], utc=True)
    randomized = pd.to_datetime(run["truth"]["randomized_at"]).dt.tz_localize("UTC")
    versions["_day_end"] = versions["learner_id"].map(randomized + pd.Timedelta(days=1))
    versions = versions[versions["_day_end"].notna()]
    later = set(versions.loc[versions["updated_at"] >= versions["_day_end"], "learner_id"])
    in_force = versions[versions["learner_id"].isin(later) & (versions["updated_at"] < versions["_day_end"])]
    latest = in_force.sort_values("updated_at").groupby("learner_id").tail(1).set_index("learner_id")[column]
    return latest.fillna("not mentioned")


@pytest.mark.parametrize("column", FULL_COLUMNS)
def test_full_sample_column_agrees_with_truth(run, column):
    full, truth = run["full"], run["truth"]
    expected = truth[column]
    if column in AS_OF_RANDOMIZATION_COLUMNS:
        at_randomization = _answers_at_randomization(run, column)
        assert 0 < len(at_randomization) < 0.05 * len(truth)  # the generator updates ~2% of learners at random times
        expected = expected.copy()
        expected.loc[at_randomization.index] = at_randomization
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


def _in_sample(run) -> pd.Index:
    """Readable profiles of learners whose URL was in force at randomization (the crawl also fetched the pages of
    URLs given later: those learners are not in the LinkedIn sample)."""
    truth = run["truth"]
    return _readable(run).intersection(truth.index[truth["has_linkedin_url"] == 1])


def test_linkedin_sample_is_every_readable_profile(run):
    readable = _in_sample(run)
    truth = run["truth"]
    with_url = truth.index[truth["has_linkedin_url"] == 1]
    assert len(readable) > 0.9 * len(with_url) > 100
    # Every readable planted profile is in the table; every row of the table is a learner with a URL.
    assert set(readable) <= set(run["linkedin"].index)
    assert set(run["linkedin"].index) <= set(with_url)


@pytest.mark.parametrize("column", LINKEDIN_COLUMNS)
def test_linkedin_outcome_agrees_with_truth(run, column):
    readable = _in_sample(run)
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


# ------------------------------------------------------------------------------ planted around randomization


def _latest_learner_records(run) -> pd.DataFrame:
    """What a pipeline reading each learner's latest record would take (the greatest updated_at)."""
    learners = run["bronze"]["learners"].sort_values(["learner_id", "updated_at"])
    return learners.groupby("learner_id").tail(1).set_index("learner_id")


def _case(run, column: str, case: str) -> pd.Index:
    truth = run["truth"]
    members = truth.index[truth[column] == case]
    assert len(members) > 0, f"no learner planted with {column}={case}"
    return members


def test_urls_given_after_randomization_stay_out_of_the_linkedin_sample(run):
    late = _case(run, "url_case", "url_added_after_randomization")
    full, truth = run["full"], run["truth"]
    assert (full.loc[late, "has_linkedin_url"] == 0).all()
    assert not set(late) & set(run["linkedin"].index)
    # Their pages were crawled and are readable: only the rule keeps them out.
    assert len(set(late) & set(_readable(run))) > 0.8 * len(late)
    latest = _latest_learner_records(run)
    assert latest.loc[late, "linkedin_url"].str.strip().str.len().gt(0).all()
    # A URL given on the randomization day itself is in force.
    on_day = _case(run, "url_case", "url_added_on_randomization_day")
    assert (full.loc[on_day, "has_linkedin_url"] == 1).all()
    assert set(on_day) & set(_in_sample(run)) <= set(run["linkedin"].index)
    report = run["report"].set_index(["subject", "outcome"])["count"]
    assert report[("url_at_randomization", "given_after_randomization")] == len(late)
    assert truth.loc[late, "treatment"].mean() > 0.6  # the nudge: mostly treated learners


def test_urls_changed_after_randomization_are_matched_on_either_url(run):
    changed = _case(run, "url_case", "url_changed_after_randomization")
    truth, linkedin, crawl = run["truth"], run["linkedin"], run["crawl"]
    # The match counts every page that parses (a truncated page too); the outcome checks only readable ones.
    parsed = set(crawl.loc[crawl["status"].isin(["ok", "partial"]), "learner_id"])
    at_randomization = [i for i in changed if truth.loc[i, "url_crawled_at"] == "url_at_randomization" and i in parsed]
    later = [i for i in changed if truth.loc[i, "url_crawled_at"] == "later_url" and i in parsed]
    assert at_randomization and later
    assert set(at_randomization) | set(later) <= set(linkedin.index)
    report = run["report"].set_index(["subject", "outcome"])["count"]
    assert report[("url_at_randomization", "changed:matched_at_randomization")] == len(at_randomization)
    assert report[("url_at_randomization", "changed:matched_later_url")] == len(later)
    # Reading the latest record would have matched only the pages fetched at the later URL.
    latest_urls = _latest_learner_records(run).loc[changed, "linkedin_url"]
    crawled = {p["learner_id"]: p["profile_url"] for p in run["profiles"].values()}
    slug = {i: unquote(url.rstrip("/").rsplit("/", 1)[1]) for i, url in crawled.items()}
    assert all(slug[i] not in latest_urls[i] for i in at_randomization)
    assert all(slug[i] in latest_urls[i] for i in later)


@pytest.mark.parametrize("case", ["updated_at_end_of_randomization_day", "updated_at_start_of_next_day",
                                  "updated_after_randomization", "updated_before_randomization",
                                  "no_version_before_randomization"])
def test_learner_attributes_are_the_version_in_force_at_randomization(run, case):
    members = _case(run, "attribute_case", case)
    full, truth = run["full"], run["truth"]
    for column in ("education_level", "gender", "developing_country", "has_linkedin_url"):
        wrong = _mismatches(full.loc[members, column], truth.loc[members, column], floats=False)
        assert len(wrong) == 0, (case, column, list(wrong[:5]))
    latest = _latest_learner_records(run).loc[members]
    latest_gender = latest["gender"].fillna("not mentioned")
    latest_education = latest["education_level"].fillna("not mentioned")
    differs = (latest_gender != truth.loc[members, "gender"]) | (latest_education != truth.loc[members, "education_level"])
    if case in ("updated_at_start_of_next_day", "updated_after_randomization"):
        assert differs.any(), f"{case}: the latest record should disagree with the value at randomization"
    else:  # the version in force at randomization is also the latest one
        assert not differs.any(), case
    if case == "no_version_before_randomization":
        report = run["report"].set_index(["subject", "outcome"])["count"]
        assert report[("learner_version", "no_version_by_randomization")] >= len(members)


def test_main_skill_uses_measurements_up_to_randomization(run):
    full, truth = run["full"], run["truth"]
    for case in ("measured_after_randomization", "measured_on_randomization_day"):
        members = _case(run, "skill_case", case)
        for column in ("main_skill", "main_skill_score", "main_skill_standardized"):
            wrong = _mismatches(full.loc[members, column], truth.loc[members, column], floats=column != "main_skill")
            assert len(wrong) == 0, (case, column, list(wrong[:5]))
    # The latest measurement of each skill would give another main skill or score to many learners.
    scores = run["bronze"]["skill_scores"].sort_values(["learner_id", "skill", "measured_at"])
    latest = scores.groupby(["learner_id", "skill"]).tail(1).sort_values(["learner_id", "score", "skill"],
                                                                          ascending=[True, False, True])
    best = latest.groupby("learner_id").head(1).set_index("learner_id")["score"]
    later = _case(run, "skill_case", "measured_after_randomization")
    assert (best.reindex(later) != truth.loc[later, "main_skill_score"]).mean() > 0.3


def test_only_the_configured_experiments_learners_are_randomized_learners(run):
    assignments = run["bronze"]["experiment_assignments"]
    experiments = assignments.groupby("experiment_id")["learner_id"].apply(set)
    assert len(experiments) == 3
    ours = experiments[Config().experiment_id]
    others = set().union(*(ids for name, ids in experiments.items() if name != Config().experiment_id))
    assert list(run["full"].index) == sorted(ours) == list(run["truth"].index)
    assert others - ours and not (others - ours) & set(run["full"].index)


def test_reading_the_latest_record_would_have_put_late_urls_in_the_sample(run):
    """The has_linkedin_url of the latest record differs from the truth exactly for the URLs given after
    randomization, which are mostly in the treatment arm; the pipeline's value (at randomization) has no such
    error, and by arm it is as balanced as the truth."""
    full, truth = run["full"], run["truth"]
    latest = _latest_learner_records(run)
    latest_flag = latest["linkedin_url"].fillna("").str.strip().str.len().gt(0).astype(int).reindex(truth.index)
    wrong_latest = truth.index[latest_flag != truth["has_linkedin_url"]]
    assert set(wrong_latest) == set(_case(run, "url_case", "url_added_after_randomization"))
    by_arm = truth.loc[wrong_latest, "treatment"].value_counts()
    assert by_arm.get(1, 0) > 2 * by_arm.get(0, 0)
    assert (full["has_linkedin_url"] == truth["has_linkedin_url"]).all()
    latest_share = latest_flag.groupby(truth["treatment"]).mean()
    pipeline_share = full["has_linkedin_url"].groupby(full["treatment"]).mean()
    assert latest_share[1] - latest_share[0] > pipeline_share[1] - pipeline_share[0] + 0.01
