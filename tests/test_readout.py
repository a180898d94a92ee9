"""The readout's estimators against independent computations, and the readout end to end on a fake published lake."""

from __future__ import annotations

import base64
import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jobs import readout as r

# ------------------------------------------------------------------------------------------------ synthetic data

BATCH_FOLLOWUP = {1: 12, 2: 11, 3: 10, 4: 9, 5: 8}
PLANTED = {
    "share_control": 0.15, "share_itt": 0.20,  # first stage
    "job_control": 0.15, "job_per_share": 0.10,  # LATE of sharing on new_job
    "in_scope_share": 0.75,
    "views_control": 0.19, "views_itt": 0.02,
}


def simulate(n: int, seed: int = 7, linkedin_share: float = 0.25) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A full and a LinkedIn table with the curated tables' columns and planted effects (PLANTED): sharing
    rises by share_itt with the assignment; a share raises new_job by job_per_share (the LATE), so the ITT on
    new_job is share_itt * job_per_share; the first new job's month is uniform on 1..follow-up."""
    rng = np.random.default_rng(seed)
    d = (rng.random(n) < 0.5).astype("int32")
    batch = rng.integers(1, 6, n).astype("int32")
    follow = np.vectorize(BATCH_FOLLOWUP.get)(batch).astype("int32")
    p = PLANTED
    shared = (rng.random(n) < p["share_control"] + p["share_itt"] * d).astype("int32")
    new_job = (rng.random(n) < p["job_control"] + p["job_per_share"] * shared).astype("int32")
    in_scope = (new_job == 1) & (rng.random(n) < p["in_scope_share"])
    months = np.where(new_job == 1, 1 + (rng.random(n) * follow).astype(int), -1)
    first_in_scope = np.where(in_scope, months, -1)
    views = (rng.random(n) < p["views_control"] + p["views_itt"] * d).astype("int32")
    views_by_others = (views == 1) & (rng.random(n) < 0.75)
    full = pd.DataFrame({
        "learner_key": [f"L{i:07d}" for i in range(n)],
        "batch": batch, "treatment": d,
        "stratum": np.char.add("s", (rng.integers(0, 4, n)).astype(str)),
        "primary_domain": rng.choice(["Computer Science", "Data Science", "Information Technology", None], n,
                                     p=[0.4, 0.3, 0.2, 0.1]),
        "credential_type": rng.choice(["Course", "Guided Project", "Specialization"], n, p=[0.8, 0.15, 0.05]),
        "developing_country": (rng.random(n) < 0.9).astype("int32"),
        "education_level": rng.choice(["bachelor's degree", "master's degree", "not mentioned"], n),
        "gender": rng.choice(["male", "female", "not mentioned"], n),
        "main_skill_score": rng.random(n),
        "main_skill_standardized": rng.normal(0, 0.1, n),
        "logged_in_after_randomization": (rng.random(n) < 0.9).astype("int32"),
        "views_all": views, "views_all_by_others": views_by_others.astype("int32"),
        "views_linkedin": ((views == 1) & (rng.random(n) < 0.85)).astype("int32"),
        "views_linkedin_by_others": (views_by_others & (rng.random(n) < 0.85)).astype("int32"),
        "has_linkedin_url": (rng.random(n) < 0.3).astype("int32"),
    })
    linked = rng.random(n) < linkedin_share
    extra = pd.DataFrame({
        "credential_shared": shared, "new_job": new_job,
        "new_job_4m": ((new_job == 1) & (months >= 4)).astype("int32"),
        "new_job_in_scope": in_scope.astype("int32"),
        "new_job_in_scope_4m": (in_scope & (first_in_scope >= 4)).astype("int32"),
        "followup_months": follow,
        "months_to_new_job": pd.array(np.where(months > 0, months, 0), dtype="Int32"),
        "months_to_new_job_in_scope": pd.array(np.where(first_in_scope > 0, first_in_scope, 0), dtype="Int32"),
        "professional_experience_years": np.where(rng.random(n) < 0.1, np.nan, rng.gamma(2, 1.5, n)),
        "past_tech_job": (rng.random(n) < 0.13).astype("int32"),
        "past_managerial_job": (rng.random(n) < 0.06).astype("int32"),
        "past_job_in_scope": (rng.random(n) < 0.15).astype("int32"),
    })
    extra.loc[months <= 0, "months_to_new_job"] = pd.NA
    extra.loc[first_in_scope <= 0, "months_to_new_job_in_scope"] = pd.NA
    linkedin = pd.concat([full, extra], axis=1).loc[linked].reset_index(drop=True)
    return full, linkedin


def planted_itt() -> dict[str, float]:
    """The ITT each outcome has by construction in `simulate` (batches equally likely)."""
    p = PLANTED
    jobs = p["share_itt"] * p["job_per_share"]
    late4 = np.mean([(f - 3) / f for f in BATCH_FOLLOWUP.values()])  # P(first job month >= 4 | job)
    return {
        "credential_shared": p["share_itt"], "new_job": jobs, "new_job_in_scope": jobs * p["in_scope_share"],
        "new_job_4m": jobs * late4, "new_job_in_scope_4m": jobs * p["in_scope_share"] * late4,
        "views_all": p["views_itt"], "views_all_by_others": p["views_itt"] * 0.75,
        "views_linkedin": p["views_itt"] * 0.85, "views_linkedin_by_others": p["views_itt"] * 0.75 * 0.85,
    }


def publish_fake(lake: Path, snapshot_id: str, tables: dict[str, pd.DataFrame], *, live: bool = True) -> Path:
    """The publish contract: curated/_snapshots/<id>/<table>/part-00000.parquet, curated/_current ->
    _snapshots/<id>, curated/<table> -> _current/<table> (relative links)."""
    curated = lake / "curated"
    snapshot = curated / "_snapshots" / snapshot_id
    for name, frame in tables.items():
        (snapshot / name).mkdir(parents=True)
        frame.to_parquet(snapshot / name / "part-00000.parquet", index=False)
    if live:
        current = curated / "_current"
        if current.is_symlink():
            current.unlink()
        current.symlink_to(Path("_snapshots") / snapshot_id)
        for name in tables:
            link = curated / name
            if not link.is_symlink():
                link.symlink_to(Path("_current") / name)
    return snapshot


# ------------------------------------------------------------------------------------------------ estimators


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(3)
    n = 400
    d = (rng.random(n) < 0.45).astype(int)
    y = rng.normal(1.0 + 0.3 * d, 1.0 + d)  # heteroskedastic: HC0/HC1/HC2 differ visibly
    return y, d


@pytest.mark.parametrize("cov_type", ["HC2", "HC1", "HC0"])
def test_difference_in_means_matches_statsmodels_ols(small, cov_type):
    import statsmodels.api as sm

    y, d = small
    fit = sm.OLS(y, sm.add_constant(d.astype(float))).fit(cov_type=cov_type)
    result = r.difference_in_means(y, d, cov_type=cov_type)
    assert result["estimate"] == pytest.approx(fit.params[1], rel=1e-10)
    assert result["se"] == pytest.approx(fit.bse[1], rel=1e-10)
    assert result["baseline"] == pytest.approx(fit.params[0], rel=1e-10)
    assert result["baseline_se"] == pytest.approx(fit.bse[0], rel=1e-10)
    assert (result["n_treatment"], result["n_control"]) == (d.sum(), (1 - d).sum())
    assert result["ci_low"] == pytest.approx(fit.params[1] - 1.959964 * fit.bse[1], rel=1e-6)


