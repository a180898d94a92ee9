"""Analyst readout: the experiment's headline tables and figures, computed from the *published* curated Parquet.

The first look an analyst takes at every published snapshot, built automatically (issue 7): did randomization
hold (sample ratio, covariate balance), how many shared, did the treated find more jobs, by batch. The models are
the 2025 paper (Hutchinson et al., "The value of non-traditional credentials"): Table 12 (balance), Table 3
(intent-to-treat), Table 13 (credential sharing by batch, and among learners who logged in), Figure 2
(cumulative share with a new job by month since randomization), plus the LATE of sharing with the random
assignment as the instrument, and a Cox proportional-hazards ITT.

Inputs are read with pandas exactly as an analyst reads them, from one snapshot of the publish contract::

    lake/curated/_snapshots/<snapshot_id>/<table>/part-*.parquet
    lake/curated/_current -> _snapshots/<snapshot_id>          (the live snapshot)
    lake/curated/<table>  -> _current/<table>                  (what analysts open)

The snapshot id is resolved once (from the ``_current`` link's target when none is given) and every table is read
from that snapshot's folder, so a publish that swaps ``_current`` mid-build cannot mix two snapshots.

Outputs go beside the snapshot, in ``lake/curated/_snapshots/<snapshot_id>/_readout/`` (written to a temporary
folder and renamed into place)::

    readout_estimates/part-00000.parquet   one row per analysis x outcome x sample x subgroup (ESTIMATE_COLUMNS)
    readout_curves/part-00000.parquet      the Figure 2 curves (batch, arm, month, share)
    readout.html                           self-contained: inline CSS, PNG charts as base64 data URIs
    figure2_new_job_by_month.png, itt_effects.png

Every estimator is a pure function of a pandas DataFrame (or arrays) and is checked against statsmodels / numpy /
closed forms in tests/test_readout.py; docs/readout.md gives the formulas.

    python -m jobs.readout --lake DIR [--snapshot ID]
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import logging
import math
import os
import re
import shutil
import sys
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

# ------------------------------------------------------------------------------------------------ layout contract

CURATED_DIR = "curated"
SNAPSHOTS_DIR = "_snapshots"
CURRENT_LINK = "_current"
READOUT_DIR = "_readout"
FULL_TABLE = "learner_outcomes_full"
LINKEDIN_TABLE = "learner_outcomes_linkedin"
QUALITY_TABLE = "data_quality_report"
ESTIMATES_TABLE = "readout_estimates"
CURVES_TABLE = "readout_curves"
HTML_FILE = "readout.html"
FIGURE2_FILE = "figure2_new_job_by_month.png"
ITT_CHART_FILE = "itt_effects.png"
PART_FILE = "part-00000.parquet"

# ------------------------------------------------------------------------------------------------ what is estimated

FULL, LINKEDIN = "full", "linkedin"
TREATMENT = "treatment"
# Table 3, panel A (LinkedIn matched sample) and the view flags of section 4.3 (full sample).
LINKEDIN_ITT_OUTCOMES = ("credential_shared", "new_job", "new_job_in_scope", "new_job_4m", "new_job_in_scope_4m")
FULL_ITT_OUTCOMES = ("views_all", "views_all_by_others", "views_linkedin", "views_linkedin_by_others")
LATE_OUTCOMES = ("new_job", "new_job_in_scope")
HETEROGENEITY_OUTCOMES = ("new_job", "new_job_in_scope")  # Table 4
LATE_ENDOGENOUS = "credential_shared"
SHARE_OUTCOME = "credential_shared"  # Table 13
LOGGED_IN = "logged_in_after_randomization"
# Cox ITT: (event flag, months to the first event; followup_months when none).
COX_OUTCOMES = (("new_job", "months_to_new_job"), ("new_job_in_scope", "months_to_new_job_in_scope"))
# Table 12: pre-treatment covariates. Categories are one-hot encoded, one row per level.
BALANCE_NUMERIC = ("main_skill_score", "main_skill_standardized", "developing_country")
BALANCE_CATEGORICAL = ("primary_domain", "credential_type", "education_level", "gender")
BALANCE_LINKEDIN_EXTRA = ("professional_experience_years", "past_tech_job", "past_managerial_job")
MISSING_LEVEL = "(missing)"

ITT_COV_TYPE = "HC2"  # difference in means; HC2 = the unbiased Neyman variance s1^2/n1 + s0^2/n0
LATE_COV_TYPE = "HC1"  # 2SLS sandwich with the n/(n-k) small-sample factor (Stata's `ivregress 2sls, robust`)
Z95 = 1.959963984540054
Z99 = 2.5758293035489004
SRM_FLAG_P = 0.001  # same threshold as the quality gate (jobs/validate.py)
SMD_FLAG = 0.1
GATE_SMD_TOLERANCE = 1e-3  # the gate prints smd with 4 decimals

ESTIMATE_COLUMNS = [
    "snapshot_id", "analysis", "outcome", "sample", "subgroup", "estimator", "estimate", "se", "baseline",
    "baseline_se", "treatment_mean", "treatment_mean_se", "effect_pct", "effect_pct_se", "n_treatment", "n_control",
    "ci_low", "ci_high", "p_value", "smd",
]


# ------------------------------------------------------------------------------------------------ estimators


def _normal_p(z: float) -> float:
    if not np.isfinite(z):
        return float("nan")
    return float(math.erfc(abs(z) / math.sqrt(2.0)))


def _label(value) -> str:
    """A group value as text: 1.0 (an integer column read as float because of nulls) prints as 1."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _floats(values: pd.Series) -> np.ndarray:
    """A column as a float64 array, NaN for null (nullable Int columns included)."""
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _complete(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    return frame.loc[frame[list(columns)].notna().all(axis=1), list(columns)]


def difference_in_means(y: np.ndarray, d: np.ndarray, *, cov_type: str = ITT_COV_TYPE) -> dict:
    """Treatment minus control mean of `y` and its heteroskedasticity-robust SE, with the control baseline and
    the effect as a percentage of it (delta method). The 2025 paper's Table 3 (ATE in pp, ATE in %, baseline) and
    Table 13 (mean control, mean treatment, ATE, ATE % with SEs), by difference in means.

    It is the OLS regression y = a + b * d with a robust covariance: b = m1 - m0, a = m0.
    - HC2 (default): Var(b) = V1 + V0 with V_g = s_g^2 / n_g (s_g^2 the arm's sample variance, ddof 1). With a
      single binary regressor the leverage in arm g is 1/n_g, so HC2 equals the unbiased Neyman variance.
    - HC1: V_g = n / (n - 2) * sum_g(u_i^2) / n_g^2 (Stata's `, robust`).
    Var(a) = V0 and Cov(a, b) = -V0, so the arms' means have SEs sqrt(V1) and sqrt(V0).
    effect_pct = 100 * (m1 / m0 - 1); delta method with independent arms:
    Var = 100^2 * (V1 / m0^2 + m1^2 * V0 / m0^4). Undefined (NaN) when m0 = 0.
    Rows where y is missing must be dropped by the caller.
    """
    y = np.asarray(y, dtype="float64")
    d = np.asarray(d).astype("float64")
    treated = d == 1
    y1, y0 = y[treated], y[~treated]
    n1, n0 = int(y1.size), int(y0.size)
    nan = float("nan")
    m1 = float(y1.mean()) if n1 else nan
    m0 = float(y0.mean()) if n0 else nan
    if n1 >= 2 and n0 >= 2:
        ss1, ss0 = float(((y1 - m1) ** 2).sum()), float(((y0 - m0) ** 2).sum())
        if cov_type == "HC2":
            v1, v0 = ss1 / (n1 - 1) / n1, ss0 / (n0 - 1) / n0
        elif cov_type == "HC1":
            scale = (n1 + n0) / (n1 + n0 - 2)
            v1, v0 = scale * ss1 / n1**2, scale * ss0 / n0**2
        elif cov_type == "HC0":
            v1, v0 = ss1 / n1**2, ss0 / n0**2
        else:
            raise ValueError(f"unsupported cov_type {cov_type!r}")
    else:
        v1 = v0 = nan
    diff = m1 - m0
    se = math.sqrt(v1 + v0) if np.isfinite(v1 + v0) else nan
    if np.isfinite(m0) and m0 != 0:
        effect_pct = 100.0 * (m1 / m0 - 1.0)
        effect_pct_se = 100.0 * math.sqrt(v1 / m0**2 + m1**2 * v0 / m0**4) if np.isfinite(v1 + v0) else nan
    else:
        effect_pct = effect_pct_se = nan
    return {
        "estimate": diff, "se": se, "baseline": m0, "baseline_se": math.sqrt(v0) if np.isfinite(v0) else nan,
        "treatment_mean": m1, "treatment_mean_se": math.sqrt(v1) if np.isfinite(v1) else nan,
        "effect_pct": effect_pct, "effect_pct_se": effect_pct_se, "n_treatment": n1, "n_control": n0,
        "ci_low": diff - Z95 * se, "ci_high": diff + Z95 * se,
        "p_value": _normal_p(diff / se) if se else nan,
    }


def itt(frame: pd.DataFrame, outcome: str, *, treatment: str = TREATMENT, cov_type: str = ITT_COV_TYPE) -> dict:
    """Intent-to-treat effect of the assignment on `outcome` (2025 paper, Table 3; Table 13 on subsets): the
    difference in means of :func:`difference_in_means` over the rows where the outcome is known."""
    data = _complete(frame, [outcome, treatment])
    return difference_in_means(data[outcome].to_numpy(), data[treatment].to_numpy(), cov_type=cov_type)


def iv_2sls(y: np.ndarray, d: np.ndarray, z: np.ndarray, *, cov_type: str = LATE_COV_TYPE) -> dict:
    """Just-identified 2SLS of y on (1, d) with instruments (1, z), i.e. the Wald estimator
    (E[y|z=1] - E[y|z=0]) / (E[d|z=1] - E[d|z=0]); with z the random assignment and d credential sharing it is
    the local average treatment effect of sharing for compliers (the 2025 paper's IV section).

    beta = (Z'X)^-1 Z'y. The SE is the IV sandwich with the *structural* residuals u = y - X beta (using the
    observed d, not the first-stage fitted d, which is the error of a naive two-step regression):
    V = c * (Z'X)^-1 (sum_i u_i^2 z_i z_i') (X'Z)^-1, c = n / (n - 2) for HC1, 1 for HC0.
    Also returns the first stage (ITT on d) and its robust F (t^2).
    """
    y = np.asarray(y, dtype="float64")
    d = np.asarray(d, dtype="float64")
    z = np.asarray(z, dtype="float64")
    n = y.size
    ones = np.ones(n)
    X = np.column_stack([ones, d])
    Z = np.column_stack([ones, z])
    nan = float("nan")
    first = difference_in_means(d, z, cov_type="HC2")
    reduced = difference_in_means(y, z, cov_type="HC2")
    zx = Z.T @ X
    if n < 3 or abs(np.linalg.det(zx)) < 1e-12 * n * n:
        beta, se = np.array([nan, nan]), nan
    else:
        zx_inv = np.linalg.inv(zx)
        beta = zx_inv @ (Z.T @ y)
        u = y - X @ beta
        meat = (Z * (u**2)[:, None]).T @ Z
        if cov_type == "HC1":
            scale = n / (n - 2)
        elif cov_type == "HC0":
            scale = 1.0
        else:
            raise ValueError(f"unsupported cov_type {cov_type!r}")
        cov = scale * zx_inv @ meat @ zx_inv.T
        se = float(math.sqrt(cov[1, 1])) if cov[1, 1] >= 0 else nan
    estimate = float(beta[1])
    first_f = (first["estimate"] / first["se"]) ** 2 if first["se"] else nan
    return {
        "estimate": estimate, "se": se, "ci_low": estimate - Z95 * se, "ci_high": estimate + Z95 * se,
        "p_value": _normal_p(estimate / se) if se else nan,
        "n_treatment": int((z == 1).sum()), "n_control": int((z != 1).sum()),
        "baseline": reduced["baseline"], "baseline_se": reduced["baseline_se"],
        "treatment_mean": reduced["treatment_mean"], "treatment_mean_se": reduced["treatment_mean_se"],
        "first_stage": first["estimate"], "first_stage_se": first["se"], "first_stage_f": first_f,
        "reduced_form": reduced["estimate"], "reduced_form_se": reduced["se"],
    }


def late(frame: pd.DataFrame, outcome: str, *, endogenous: str = LATE_ENDOGENOUS, instrument: str = TREATMENT,
         cov_type: str = LATE_COV_TYPE) -> dict:
    """LATE of `endogenous` (credential_shared) on `outcome` with `instrument` (random assignment) as the
    instrument, on the rows where all three are known: :func:`iv_2sls` (Wald / 2SLS, robust IV SE)."""
    data = _complete(frame, [outcome, endogenous, instrument])
    return iv_2sls(data[outcome].to_numpy(), data[endogenous].to_numpy(), data[instrument].to_numpy(),
                   cov_type=cov_type)


def sample_ratio(frame: pd.DataFrame, *, treatment: str = TREATMENT) -> dict:
    """Arm counts against the planned 50/50 (sample-ratio mismatch): chi-square with 1 df,
    X^2 = (n1 - n0)^2 / (n1 + n0), the same test as the quality gate's `srm:overall` (2025 paper, Table 12's N
    per arm; Table 2's treatment share)."""
    n1 = int((frame[treatment] == 1).sum())
    n0 = int((frame[treatment] == 0).sum())
    n = n1 + n0
    statistic = (n1 - n0) ** 2 / n if n else 0.0
    return {"n_treatment": n1, "n_control": n0, "share_treated": n1 / n if n else float("nan"),
            "chi2": statistic, "p_value": math.erfc(math.sqrt(statistic / 2)) if n else 1.0}  # chi2(1) survival


def balance_indicators(frame: pd.DataFrame, numeric: Iterable[str], categorical: Iterable[str]) -> dict[str, pd.Series]:
    """The covariates of the balance table as float series: numeric ones as they are (NaN = unknown), each level
    of a categorical one as a 0/1 indicator named `covariate=level` (a missing category is 0 for every level and
    gets its own `covariate=(missing)` indicator when it occurs). Same names as the quality gate's findings."""
    columns: dict[str, pd.Series] = {}
    for name in numeric:
        if name in frame:
            columns[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    for name in categorical:
        if name not in frame:
            continue
        values = frame[name]
        text = values.astype("string")
        for level in sorted(text.dropna().unique()):
            columns[f"{name}={level}"] = (text == level).fillna(False).astype("float64")
        if values.isna().any():
            columns[f"{name}={MISSING_LEVEL}"] = values.isna().astype("float64")
    return columns


def balance_table(frame: pd.DataFrame, numeric: Iterable[str] = BALANCE_NUMERIC,
                  categorical: Iterable[str] = BALANCE_CATEGORICAL, *, treatment: str = TREATMENT) -> pd.DataFrame:
    """Covariate balance like the 2025 paper's Table 12: for every pre-treatment covariate (one row per level of
    a category) the treatment mean, control mean, their difference with its SE (Neyman / HC2:
    sqrt(s1^2/n1 + s0^2/n0) over the non-missing values), the N per arm with the covariate known, the two-sided
    normal p-value and the standardized mean difference (difference / sqrt((s1^2 + s0^2) / 2), as the gate)."""
    rows = []
    d = frame[treatment].to_numpy()
    for name, values in balance_indicators(frame, numeric, categorical).items():
        known = values.notna().to_numpy()
        result = difference_in_means(values.to_numpy()[known], d[known], cov_type="HC2")
        v1 = result["treatment_mean_se"] ** 2 * result["n_treatment"]
        v0 = result["baseline_se"] ** 2 * result["n_control"]
        pooled = math.sqrt((v1 + v0) / 2) if np.isfinite(v1 + v0) else float("nan")
        if pooled and np.isfinite(pooled):
            smd = result["estimate"] / pooled
        else:
            smd = 0.0 if result["estimate"] == 0 else float("nan")
        rows.append({
            "covariate": name, "treatment_mean": result["treatment_mean"], "control_mean": result["baseline"],
            "difference": result["estimate"], "se": result["se"], "n_treatment": result["n_treatment"],
            "n_control": result["n_control"], "p_value": result["p_value"], "smd": smd,
            "ci_low": result["ci_low"], "ci_high": result["ci_high"],
            "treatment_mean_se": result["treatment_mean_se"], "control_mean_se": result["baseline_se"],
        })
    return pd.DataFrame(rows, columns=["covariate", "treatment_mean", "control_mean", "difference", "se",
                                       "n_treatment", "n_control", "p_value", "smd", "ci_low", "ci_high",
                                       "treatment_mean_se", "control_mean_se"])


def cumulative_new_job_share(frame: pd.DataFrame, *, event: str = "new_job", time: str = "months_to_new_job",
                             followup: str = "followup_months", by: Sequence[str] = ("batch", TREATMENT),
                             pooled_label: str = "all") -> pd.DataFrame:
    """The 2025 paper's Figure 2: share of learners who reported a new job by month m since randomization
    (month 0 = the randomization month), per batch and arm, plus the arms pooled over batches
    (batch = `pooled_label`).

    share(m) = #{event = 1, time <= m, followup >= m} / #{followup >= m}: only learners observed through month m
    count, so a pooled curve is not pulled down by batches with a shorter follow-up (within a batch everyone has
    the same follow-up and this is the plain cumulative share). Months run from 0 to the group's longest
    follow-up. Columns: batch (string), treatment, month, n_observed, n_with_job, share.
    """
    data = frame.loc[frame[followup].notna()].copy()
    data["_time"] = _floats(data[time])
    data["_event"] = (_floats(data[event]) == 1) & ~np.isnan(data["_time"].to_numpy())
    data["_followup"] = _floats(data[followup])
    keys = list(by)
    groups: list[tuple[tuple, pd.DataFrame]] = []
    for key, group in data.groupby(keys, sort=True):
        groups.append((key if isinstance(key, tuple) else (key,), group))
    if keys and keys[0] != TREATMENT:
        for key, group in data.groupby(keys[1:], sort=True) if len(keys) > 1 else [((), data)]:
            key = key if isinstance(key, tuple) else (key,)
            groups.append(((pooled_label, *key), group))
    rows = []
    for key, group in groups:
        follow = group["_followup"].to_numpy()
        with_event = group["_event"].to_numpy()
        times = group["_time"].to_numpy()
        for month in range(0, int(follow.max()) + 1 if follow.size else 0):
            observed = follow >= month
            n_observed = int(observed.sum())
            n_with_job = int((observed & with_event & (times <= month)).sum())
            rows.append({**{k: v for k, v in zip(keys, key)}, "month": month, "n_observed": n_observed,
                         "n_with_job": n_with_job, "share": n_with_job / n_observed if n_observed else float("nan")})
    result = pd.DataFrame(rows, columns=[*keys, "month", "n_observed", "n_with_job", "share"])
    if keys and keys[0] != TREATMENT:
        result[keys[0]] = result[keys[0]].map(_label).astype(str)
    return result


def cox_itt(frame: pd.DataFrame, event: str = "new_job", time: str = "months_to_new_job", *,
            followup: str = "followup_months", treatment: str = TREATMENT, strata: str | None = "batch") -> dict:
    """Cox proportional-hazards ITT (the 2025 paper's Table 3 model for employment, here without controls):
    duration = months to the first qualifying new job for an event, else the follow-up (censored); covariate
    the assignment; baseline hazards stratified by batch (each batch has its own follow-up). Returns the log
    hazard ratio and its SE (lifelines' information-matrix SE), effect_pct = 100 * (HR - 1) with delta SE
    100 * HR * se."""
    from lifelines import CoxPHFitter

    data = frame.loc[frame[treatment].notna() & frame[followup].notna()]
    times = _floats(data[time])
    happened = (_floats(data[event]) == 1) & ~np.isnan(times)
    duration = np.where(happened, times, _floats(data[followup]))
    model_frame = pd.DataFrame({"duration": np.maximum(duration, 0.0), "event": happened.astype(int),
                                "treatment": _floats(data[treatment])})
    if strata:
        model_frame["stratum"] = data[strata].astype(str).to_numpy()
    fitter = CoxPHFitter()
    fitter.fit(model_frame, duration_col="duration", event_col="event", strata=["stratum"] if strata else None)
    beta = float(fitter.params_["treatment"])
    se = float(fitter.standard_errors_["treatment"])
    hazard_ratio = hazard_ratio_of(beta)
    d = model_frame["treatment"].to_numpy() == 1
    events = model_frame["event"].to_numpy()
    return {
        "estimate": beta, "se": se, "ci_low": beta - Z95 * se, "ci_high": beta + Z95 * se,
        "p_value": _normal_p(beta / se) if se else float("nan"), "hazard_ratio": hazard_ratio,
        "effect_pct": 100.0 * (hazard_ratio - 1.0), "effect_pct_se": 100.0 * hazard_ratio * se,
        "baseline": float(events[~d].mean()) if (~d).any() else float("nan"),
        "treatment_mean": float(events[d].mean()) if d.any() else float("nan"),
        "n_treatment": int(d.sum()), "n_control": int((~d).sum()),
    }


def hazard_ratio_of(log_hazard_ratio: float) -> float:
    """exp of a log hazard ratio; inf past float range (a fit near separation on a tiny sample has a huge SE)."""
    try:
        return math.exp(log_hazard_ratio)
    except OverflowError:
        return math.inf


def covariate_matrix(frame: pd.DataFrame, numeric: Iterable[str], categorical: Iterable[str]) -> np.ndarray:
    """Pre-treatment covariates as a standardized design matrix (no intercept): the balance indicators, a
    missing numeric value imputed with the column mean plus a 0/1 missing indicator, constant columns dropped.
    Only covariates enter (never an outcome), so statistics over all rows leak nothing."""
    columns = []
    for values in balance_indicators(frame, numeric, categorical).values():
        array = values.to_numpy(dtype="float64")
        missing = np.isnan(array)
        if missing.all():
            continue
        if missing.any():
            array = np.where(missing, np.nanmean(array), array)
            columns.append(missing.astype("float64"))
        columns.append(array)
    if not columns:
        return np.empty((len(frame), 0))
    matrix = np.column_stack(columns)
    sd = matrix.std(axis=0)
    keep = sd > 0
    return (matrix[:, keep] - matrix[:, keep].mean(axis=0)) / sd[keep]


def _ridge_fit(x: np.ndarray, y: np.ndarray, penalty: float) -> np.ndarray:
    """Coefficients (intercept first) of a ridge linear probability model; the intercept is not penalized."""
    design = np.column_stack([np.ones(len(x)), x])
    gram = design.T @ design
    gram[1:, 1:] += penalty * np.eye(x.shape[1])
    return np.linalg.solve(gram, design.T @ y)


def employability_scores(frame: pd.DataFrame, *, outcome: str = "new_job", treatment: str = TREATMENT,
                         numeric: Iterable[str] = BALANCE_NUMERIC + BALANCE_LINKEDIN_EXTRA,
                         categorical: Iterable[str] = BALANCE_CATEGORICAL, folds: int = 5, penalty: float = 1.0,
                         seed: int = 0) -> np.ndarray:
    """Predicted baseline employability (2025 paper, section 4.2.1 and Table 4, after Athey et al.): the chance of
    `outcome` without treatment, learned on the control group from pre-treatment covariates.

    Cross-fitting: controls are split into `folds` random folds; a control's score comes from the model fitted on
    the other folds (its own outcome never enters its score, which would otherwise sort controls with a job into
    the high tercile and bias the tercile effects); a treated learner's score is the average of the fold models.
    The model is a ridge linear probability model (the paper used a gradient-boosting machine; the stack has no
    GBM library, and only the ranking matters for terciles). Rows with a missing outcome get NaN."""
    x = covariate_matrix(frame, numeric, categorical)
    y = _floats(frame[outcome])
    d = _floats(frame[treatment])
    known = ~np.isnan(y) & ~np.isnan(d)
    controls = np.flatnonzero(known & (d == 0))
    others = np.flatnonzero(known & (d != 0))
    fold_of = np.random.default_rng(seed).permutation(len(controls)) % folds
    scores = np.full(len(frame), np.nan)
    treated_sum = np.zeros(len(others))
    fitted = 0
    for k in range(folds):
        train, held_out = controls[fold_of != k], controls[fold_of == k]
        if len(train) == 0:
            continue
        beta = _ridge_fit(x[train], y[train], penalty)
        scores[held_out] = beta[0] + x[held_out] @ beta[1:]
        treated_sum += beta[0] + x[others] @ beta[1:]
        fitted += 1
    if fitted:
        scores[others] = treated_sum / fitted
    return scores


def terciles(scores: np.ndarray, labels: Sequence[str] = ("low", "medium", "high")) -> pd.Series:
    """Terciles of the scores over all learners (both arms), by rank; NaN scores get no tercile."""
    series = pd.Series(scores)
    ranked = series.rank(method="first")
    return pd.qcut(ranked, 3, labels=list(labels)).astype("object").where(series.notna())


# ------------------------------------------------------------------------------------------------ the readout


def _row(snapshot_id: str, analysis: str, outcome: str, sample: str, subgroup: str, estimator: str,
         result: dict) -> dict:
    row = {column: result.get(column, float("nan")) for column in ESTIMATE_COLUMNS}
    row.update(snapshot_id=snapshot_id, analysis=analysis, outcome=outcome, sample=sample, subgroup=subgroup,
               estimator=estimator)
    return row


def estimate_all(full: pd.DataFrame, linkedin: pd.DataFrame, *, snapshot_id: str = "",
                 cox: bool = True, heterogeneity: bool = True) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], pd.DataFrame, list[str]]:
    """Every number of the readout: (estimates in ESTIMATE_COLUMNS, balance tables per sample, Figure 2 curves,
    notes). Outcomes missing from a table are skipped with a note, so an older snapshot still gets a readout."""
    rows: list[dict] = []
    notes: list[str] = []
    samples = {FULL: full, LINKEDIN: linkedin}

    for sample, frame in samples.items():
        srm = sample_ratio(frame)
        share = {"estimate": srm["share_treated"], "baseline": 0.5, "n_treatment": srm["n_treatment"],
                 "n_control": srm["n_control"], "p_value": srm["p_value"],
                 "se": math.sqrt(0.25 / max(1, srm["n_treatment"] + srm["n_control"]))}
        rows.append(_row(snapshot_id, "srm", TREATMENT, sample, "all", "chi2_vs_50_50", share))

    balances: dict[str, pd.DataFrame] = {}
    for sample, frame in samples.items():
        numeric = BALANCE_NUMERIC + (BALANCE_LINKEDIN_EXTRA if sample == LINKEDIN else ())
        table = balance_table(frame, numeric, BALANCE_CATEGORICAL)
        balances[sample] = table
        for record in table.to_dict("records"):
            result = {**record, "estimate": record["difference"], "baseline": record["control_mean"],
                      "baseline_se": record["control_mean_se"]}
            rows.append(_row(snapshot_id, "balance", record["covariate"], sample, "all",
                             "difference_in_means_hc2", result))

    estimator = f"difference_in_means_{ITT_COV_TYPE.lower()}"
    for sample, outcomes in ((LINKEDIN, LINKEDIN_ITT_OUTCOMES), (FULL, FULL_ITT_OUTCOMES)):
        frame = samples[sample]
        for outcome in outcomes:
            if outcome not in frame:
                notes.append(f"{sample} sample has no column {outcome}: ITT skipped")
                continue
            rows.append(_row(snapshot_id, "itt", outcome, sample, "all", estimator, itt(frame, outcome)))

    if SHARE_OUTCOME in linkedin and "batch" in linkedin:
        for batch, group in linkedin.groupby("batch", sort=True):
            rows.append(_row(snapshot_id, "itt", SHARE_OUTCOME, LINKEDIN, f"batch={_label(batch)}", estimator,
                             itt(group, SHARE_OUTCOME)))
        if LOGGED_IN in linkedin:
            logged = linkedin.loc[linkedin[LOGGED_IN] == 1]
            rows.append(_row(snapshot_id, "itt", SHARE_OUTCOME, LINKEDIN, f"{LOGGED_IN}=1", estimator,
                             itt(logged, SHARE_OUTCOME)))
            for batch, group in logged.groupby("batch", sort=True):
                rows.append(_row(snapshot_id, "itt", SHARE_OUTCOME, LINKEDIN, f"{LOGGED_IN}=1 & batch={_label(batch)}",
                                 estimator, itt(group, SHARE_OUTCOME)))

    for outcome in LATE_OUTCOMES:
        if outcome in linkedin and LATE_ENDOGENOUS in linkedin:
            result = late(linkedin, outcome)
            rows.append(_row(snapshot_id, "late", outcome, LINKEDIN, "all", f"2sls_{LATE_COV_TYPE.lower()}",
                             result))
            if result["first_stage_f"] < 10:
                notes.append(f"weak first stage for the LATE on {outcome}: robust F = {result['first_stage_f']:.1f}")

    if cox and linkedin.empty:
        notes.append("the LinkedIn sample is empty: no Cox models")
    elif cox:
        for event, time in COX_OUTCOMES:
            if not {event, time, "followup_months"} <= set(linkedin):
                continue
            try:
                result = cox_itt(linkedin, event, time)
            except Exception as error:  # noqa: BLE001 - optional model: report, do not fail the readout
                notes.append(f"Cox model for {event} failed: {type(error).__name__}: {error}")
                continue
            rows.append(_row(snapshot_id, "cox", event, LINKEDIN, "all", "cox_ph_log_hr_strata_batch", result))

    if heterogeneity and len(linkedin) >= 300 and "new_job" in linkedin:
        groups = terciles(employability_scores(linkedin)).to_numpy()
        for tercile in ("low", "medium", "high"):
            part = linkedin.loc[groups == tercile]
            subgroup = f"employability={tercile}"
            for outcome in HETEROGENEITY_OUTCOMES:
                if outcome not in linkedin:
                    continue
                rows.append(_row(snapshot_id, "itt", outcome, LINKEDIN, subgroup, estimator, itt(part, outcome)))
                times = dict(COX_OUTCOMES)
                if cox and {times.get(outcome), "followup_months"} <= set(linkedin):
                    try:
                        result = cox_itt(part, outcome, times[outcome])
                    except Exception as error:  # noqa: BLE001
                        notes.append(f"Cox model for {outcome} ({subgroup}) failed: {error}")
                        continue
                    rows.append(_row(snapshot_id, "cox", outcome, LINKEDIN, subgroup, "cox_ph_log_hr_strata_batch",
                                     result))

    curves = pd.DataFrame(columns=["batch", TREATMENT, "month", "n_observed", "n_with_job", "share"])
    if {"new_job", "months_to_new_job", "followup_months", "batch"} <= set(linkedin):
        curves = cumulative_new_job_share(linkedin)
    else:
        notes.append("LinkedIn sample lacks the survival columns: Figure 2 skipped")

    estimates = pd.DataFrame(rows, columns=ESTIMATE_COLUMNS)
    for column in ("n_treatment", "n_control"):
        estimates[column] = estimates[column].astype("int64")
    return estimates, balances, curves, notes


