"""The readout's estimators from Spark-aggregated moments (jobs/readout/moments.py) against the row-level reference
estimators (jobs/readout/statistics.py) and lifelines fitted on the full rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from jobs.readout import moments as m
from jobs.readout import statistics as s
from tests.test_readout import separated_survival_frame, simulate

CLOSED_FORM_RTOL = 1e-9


def assert_same_result(mine: dict, reference: dict, *, rel: float = CLOSED_FORM_RTOL) -> None:
    assert set(mine) == set(reference)
    for key, expected in reference.items():
        got = mine[key]
        if isinstance(expected, float) and math.isnan(expected):
            assert math.isnan(got), key
        else:
            assert got == pytest.approx(expected, rel=rel, abs=1e-15), key


def frame_with_gaps(n: int, seed: int) -> pd.DataFrame:
    """The LinkedIn table of the tests' simulation with some outcomes, sharing flags and assignments unknown."""
    _, linkedin = simulate(n, seed=seed, linkedin_share=1.0)
    rng = np.random.default_rng(seed)
    for column, share in (("new_job", 0.05), ("credential_shared", 0.03), ("treatment", 0.01)):
        linkedin[column] = pd.array(linkedin[column], dtype="Int32")
        linkedin.loc[rng.random(len(linkedin)) < share, column] = pd.NA
    return linkedin


@pytest.mark.parametrize("cov_type", ["HC2", "HC1", "HC0"])
@pytest.mark.parametrize("case", ["simulated", "one_control", "no_job_among_controls", "continuous"])
def test_difference_in_means_from_moments_equals_the_row_estimator(spark, case, cov_type):
    if case == "simulated":
        frame = frame_with_gaps(3000, seed=1)[["treatment", "new_job"]]
    elif case == "one_control":
        frame = pd.DataFrame({"treatment": [1, 1, 1, 0], "new_job": [1, 0, 1, 1]})
    elif case == "no_job_among_controls":
        frame = pd.DataFrame({"treatment": [1, 1, 0, 0, 0], "new_job": [1, 0, 0, 0, 0]})
    else:
        rng = np.random.default_rng(3)
        frame = pd.DataFrame({"treatment": rng.integers(0, 2, 500), "new_job": 1e3 + rng.normal(0, 1, 500)})
    cells = m.outcome_moments(spark.createDataFrame(frame), ["new_job"])
    assert_same_result(m.itt_from_cells(cells, "new_job", cov_type=cov_type),
                       s.itt(frame, "new_job", cov_type=cov_type))


def test_moments_of_cells_add_up_to_subsets(spark):
    frame = frame_with_gaps(3000, seed=2)
    cells = m.outcome_moments(spark.createDataFrame(frame), ["credential_shared"], by=["batch"])
    for batch in (1, 4):
        assert_same_result(m.itt_from_cells(cells.loc[cells["batch"] == batch], "credential_shared"),
                           s.itt(frame.loc[frame["batch"] == batch], "credential_shared"))


@pytest.mark.parametrize("cov_type", ["HC1", "HC0"])
def test_late_from_moments_equals_2sls_on_the_rows(spark, cov_type):
    frame = frame_with_gaps(4000, seed=3)
    cells = m.outcome_moments(spark.createDataFrame(frame), [], pairs={"new_job": "credential_shared"})
    assert_same_result(m.late_from_cells(cells, "new_job", cov_type=cov_type),
                       s.late(frame, "new_job", cov_type=cov_type))


@pytest.mark.parametrize("case", ["hand_made", "simulated", "null_batch"])
def test_curves_from_counts_equal_the_row_curves(spark, case):
    if case == "hand_made":
        frame = pd.DataFrame({
            "batch": [1, 1, 1, 1, 1, 1, 2, 2], "treatment": [1, 1, 1, 0, 0, 0, 1, 1],
            "new_job": [1, 1, 0, 1, 0, 0, 1, 0],
            "months_to_new_job": pd.array([1, 3, None, 2, None, None, 2, None], dtype="Int32"),
            "followup_months": [3, 3, 3, 3, 3, 3, 2, 2]})
    else:
        _, frame = simulate(3000, seed=4)
        if case == "null_batch":
            frame["batch"] = pd.array(frame["batch"], dtype="Int32")
            frame.loc[::17, "batch"] = pd.NA
    counts = m.event_month_counts(spark.createDataFrame(frame))
    pd.testing.assert_frame_equal(m.cumulative_share_from_counts(counts), s.cumulative_new_job_share(frame),
                                  check_exact=False, rtol=CLOSED_FORM_RTOL)