def test_hc_variants_differ_on_unbalanced_heteroskedastic_data(small):
    y, d = small
    ses = {c: r.difference_in_means(y, d, cov_type=c)["se"] for c in ("HC0", "HC1", "HC2")}
    assert ses["HC0"] < ses["HC2"] and ses["HC0"] < ses["HC1"] and ses["HC1"] != pytest.approx(ses["HC2"], rel=1e-6)


def test_effect_pct_delta_method_matches_gradient_of_ols_covariance(small):
    """effect_pct = 100 b / a from y = a + b d; gradient (-b/a^2, 1/a) on statsmodels' full HC2 matrix (which
    carries Cov(a, b) = -Var(a)) against the closed form in difference_in_means."""
    import statsmodels.api as sm

    y, d = small
    fit = sm.OLS(y, sm.add_constant(d.astype(float))).fit(cov_type="HC2")
    a, b = fit.params
    gradient = np.array([-b / a**2, 1 / a])
    expected_se = 100 * math.sqrt(gradient @ np.asarray(fit.cov_params()) @ gradient)
    result = r.difference_in_means(y, d)
    assert result["effect_pct"] == pytest.approx(100 * b / a, rel=1e-10)
    assert result["effect_pct_se"] == pytest.approx(expected_se, rel=1e-10)


def test_effect_pct_closed_form_on_proportions():
    # control 20/100 = 0.2, treatment 30/100 = 0.3: effect 50% of baseline.
    y = np.r_[np.ones(30), np.zeros(70), np.ones(20), np.zeros(80)]
    d = np.r_[np.ones(100), np.zeros(100)]
    result = r.difference_in_means(y, d)
    v1, v0 = 0.3 * 0.7 / 99, 0.2 * 0.8 / 99  # s^2 / n with ddof 1: p(1-p) n/(n-1) / n
    assert result["estimate"] == pytest.approx(0.1)
    assert result["se"] == pytest.approx(math.sqrt(v1 + v0))
    assert result["effect_pct"] == pytest.approx(50.0)
    assert result["effect_pct_se"] == pytest.approx(100 * math.sqrt(v1 / 0.2**2 + 0.3**2 * v0 / 0.2**4))


def test_difference_in_means_degenerate_arms():
    result = r.difference_in_means(np.array([1.0, 0.0, 1.0]), np.array([1, 1, 0]))
    assert math.isnan(result["se"]) and result["estimate"] == pytest.approx(-0.5)
    zero_baseline = r.difference_in_means(np.array([1.0, 0.0, 0.0, 0.0]), np.array([1, 1, 0, 0]))
    assert math.isnan(zero_baseline["effect_pct"]) and zero_baseline["estimate"] == pytest.approx(0.5)


def test_itt_drops_missing_outcomes():
    frame = pd.DataFrame({"treatment": [1, 1, 1, 0, 0, 0], "y": [1.0, 0.0, np.nan, 0.0, 0.0, 1.0]})
    result = r.itt(frame, "y")
    assert (result["n_treatment"], result["n_control"]) == (2, 3)
    assert result["estimate"] == pytest.approx(0.5 - 1 / 3)


def manual_2sls(y, d, z):
    """Textbook two stages with projection matrices; the SE uses residuals from the observed d."""
    n = y.size
    X = np.column_stack([np.ones(n), d])
    Z = np.column_stack([np.ones(n), z])
    x_hat = Z @ np.linalg.solve(Z.T @ Z, Z.T @ X)  # first-stage fitted values
    beta = np.linalg.solve(x_hat.T @ x_hat, x_hat.T @ y)  # second stage
    u = y - X @ beta
    bread = np.linalg.inv(x_hat.T @ x_hat)
    cov = n / (n - 2) * bread @ (x_hat.T * u**2) @ x_hat @ bread
    naive_u = y - x_hat @ beta  # the wrong residuals of a plain second-stage OLS
    naive_cov = n / (n - 2) * bread @ (x_hat.T * naive_u**2) @ x_hat @ bread
    return beta[1], math.sqrt(cov[1, 1]), math.sqrt(naive_cov[1, 1])


def test_late_matches_manual_2sls_and_wald():
    rng = np.random.default_rng(11)
    n = 3000
    z = (rng.random(n) < 0.5).astype(int)
    d = (rng.random(n) < 0.2 + 0.3 * z).astype(int)
    y = (rng.random(n) < 0.1 + 0.25 * d).astype(float)
    result = r.iv_2sls(y, d, z)
    beta, se, naive_se = manual_2sls(y, d.astype(float), z.astype(float))
    assert result["estimate"] == pytest.approx(beta, rel=1e-9)
    assert result["se"] == pytest.approx(se, rel=1e-9)
    assert result["se"] != pytest.approx(naive_se, rel=1e-3)  # the structural residuals matter
    wald = (y[z == 1].mean() - y[z == 0].mean()) / (d[z == 1].mean() - d[z == 0].mean())
    assert result["estimate"] == pytest.approx(wald, rel=1e-9)
    assert result["first_stage"] == pytest.approx(d[z == 1].mean() - d[z == 0].mean())
    frame = pd.DataFrame({"treatment": z, "credential_shared": d, "new_job": y})
    frame.loc[0, "new_job"] = np.nan
    via_frame = r.late(frame, "new_job")
    assert via_frame["n_treatment"] + via_frame["n_control"] == n - 1


def test_late_se_covers_planted_effect_in_repeated_samples():
    """Coverage of the 95% interval over simulations, so a wrong SE (e.g. the naive one) would show."""
    rng = np.random.default_rng(5)
    hits = 0
    for _ in range(200):
        n = 2000
        z = (rng.random(n) < 0.5).astype(int)
        complier = rng.random(n) < 0.4
        d = (complier & (z == 1)) | (rng.random(n) < 0.1)
        y = (rng.random(n) < 0.2 + 0.2 * d).astype(float)
        result = r.iv_2sls(y, d.astype(float), z)
        hits += result["ci_low"] <= 0.2 <= result["ci_high"]
    assert 0.90 <= hits / 200 <= 0.99


def test_balance_table_against_hand_computation():
    frame = pd.DataFrame({
        "treatment": [1, 1, 1, 1, 0, 0, 0],
        "x": [1.0, 2.0, 3.0, np.nan, 2.0, 4.0, 6.0],
        "g": ["a", "b", "a", None, "b", "b", "a"],
    })
    table = r.balance_table(frame, numeric=["x"], categorical=["g"]).set_index("covariate")
    assert list(table.index) == ["x", "g=a", "g=b", "g=(missing)"]
    x = table.loc["x"]
    assert (x["n_treatment"], x["n_control"]) == (3, 3)
    assert x["treatment_mean"] == pytest.approx(2.0) and x["control_mean"] == pytest.approx(4.0)
    assert x["difference"] == pytest.approx(-2.0)
    assert x["se"] == pytest.approx(math.sqrt(1.0 / 3 + 4.0 / 3))  # s^2 = 1 and 4
    assert x["smd"] == pytest.approx(-2.0 / math.sqrt((1.0 + 4.0) / 2))
    a = table.loc["g=a"]  # a missing category is 0 for every level
    assert a["treatment_mean"] == pytest.approx(0.5) and a["control_mean"] == pytest.approx(1 / 3)
    assert (a["n_treatment"], a["n_control"]) == (4, 3)
    assert a["se"] == pytest.approx(math.sqrt(np.var([1, 0, 1, 0], ddof=1) / 4 + np.var([0, 0, 1], ddof=1) / 3))
    assert table.loc["g=(missing)", "treatment_mean"] == pytest.approx(0.25)