# ------------------------------------------------------------------------------------------------ quality gate


def gate_figures(quality: pd.DataFrame | None) -> dict[str, dict]:
    """The quality gate's SRM and balance figures per table, parsed from `data_quality_report` rows
    (`srm:overall` observed "treatment=N control=M" with its p-value; `balance:<name>` observed "smd=x")."""
    figures: dict[str, dict] = {}
    if quality is None or quality.empty or not {"table", "check", "observed"} <= set(quality):
        return figures
    for record in quality.to_dict("records"):
        table, check, observed = str(record["table"]), str(record["check"]), str(record["observed"])
        entry = figures.setdefault(table, {"srm": None, "smd": {}})
        if check == "srm:overall":
            match = re.search(r"treatment=(\d+)\s+control=(\d+)", observed)
            if match:
                entry["srm"] = {"n_treatment": int(match.group(1)), "n_control": int(match.group(2)),
                                "p_value": record.get("p_value"), "severity": record.get("severity")}
        elif check.startswith("balance:"):
            match = re.search(r"smd=(-?[\d.]+(?:e-?\d+)?|nan|inf|-inf)", observed)
            if match:
                entry["smd"][check[len("balance:"):]] = float(match.group(1))
    return figures


# ------------------------------------------------------------------------------------------------ charts


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(figure)
    return buffer.getvalue()