def tied_survival_frame(n: int, seed: int, *, null_batch: bool = False) -> pd.DataFrame:
    """Whole-month event times (so hundreds of learners tie at each month), two follow-ups by batch."""
    rng = np.random.default_rng(seed)
    d = (rng.random(n) < 0.5).astype(int)
    batch = rng.integers(1, 4, n)
    follow = np.where(batch == 1, 12, np.where(batch == 2, 9, 6))
    time = np.ceil(rng.exponential(1 / (0.06 * np.where(d == 1, 1.4, 1.0))))
    event = time <= follow
    frame = pd.DataFrame({"treatment": d, "batch": pd.array(batch, dtype="Int32"), "new_job": event.astype(int),
                          "months_to_new_job": pd.array(np.where(event, time, 0), dtype="Int32"),
                          "followup_months": follow})
    frame.loc[~event, "months_to_new_job"] = pd.NA
    if null_batch:
        frame.loc[::23, "batch"] = pd.NA
    return frame


@pytest.mark.parametrize("null_batch", [False, True])
def test_cox_from_counts_matches_lifelines_on_the_full_rows(spark, null_batch):
    """Efron's partial likelihood on per-month counts is the partial likelihood of the rows: with lifelines
    converged tightly the two agree to 1e-9; against lifelines at its default precision (what the row-level
    readout reported) to lifelines' own tolerance (its Newton steps stop below 1e-7, and its SE is taken at the
    last-but-one iterate)."""
    from lifelines import CoxPHFitter

    frame = tied_survival_frame(6000, seed=5, null_batch=null_batch)
    counts = m.duration_counts(spark.createDataFrame(frame))
    assert len(counts) <= 3 * 2 * 13 * 2 + 2 * 13 * 2  # strata x arms x months x event flag: not the rows
    mine = m.cox_itt_from_counts(counts)
    rows = pd.DataFrame({"t": np.where(frame["new_job"] == 1, frame["months_to_new_job"].fillna(0),
                                       frame["followup_months"]).astype(float),
                         "e": frame["new_job"], "d": frame["treatment"], "b": frame["batch"].astype(str)})
    tight = CoxPHFitter().fit(rows, "t", "e", strata=["b"], fit_options={"precision": 1e-12})
    assert mine["estimate"] == pytest.approx(tight.params_["d"], rel=CLOSED_FORM_RTOL)
    assert mine["se"] == pytest.approx(tight.standard_errors_["d"], rel=CLOSED_FORM_RTOL)
    assert_same_result(mine, s.cox_itt(frame), rel=1e-6)


def test_cox_from_counts_without_events_in_one_arm_reports_a_huge_standard_error(spark):
    """Only control learners find a job: the likelihood has no maximum (beta -> -inf); as lifelines, the fit
    stops at a very negative log hazard ratio whose interval spans any plausible effect."""
    frame = separated_survival_frame()
    mine = m.cox_itt_from_counts(m.duration_counts(spark.createDataFrame(frame)))
    reference = s.cox_itt(frame)
    assert mine["estimate"] < -5 and reference["estimate"] < -5
    assert mine["se"] > 100 and reference["se"] > 100
    assert (mine["n_treatment"], mine["n_control"], mine["baseline"]) == (20, 20, 6 / 20)


@pytest.fixture(scope="module")
def samples_with_gaps():
    """The tests' two samples: primary_domain and professional_experience_years have missing values."""
    full, linkedin = simulate(4000, seed=8)
    return {"full": full, "linkedin": linkedin}