def test_balance_smd_equals_the_quality_gates(spark):
    from jobs.validate import balance_findings, balance_moments

    full, _ = simulate(3000, seed=2)
    table = r.balance_table(full).set_index("covariate")
    covariates = ["primary_domain", "gender", "main_skill_standardized"]
    findings = balance_findings("t", balance_moments(spark.createDataFrame(full), covariates), covariates)
    assert findings
    for finding in findings:
        name = finding.check[len("balance:"):]
        assert table.loc[name, "smd"] == pytest.approx(float(finding.observed[4:]), abs=6e-5)


def test_sample_ratio_matches_scipy_chisquare():
    from scipy.stats import chisquare

    frame = pd.DataFrame({"treatment": [1] * 5200 + [0] * 4800})
    result = r.sample_ratio(frame)
    assert result["p_value"] == pytest.approx(chisquare([5200, 4800]).pvalue, rel=1e-9)
    assert result["p_value"] < 0.001 and result["share_treated"] == pytest.approx(0.52)


def test_cumulative_share_on_a_hand_made_frame():
    frame = pd.DataFrame({
        "batch": [1, 1, 1, 1, 1, 1, 2, 2],
        "treatment": [1, 1, 1, 0, 0, 0, 1, 1],
        "new_job": [1, 1, 0, 1, 0, 0, 1, 0],
        "months_to_new_job": [1, 3, None, 2, None, None, 2, None],
        "followup_months": [3, 3, 3, 3, 3, 3, 2, 2],
    })
    curves = r.cumulative_new_job_share(frame)
    shares = {(b, t, m): s for b, t, m, s in curves[["batch", "treatment", "month", "share"]].itertuples(index=False)}
    assert [shares[("1", 1, m)] for m in range(4)] == pytest.approx([0, 1 / 3, 1 / 3, 2 / 3])
    assert [shares[("1", 0, m)] for m in range(4)] == pytest.approx([0, 0, 1 / 3, 1 / 3])
    assert [shares[("2", 1, m)] for m in range(3)] == pytest.approx([0, 0, 0.5])
    # Pooled treatment arm: months 0-2 over 5 learners; month 3 only batch 1 reaches, so the pooled curve stops.
    assert [shares[("all", 1, m)] for m in range(3)] == pytest.approx([0, 1 / 5, 2 / 5])
    assert ("all", 1, 3) not in shares
    n_observed = curves.set_index(["batch", "treatment", "month"])["n_observed"]
    assert n_observed[("all", 1, 2)] == 5
    assert ("2", 1, 3) not in shares  # beyond batch 2's follow-up


def test_cox_itt_matches_lifelines_on_hand_built_durations_and_recovers_the_hazard_ratio():
    from lifelines import CoxPHFitter

    rng = np.random.default_rng(0)
    n = 6000
    d = (rng.random(n) < 0.5).astype(int)
    batch = rng.integers(1, 3, n)
    follow = np.where(batch == 1, 12, 8)
    time = np.ceil(rng.exponential(1 / (0.05 * np.where(d == 1, 1.5, 1.0))))  # whole months, as the table has
    event = time <= follow
    frame = pd.DataFrame({"treatment": d, "batch": batch, "new_job": event.astype(int),
                          "months_to_new_job": pd.array(np.where(event, time, 0), dtype="Int32"),
                          "followup_months": follow})
    frame.loc[~event, "months_to_new_job"] = pd.NA
    result = r.cox_itt(frame)
    by_hand = pd.DataFrame({"t": np.where(event, time, follow), "e": event.astype(int), "d": d, "b": batch})
    fit = CoxPHFitter().fit(by_hand, "t", "e", strata=["b"])
    assert result["estimate"] == pytest.approx(fit.params_["d"], rel=1e-6)
    assert result["se"] == pytest.approx(fit.standard_errors_["d"], rel=1e-6)
    assert abs(result["estimate"] - math.log(1.5)) <= r.Z99 * result["se"]
    assert 0.02 < result["se"] < 0.06
    assert result["effect_pct_se"] == pytest.approx(100 * result["hazard_ratio"] * result["se"])
    assert (result["n_treatment"], result["n_control"]) == (d.sum(), n - d.sum())


@pytest.mark.parametrize("log_hr, expected", [(0.0, 1.0), (math.log(2.0), 2.0), (800.0, math.inf), (-800.0, 0.0)])
def test_hazard_ratio_of_saturates_instead_of_overflowing(log_hr, expected):
    assert r.hazard_ratio_of(log_hr) == pytest.approx(expected)


def separated_survival_frame() -> pd.DataFrame:
    """40 learners, one batch; 6 of the 20 controls and none of the treated find a job (in month 3)."""
    n = 40
    d = np.arange(n) % 2
    event = (d == 0) & (np.arange(n) < 12)
    frame = pd.DataFrame({"treatment": d, "batch": 1, "new_job": event.astype(int),
                          "months_to_new_job": pd.array(np.where(event, 3, 0), dtype="Int32"),
                          "followup_months": 10})
    frame.loc[~event, "months_to_new_job"] = pd.NA
    return frame


def test_cox_itt_near_separation_renders_in_the_report():
    """A tiny LinkedIn sample where only control learners find a job: lifelines converges to a huge log HR
    SE, whose interval end used to overflow math.exp when the HTML was written."""
    result = r.cox_itt(separated_survival_frame())
    from jobs.readout import estimates, render

    rows = pd.DataFrame([estimates._row("s", "cox", "new_job", "linkedin", "all", "cox_ph", result)])
    html = render.render_html("s", estimates.Estimates(rows, {}, pd.DataFrame()), {}, {}, counts={})
    assert "Cox models without controls" in html


def test_ridge_without_penalty_is_least_squares():
    from jobs.readout import statistics

    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3))
    y = 0.5 + x @ np.array([1.0, -2.0, 0.3]) + rng.normal(size=200)
    expected, *_ = np.linalg.lstsq(np.column_stack([np.ones(200), x]), y, rcond=None)
    assert statistics._ridge_fit(x, y, 0.0) == pytest.approx(expected, rel=1e-9)
    assert np.abs(statistics._ridge_fit(x, y, 1e6)[1:]).max() < 0.01  # the penalty shrinks, the intercept stays
    assert statistics._ridge_fit(x, y, 1e6)[0] == pytest.approx(y.mean(), abs=0.05)