def plot_cumulative(curves: pd.DataFrame) -> bytes:
    """Figure 2: one panel per batch plus the pooled panel; solid = treatment, dashed = control."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batches = [b for b in sorted(curves["batch"].unique(), key=lambda b: (b == "all", b))] if len(curves) else []
    n = max(1, len(batches))
    cols = min(3, n)
    rows = math.ceil(n / cols)
    figure, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False, sharey=True,
                               layout="constrained")
    from matplotlib.ticker import MaxNLocator

    for ax, batch in zip(axes.flat, batches):
        for arm, style, label in ((1, "-", "treatment"), (0, "--", "control")):
            part = curves.loc[(curves["batch"] == batch) & (curves[TREATMENT] == arm)].sort_values("month")
            color = "black" if batch == "all" else ("tab:blue" if arm else "tab:orange")
            ax.plot(part["month"], 100 * part["share"], style, color=color, label=label,
                    linewidth=2.2 if batch == "all" else 1.5)
        ax.set_title("all batches" if batch == "all" else f"batch {batch}")
        ax.set_xlabel("months since randomization")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(batches):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("% with a new job")
    figure.suptitle("Share of learners reporting a new job (LinkedIn sample)")
    return _png(figure)


def plot_itt(estimates: pd.DataFrame) -> bytes:
    """Bar chart of the ITT effects (all learners of each sample) in percentage points with 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = estimates.loc[(estimates["analysis"] == "itt") & (estimates["subgroup"] == "all")]
    labels = [f"{o} ({s})" for o, s in zip(data["outcome"], data["sample"])]
    effect = 100 * data["estimate"].to_numpy(dtype="float64")
    error = np.vstack([effect - 100 * data["ci_low"].to_numpy(dtype="float64"),
                       100 * data["ci_high"].to_numpy(dtype="float64") - effect])
    figure, ax = plt.subplots(figsize=(7.5, 0.45 * max(3, len(labels)) + 1), layout="constrained")
    positions = np.arange(len(labels))
    colors = ["tab:blue" if s == LINKEDIN else "tab:green" for s in data["sample"]]
    ax.barh(positions, effect, xerr=error, color=colors, alpha=0.8, capsize=3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(positions, labels)
    ax.invert_yaxis()
    ax.set_xlabel("ITT effect, percentage points (95% CI)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Intent-to-treat effects")
    return _png(figure)


# ------------------------------------------------------------------------------------------------ HTML


def _f(value, digits: int = 4, scale: float = 1.0) -> str:
    if value is None:
        return "&mdash;"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return html.escape(str(value))
    if not np.isfinite(number):
        return "&mdash;"
    return f"{number * scale:.{digits}f}"


def _p(value) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "&mdash;"
    if not np.isfinite(number):
        return "&mdash;"
    return "&lt;0.0001" if number < 1e-4 else f"{number:.4f}"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], classes: Iterable[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    classes = list(classes) if classes is not None else None
    body = []
    for i, row in enumerate(rows):
        css = f" class='{classes[i]}'" if classes and classes[i] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    return f"<table><tr>{head}</tr>\n" + "\n".join(body) + "\n</table>"


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>"


def render_html(snapshot_id: str, estimates: pd.DataFrame, balances: dict[str, pd.DataFrame], gate: dict[str, dict],
                notes: Sequence[str], charts: dict[str, bytes], *, counts: dict[str, int]) -> str:
    """The self-contained report: inline CSS, charts as data URIs, no scripts, nothing fetched."""
    esc = html.escape
    sections: list[str] = []
    table_of = {FULL: FULL_TABLE, LINKEDIN: LINKEDIN_TABLE}

    # Randomization: SRM, mine next to the gate's.
    srm_rows, srm_classes = [], []
    for record in estimates.loc[estimates["analysis"] == "srm"].to_dict("records"):
        gate_srm = (gate.get(table_of[record["sample"]]) or {}).get("srm")
        agree = ""
        if gate_srm:
            same = gate_srm["n_treatment"] == record["n_treatment"] and gate_srm["n_control"] == record["n_control"]
            agree = "yes" if same else "<b>NO</b>"
        srm_rows.append([esc(record["sample"]), f"{record['n_treatment']:,}", f"{record['n_control']:,}",
                         _f(record["estimate"], 4), _p(record["p_value"]),
                         f"{gate_srm['n_treatment']:,} / {gate_srm['n_control']:,}" if gate_srm else "&mdash;",
                         _p(gate_srm["p_value"]) if gate_srm else "&mdash;", agree or "&mdash;"])
        srm_classes.append("flag" if record["p_value"] < SRM_FLAG_P or agree == "<b>NO</b>" else "")
    sections.append("<h2>Randomization: sample ratio</h2>" + _table(
        ["sample", "N treatment", "N control", "share treated", "p (chi2 vs 50/50)", "gate N t / c", "gate p",
         "agrees with gate"], srm_rows, srm_classes))

    # Balance (Table 12).
    for sample in (FULL, LINKEDIN):
        table = balances.get(sample)
        if table is None or table.empty:
            continue
        smd_gate = (gate.get(table_of[sample]) or {}).get("smd", {})
        rows, classes = [], []
        for record in table.to_dict("records"):
            theirs = smd_gate.get(record["covariate"])
            differs = theirs is not None and np.isfinite(theirs) and np.isfinite(record["smd"]) and abs(
                theirs - record["smd"]) > GATE_SMD_TOLERANCE
            rows.append([esc(record["covariate"]), _f(record["treatment_mean"]), _f(record["control_mean"]),
                         _f(record["difference"]), _f(record["se"]), f"{record['n_treatment']:,}",
                         f"{record['n_control']:,}", _p(record["p_value"]), _f(record["smd"]),
                         _f(theirs) + (" <b>differs</b>" if differs else "") if theirs is not None else "&mdash;"])
            flagged = differs or (np.isfinite(record["smd"]) and abs(record["smd"]) >= SMD_FLAG)
            classes.append("flag" if flagged else "")
        sections.append(f"<h2>Covariate balance, {esc(sample)} sample (Table 12)</h2>" + _table(
            ["covariate", "treatment mean", "control mean", "difference", "SE", "N treatment", "N control", "p",
             "SMD", "gate SMD"], rows, classes))

    # ITT (Table 3).
    itt_all = estimates.loc[(estimates["analysis"] == "itt") & (estimates["subgroup"] == "all")]
    rows = [[esc(r["outcome"]), esc(r["sample"]), _f(r["baseline"], 2, 100), _f(r["treatment_mean"], 2, 100),
             _f(r["estimate"], 3, 100), _f(r["se"], 3, 100), f"[{_f(r['ci_low'], 2, 100)}, {_f(r['ci_high'], 2, 100)}]",
             _f(r["effect_pct"], 1), _f(r["effect_pct_se"], 1), _p(r["p_value"]), f"{r['n_treatment']:,}",
             f"{r['n_control']:,}"] for r in itt_all.to_dict("records")]
    sections.append(
        "<h2>Intent-to-treat effects (Table 3, difference in means)</h2>"
        f"<p>OLS of the outcome on the assignment; {ITT_COV_TYPE} robust SE; ATE (%) relative to the control "
        "baseline with a delta-method SE. No controls (the paper's Table 3 uses Cox models and controls for the "
        "employment outcomes; see the Cox section).</p>" + _table(
            ["outcome", "sample", "baseline (%)", "treated (%)", "ATE (pp)", "SE (pp)", "95% CI (pp)", "ATE (%)",
             "SE (%)", "p", "N treatment", "N control"], rows))
    if "itt" in charts:
        sections.append(_img(charts["itt"], "ITT effects with 95% confidence intervals"))

    # Table 13.
    for title, prefix in (("Panel A: LinkedIn matched sample", "batch="),
                          (f"Panel B: learners with {LOGGED_IN} = 1", f"{LOGGED_IN}=1")):
        part = estimates.loc[(estimates["analysis"] == "itt") & (estimates["outcome"] == SHARE_OUTCOME)
                             & estimates["subgroup"].str.startswith(prefix)]
        if part.empty:
            continue
        rows = [[esc(r["subgroup"]), f"{_f(r['baseline'], 3, 100)} ({_f(r['baseline_se'], 3, 100)})",
                 f"{_f(r['treatment_mean'], 3, 100)} ({_f(r['treatment_mean_se'], 3, 100)})",
                 f"{_f(r['estimate'], 3, 100)} ({_f(r['se'], 3, 100)})",
                 f"{_f(r['effect_pct'], 3)} ({_f(r['effect_pct_se'], 3)})", f"{r['n_treatment']:,}",
                 f"{r['n_control']:,}"] for r in part.to_dict("records")]
        sections.append(f"<h2>Credential shared by batch (Table 13, {esc(title)})</h2>" + _table(
            ["subgroup", "mean control (%)", "mean treatment (%)", "ATE (pp)", "ATE (%)", "N treatment",
             "N control"], rows))

    # LATE.
    part = estimates.loc[estimates["analysis"] == "late"]
    if not part.empty:
        rows = [[esc(r["outcome"]), _f(r["estimate"], 3, 100), _f(r["se"], 3, 100),
                 f"[{_f(r['ci_low'], 2, 100)}, {_f(r['ci_high'], 2, 100)}]", _p(r["p_value"]),
                 _f(r["baseline"], 2, 100), f"{r['n_treatment']:,}", f"{r['n_control']:,}"]
                for r in part.to_dict("records")]
        sections.append(
            f"<h2>LATE of credential sharing (2SLS, assignment as instrument)</h2><p>Wald estimator = ITT on the "
            f"outcome / ITT on {LATE_ENDOGENOUS}; {LATE_COV_TYPE} IV sandwich SE with structural residuals. "
            "Baseline = control-arm mean of the outcome.</p>" + _table(
                ["outcome", "LATE (pp)", "SE (pp)", "95% CI (pp)", "p", "baseline (%)", "N treatment", "N control"],
                rows))

    # Heterogeneity by predicted baseline employability (Table 4).
    part = estimates.loc[(estimates["analysis"] == "itt") & estimates["subgroup"].str.startswith("employability=")]
    if not part.empty:
        rows = [[esc(r["outcome"]), esc(r["subgroup"][len("employability="):]),
                 f"{_f(r['baseline'], 1, 100)} ({_f(r['baseline_se'], 1, 100)})",
                 f"{_f(r['estimate'], 3, 100)} ({_f(r['se'], 3, 100)})",
                 f"{_f(r['effect_pct'], 1)} ({_f(r['effect_pct_se'], 1)})", _p(r["p_value"]),
                 f"{r['n_treatment'] + r['n_control']:,}"] for r in part.to_dict("records")]
        sections.append(
            "<h2>Effects by baseline employability (Table 4 design)</h2><p>Terciles of the predicted chance of a "
            "new job without treatment: a ridge linear probability model on the pre-treatment covariates, fitted "
            "on the control group with 5-fold cross-fitting. Difference in means within each tercile; the Cox "
            "hazard ratios per tercile are in the Cox section.</p>" + _table(
                ["outcome", "employability", "baseline (%)", "ATE (pp)", "ATE (%)", "p", "N"], rows))

    # Cox.
    part = estimates.loc[estimates["analysis"] == "cox"]
    if not part.empty:
        rows = [[esc(r["outcome"]), esc(r["subgroup"]), _f(r["estimate"], 4), _f(r["se"], 4),
                 _f(hazard_ratio_of(r["estimate"]), 3),
                 f"[{_f(hazard_ratio_of(r['ci_low']), 3)}, {_f(hazard_ratio_of(r['ci_high']), 3)}]",
                 _f(r["effect_pct"], 1), _f(r["effect_pct_se"], 1), _p(r["p_value"]), f"{r['n_treatment']:,}",
                 f"{r['n_control']:,}"] for r in part.to_dict("records")]
        sections.append(
            "<h2>Cox proportional-hazards ITT</h2><p>Duration = months to the first qualifying new job, censored "
            "at the follow-up; covariate: assignment; baseline hazard stratified by batch; no other controls.</p>"
            + _table(["outcome", "subgroup", "log HR", "SE", "HR", "95% CI (HR)", "HR - 1 (%)", "SE (%)", "p",
                      "N treatment", "N control"], rows))

    if "figure2" in charts:
        sections.append("<h2>New jobs by month since randomization (Figure 2)</h2>"
                        "<p>Share of the learners observed through month m who report a new job starting by m; "
                        "solid: treatment, dashed: control.</p>" + _img(charts["figure2"], "Figure 2"))

    notes_html = ("<h2>Notes</h2><ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>") if notes else ""
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>credsignal readout {esc(snapshot_id)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}}
table{{border-collapse:collapse;margin:0.5em 0 1.5em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right}}
td:first-child,th:first-child{{text-align:left}} th{{background:#eee}} tr.flag td{{background:#fdd}}
img{{max-width:100%;border:1px solid #eee}} p{{max-width:900px}}
</style></head><body>
<h1>Experiment readout, snapshot {esc(snapshot_id)}</h1>
<p>generated {generated} UTC &middot; {counts.get(FULL, 0):,} learners in {FULL_TABLE} &middot;
{counts.get(LINKEDIN, 0):,} in {LINKEDIN_TABLE}. Rows shaded red need a look (SRM p &lt; {SRM_FLAG_P},
|SMD| &ge; {SMD_FLAG}, or a disagreement with the quality gate). The numbers are also in
<code>{READOUT_DIR}/{ESTIMATES_TABLE}</code>; definitions in docs/readout.md.</p>
{notes_html}
{chr(10).join(sections)}
</body></html>
"""


# ------------------------------------------------------------------------------------------------ build


@dataclass
class ReadoutResult:
    snapshot_id: str
    output_dir: Path
    estimates_path: Path
    html_path: Path
    estimates: pd.DataFrame
    curves: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    n_full: int = 0
    n_linkedin: int = 0

    def summary(self) -> str:
        lines = [f"readout of snapshot {self.snapshot_id}: {self.n_full:,} learners (full), "
                 f"{self.n_linkedin:,} (LinkedIn) -> {self.output_dir}"]
        srm = self.estimates.loc[self.estimates["analysis"] == "srm"]
        for r in srm.to_dict("records"):
            lines.append(f"  SRM {r['sample']}: {r['n_treatment']:,} treatment / {r['n_control']:,} control, "
                         f"p={r['p_value']:.3g}")
        headline = self.estimates.loc[self.estimates["analysis"].isin(["itt", "late"])
                                      & (self.estimates["subgroup"] == "all")]
        for r in headline.to_dict("records"):
            lines.append(f"  {r['analysis'].upper():4} {r['outcome']} ({r['sample']}): {100 * r['estimate']:+.2f} pp "
                         f"(SE {100 * r['se']:.2f}), baseline {100 * r['baseline']:.1f}%")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def current_snapshot_id(lake_root: Path) -> str:
    """The live snapshot: the name of the `curated/_current` link's target (`_snapshots/<id>`)."""
    link = Path(lake_root) / CURATED_DIR / CURRENT_LINK
    if not link.is_symlink():
        raise FileNotFoundError(f"no published snapshot: {link} is not a symlink")
    return Path(os.readlink(link)).name


def snapshot_dir(lake_root: Path, snapshot_id: str) -> Path:
    return Path(lake_root) / CURATED_DIR / SNAPSHOTS_DIR / snapshot_id


def readout_dir(lake_root: Path, snapshot_id: str) -> Path:
    return snapshot_dir(lake_root, snapshot_id) / READOUT_DIR


def read_quality_report(snapshot: Path) -> pd.DataFrame | None:
    """The snapshot's `data_quality_report` (a table folder or a single file), or None if it has none."""
    for candidate in (snapshot / QUALITY_TABLE, snapshot / f"{QUALITY_TABLE}.parquet"):
        if candidate.exists():
            try:
                return pd.read_parquet(candidate)
            except Exception as error:  # noqa: BLE001 - the readout still stands without the gate's figures
                log.warning("cannot read %s: %s", candidate, error)
    return None


def _write_atomically(target: Path, write) -> None:
    """Write into a temporary sibling folder, then swap it in with renames (same file system)."""
    temporary = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex}"
    temporary.mkdir(parents=True)
    previous = None
    try:
        write(temporary)
        if target.exists():
            previous = target.parent / f".{target.name}.old-{uuid.uuid4().hex}"
            target.rename(previous)
        try:
            temporary.rename(target)
        except OSError:
            if previous is not None:
                previous.rename(target)
                previous = None
            raise
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def build_readout(lake_root: Path, *, snapshot: str | None = None, cox: bool = True) -> ReadoutResult:
    """Compute the readout of one published snapshot (the live one when `snapshot` is None) and write it to
    `curated/_snapshots/<id>/_readout/`: readout_estimates and readout_curves Parquet, readout.html, PNGs."""
    lake_root = Path(lake_root)
    snapshot_id = snapshot or current_snapshot_id(lake_root)
    source = snapshot_dir(lake_root, snapshot_id)
    for table in (FULL_TABLE, LINKEDIN_TABLE):
        if not (source / table).exists():
            raise FileNotFoundError(f"snapshot {snapshot_id} has no table {table} (looked in {source / table})")
    full = pd.read_parquet(source / FULL_TABLE)
    linkedin = pd.read_parquet(source / LINKEDIN_TABLE)
    quality = read_quality_report(source)
    log.info("readout of snapshot %s: %d full rows, %d LinkedIn rows", snapshot_id, len(full), len(linkedin))

    estimates, balances, curves, notes = estimate_all(full, linkedin, snapshot_id=snapshot_id, cox=cox)
    gate = gate_figures(quality)
    if quality is None:
        notes.append("no data_quality_report in this snapshot: the gate's SRM and balance figures are not shown")
    for sample, table in ((FULL, FULL_TABLE), (LINKEDIN, LINKEDIN_TABLE)):
        srm = (gate.get(table) or {}).get("srm")
        mine = estimates.loc[(estimates["analysis"] == "srm") & (estimates["sample"] == sample)].iloc[0]
        if srm and (srm["n_treatment"], srm["n_control"]) != (mine["n_treatment"], mine["n_control"]):
            notes.append(f"arm counts of {table} differ from the quality gate's: "
                         f"{mine['n_treatment']}/{mine['n_control']} vs {srm['n_treatment']}/{srm['n_control']}")
        if mine["p_value"] < SRM_FLAG_P:
            notes.append(f"sample-ratio mismatch in the {sample} sample: p = {mine['p_value']:.3g}")

    charts = {"itt": plot_itt(estimates)}
    if not curves.empty:
        charts["figure2"] = plot_cumulative(curves)
    page = render_html(snapshot_id, estimates, balances, gate, notes, charts,
                       counts={FULL: len(full), LINKEDIN: len(linkedin)})

    def write(folder: Path) -> None:
        for name, frame in ((ESTIMATES_TABLE, estimates), (CURVES_TABLE, curves)):
            (folder / name).mkdir()
            frame.to_parquet(folder / name / PART_FILE, index=False)
        (folder / HTML_FILE).write_text(page, encoding="utf-8")
        (folder / ITT_CHART_FILE).write_bytes(charts["itt"])
        if "figure2" in charts:
            (folder / FIGURE2_FILE).write_bytes(charts["figure2"])

    target = readout_dir(lake_root, snapshot_id)
    _write_atomically(target, write)
    return ReadoutResult(snapshot_id=snapshot_id, output_dir=target,
                         estimates_path=target / ESTIMATES_TABLE / PART_FILE, html_path=target / HTML_FILE,
                         estimates=estimates, curves=curves, notes=notes, n_full=len(full), n_linkedin=len(linkedin))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.readout", description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, required=True, help="lake root (holds curated/)")
    parser.add_argument("--snapshot", default=None, help="snapshot id (default: the live one, curated/_current)")
    parser.add_argument("--no-cox", action="store_true", help="skip the Cox models")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        result = build_readout(args.lake, snapshot=args.snapshot, cox=not args.no_cox)
    except FileNotFoundError as error:
        print(f"readout: {error}", file=sys.stderr)
        return 2
    print(f"wrote {result.html_path}")
    print(f"wrote {result.estimates_path}")
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
