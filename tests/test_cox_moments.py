"""Table 3's Cox models with controls from Spark passes (jobs/readout/cox_moments.py) against a row-level numpy
Newton on Efron's partial likelihood (the exact MLE) and against lifelines fitted on the full rows
(jobs/readout/adjusted.py: cox_adjusted)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from jobs.readout import adjusted as adj
from jobs.readout import cox_moments as cm
from tests.test_readout import simulate

EXACT_RTOL = 1e-9
# lifelines stops its Newton steps below 1e-7 (on its standardized scale): measured on these cases, its log hazard
# ratios differ from the exact MLE by up to 1.7e-7 absolute, 2.9e-6 relative on a small one (0.05).
LIFELINES_RTOL = 5e-6
PANEL_B = "past_job_in_scope=0"


def efron_newton(x: np.ndarray, duration: np.ndarray, event: np.ndarray, strata: np.ndarray) -> tuple:
    """(beta, covariance) of the stratified Cox model with Efron's ties, by Newton-Raphson over the rows."""
    beta = np.zeros(x.shape[1])

    def derivatives(beta):
        loglik, gradient, hessian = 0.0, np.zeros_like(beta), np.zeros((len(beta), len(beta)))
        for level in np.unique(strata):
            rows = strata == level
            xs, ts, es = x[rows], duration[rows], event[rows]
            w = np.exp(xs @ beta)
            for t in np.unique(ts[es == 1]):
                risk, tied = ts >= t, (ts == t) & (es == 1)
                d = int(tied.sum())
                s0, s1 = w[risk].sum(), xs[risk].T @ w[risk]
                s2 = (xs[risk] * w[risk][:, None]).T @ xs[risk]
                t0, t1 = w[tied].sum(), xs[tied].T @ w[tied]
                t2 = (xs[tied] * w[tied][:, None]).T @ xs[tied]
                loglik += xs[tied].sum(axis=0) @ beta
                gradient += xs[tied].sum(axis=0)
                for l in range(d):
                    phi = s0 - l / d * t0
                    mean = (s1 - l / d * t1) / phi
                    loglik -= math.log(phi)
                    gradient -= mean
                    hessian -= (s2 - l / d * t2) / phi - np.outer(mean, mean)
        return loglik, gradient, hessian

    loglik, gradient, hessian = derivatives(beta)
    for _ in range(100):
        step = np.linalg.solve(-hessian, gradient)
        if np.abs(step).max() < 1e-12:
            break
        while True:
            trial = derivatives(beta + step)
            if trial[0] >= loglik - 1e-13 * abs(loglik) or np.abs(step).max() < 1e-12:
                break
            step = step / 2
        beta = beta + step
        loglik, gradient, hessian = trial
    return beta, np.linalg.inv(-hessian)


def exact_cox_adjusted(frame: pd.DataFrame, event: str, time: str) -> dict:
    """cox_adjusted's result with the exact MLE of :func:`efron_newton` in place of lifelines' fit."""
    data = frame.loc[frame["treatment"].notna() & frame["followup_months"].notna()]
    duration, happened, imputed = adj.survival_columns(data, event, time)
    x, names = adj.covariate_design(data, adj.COX_CONTROLS_NUMERIC, adj.CONTROLS_CATEGORICAL)
    d = data["treatment"].to_numpy(dtype="float64")
    design = np.column_stack([d, x])
    anchored = np.column_stack([np.ones(len(d)), design])
    keep = [j - 1 for j in adj.independent_columns(anchored.T @ anchored) if j > 0]
    strata = data["batch"].astype(str).to_numpy()
    beta, covariance = efron_newton(design[:, keep], duration, happened, strata)
    g, se = float(beta[0]), math.sqrt(covariance[0, 0])
    linear = design[:, keep] @ beta
    follow = data["followup_months"].to_numpy(dtype="float64")
    cumulative = np.zeros(len(d))
    for level in np.unique(strata):
        rows = strata == level
        h0 = adj.breslow_cumulative_hazard(duration[rows], happened[rows], np.exp(linear[rows]), follow[rows])
        cumulative[rows] = h0 * np.exp(linear[rows] - g * d[rows])
    controls = d != 1
    h = cumulative[controls]
    r0, r1 = 1 - np.exp(-h), 1 - np.exp(-h * math.exp(g))
    columns = ["treatment", *names]
    return adj.cox_adjusted_result(g, se, float(np.mean(r1 - r0)),
                                   float(np.mean(np.exp(-h * math.exp(g)) * h * math.exp(g))) * se,
                                   float(np.mean(r0)), float(happened[controls].mean()), int((~controls).sum()),
                                   int(controls.sum()), len(keep) - 1, imputed, [columns[j] for j in keep[1:]], [])