def test_employability_scores_are_cross_fitted():
    _, linkedin = simulate(4000, seed=6, linkedin_share=0.5)
    scores = r.employability_scores(linkedin)
    assert np.isfinite(scores).all()
    controls = np.flatnonzero(linkedin.treatment.to_numpy() == 0)
    treated = np.flatnonzero(linkedin.treatment.to_numpy() == 1)
    changed = linkedin.copy()
    changed.loc[controls[0], "new_job"] = 1 - changed.loc[controls[0], "new_job"]
    rescored = r.employability_scores(changed)
    assert rescored[controls[0]] == scores[controls[0]]  # its own outcome never enters its score
    assert not np.allclose(rescored, scores)  # ... but it does enter others'
    changed = linkedin.copy()
    changed.loc[treated, "new_job"] = 1 - changed.loc[treated, "new_job"]
    assert np.array_equal(r.employability_scores(changed), scores)  # treated outcomes are never used
    groups = r.terciles(scores)
    counts = groups.value_counts()
    assert counts.sum() == len(linkedin) and counts.max() - counts.min() <= 1 and len(counts) == 3
    assert scores[groups.to_numpy() == "low"].max() <= scores[groups.to_numpy() == "medium"].min()
    # The folds follow the learners' keys, not the row order: shuffled rows get the same scores and terciles.
    shuffled = linkedin.sample(frac=1.0, random_state=1)
    np.testing.assert_allclose(r.employability_scores(shuffled), scores[shuffled.index.to_numpy()], rtol=1e-12)
    keyed = r.terciles(scores, keys=linkedin.learner_key)
    reshuffled = r.terciles(r.employability_scores(shuffled), keys=shuffled.learner_key)
    assert reshuffled.tolist() == keyed.to_numpy()[shuffled.index.to_numpy()].tolist()


def test_employability_terciles_recover_planted_heterogeneity():
    rng = np.random.default_rng(8)
    n = 30_000
    frame = pd.DataFrame({"learner_key": [f"L{i:07d}" for i in range(n)],
                          "treatment": (rng.random(n) < 0.5).astype(int),
                          "main_skill_score": rng.random(n),
                          "gender": rng.choice(["male", "female"], n)})
    skill = frame.main_skill_score.to_numpy()
    low = skill < 1 / 3  # the effect is planted where baseline employability is low
    frame["new_job"] = (rng.random(n) < 0.05 + 0.3 * skill + 0.08 * low * frame.treatment).astype(int)
    groups = r.terciles(r.employability_scores(frame, numeric=["main_skill_score"], categorical=["gender"]))
    assert (groups[low] == "low").mean() > 0.95
    effect = {g: r.itt(frame.loc[(groups == g).to_numpy()], "new_job") for g in ("low", "medium", "high")}
    assert abs(effect["low"]["estimate"] - 0.08) <= r.Z99 * effect["low"]["se"]
    assert abs(effect["high"]["estimate"]) <= r.Z99 * effect["high"]["se"]
    assert effect["low"]["baseline"] < effect["medium"]["baseline"] < effect["high"]["baseline"]


def test_planted_itts_and_late_inside_99_percent_intervals_on_a_large_sample():
    full, linkedin = simulate(200_000, seed=1, linkedin_share=0.5)
    expected = planted_itt()
    for frame, outcomes in ((linkedin, r.LINKEDIN_ITT_OUTCOMES), (full, r.FULL_ITT_OUTCOMES)):
        for outcome in outcomes:
            result = r.itt(frame, outcome)
            assert abs(result["estimate"] - expected[outcome]) <= r.Z99 * result["se"], outcome
            p1 = result["treatment_mean"]
            p0 = result["baseline"]
            theory = math.sqrt(p1 * (1 - p1) / result["n_treatment"] + p0 * (1 - p0) / result["n_control"])
            assert result["se"] == pytest.approx(theory, rel=1e-3), outcome
    planted_late = PLANTED["job_per_share"]
    result = r.late(linkedin, "new_job")
    assert abs(result["estimate"] - planted_late) <= r.Z99 * result["se"]
    assert result["se"] < 0.03  # informative: excludes 0
    assert abs(result["estimate"]) > r.Z99 * result["se"]


# ------------------------------------------------------------------------------------------------ adjusted estimators