def sample_moments(spark, frame: pd.DataFrame, numeric, categorical):
    spark_frame = spark.createDataFrame(frame)
    cells = m.outcome_moments(spark_frame, [c for c in numeric if c in frame])
    return m.indicator_moments(cells, m.level_counts(spark_frame, [c for c in categorical if c in frame]),
                               numeric, categorical)


@pytest.mark.parametrize("sample", ["full", "linkedin"])
def test_balance_from_moments_equals_the_row_table(spark, samples_with_gaps, sample):
    frame = samples_with_gaps[sample]
    numeric = s.BALANCE_NUMERIC + s.BALANCE_LINKEDIN_EXTRA
    mine = m.balance_from_moments(sample_moments(spark, frame, numeric, s.BALANCE_CATEGORICAL))
    reference = s.balance_table(frame, numeric, s.BALANCE_CATEGORICAL)
    assert "primary_domain=(missing)" in set(reference.covariate)
    pd.testing.assert_frame_equal(mine, reference, check_exact=False, rtol=CLOSED_FORM_RTOL)


def test_summary_from_moments_equals_the_row_table(spark, samples_with_gaps):
    from jobs.readout import adjusted

    full, linkedin = samples_with_gaps["full"], samples_with_gaps["linkedin"]
    numeric = ("treatment", *s.BALANCE_NUMERIC, *s.BALANCE_LINKEDIN_EXTRA, "new_job", "views_all")
    mine = m.summary_from_moments(sample_moments(spark, full, numeric, s.BALANCE_CATEGORICAL),
                                  sample_moments(spark, linkedin, numeric, s.BALANCE_CATEGORICAL))
    reference = adjusted.summary_statistics(full, linkedin, numeric=numeric, categorical=s.BALANCE_CATEGORICAL)
    pd.testing.assert_frame_equal(mine, reference, check_exact=False, rtol=CLOSED_FORM_RTOL)


@pytest.mark.parametrize("sample, outcome", [("linkedin", "new_job"), ("linkedin", "credential_shared"),
                                             ("full", "views_all"), ("constant_url", "new_job")])
def test_lin_itt_from_spark_passes_equals_the_row_regression(spark, samples_with_gaps, sample, outcome):
    """Gram matrix, then HC2 meat with the leverages, on the executors; the same columns kept, imputed, centred
    and dropped as the row-level design (missing numbers, a missing category, integer fixed effects, and in the
    last case a constant column, as has_linkedin_url is in the real LinkedIn sample)."""
    from jobs.readout import adjusted

    frame = samples_with_gaps["full" if sample == "full" else "linkedin"].copy()
    if sample == "constant_url":
        frame["has_linkedin_url"] = 1
    numeric = adjusted.CONTROLS_NUMERIC_FULL if sample == "full" else adjusted.CONTROLS_NUMERIC_LINKEDIN
    mine = m.adjusted_itt_from_spark(spark.createDataFrame(frame), outcome, numeric=numeric)
    reference = adjusted.adjusted_itt(frame, outcome, numeric=numeric)
    assert reference["n_covariates"] > 10
    assert_same_result(mine, reference)


def test_lpm_from_spark_passes_equals_the_row_regression(spark, samples_with_gaps):
    from jobs.readout import adjusted

    frame = samples_with_gaps["linkedin"]
    assert_same_result(m.lpm_from_spark(spark.createDataFrame(frame), "views_all", "new_job"),
                       adjusted.lpm(frame, "views_all", "new_job"))


