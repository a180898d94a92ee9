"""The validation step: GX suites and integrity gates on small in-test Spark frames, with planted faults."""

from __future__ import annotations

import html
import json

import re
from datetime import date

import numpy as np
import pandas as pd
import pytest

from credsignal.core.config import DEFAULT_SOURCE_FRESHNESS, SourceFreshness
from expectations.suites import VIEW_COUNTS, VIEW_FLAGS
from jobs import validate as v
from jobs.quality_history import write_report
from pyspark.testing import assertDataFrameEqual

AS_OF = date(2023, 9, 30)


def full_frame(n: int = 2000, seed: int = 1) -> pd.DataFrame:
    """A valid learner_outcomes_full: stratified 50/50 per batch, rates inside the bands."""
    rng = np.random.default_rng(seed)
    batch = np.repeat(np.arange(1, 6), n // 5)
    treatment = np.tile([0, 1], n // 2)
    count_all = rng.binomial(1, 0.19, n) * rng.integers(1, 5, n)
    count_linkedin = np.minimum(count_all, rng.binomial(1, 0.85, n) * count_all)
    count_others = np.minimum(count_all, rng.binomial(1, 0.75, n) * count_all)
    count_linkedin_others = np.minimum(count_linkedin, count_others)
    frame = pd.DataFrame({
        "learner_key": [f"L{i:06d}" for i in range(n)],
        "batch": batch,
        "treatment": treatment,
        "randomized_at": pd.to_datetime("2022-09-30") + pd.to_timedelta((batch - 1) * 30, unit="D"),
        "stratum": "Business|developing|no_degree",
        "certificate_key": [f"C{i:011d}" for i in range(n)],
        "primary_domain": rng.choice(["Business", "Computer Science", "Data Science", "Information Technology"], n),
        "credential_type": rng.choice(["Course", "Guided Project"], n, p=[0.83, 0.17]),
        "developing_country": rng.binomial(1, 0.896, n),
        "education_level": rng.choice(["not mentioned", "bachelor degree"], n, p=[0.65, 0.35]),
        "gender": rng.choice(["not mentioned", "male", "female"], n, p=[0.53, 0.3, 0.17]),
        "main_skill": "python",
        "main_skill_score": rng.random(n),
        "main_skill_standardized": rng.normal(0, 0.1, n),
        "logged_in_after_randomization": rng.binomial(1, 0.9, n),
        "count_views_all": count_all,
        "count_views_by_others": count_others,
        "count_views_linkedin": count_linkedin,
        "count_views_linkedin_by_others": count_linkedin_others,
        "has_linkedin_url": rng.binomial(1, 0.05, n),
    })
    for flag, count in zip(VIEW_FLAGS, VIEW_COUNTS):
        frame[flag] = (frame[count] > 0).astype(int)
    return frame


def severities(findings, prefix):
    return {f.check: f.severity for f in findings if f.check.startswith(prefix)}


def test_clean_full_table_passes_its_suite(spark):
    findings = v.suite_findings("learner_outcomes_full", spark.createDataFrame(full_frame()), AS_OF)
    failed = [f for f in findings if f.severity != v.OK]
    assert failed == []
    assert len(findings) > 30


def test_suite_reports_planted_row_faults_with_observed_values(spark):
    frame = full_frame()
    frame.loc[3, "learner_key"] = frame.loc[4, "learner_key"]  # duplicate key
    frame.loc[5, "views_linkedin"] = 2  # flag outside {0, 1}
    frame.loc[6, ["count_views_all", "views_all"]] = [0, 1]  # flag without a view
    frame.loc[7, "arm_free_text"] = "x"  # extra columns are allowed
    frame.loc[8, "primary_domain"] = "Art History"
    frame.loc[9, "count_views_by_others"] = frame.loc[9, "count_views_all"] + 3
    frame.loc[10:24, "certificate_key"] = None  # 15 of 2000: within the 99% the suite asks for
    frame.loc[25, "batch"] = 13  # the contract's range is 1..12
    findings = v.suite_findings("learner_outcomes_full", spark.createDataFrame(frame), AS_OF)
    failed = {f.check + ":" + f.expected for f in findings if f.severity == v.FAILURE}
    assert any("unique" in c and "learner_key" in c for c in failed)
    assert any("in_set" in c and '"views_linkedin"' in c for c in failed)
    assert any("_check_views_all_iff_count_views_all_positive" in c for c in failed)
    assert any("in_set" in c and "primary_domain" in c for c in failed)
    observed = {tuple(json.loads(f.expected).get(k) for k in ("column", "column_A", "column_B")): f.observed
                for f in findings if f.severity == v.FAILURE}
    assert observed["learner_key", None, None] == "2 unexpected rows (e.g. L000004, L000004)"
    assert observed["primary_domain", None, None] == "1 unexpected rows (e.g. Art History)"
    assert observed["views_linkedin", None, None] == "1 unexpected rows (e.g. 2)"
    assert observed["batch", None, None] == "1 unexpected rows (e.g. 13)"
    broken = frame[frame["count_views_all"] < frame["count_views_by_others"]]
    pairs = ", ".join(str((int(a), int(b))) for a, b in zip(broken["count_views_all"], broken["count_views_by_others"]))
    assert observed[None, "count_views_all", "count_views_by_others"] == f"{len(broken)} unexpected rows (e.g. {pairs})"
    certificate = [f for f in findings if '"certificate_key"' in f.expected and "not_be_null" in f.check]
    assert [(f.severity, f.observed, f.value) for f in certificate] == [(v.OK, "15 unexpected rows (e.g. None, None, None, None, None)", 15.0)]


def test_suite_reports_table_facts_as_observed_values(spark):
    findings = {f.check: f for f in v.suite_findings("learner_outcomes_full", spark.createDataFrame(full_frame()), AS_OF)}
    assert findings["gx:expect_table_row_count_to_be_between"].observed == "2000"
    assert findings["gx:expect_column_max_to_be_between"].observed == "2023-01-28 00:00:00"
    columns = findings["gx:expect_table_columns_to_match_set"].observed
    assert columns.startswith("['_check_views_all_by_others_iff_count_views_by_others_positive', ") and "'batch'" in columns


def test_a_suite_column_missing_from_the_table_fails_its_expectation(spark):
    frame = spark.createDataFrame(full_frame()).drop("gender")
    findings = v.suite_findings("learner_outcomes_full", frame, AS_OF)
    gender = [f for f in findings if json.loads(f.expected).get("column") == "gender"]
    assert gender and all(f.severity == v.FAILURE and "gender" in f.observed for f in gender)


@pytest.mark.parametrize("row, checks", [
    ({"views_all": 1, "count_views_all": 2, "new_job": 1, "new_job_4m": 1}, (1, 1)),
    ({"views_all": 0, "count_views_all": 0, "new_job": 0, "new_job_4m": 1}, (1, 0)),
    ({"views_all": 1, "count_views_all": 0, "new_job": 1, "new_job_4m": 0}, (0, 1)),
    ({"views_all": 0, "count_views_all": None, "new_job": None, "new_job_4m": 0}, (1, 0)),  # missing fails, as NaN did
    ({"views_all": None, "count_views_all": 3, "new_job": 1, "new_job_4m": None}, (0, 0)),
])
def test_consistency_columns_are_spark_expressions(spark, row, checks):
    from expectations.suites import add_consistency_columns

    schema = "views_all int, count_views_all long, new_job int, new_job_4m int"
    frame = spark.createDataFrame([tuple(row.values())], schema)
    checked = add_consistency_columns(frame).select("_check_views_all_iff_count_views_all_positive",
                                                    "_check_new_job_4m_implies_new_job")
    assertDataFrameEqual(checked, spark.createDataFrame([checks], "a int, b int").toDF(*checked.columns))


def test_sample_ratio_mismatch_blocks_when_an_arm_loses_5_percent(spark):
    frame = full_frame(n=20000)[["batch", "stratum", "treatment"]]
    counts = v.arm_counts(spark.createDataFrame(frame))
    assert severities(v.sample_ratio_findings("t", counts), "srm:overall") == {"srm:overall": v.OK}
    treated = frame.index[frame["treatment"] == 1]
    dropped = frame.drop(treated[: int(0.05 * len(treated))])
    findings = v.sample_ratio_findings("t", v.arm_counts(spark.createDataFrame(dropped)))
    overall = next(f for f in findings if f.check == "srm:overall")
    assert overall.severity == v.FAILURE and overall.p_value < 0.001
    # The dropped learners all came from batch 1, so that batch is flagged too.
    assert severities(findings, "srm:batch 1") == {"srm:batch 1": v.FAILURE}


def arm_counts_frame(groups: dict[tuple[int, str], tuple[int, int]]) -> pd.DataFrame:
    """What arm_counts returns for the given (treated, control) counts per (batch, stratum)."""
    rows = [(batch, stratum, treated + control, treated) for (batch, stratum), (treated, control) in groups.items()]
    return pd.DataFrame(rows, columns=["batch", "stratum", "rows", "treated"])


def test_arm_counts_per_batch_and_stratum(spark):
    frame = spark.createDataFrame([(1, "a", 1), (1, "a", 0), (1, "a", 1), (2, "a", 0), (None, "a", 1), (2, None, 0)],
                                  "batch int, stratum string, treatment int")
    counts = v.arm_counts(frame).sort_values(["batch", "stratum"], na_position="last").reset_index(drop=True)
    assert counts.to_dict("records")[:2] == [{"batch": 1, "stratum": "a", "rows": 3, "treated": 2},
                                             {"batch": 2, "stratum": "a", "rows": 1, "treated": 0}]
    findings = {f.check: f for f in v.sample_ratio_findings("t", counts)}
    # Rows without a batch or stratum count overall only, as pandas' groupby left them out.
    assert findings["srm:overall"].observed == "treatment=3 control=3"
    assert findings["srm:batchs_tested"].observed == "2 groups tested"
    assert findings["srm:stratums_tested"].observed == "2 groups tested"


def test_stratum_srm_is_adjusted_for_the_number_of_strata_tested():
    # The 2x benchmark's LinkedIn table: one of ~100 strata at 721 vs 586 (unadjusted p = 0.00019) is chance.
    groups = {(1 + i // 20, f"s{i % 20}"): (650, 650) for i in range(100)}
    groups[(1, "s0")] = (721, 586)
    groups[(2, "s1")] = (900, 400)  # clear: p ~ 1e-43 stays a failure after any adjustment
    findings = {f.check: f for f in v.sample_ratio_findings("t", arm_counts_frame(groups))}
    assert "srm:stratum 1/s0" not in findings or findings["srm:stratum 1/s0"].severity != v.FAILURE
    clear = findings["srm:stratum 2/s1"]
    assert clear.severity == v.FAILURE and "Bonferroni over 100 groups" in clear.detail
    assert findings["srm:stratums_tested"].observed == "100 groups tested"


def test_a_lone_stratum_is_tested_at_the_unadjusted_threshold():
    findings = {f.check: f for f in v.sample_ratio_findings("t", arm_counts_frame({(1, "s0"): (721, 586)}))}
    assert findings["srm:stratum 1/s0"].severity == v.FAILURE
    assert findings["srm:stratum 1/s0"].p_value == pytest.approx(v._srm_p_value(721, 586))


@pytest.mark.parametrize("treated, control, severity", [(500, 500, v.OK), (530, 470, v.OK),
                                                         (560, 440, v.FAILURE), (545, 455, v.WARNING)])
def test_srm_thresholds(treated, control, severity):
    assert v._srm_severity(v._srm_p_value(treated, control)) == severity


def balance(spark, frame: pd.DataFrame, covariates=v.FULL_BALANCE_COVARIATES):
    return v.balance_findings("t", v.balance_moments(spark.createDataFrame(frame), covariates), covariates)


def test_balance_flags_a_covariate_with_large_smd(spark):
    frame = full_frame()
    assert all(f.severity == v.OK for f in balance(spark, frame))
    frame.loc[frame["treatment"] == 1, "developing_country"] = 1
    frame.loc[frame["treatment"] == 0, "developing_country"] = np.tile([0, 1], len(frame) // 4)
    flagged = severities(balance(spark, frame), "balance:developing")
    assert flagged == {"balance:developing_country": v.WARNING}


def test_balance_of_categories_and_numbers_with_missing_values(spark):
    """A category's indicator counts a missing value as 0 on every row of its arm; a number drops it. A level only
    one arm has is 0 throughout the other."""
    frame = pd.DataFrame({"treatment": [1, 1, 1, 0, 0, 0], "gender": ["m", "f", None, "m", "m", "x"],
                          "main_skill_standardized": [1.0, 2.0, None, 2.0, 3.0, 4.0]})
    smd = {f.check: f.observed for f in balance(spark, frame, ("gender", "main_skill_standardized"))}

    def expected(treated, control):
        t, c = pd.Series(treated, dtype=float), pd.Series(control, dtype=float)
        return f"smd={(t.mean() - c.mean()) / np.sqrt((t.var() + c.var()) / 2):.4f}"

    assert smd == {"balance:gender=f": expected([0, 1, 0], [0, 0, 0]), "balance:gender=m": expected([1, 0, 0], [1, 1, 0]),
                   "balance:gender=x": expected([0, 0, 0], [0, 0, 1]),
                   "balance:main_skill_standardized": expected([1, 2], [2, 3, 4])}


@pytest.mark.parametrize("treated, control, smd", [
    ((4, 2.5, 5 / 3), (4, 3.5, 5 / 3), -1 / np.sqrt(5 / 3)),
    ((1, 2.0, float("nan")), (4, 3.5, 5 / 3), float("nan")),  # one value cannot have a spread
    ((3, 1.0, 0.0), (3, 1.0, 0.0), 0.0),
    ((3, 2.0, 0.0), (3, 1.0, 0.0), float("inf")),
])
def test_standardized_mean_difference_matches_formula(treated, control, smd):
    assert v.standardized_mean_difference(treated, control) == pytest.approx(smd, nan_ok=True)


BANDS = {"block_p_value": 0.001, "t": {"views_all": {"low": 0.12, "high": 0.28, "paper": 0.191}}}


@pytest.mark.parametrize("ones, zeros, severity", [
    (4, 6, v.WARNING),  # 0.40 of 10: out of band, not clearly
    (400, 600, v.FAILURE),  # 0.40 of 1000: clearly out of band
    (20, 80, v.OK),
])
def test_band_warns_on_small_samples_and_blocks_on_clear_deviation(spark, ones, zeros, severity):
    frame = spark.createDataFrame([(1,)] * ones + [(0,)] * zeros + [(None,)] * 5, "views_all int")
    assert v.band_counts("t", frame, BANDS) == {"views_all": (ones + zeros, ones)}  # missing values left out
    assert v.band_findings("t", v.band_counts("t", frame, BANDS), BANDS)[0].severity == severity


@pytest.mark.parametrize("rows, previous, severity", [(1000, None, v.OK), (1000, 1050, v.OK), (700, 1000, v.FAILURE),
                                                      (1300, 1000, v.FAILURE)])
def test_volume_against_previous_snapshot(rows, previous, severity):
    assert v.volume_findings("t", rows, previous, max_change_pct=20)[0].severity == severity


DAILY_RULE = SourceFreshness(warn_after=1, error_after=3)


@pytest.mark.parametrize("newest, severity", [
    (date(2023, 9, 30), v.OK),  # delivered through as_of
    (date(2023, 9, 29), v.WARNING),  # one day behind: warn_after reached
    (date(2023, 9, 28), v.WARNING),
    (date(2023, 9, 27), v.FAILURE),  # three days behind: error_after reached
    (date(2023, 9, 1), v.FAILURE),
    (None, v.FAILURE),  # a daily source that never delivered
])
def test_freshness_of_a_daily_source_at_its_edges(newest, severity):
    [finding] = v.freshness_findings({"app_sessions": newest}, AS_OF, {"app_sessions": DAILY_RULE})
    assert finding.severity == severity
    assert finding.table == "landing.app_sessions" and finding.check == "freshness:newest_export"
    if severity != v.OK:
        assert "app_sessions" in finding.detail and "landing/platform/app_sessions/" in v.remedy_for(finding)


@pytest.mark.parametrize("newest", [date(2023, 9, 30), date(2022, 9, 30), None])
def test_an_event_driven_source_is_never_stale(newest):
    [finding] = v.freshness_findings({"experiment_assignments": newest}, AS_OF, {"experiment_assignments": None})
    assert finding.severity == v.OK and finding.table == "landing.experiment_assignments"


def test_freshness_with_only_a_warning_or_only_an_error_threshold():
    warn_only, error_only = SourceFreshness(warn_after=2, error_after=None), SourceFreshness(warn_after=None, error_after=2)
    behind = {"a": date(2023, 9, 20), "b": date(2023, 9, 29), "c": date(2023, 9, 28)}
    rules = {"a": warn_only, "b": error_only, "c": error_only}
    assert [f.severity for f in v.freshness_findings(behind, AS_OF, rules)] == [v.WARNING, v.OK, v.FAILURE]
    assert v.freshness_findings({"a": None}, AS_OF, {"a": warn_only})[0].severity == v.WARNING


def test_every_configured_source_gets_its_own_freshness_finding():
    findings = v.freshness_findings({"app_sessions": date(2023, 9, 25)}, AS_OF, DEFAULT_SOURCE_FRESHNESS)
    assert [f.table for f in findings] == [f"landing.{s}" for s in DEFAULT_SOURCE_FRESHNESS]
    failing = [f.table for f in findings if f.severity == v.FAILURE]
    # certificates and certificate_views never delivered, app_sessions is 5 days behind; the others are event-driven.
    assert failing == ["landing.certificates", "landing.certificate_views", "landing.app_sessions"]


def test_quarantine_share_blocks_a_schema_break():
    accounts = [
        {"source": "learners", "rows_in": 1000, "rows_quarantined": 10, "quarantined": {"malformed_json": 10}},
        {"source": "certificate_views", "rows_in": 500, "rows_quarantined": 500,
         "quarantined": {"missing_field:viewed_at": 500}},
    ]
    findings = v.quarantine_findings(accounts, max_share=0.05)
    assert [(f.table, f.severity) for f in findings] == [("bronze.learners", v.OK),
                                                         ("bronze.certificate_views", v.FAILURE)]
    assert "missing_field:viewed_at: 500" in findings[1].detail


def test_attrition_shows_differential_matching(spark):
    full = full_frame(n=4000)
    linkedin_ids = full.loc[(full["treatment"] == 1) | (full.index % 3 == 0), ["learner_key"]]
    counts = v.matched_counts(spark.createDataFrame(full), spark.createDataFrame(linkedin_ids))
    treated_matched = 2000
    control_matched = int(((full["treatment"] == 0) & (full.index % 3 == 0)).sum())
    assert counts.tolist() == [[2000 - control_matched, control_matched], [0, treated_matched]]
    finding = v.attrition_findings(counts)[0]
    assert finding.severity == v.WARNING and "treatment=1.0000" in finding.observed


def test_validate_writes_an_offline_report(spark, tmp_path):
    outcome = v.validate({"learner_outcomes_full": spark.createDataFrame(full_frame())}, run_id="r1", as_of=AS_OF,
                         facts=v.RunFacts(newest_export_days=dict.fromkeys(DEFAULT_SOURCE_FRESHNESS, AS_OF)))
    assert not outcome.blocked
    path = write_report(outcome, tmp_path)
    page = path.read_text()
    assert "run <code>r1</code>" in page and "Passed: published" in page
    assert '<details id="all-checks">' in page and "<details open" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "the report must not load anything"
    assert "<script" not in page
    report = pd.read_parquet(tmp_path / "data_quality_report.parquet")
    assert set(report["severity"]) <= {"ok", "warning", "failure"} and (report["run_id"] == "r1").all()


@pytest.mark.parametrize("without_version, severity", [(None, None), (0, v.OK), (10, v.OK), (11, v.WARNING)])
def test_learners_without_a_version_by_randomization_are_reported(without_version, severity):
    findings = v.learner_version_findings(without_version, 1000)
    assert [f.severity for f in findings] == ([] if severity is None else [severity])
    if without_version is not None:
        assert findings[0].observed.startswith(f"{without_version} of 1000 learners")


def test_every_finding_of_a_run_says_what_to_change(spark, tmp_path):
    """Each gate's finding carries a remedy naming the landing files or the configuration key; the report shows it."""
    full = full_frame()
    full.loc[full.index[:40], "gender"] = "unknown"  # a GX value-set failure on one column
    accounts = [{"source": "certificate_views", "rows_in": 500, "rows_quarantined": 500,
                 "quarantined": {"missing_field:viewed_at": 500}}]
    outcome = v.validate({"learner_outcomes_full": spark.createDataFrame(full)}, run_id="r2", as_of=AS_OF,
                         facts=v.RunFacts(previous_rows={"learner_outcomes_full": 100}, newest_export_days={},
                                          ingest_accounts=accounts, learners_without_version_at_randomization=200))
    assert all(f.remedy for f in outcome.findings)
    by_check = {(f.table, f.check): f for f in outcome.findings if f.severity != v.OK}
    gx_gender = [f for (table, check), f in by_check.items() if check.startswith("gx:") and "gender" in f.remedy]
    assert gx_gender and "column gender of learner_outcomes_full" in gx_gender[0].remedy
    assert "CREDSIGNAL_MAX_VOLUME_CHANGE_PCT" in by_check[("learner_outcomes_full", "volume:vs_previous_snapshot")].remedy
    freshness = by_check[("landing.app_sessions", "freshness:newest_export")].remedy
    assert "landing/platform/app_sessions/dt=" in freshness and "CREDSIGNAL_SOURCE_FRESHNESS" in freshness
    quarantine = by_check[("bronze.certificate_views", "quarantine:share")].remedy
    assert "landing/platform/certificate_views/" in quarantine and "CREDSIGNAL_MAX_QUARANTINE_SHARE" in quarantine
    versions = by_check[("learner_outcomes_full", "covariates:no_learner_version_by_randomization")]
    assert versions.severity == v.WARNING and "landing/platform/learners/" in versions.remedy
    write_report(outcome, tmp_path)
    report = pd.read_parquet(tmp_path / "data_quality_report.parquet")
    assert (report["remedy"].str.len() > 0).all()
    page = html.unescape((tmp_path / "report.html").read_text())
    assert "What to change" in page and quarantine in page
    assert "what to change: fix the lines of landing/platform/certificate_views/" in v.render_text(outcome, limit=100)


@pytest.mark.parametrize("check, table, needle", [
    ("srm:overall", "learner_outcomes_full", "CREDSIGNAL_EXPERIMENT_ID"),
    ("balance:gender=male", "learner_outcomes_linkedin", "covariate gender"),
    ("band:views_all", "learner_outcomes_full", "rate of views_all"),
    ("attrition:matched_share_by_arm", "learner_outcomes_linkedin", "landing/linkedin/crawl="),
    ("something:new", "t", "docs/operations.md"),
])
def test_remedy_names_what_to_change(check, table, needle):
    assert needle in v.remedy_for(v.Finding(table, check, v.WARNING, "x", "y"))


def test_main_writes_the_outcome_the_pipeline_reads_back(spark, tmp_path, monkeypatch):
    """The spark-submit entry point: staged Parquet and the facts as JSON in, the outcome as JSON out, with the same
    findings as validating in-process."""
    monkeypatch.setenv("CREDSIGNAL_SHUFFLE_PARTITIONS", "2")  # main's session is the tests' one
    full = full_frame()
    full.loc[full.index[:40], "gender"] = "unknown"
    spark.createDataFrame(full).write.parquet(str(tmp_path / "staged" / "learner_outcomes_full"))
    facts = v.RunFacts(previous_rows={"learner_outcomes_full": 1900}, newest_export_days={"app_sessions": None},
                       ingest_accounts=[{"source": "learners", "rows_in": 10, "rows_quarantined": 1,
                                         "quarantined": {"malformed_json": 1}}],
                       withdrawn_exports={"learners": [date(2023, 9, 2)]},
                       source_freshness={"app_sessions": SourceFreshness(warn_after=1, error_after=3)},
                       learners_without_version_at_randomization=3)
    assert v.facts_from_json(v.facts_json(facts)) == facts
    (tmp_path / "facts.json").write_text(v.facts_json(facts))
    assert v.main(["--staged", str(tmp_path / "staged"), "--tables", "learner_outcomes_full", "--run-id", "r3",
                   "--as-of", AS_OF.isoformat(), "--facts", str(tmp_path / "facts.json"),
                   "--result", str(tmp_path / "report" / "outcome.json")]) == 0
    written = v.outcome_from_json(json.loads((tmp_path / "report" / "outcome.json").read_text()))
    in_process = v.validate({"learner_outcomes_full": spark.read.parquet(str(tmp_path / "staged" / "learner_outcomes_full"))},
                            run_id="r3", as_of=AS_OF, facts=facts)
    assert (written.run_id, written.as_of, written.blocked) == ("r3", AS_OF, True)
    assert written.findings == in_process.findings


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_validate_step_through_spark_submit_equals_in_process(spark, tmp_path, monkeypatch):
    """pipeline.validate_staged with the credsignal_spark connection defined (local spark-submit) runs jobs.validate's
    main and reads its outcome back: the same findings as in-process."""
    from credsignal import pipeline
    from credsignal.core.config import Config

    config = Config(landing=tmp_path / "landing", lake=tmp_path / "lake", as_of=AS_OF, shuffle_partitions=2,
                    driver_memory="1g")
    full = full_frame()
    outcomes = {}
    for run_id, connection in (("in-process", None), ("submitted", "spark://local%5B1%5D")):
        staged = pipeline.staging_dir(config, run_id)
        spark.createDataFrame(full).write.parquet(str(staged / "learner_outcomes_full"))
        spark.createDataFrame(full.iloc[::7]).write.parquet(str(staged / "learner_outcomes_linkedin"))
        if connection:
            monkeypatch.setenv("AIRFLOW_CONN_CREDSIGNAL_SPARK", connection)
        outcomes[run_id] = pipeline.validate_staged(spark, config, run_id=run_id, as_of=AS_OF)
    assert (pipeline.validation_dir(config, "submitted") / "facts.json").is_file()
    assert outcomes["submitted"].findings == outcomes["in-process"].findings
    assert outcomes["submitted"].blocked  # the LinkedIn table lacks its own columns