def table3_frame(case: str, n: int = 1500, seed: int = 11) -> pd.DataFrame:
    _, frame = simulate(n, seed=seed, linkedin_share=1.0)
    rng = np.random.default_rng(seed)
    if case == "null_batch":
        frame["batch"] = pd.array(frame["batch"], dtype="Int32")
        frame.loc[::13, "batch"] = pd.NA
    elif case == "missing_covariate":
        frame["past_tech_job"] = frame["past_tech_job"].astype("float64")
        frame.loc[rng.random(n) < 0.05, "past_tech_job"] = np.nan
        frame.loc[::29, "gender"] = None
    elif case == "constant_covariate":
        frame["past_managerial_job"] = 1
    elif case == "collinear_covariate":  # a domain level that says exactly what past_tech_job says
        frame["primary_domain"] = np.where(frame["past_tech_job"] == 1, "Zzz", "Computer Science")
    elif case == "stratum_without_events":
        frame.loc[frame["batch"] == 2, ["new_job", "new_job_4m", "new_job_in_scope", "new_job_in_scope_4m"]] = 0
    elif case == "derived_4m":  # learners whose first job started in months 1-3 and who found a later one
        later = (frame["new_job"] == 1) & (frame["months_to_new_job"].fillna(0) < 4) & (rng.random(n) < 0.4)
        frame.loc[later, "new_job_4m"] = 1
    elif case == "dated_4m":  # the feature job's >= 4-month months-to columns are in the table
        frame["months_to_new_job_4m"] = frame["months_to_new_job"].where(frame["new_job_4m"] == 1)
        frame["months_to_new_job_in_scope_4m"] = frame["months_to_new_job_in_scope"].where(
            frame["new_job_in_scope_4m"] == 1)
    return frame


MODELS = {
    "new_job": cm.CoxModel("all", "new_job", "months_to_new_job"),
    "new_job_4m": cm.CoxModel("all", "new_job_4m", "months_to_new_job_4m"),
    "in_scope_4m_panel_b": cm.CoxModel(PANEL_B, "new_job_in_scope_4m", "months_to_new_job_in_scope_4m"),
}


def fit_all(spark, frame: pd.DataFrame, models) -> dict:
    spark_frame = spark.createDataFrame(frame)
    return cm.cox_adjusted_fits(spark_frame, models, {"all": None, PANEL_B: F.col("past_job_in_scope") == 0})


def assert_close(mine: dict, reference: dict, rel: float) -> None:
    assert set(mine) == set(reference)
    for key, expected in reference.items():
        if key == "fit_warnings":
            continue
        if isinstance(expected, float):
            assert mine[key] == pytest.approx(expected, rel=rel, abs=1e-12), key
        else:
            assert mine[key] == expected, key


@pytest.mark.parametrize("case", ["simulated", "null_batch", "missing_covariate", "constant_covariate",
                                  "collinear_covariate", "stratum_without_events", "derived_4m", "dated_4m"])
def test_cox_from_spark_passes_equals_the_exact_fit_and_lifelines(spark, case):
    """Every model of the case in the same passes; each equals the row-level Efron Newton to 1e-9 and lifelines
    (cox_adjusted on the same rows) to lifelines' own tolerance. The >= 4-month outcomes have no months-to column
    but in `dated_4m`: they take the 1-month one's months, and in `derived_4m` some learners' first job started
    in months 1-3 with a later one (the event month set to 4)."""
    frame = table3_frame(case)
    panel_b = frame.loc[frame["past_job_in_scope"] == 0]
    results = fit_all(spark, frame, list(MODELS.values()))
    for label, model in MODELS.items():
        rows = panel_b if model.panel == PANEL_B else frame
        mine = results[model]
        assert isinstance(mine, dict), mine
        assert mine["fit_warnings"] == []
        assert_close(mine, exact_cox_adjusted(rows, model.event, model.time), EXACT_RTOL)
        assert_close(mine, adj.cox_adjusted(rows, model.event, model.time), LIFELINES_RTOL)
        if case == "collinear_covariate":
            assert "primary_domain=Zzz" not in mine["controls"] and "past_tech_job" in mine["controls"]
        if case == "constant_covariate":
            assert "past_managerial_job" not in mine["controls"]
        if case == "missing_covariate":
            assert {"past_tech_job=(missing)", "gender=(missing)"} <= set(mine["controls"])
        if model.event == "new_job_4m":
            assert (mine["imputed_times"] > 0) == (case == "derived_4m")
        if case == "null_batch":
            assert mine["n_treatment"] + mine["n_control"] == len(rows)


def test_ties_across_strata_on_a_small_frame(spark):
    """Whole months, several strata sharing event months and many tied events in each: the exact fit."""
    rng = np.random.default_rng(4)
    n = 400
    frame = pd.DataFrame({
        "treatment": rng.integers(0, 2, n), "batch": rng.integers(1, 4, n), "followup_months": 6,
        "developing_country": rng.integers(0, 2, n), "gender": rng.choice(["f", "m", "x"], n)})
    month = rng.integers(1, 5, n)
    frame["new_job"] = (rng.random(n) < 0.3 + 0.1 * frame["treatment"]).astype(int)
    frame["months_to_new_job"] = pd.array(np.where(frame["new_job"] == 1, month, 0), dtype="Int32")
    frame.loc[frame["new_job"] == 0, "months_to_new_job"] = pd.NA
    model = cm.CoxModel("all", "new_job", "months_to_new_job")
    mine = fit_all(spark, frame, [model])[model]
    assert mine["controls"] == ["developing_country", "gender=m", "gender=x"]
    assert_close(mine, exact_cox_adjusted(frame, "new_job", "months_to_new_job"), EXACT_RTOL)