def covariate_frame(n: int, seed: int = 11, effect: float = 0.05) -> pd.DataFrame:
    """Learners whose outcome depends strongly on pre-treatment covariates (so adjustment helps), with a planted
    ITT `effect` on the binary outcome `y`, randomization strata and batches, and missing values."""
    rng = np.random.default_rng(seed)
    domain = rng.choice(["Business", "Computer Science", "Data Science", "Information Technology"], n)
    developing = (rng.random(n) < 0.8).astype("int32")
    stratum = np.char.add(domain.astype(str), developing.astype(str))
    d = np.zeros(n, dtype="int32")
    for level in np.unique(stratum):  # exact 50/50 within stratum
        members = np.flatnonzero(stratum == level)
        d[rng.permutation(members)[: members.size // 2]] = 1
    skill = rng.normal(0, 1, n)
    experience = np.where(rng.random(n) < 0.1, np.nan, rng.gamma(2, 2, n))
    education = rng.choice(["bachelor degree", "masters degree", "high school diploma", "not mentioned"], n)
    p0 = 0.02 + 0.5 * (skill > 0) + 0.2 * (education == "masters degree") + 0.1 * (1 - developing)
    y = (rng.random(n) < np.clip(p0 + effect * d, 0, 1)).astype("int32")
    return pd.DataFrame({
        "treatment": d, "batch": rng.integers(1, 6, n).astype("int32"), "stratum": stratum,
        "primary_domain": domain, "developing_country": developing, "main_skill_standardized": skill,
        "professional_experience_years": experience, "education_level": education,
        "gender": rng.choice(["male", "female", None], n), "credential_type": rng.choice(["Course", "Guided Project"], n),
        "past_tech_job": (rng.random(n) < 0.2).astype("int32"), "past_managerial_job": (rng.random(n) < 0.1).astype("int32"),
        "y": y,
    })


@pytest.mark.parametrize("cov_type", ["HC2", "HC1", "HC0"])
def test_ols_robust_matches_statsmodels(cov_type):
    import statsmodels.api as sm

    rng = np.random.default_rng(5)
    x = np.column_stack([np.ones(300), rng.normal(size=(300, 3))])
    y = x @ [1.0, 0.5, -0.2, 0.0] + rng.normal(size=300) * (1 + np.abs(x[:, 1]))
    mine = r.ols_robust(y, x, cov_type=cov_type)
    reference = sm.OLS(y, x).fit(cov_type=cov_type)
    np.testing.assert_allclose(mine["params"], reference.params, rtol=1e-10)
    np.testing.assert_allclose(mine["cov"], reference.cov_params(), rtol=1e-8)
    assert 1 - mine["rss"] / mine["tss"] == pytest.approx(reference.rsquared, rel=1e-10)


def test_lin_itt_matches_statsmodels_fully_interacted_regression():
    import statsmodels.api as sm

    frame = covariate_frame(3000)
    x, names = r.covariate_design(frame, ("main_skill_standardized", "professional_experience_years"),
                                  ("education_level", "gender"))
    assert "professional_experience_years=(missing)" in names and "education_level=bachelor degree" not in names
    y, d = frame["y"].to_numpy(float), frame["treatment"].to_numpy(float)
    mine = r.lin_itt(y, d, x)
    xc = x - x.mean(axis=0)
    reference = sm.OLS(y, np.column_stack([np.ones(len(y)), d, xc, d[:, None] * xc])).fit(cov_type="HC2")
    assert mine["estimate"] == pytest.approx(reference.params[1], rel=1e-10)
    assert mine["se"] == pytest.approx(reference.bse[1], rel=1e-8)
    assert mine["baseline"] == pytest.approx(reference.params[0], rel=1e-10)
    gradient = np.array([-100 * reference.params[1] / reference.params[0] ** 2, 100 / reference.params[0]])
    delta = math.sqrt(gradient @ reference.cov_params()[:2, :2] @ gradient)
    assert mine["effect_pct_se"] == pytest.approx(delta, rel=1e-8)
    assert mine["n_covariates"] == 2 * x.shape[1]


def test_lin_without_covariates_is_the_difference_in_means(small):
    y, d = small
    mine = r.lin_itt(y, d, np.empty((len(y), 0)))
    plain = r.difference_in_means(y, d)
    assert mine["estimate"] == pytest.approx(plain["estimate"], rel=1e-10)
    assert mine["se"] == pytest.approx(plain["se"], rel=1e-10)  # HC2 with one binary regressor = Neyman


def test_independent_columns_drop_the_later_of_a_collinear_set():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=50), rng.normal(size=50)
    x = np.column_stack([np.ones(50), a, b, a + 2 * b, np.zeros(50), a])
    assert r.independent_columns(x.T @ x) == [0, 1, 2]


def test_adjusted_itt_with_strata_recovers_the_effect_and_reduces_the_variance():
    frame = covariate_frame(40_000, effect=0.05)
    # stratum is collinear with primary_domain x developing_country: the dependent columns are dropped.
    result = r.adjusted_itt(frame, "y", numeric=r.CONTROLS_NUMERIC_LINKEDIN)
    assert np.isfinite(result["se"]) and result["n_covariates"] > 10
    assert abs(result["estimate"] - 0.05) <= r.Z99 * result["se"]
    assert result["unadjusted_se"] == pytest.approx(r.itt(frame, "y")["se"], rel=1e-12)
    assert result["variance_reduction"] == pytest.approx(1 - result["se"] ** 2 / result["unadjusted_se"] ** 2)
    assert result["variance_reduction"] > 0.15  # the covariates explain a good part of y
    assert result["n_treatment"] + result["n_control"] == len(frame)


def test_lpm_matches_statsmodels():
    import statsmodels.api as sm

    _, linkedin = simulate(4000, seed=9)
    result = r.lpm(linkedin, "views_all", "new_job")
    reference = sm.OLS(linkedin["views_all"].to_numpy(float),
                       sm.add_constant(linkedin["new_job"].to_numpy(float))).fit(cov_type="HC2")
    assert result["estimate"] == pytest.approx(reference.params[1], rel=1e-10)
    assert result["se"] == pytest.approx(reference.bse[1], rel=1e-8)
    assert result["baseline"] == pytest.approx(reference.params[0], rel=1e-10)
    assert result["r_squared"] == pytest.approx(reference.rsquared, rel=1e-8)


def survival_frame(n: int, seed: int = 3, log_hr: float = 0.3) -> pd.DataFrame:
    """Exponential times to a first job, rounded up to months, censored at the batch's follow-up; a covariate x
    and the assignment act proportionally on the hazard."""
    rng = np.random.default_rng(seed)
    d = (rng.random(n) < 0.5).astype("int32")
    x = rng.normal(size=n)
    batch = rng.integers(1, 6, n).astype("int32")
    follow = np.vectorize(BATCH_FOLLOWUP.get)(batch).astype("int32")
    months = np.ceil(rng.exponential(1 / (0.02 * np.exp(log_hr * d + 0.5 * x)))).astype(int)
    event = months <= follow
    return pd.DataFrame({
        "treatment": d, "batch": batch, "followup_months": follow, "x": x, "new_job": event.astype("int32"),
        "months_to_new_job": pd.Series(np.where(event, months, 0), dtype="Int32").where(event, pd.NA),
    })


def test_cox_adjusted_matches_lifelines_and_converts_to_percentage_points():
    from lifelines import CoxPHFitter

    frame = survival_frame(6000)
    result = r.cox_adjusted(frame, "new_job", "months_to_new_job", numeric=("x",), categorical=())
    model = pd.DataFrame({
        "duration": np.where(frame.new_job == 1, frame.months_to_new_job.fillna(0), frame.followup_months).astype(float),
        "event": frame.new_job, "treatment": frame.treatment, "x": frame.x, "batch": frame.batch})
    fitter = CoxPHFitter().fit(model, "duration", "event", strata=["batch"])
    assert result["estimate"] == pytest.approx(fitter.params_["treatment"], rel=1e-6)
    assert result["se"] == pytest.approx(fitter.standard_errors_["treatment"], rel=1e-6)
    assert abs(result["estimate"] - 0.3) <= r.Z99 * result["se"]  # the planted log hazard ratio
    # pp at follow-up: lifelines' predicted survival of each control learner at their follow-up, both arms.
    controls = model.loc[model.treatment == 0]
    s0, s1 = [], []
    for batch, group in controls.groupby("batch"):
        time = BATCH_FOLLOWUP[batch]
        s0.append(fitter.predict_survival_function(group.assign(treatment=0), times=[time]).to_numpy()[0])
        s1.append(fitter.predict_survival_function(group.assign(treatment=1), times=[time]).to_numpy()[0])
    s0, s1 = np.concatenate(s0), np.concatenate(s1)
    assert result["pp_effect"] == pytest.approx(np.mean(s0 - s1), rel=1e-5)
    assert result["baseline"] == pytest.approx(np.mean(1 - s0), rel=1e-5)
    assert result["effect_pct"] == pytest.approx(100 * np.mean(s0 - s1) / np.mean(1 - s0), rel=1e-5)
    # Delta-method SE: the numerical derivative of the pp effect in the log hazard ratio, times its SE.
    g, step = result["estimate"], 1e-5

    def pp(log_hr):
        return np.mean(s0 ** math.exp(log_hr) - s0) * -1

    numeric = (pp(g + step) - pp(g - step)) / (2 * step) * result["se"]
    assert result["pp_se"] == pytest.approx(numeric, rel=1e-5)
    assert result["observed_baseline"] == pytest.approx(1 - frame.new_job[frame.treatment == 1].mean(), abs=1) \
        and 0 < result["observed_baseline"] < 1


def test_breslow_cumulative_hazard_by_hand():
    duration = np.array([1.0, 2, 2, 3, 5])
    event = np.array([1, 1, 0, 1, 0])
    score = np.array([1.0, 2, 1, 1, 3])
    # t=1: 1 / (1+2+1+1+3) = 1/8; t=2: 1 / (2+1+1+3) = 1/7; t=3: 1 / (1+3) = 1/4
    expected = [0.0, 1 / 8, 1 / 8 + 1 / 7, 1 / 8 + 1 / 7 + 1 / 4, 1 / 8 + 1 / 7 + 1 / 4]
    np.testing.assert_allclose(r.breslow_cumulative_hazard(duration, event, score, np.array([0.5, 1, 2, 3, 9])),
                               expected)


def test_survival_columns_derive_the_four_month_times():
    frame = pd.DataFrame({
        "new_job_4m": [1, 1, 0, 0], "new_job": [1, 1, 1, 0], "followup_months": [10, 10, 10, 8],
        "months_to_new_job": pd.array([6, 2, 1, None], dtype="Int32")})
    duration, event, imputed = r.survival_columns(frame, "new_job_4m", "months_to_new_job_4m")
    # first job at 6: also the first >= 4-month job; first at 2 with a later one: unknown, set to 4; censored.
    assert duration.tolist() == [6, 4, 10, 8] and event.tolist() == [1, 1, 0, 0] and imputed == 1
    frame["months_to_new_job_4m"] = pd.array([6, 7, None, None], dtype="Int32")  # a column present is used as is
    duration, event, imputed = r.survival_columns(frame, "new_job_4m", "months_to_new_job_4m")
    assert duration.tolist() == [6, 7, 10, 8] and imputed == 0


def test_benjamini_hochberg_matches_statsmodels_multipletests():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(8)
    p = np.concatenate([rng.uniform(size=40), rng.uniform(0, 0.01, size=10)])
    np.testing.assert_allclose(r.benjamini_hochberg(p), multipletests(p, method="fdr_bh")[1], rtol=1e-12)
    with_nan = np.array([0.01, np.nan, 0.04, 0.03, np.nan])
    adjusted = r.benjamini_hochberg(with_nan)
    assert np.isnan(adjusted[[1, 4]]).all()
    np.testing.assert_allclose(adjusted[[0, 2, 3]], multipletests([0.01, 0.04, 0.03], method="fdr_bh")[1])


def test_subgroup_rows_adjust_over_the_whole_family(spark):
    from statsmodels.stats.multitest import multipletests

    from jobs.readout import moments
    from jobs.readout.estimates import subgroup_rows

    full, linkedin = simulate(6000, seed=2)
    outcomes_of = {"full": r.FULL_ITT_OUTCOMES, "linkedin": r.LINKEDIN_ITT_OUTCOMES}
    cells = {sample: moments.outcome_moments(spark.createDataFrame(frame), outcomes_of[sample],
                                             by=r.SUBGROUP_COLUMNS)
             for sample, frame in (("full", full), ("linkedin", linkedin))}
    rows = pd.DataFrame(subgroup_rows(cells, outcomes_of, snapshot_id="s"))
    np.testing.assert_allclose(rows.p_adjusted, multipletests(rows.p_value, method="fdr_bh")[1], rtol=1e-12)
    dimensions = set(rows.subgroup.str.split("=").str[0])
    assert dimensions == {"developing_country", "education", "primary_domain", "batch"}
    assert set(rows.outcome) == set(r.FULL_ITT_OUTCOMES) | set(r.LINKEDIN_ITT_OUTCOMES)
    for sample, frame in (("full", full), ("linkedin", linkedin)):  # each from its cells = on its rows
        masks = r.subgroups(frame)
        for row in rows.loc[rows["sample"] == sample].itertuples():
            expected = r.itt(frame.loc[masks[row.subgroup]], row.outcome)
            assert (row.estimate, row.se) == pytest.approx((expected["estimate"], expected["se"]), rel=1e-9)
    masks = r.subgroups(pd.DataFrame({"education_level": ["bachelor degree", "high school diploma", "not mentioned",
                                                          None]}))
    assert masks["education=degree"].tolist() == [True, False, False, False]
    assert masks["education=no_degree"].tolist() == [False, True, False, False]
    assert masks["education=not_mentioned"].tolist() == [False, False, True, True]


def test_subsample_difference_against_the_rest():
    rng = np.random.default_rng(4)
    whole = rng.normal(1.0, 2.0, 5000)
    inside = rng.random(5000) < 0.3
    whole[inside] += 0.5
    part, rest = whole[inside], whole[~inside]
    result = r.subsample_difference(whole, part)
    share = part.size / whole.size
    assert result["estimate"] == pytest.approx(part.mean() - whole.mean(), rel=1e-10)
    assert result["estimate"] == pytest.approx((1 - share) * (part.mean() - rest.mean()), rel=1e-10)
    expected = (1 - share) * math.sqrt(part.var(ddof=1) / part.size + rest.var(ddof=1) / rest.size)
    assert result["se"] == pytest.approx(expected, rel=1e-8)
    full, linkedin = simulate(3000, seed=5)
    table = r.summary_statistics(full, linkedin, numeric=("developing_country", "new_job"),
                                 categorical=("gender",)).set_index("variable")
    assert table.loc["developing_country", "full_mean"] == pytest.approx(full.developing_country.mean())
    assert table.loc["developing_country", "full_se"] == pytest.approx(full.developing_country.sem())
    assert table.loc["gender=male", "linkedin_mean"] == pytest.approx((linkedin.gender == "male").mean())
    assert table.loc["new_job", "full_n"] == 0 and np.isnan(table.loc["new_job", "difference"])


def test_attrition_difference_matches_ols_hc0_on_indicators():
    import statsmodels.api as sm

    counts = {"url_at_randomization": {1: 800, 0: 780}, "fetched": {1: 760, 0: 700}, "matched": {1: 700, 0: 690}}
    table = r.attrition(counts).set_index("stage")
    assert list(table.index) == ["fetched", "matched", "matched"] and table.iloc[-1].from_stage == "url_at_randomization"
    row = table.loc[table.from_stage == "url_at_randomization"].loc["matched"]
    reached = np.r_[np.ones(700), np.zeros(100), np.ones(690), np.zeros(90)]
    arm = np.r_[np.ones(800), np.zeros(780)]
    reference = sm.OLS(reached, sm.add_constant(arm)).fit(cov_type="HC0")
    assert row.difference == pytest.approx(reference.params[1]) and row.se == pytest.approx(reference.bse[1])
    assert row.p_value == pytest.approx(reference.pvalues[1], rel=1e-6)


def test_attrition_of_counts_that_do_not_nest_has_no_standard_error():
    counts = {"url_at_randomization": {1: 800, 0: 780}, "matched": {1: 810, 0: 690}}
    row = r.attrition(counts).iloc[0]
    assert not row.nested and row.share_treatment == pytest.approx(810 / 800)
    assert np.isnan(row.se) and np.isnan(row.p_value)
    assert r.attrition({"randomized": {1: 10, 0: 10}, "matched": {1: 10, 0: 0}}).iloc[0].nested
    assert r.attrition({"randomized": {1: 10, 0: 0}, "matched": {1: 5, 0: 0}}).iloc[0].nested  # no controls: NaN share


def test_attrition_counts_from_tables_and_the_match_report_by_arm():
    full, linkedin = simulate(2000, seed=6)
    report = [{"match": "matched", "treatment": 1, "count": 5}, {"match": "matched", "treatment": 0, "count": 4},
              {"match": "fetch_failed:not_found", "treatment": 1, "count": 2}, {"match": "no_url", "treatment": 0,
                                                                                "count": 9}]
    counts = r.attrition_counts(full, linkedin, report)
    assert counts["randomized"] == {1: int(full.treatment.sum()), 0: int((full.treatment == 0).sum())}
    assert counts["url_at_randomization"][1] == int(full.loc[full.has_linkedin_url == 1, "treatment"].sum())
    assert counts["fetched"] == {1: 7, 0: 4} and counts["parsed_ok"] == {1: 5, 0: 4}
    assert counts["matched"][0] == int((linkedin.treatment == 0).sum())
    assert "fetched" not in r.attrition_counts(full, linkedin)


def test_pooled_curve_stops_at_the_shortest_follow_up_and_has_bands():
    _, linkedin = simulate(4000, seed=3)
    curves = r.cumulative_new_job_share(linkedin)
    pooled = curves.loc[curves.batch == "all"]
    assert pooled.month.max() == min(BATCH_FOLLOWUP.values())
    assert curves.loc[curves.batch == "1", "month"].max() == BATCH_FOLLOWUP[1]
    row = curves.iloc[7]
    assert row.se == pytest.approx(math.sqrt(row.share * (1 - row.share) / row.n_observed))
    assert (curves.ci_low <= curves.share).all() and (curves.share <= curves.ci_high).all()
    assert (curves.ci_low >= 0).all() and (curves.ci_high <= 1).all()


def test_adjusted_estimates_recover_planted_effects_on_a_large_sample():
    full, linkedin = simulate(60_000, seed=1, linkedin_share=0.5)
    expected = planted_itt()
    for frame, outcomes, numeric in ((linkedin, r.LINKEDIN_ITT_OUTCOMES, r.CONTROLS_NUMERIC_LINKEDIN),
                                     (full, r.FULL_ITT_OUTCOMES, r.CONTROLS_NUMERIC_FULL)):
        for outcome in outcomes:
            result = r.adjusted_itt(frame, outcome, numeric=numeric)
            assert abs(result["estimate"] - expected[outcome]) <= r.Z99 * result["se"], outcome
            # Covariates unrelated to the outcome: adjustment neither helps nor hurts much.
            assert abs(result["variance_reduction"]) < 0.02, outcome


# ------------------------------------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def published(tmp_path_factory, spark):
    lake = tmp_path_factory.mktemp("lake")
    full, linkedin = simulate(10_000, seed=4)
    old = publish_fake(lake, "20260101T000000Z-run0", {
        "learner_outcomes_full": full.iloc[:3000], "learner_outcomes_linkedin": linkedin.iloc[:800]})
    # The quality gate's own report (jobs/validate.py), except that its LinkedIn arm counts are made wrong.
    from datetime import date

    from jobs import validate

    outcome = validate.ValidationOutcome("run1", date(2026, 1, 2))
    full_frame, linkedin_frame = spark.createDataFrame(full), spark.createDataFrame(linkedin)
    outcome.findings += validate.sample_ratio_findings("learner_outcomes_full", validate.arm_counts(full_frame))
    outcome.findings += validate.balance_findings(
        "learner_outcomes_full", validate.balance_moments(full_frame, validate.FULL_BALANCE_COVARIATES),
        validate.FULL_BALANCE_COVARIATES)
    outcome.findings += validate.sample_ratio_findings(
        "learner_outcomes_linkedin", validate.arm_counts(spark.createDataFrame(linkedin.iloc[10:])))
    outcome.findings += validate.balance_findings(
        "learner_outcomes_linkedin", validate.balance_moments(linkedin_frame, validate.LINKEDIN_BALANCE_COVARIATES),
        validate.LINKEDIN_BALANCE_COVARIATES)
    quality = outcome.report_frame()
    snapshot = publish_fake(lake, "20260102T000000Z-run1", {
        "learner_outcomes_full": full, "learner_outcomes_linkedin": linkedin, "data_quality_report": quality})
    # The feature job's match report as the pipeline keeps it: every LinkedIn learner parsed; 40 / 60 URLs failed.
    by_arm = [{"match": "matched", "treatment": arm, "count": int((linkedin.treatment == arm).sum())} for arm in (0, 1)]
    by_arm += [{"match": "fetch_failed:not_found", "treatment": 1, "count": 40},
               {"match": "fetch_failed:not_found", "treatment": 0, "count": 60}]
    (snapshot / "_reports").mkdir()
    (snapshot / "_reports" / "profile_match.json").write_text(json.dumps({"profile_match_by_arm": by_arm}))
    return lake, full, linkedin, old


def test_build_readout_end_to_end(spark, published):
    lake, full, linkedin, _ = published
    result = r.build_readout(spark, lake)
    assert result.snapshot_id == "20260102T000000Z-run1"
    out = lake / "curated" / "_snapshots" / "20260102T000000Z-run1" / "_readout"
    assert result.output_dir == out and (out / "readout_estimates" / "part-00000.parquet").is_file()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary folders left

    estimates = pd.read_parquet(out / "readout_estimates")
    for column in ["outcome", "sample", "subgroup", "estimator", "estimate", "se", "baseline", "effect_pct",
                   "effect_pct_se", "n_treatment", "n_control", "ci_low", "ci_high"]:
        assert column in estimates
    assert not estimates.duplicated(["analysis", "outcome", "sample", "subgroup", "estimator"]).any()
    itt_rows = estimates.loc[(estimates.analysis == "itt") & (estimates.subgroup == "all")]
    assert set(zip(itt_rows.outcome, itt_rows["sample"])) == (
        {(o, "linkedin") for o in r.LINKEDIN_ITT_OUTCOMES} | {(o, "full") for o in r.FULL_ITT_OUTCOMES})
    row = itt_rows.set_index("outcome").loc["credential_shared"]
    direct = r.itt(linkedin, "credential_shared")
    assert row["estimate"] == pytest.approx(direct["estimate"]) and row["se"] == pytest.approx(direct["se"])
    assert row["n_treatment"] + row["n_control"] == len(linkedin)
    assert row["ci_low"] < row["estimate"] < row["ci_high"]
    views = itt_rows.set_index("outcome").loc["views_all"]
    assert views["n_treatment"] + views["n_control"] == len(full)

    by_batch = estimates.loc[(estimates.analysis == "itt") & (estimates.outcome == "credential_shared")
                             & estimates.subgroup.str.startswith("batch=")]
    assert sorted(by_batch.subgroup) == [f"batch={b}" for b in range(1, 6)]
    assert by_batch.n_treatment.sum() + by_batch.n_control.sum() == len(linkedin)
    logged = estimates.loc[estimates.subgroup == "logged_in_after_randomization=1"].iloc[0]
    assert logged.n_treatment + logged.n_control == int(linkedin.logged_in_after_randomization.sum())
    assert (estimates.subgroup.str.startswith("logged_in_after_randomization=1 & batch=")).sum() == 5
    assert set(estimates.loc[estimates.analysis == "late", "outcome"]) == {"new_job", "new_job_in_scope"}
    cox_rows = estimates.loc[estimates.analysis == "cox"]
    assert set(zip(cox_rows.outcome, cox_rows.subgroup)) == {
        (o, g) for o in ("new_job", "new_job_in_scope")
        for g in ("all", "employability=low", "employability=medium", "employability=high")}
    tercile_rows = estimates.loc[(estimates.analysis == "itt") & estimates.subgroup.str.startswith("employability=")]
    assert len(tercile_rows) == 6
    per_outcome = (tercile_rows.n_treatment + tercile_rows.n_control).groupby(tercile_rows.outcome).sum()
    assert (per_outcome == len(linkedin)).all()
    balance = estimates.loc[(estimates.analysis == "balance")]
    assert {"gender=male", "primary_domain=(missing)", "main_skill_score"} <= set(balance.outcome)
    assert "professional_experience_years" in set(balance.loc[balance["sample"] == "linkedin", "outcome"])
    assert "professional_experience_years" not in set(balance.loc[balance["sample"] == "full", "outcome"])

    attrition = estimates.loc[estimates.analysis == "attrition"].set_index(["outcome", "subgroup"])
    assert list(attrition.index) == [("url_at_randomization", "from=randomized"), ("fetched", "from=url_at_randomization"),
                                     ("parsed_ok", "from=fetched"), ("matched", "from=parsed_ok"),
                                     ("matched", "from=url_at_randomization")]
    fetched = attrition.loc[("parsed_ok", "from=fetched")]
    assert fetched.n_treatment == int(linkedin.treatment.sum())
    assert fetched.treatment_mean == pytest.approx(fetched.n_treatment / (fetched.n_treatment + 40))
    table3 = estimates.loc[estimates.analysis == "table3"]
    assert set(zip(table3.outcome, table3.subgroup, table3.estimator)) >= {
        ("credential_shared", "all", "lin_interacted_ols_hc2"),
        ("new_job", "all", "cox_pp_at_control_followup_delta"), ("new_job_4m", "all", "cox_ph_log_hr_controls_strata_batch"),
        ("new_job_in_scope", "past_job_in_scope=0", "cox_pp_at_control_followup_delta"),
        ("new_job_in_scope_4m", "past_job_in_scope=0", "cox_ph_log_hr_controls_strata_batch")}
    adjusted = estimates.loc[estimates.analysis == "itt_adjusted"]
    assert set(adjusted.outcome) == set(r.LINKEDIN_ITT_OUTCOMES) | set(r.FULL_ITT_OUTCOMES)
    assert adjusted.variance_reduction.notna().all()
    heterogeneity = estimates.loc[estimates.analysis == "heterogeneity"]
    assert heterogeneity.p_adjusted.notna().all() and (heterogeneity.p_adjusted >= heterogeneity.p_value).all()
    assert {"summary", "views_vs_new_job"} <= set(estimates.analysis)

    curves = pd.read_parquet(out / "readout_curves")
    assert set(curves.batch) == {"1", "2", "3", "4", "5", "all"}
    assert curves.loc[curves.batch == "5", "month"].max() == BATCH_FOLLOWUP[5]

    page = (out / "readout.html").read_text()
    images = re.findall(r"src=['\"]data:image/png;base64,([A-Za-z0-9+/=]+)['\"]", page)
    assert len(images) == 4  # ITT effects, Figure 2, one forest plot per sample
    assert all(base64.b64decode(image)[:8] == b"\x89PNG\r\n\x1a\n" for image in images)
    assert not re.search(r"(src|href)\s*=\s*['\"]?(https?:)?//", page, re.I)
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert (out / "figure2_new_job_by_month.png").is_file() and (out / "itt_effects.png").is_file()
    # The gate's figures are shown next to ours and agree, except its (wrong) LinkedIn arm counts.
    gate = r.gate_figures(pd.read_parquet(lake / "curated" / "data_quality_report"))
    assert gate["learner_outcomes_full"]["srm"]["n_treatment"] == int(full.treatment.sum())
    assert len(gate["learner_outcomes_full"]["smd"]) >= 10 and len(gate["learner_outcomes_linkedin"]["smd"]) >= 10
    for sample, table in (("full", "learner_outcomes_full"), ("linkedin", "learner_outcomes_linkedin")):
        mine = balance[balance["sample"] == sample].set_index("outcome")
        rows = mine.loc[list(gate[table]["smd"])]  # every covariate the gate checked is in the readout
        pooled_sd = np.sqrt((rows.treatment_mean_se**2 * rows.n_treatment + rows.baseline_se**2 * rows.n_control) / 2)
        assert np.allclose(rows.smd, rows.estimate / pooled_sd, rtol=1e-9)
        assert np.allclose(rows.smd, pd.Series(gate[table]["smd"]).loc[rows.index], atol=6e-5)
    assert "DIFFERS" not in page and page.count("<td>yes</td>") == 1 and page.count("<td>NO</td>") == 1
    assert any("differ from the quality gate" in note and "learner_outcomes_linkedin" in note for note in result.notes)
    assert not any("learner_outcomes_full differ" in note for note in result.notes)
    assert "wrote" not in page


TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


@pytest.fixture
def fast_charts(monkeypatch):
    """Tests about files and links, not pictures: skip matplotlib (the end-to-end test draws for real)."""
    from jobs.readout import plots

    monkeypatch.setattr(plots, "plot_itt", lambda estimates: TINY_PNG)
    monkeypatch.setattr(plots, "plot_cumulative", lambda curves: TINY_PNG)
    monkeypatch.setattr(plots, "plot_forest", lambda estimates, sample: TINY_PNG)


def test_build_readout_for_an_old_snapshot_and_rebuild(spark, published, fast_charts):
    lake, _, _, old = published
    first = r.build_readout(spark, lake, snapshot="20260101T000000Z-run0", cox=False)
    assert first.output_dir == old / "_readout" and first.n_full == 3000 and first.n_linkedin == 800
    assert not (first.estimates.analysis == "cox").any()
    assert any("no data_quality_report" in note for note in first.notes)
    again = r.build_readout(spark, lake, snapshot="20260101T000000Z-run0", cox=False)  # replaces the previous readout
    pd.testing.assert_frame_equal(pd.read_parquet(again.estimates_path), first.estimates)
    assert sorted(p.name for p in old.iterdir()) == ["_readout", "learner_outcomes_full", "learner_outcomes_linkedin"]
    # The live links still point at the newest snapshot.
    assert os.readlink(lake / "curated" / "_current") == str(Path("_snapshots") / "20260102T000000Z-run1")


def test_failed_write_leaves_the_previous_readout(spark, published, fast_charts, monkeypatch):
    lake, _, _, old = published
    r.build_readout(spark, lake, snapshot="20260101T000000Z-run0", cox=False)
    before = (old / "_readout" / "readout.html").read_text()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    with monkeypatch.context() as patch, pytest.raises(RuntimeError, match="disk full"):
        patch.setattr(pd.DataFrame, "to_parquet", broken)  # fails inside the temporary folder
        r.build_readout(spark, lake, snapshot="20260101T000000Z-run0", cox=False)
    assert (old / "_readout" / "readout.html").read_text() == before
    assert not [p for p in old.iterdir() if p.name.startswith(".")]


def test_main_prints_where_it_wrote(spark, published, fast_charts, capsys):
    lake, *_ = published
    assert r.main(["--lake", str(lake), "--no-cox"]) == 0
    printed = capsys.readouterr().out
    assert "_snapshots/20260102T000000Z-run1/_readout/readout.html" in printed
    assert "credential_shared (linkedin)" in printed and "SRM full" in printed


def test_main_without_a_published_snapshot(tmp_path, capsys):
    assert r.main(["--lake", str(tmp_path)]) == 2
    assert "no published snapshot" in capsys.readouterr().err
    assert r.main(["--lake", str(tmp_path), "--snapshot", "nope"]) == 2