def test_lin_and_lpm_fits_of_a_sample_in_one_pass_equal_the_row_regressions(spark, samples_with_gaps):
    """Every outcome's Lin design (its own rows, imputation, levels and centring) and the LPMs share the two passes
    of one ols_hc2_fits: each fit equals its row-level regression."""
    from jobs.readout import adjusted

    frame = samples_with_gaps["linkedin"].copy()
    frame.loc[::17, "views_all"] = np.nan  # rows that one outcome knows and the others do not
    spark_frame = spark.createDataFrame(frame)
    outcomes = ["new_job", "credential_shared", "views_all"]
    numeric = adjusted.CONTROLS_NUMERIC_LINKEDIN
    designs = m.lin_designs(spark_frame, outcomes, numeric=numeric)
    fits = m.ols_hc2_fits(spark_frame, [fit for _, fit in designs.values()]
                          + [m.lpm_fit("views_all", "new_job"), m.lpm_fit("views_linkedin", "new_job")])
    for (outcome, (cells, _)), fit in zip(designs.items(), fits):
        assert_same_result(m.lin_itt_of_fit(cells, outcome, fit), adjusted.adjusted_itt(frame, outcome, numeric=numeric))
    for view, fit in zip(("views_all", "views_linkedin"), fits[len(designs):]):
        assert_same_result(m.lpm_of_fit(fit), adjusted.lpm(frame, view, "new_job"))


def test_duration_counts_of_several_events_in_one_pass_equal_each_events(spark):
    frame = tied_survival_frame(600, seed=3, null_batch=True)
    frame["new_job_in_scope"] = frame["new_job"].where(frame.index % 3 > 0, 0)
    frame["months_to_new_job_in_scope"] = frame["months_to_new_job"].where(frame["new_job_in_scope"] == 1)
    spark_frame = spark.createDataFrame(frame)
    both = m.event_duration_counts(spark_frame, [("new_job", "months_to_new_job"),
                                                 ("new_job_in_scope", "months_to_new_job_in_scope")])
    key = ["_stratum", m.ARM, "_duration", "_event"]
    for event in ("new_job", "new_job_in_scope"):
        alone = m.duration_counts(spark_frame, event=event, time=f"months_to_{event}")
        pd.testing.assert_frame_equal(both[event].sort_values(key).reset_index(drop=True),
                                      alone.sort_values(key).reset_index(drop=True))
    assert not both["new_job"].equals(both["new_job_in_scope"])


@pytest.mark.parametrize("by", [[], ["cell"]])
def test_level_counts_count_every_level_of_every_column_by_arm(spark, by):
    rows = [(1, "a", "x", 1), (1, None, "x", 1), (0, "a", "y", 1), (0, "b", "x", 2), (None, "a", "x", 2),
            (1, "a", "x", 2)]
    frame = spark.createDataFrame(rows, "treatment int, g string, h string, cell int")
    counts = m.level_counts(frame, ["g", "h"], by=by)
    assert list(counts.columns) == [*by, "_column", "_level", m.ARM, m.COUNT]
    by_cell = {("g", "a", 1, 1): 1, ("g", None, 1, 1): 1, ("g", "a", 0, 1): 1, ("g", "b", 0, 2): 1,
               ("g", "a", 1, 2): 1, ("h", "x", 1, 1): 2, ("h", "y", 0, 1): 1, ("h", "x", 0, 2): 1,
               ("h", "x", 1, 2): 1}
    expected: dict[tuple, int] = {}
    for (column, level, arm, cell), count in by_cell.items():
        key = (cell, column, level, arm) if by else (column, level, arm)
        expected[key] = expected.get(key, 0) + count
    got = {tuple(None if isinstance(v, float) and math.isnan(v) else v for v in row[:-1]): row[-1]
           for row in counts.itertuples(index=False)}
    assert got == expected


def test_rows_of_an_outcome_are_the_cells_of_the_rows_that_know_it(spark):
    rows = [(1, 1.0, None, 2.0), (0, None, 1.0, 3.0), (1, 0.0, 0.0, 5.0), (0, 1.0, 1.0, 7.0)]
    frame = spark.createDataFrame(rows, "treatment int, y1 double, y2 double, v double")
    keyed = m.per_outcome_rows(frame, ["y1", "y2"])
    cells = m.outcome_moments(keyed, ["v"], by=[m.OUTCOME])
    for outcome, values in ((m.ALL_ROWS, [2.0, 3.0, 5.0, 7.0]), ("y1", [2.0, 5.0, 7.0]), ("y2", [3.0, 5.0, 7.0])):
        mine = m.rows_of(cells, outcome)
        assert m.OUTCOME not in mine
        assert (mine[m.COUNT].sum(), mine["s:v"].sum()) == (len(values), sum(values))