def test_an_assignment_collinear_with_the_controls_is_an_error_of_that_model(spark):
    frame = table3_frame("simulated", n=600)
    frame["treatment"] = 1  # the assignment is the intercept that anchors the dependence check
    model = cm.CoxModel("all", "new_job", "months_to_new_job")
    with pytest.raises(ValueError, match="collinear"):
        adj.cox_adjusted(frame, "new_job", "months_to_new_job")
    error = fit_all(spark, frame, [model])[model]
    assert isinstance(error, ValueError) and "collinear" in str(error)


def test_a_diverging_coefficient_is_reported(spark):
    """A level whose learners never find a job: its coefficient runs to -infinity, reported in fit_warnings."""
    frame = table3_frame("simulated", n=800)
    never = frame["credential_type"] == "Specialization"
    frame.loc[never, "new_job"] = 0
    frame.loc[never, "months_to_new_job"] = pd.NA
    model = cm.CoxModel("all", "new_job", "months_to_new_job")
    mine = fit_all(spark, frame, [model])[model]
    assert any("credential_type=Specialization" in warning and "diverges" in warning
               for warning in mine["fit_warnings"]), mine["fit_warnings"]


def test_a_separating_assignment_on_a_tiny_sample_ends_with_a_warning(spark):
    """Every treated learner finds a job in month 1 and no control does: the assignment's coefficient runs to
    +infinity. The fit ends at a finite coefficient with the failure named. (The overflow of exp(x'b) on such
    long steps, which once made the fit loop on NaN coefficients, was found by tests/test_lineage.py's 54-learner
    sample; an overflowing step now counts as a worse point and is halved.)"""
    rng = np.random.default_rng(11)
    n = 54
    frame = pd.DataFrame({"treatment": np.arange(n) % 2, "batch": rng.integers(1, 3, n), "followup_months": 6,
                          "developing_country": rng.integers(0, 2, n), "gender": rng.choice(["f", "m"], n)})
    frame["new_job"] = frame["treatment"]
    frame["months_to_new_job"] = pd.array(np.where(frame["new_job"] == 1, 1, 0), dtype="Int32")
    frame.loc[frame["new_job"] == 0, "months_to_new_job"] = pd.NA
    model = cm.CoxModel("all", "new_job", "months_to_new_job")
    mine = fit_all(spark, frame, [model])[model]
    assert math.isfinite(mine["estimate"]) and mine["estimate"] > 5
    assert any("did not converge" in warning for warning in mine["fit_warnings"]), mine["fit_warnings"]


def test_table3_rows_from_spark_equal_the_row_models(spark):
    """The readout's Table 3 rows (both panels, both rows per outcome) from the Spark fits equal those of
    cox_adjusted on the LinkedIn sample's rows to lifelines' tolerance."""
    from jobs.readout import estimates

    frame = table3_frame("derived_4m", n=2000, seed=12)
    notes: list[str] = []
    rows = pd.DataFrame(estimates.table3_rows(spark.createDataFrame(frame), snapshot_id="s", notes=notes,
                                              shared=None))
    panels = {"all": frame, PANEL_B: frame.loc[frame["past_job_in_scope"] == 0]}
    expected_keys = [(panel, label) for panel, labels in (("all", [label for label, *_ in estimates.TABLE3_SURVIVAL]),
                                                          (PANEL_B, estimates.TABLE3_PANEL_B_OUTCOMES))
                     for label in labels]
    assert list(zip(rows.subgroup, rows.outcome))[::2] == expected_keys
    assert set(rows.estimator) == {estimates.ESTIMATOR_COX_HR, estimates.ESTIMATOR_COX_PP}
    for (panel, label), (hr, pp) in zip(expected_keys, zip(rows.iloc[::2].to_dict("records"),
                                                           rows.iloc[1::2].to_dict("records"))):
        _, event, time = next(entry for entry in estimates.TABLE3_SURVIVAL if entry[0] == label)
        reference = adj.cox_adjusted(panels[panel], event, time)
        assert (hr["estimate"], hr["se"], hr["baseline"]) == pytest.approx(
            (reference["estimate"], reference["se"], reference["observed_baseline"]), rel=LIFELINES_RTOL)
        assert (pp["estimate"], pp["se"], pp["baseline"], pp["effect_pct"]) == pytest.approx(
            (reference["pp_effect"], reference["pp_se"], reference["baseline"], reference["effect_pct"]),
            rel=LIFELINES_RTOL)
        assert (hr["n_treatment"], hr["n_control"]) == (reference["n_treatment"], reference["n_control"])
    assert any("months_to_new_job_4m is not in the table" in note for note in notes)
