"""The readout's unadjusted estimators: pure functions of pandas frames or arrays (difference in means, 2SLS,
sample ratio, balance, Figure 2 curves, Cox ITT, employability scores). docs/readout.md gives the formulas."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

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
GATE_SMD_TOLERANCE = 1e-3  # the gate prints smd with 4 decimals
CURVE_BANDS = ("se", "ci_low", "ci_high")



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
    ss1 = float(((y1 - m1) ** 2).sum()) if n1 else nan
    ss0 = float(((y0 - m0) ** 2).sum()) if n0 else nan
    return mean_difference(m1, m0, *arm_variances(ss1, ss0, n1, n0, cov_type=cov_type), n1, n0)


def arm_variances(ss1: float, ss0: float, n1: int, n0: int, *, cov_type: str = ITT_COV_TYPE) -> tuple[float, float]:
    """(V1, V0), the variances of the arms' means of :func:`difference_in_means` from each arm's sum of squared
    deviations and count; NaN unless both arms have two values."""
    if n1 < 2 or n0 < 2:
        return float("nan"), float("nan")
    if cov_type == "HC2":
        return ss1 / (n1 - 1) / n1, ss0 / (n0 - 1) / n0
    if cov_type == "HC1":
        scale = (n1 + n0) / (n1 + n0 - 2)
        return scale * ss1 / n1**2, scale * ss0 / n0**2
    if cov_type == "HC0":
        return ss1 / n1**2, ss0 / n0**2
    raise ValueError(f"unsupported cov_type {cov_type!r}")


def mean_difference(m1: float, m0: float, v1: float, v0: float, n1: int, n0: int) -> dict:
    """The result of :func:`difference_in_means` from the arms' means and the variances of those means."""
    nan = float("nan")
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
        se = iv_se(zx_inv, (Z * (u**2)[:, None]).T @ Z, n, cov_type=cov_type)
    return iv_result(float(beta[1]), se, int((z == 1).sum()), int((z != 1).sum()), first, reduced)


def iv_se(zx_inv: np.ndarray, meat: np.ndarray, n: int, *, cov_type: str = LATE_COV_TYPE) -> float:
    """SE of the slope of :func:`iv_2sls` from (Z'X)^-1 and the meat sum u_i^2 z_i z_i'."""
    if cov_type == "HC1":
        scale = n / (n - 2)
    elif cov_type == "HC0":
        scale = 1.0
    else:
        raise ValueError(f"unsupported cov_type {cov_type!r}")
    cov = scale * zx_inv @ meat @ zx_inv.T
    return float(math.sqrt(cov[1, 1])) if cov[1, 1] >= 0 else float("nan")


def iv_result(estimate: float, se: float, n1: int, n0: int, first: dict, reduced: dict) -> dict:
    """The result of :func:`iv_2sls` from its slope and SE and the first-stage and reduced-form differences."""
    nan = float("nan")
    first_f = (first["estimate"] / first["se"]) ** 2 if first["se"] else nan
    return {
        "estimate": estimate, "se": se, "ci_low": estimate - Z95 * se, "ci_high": estimate + Z95 * se,
        "p_value": _normal_p(estimate / se) if se else nan, "n_treatment": n1, "n_control": n0,
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
    return sample_ratio_of_counts(int((frame[treatment] == 1).sum()), int((frame[treatment] == 0).sum()))


def sample_ratio_of_counts(n1: int, n0: int) -> dict:
    """:func:`sample_ratio` from the arm counts."""
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
    d = frame[treatment].to_numpy()
    results = {}
    for name, values in balance_indicators(frame, numeric, categorical).items():
        known = values.notna().to_numpy()
        results[name] = difference_in_means(values.to_numpy()[known], d[known], cov_type="HC2")
    return balance_frame(results)


def balance_frame(results: dict[str, dict]) -> pd.DataFrame:
    """The rows of :func:`balance_table` from each covariate's :func:`difference_in_means` (HC2)."""
    rows = []
    for name, result in results.items():
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
    follow-up; the pooled curve only to the shortest of the batches' longest follow-ups (months every batch
    reaches), so it does not drop where the first batches run out. 95% band: share -/+ 1.96 sqrt(share (1 -
    share) / n_observed) (normal, clipped to [0, 1]). Columns: batch (string), treatment, month, n_observed,
    n_with_job, share, se, ci_low, ci_high.
    """
    data = frame.loc[frame[followup].notna()].copy()
    data["_time"] = _floats(data[time])
    data["_event"] = (_floats(data[event]) == 1) & ~np.isnan(data["_time"].to_numpy())
    data["_followup"] = _floats(data[followup])
    keys = list(by)
    groups: list[tuple[tuple, pd.DataFrame]] = []
    for key, group in data.groupby(keys, sort=True):
        groups.append((key if isinstance(key, tuple) else (key,), group))
    pooled_months = None
    if keys and keys[0] != TREATMENT:
        # Months every batch reaches: past the shortest follow-up the pooled curve would mix other learners.
        reach = data.groupby(keys[0])["_followup"].max()
        pooled_months = int(reach.min()) if len(reach) else -1
        for key, group in data.groupby(keys[1:], sort=True) if len(keys) > 1 else [((), data)]:
            key = key if isinstance(key, tuple) else (key,)
            groups.append(((pooled_label, *key), group))
    rows = []
    for key, group in groups:
        follow = group["_followup"].to_numpy()
        with_event = group["_event"].to_numpy()
        times = group["_time"].to_numpy()
        last = int(follow.max()) if follow.size else -1
        if key[0] == pooled_label and pooled_months is not None:
            last = min(last, pooled_months)
        for month in range(0, last + 1):
            observed = follow >= month
            rows.append(curve_point(dict(zip(keys, key)), month, int(observed.sum()),
                                    int((observed & with_event & (times <= month)).sum())))
    return curve_frame(rows, keys)


def curve_point(key: dict, month: int, n_observed: int, n_with_job: int) -> dict:
    """One row of :func:`cumulative_new_job_share`: the share with a job by `month` and its normal band."""
    share = n_with_job / n_observed if n_observed else float("nan")
    se = math.sqrt(share * (1 - share) / n_observed) if n_observed else float("nan")
    return {**key, "month": month, "n_observed": n_observed, "n_with_job": n_with_job, "share": share, "se": se,
            "ci_low": max(0.0, share - Z95 * se), "ci_high": min(1.0, share + Z95 * se)}


def curve_frame(rows: list[dict], keys: Sequence[str]) -> pd.DataFrame:
    result = pd.DataFrame(rows, columns=[*keys, "month", "n_observed", "n_with_job", "share", *CURVE_BANDS])
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
    d = model_frame["treatment"].to_numpy() == 1
    events = model_frame["event"].to_numpy()
    return cox_result(float(fitter.params_["treatment"]), float(fitter.standard_errors_["treatment"]),
                      int(d.sum()), int((~d).sum()), int(events[d].sum()), int(events[~d].sum()))


def cox_result(beta: float, se: float, n1: int, n0: int, events1: int, events0: int) -> dict:
    """The result of :func:`cox_itt` from the log hazard ratio, its SE and the arms' counts of learners and events."""
    hazard_ratio = hazard_ratio_of(beta)
    return {
        "estimate": beta, "se": se, "ci_low": beta - Z95 * se, "ci_high": beta + Z95 * se,
        "p_value": _normal_p(beta / se) if se else float("nan"), "hazard_ratio": hazard_ratio,
        "effect_pct": 100.0 * (hazard_ratio - 1.0), "effect_pct_se": 100.0 * hazard_ratio * se,
        "baseline": events0 / n0 if n0 else float("nan"), "treatment_mean": events1 / n1 if n1 else float("nan"),
        "n_treatment": n1, "n_control": n0,
    }


def hazard_ratio_of(log_hazard_ratio: float) -> float:
    """exp of a log hazard ratio; inf past float range (a fit near separation on a tiny sample has a huge SE)."""
    try:
        return math.exp(log_hazard_ratio)
    except OverflowError:
        return math.inf



def mean_imputed(values: pd.Series) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(values as floats with missing ones set to the mean, 0/1 indicator of the missing ones or None when none is
    missing); (None, None) when every value is missing (the column says nothing)."""
    array = values.to_numpy(dtype="float64")
    missing = np.isnan(array)
    if missing.all():
        return None, None
    if not missing.any():
        return array, None
    return np.where(missing, np.nanmean(array), array), missing.astype("float64")

def covariate_matrix(frame: pd.DataFrame, numeric: Iterable[str], categorical: Iterable[str]) -> np.ndarray:
    """Pre-treatment covariates as a standardized design matrix (no intercept): the balance indicators, a
    missing numeric value imputed with the column mean plus a 0/1 missing indicator, constant columns dropped.
    Only covariates enter (never an outcome), so statistics over all rows leak nothing."""
    columns = []
    for values in balance_indicators(frame, numeric, categorical).values():
        array, missing = mean_imputed(values)
        if array is None:
            continue
        if missing is not None:
            columns.append(missing)
        columns.append(array)
    if not columns:
        return np.empty((len(frame), 0))
    matrix = np.column_stack(columns)
    sd = matrix.std(axis=0)
    # Constant by its values, not by a rounded sd: a constant 0.1 has a float-noise sd that would blow up.
    keep = np.ptp(matrix, axis=0) > 0
    return (matrix[:, keep] - matrix[:, keep].mean(axis=0)) / sd[keep]


def _ridge_fit(x: np.ndarray, y: np.ndarray, penalty: float) -> np.ndarray:
    """Coefficients (intercept first) of a ridge linear probability model; the intercept is not penalized."""
    design = np.column_stack([np.ones(len(x)), x])
    gram = design.T @ design
    gram[1:, 1:] += penalty * np.eye(x.shape[1])
    return np.linalg.solve(gram, design.T @ y)


EMPLOYABILITY_KEY = "learner_key"
FOLD_HASH_DIGITS = 15  # hex digits of the sha256 read as the fold's number: 60 bits, a Spark bigint


def fold_of_key(key, folds: int) -> int:
    """The cross-fitting fold of a learner: the first FOLD_HASH_DIGITS hex digits of sha256(key as text) modulo
    `folds`, a function of the pseudonymous key alone (jobs/readout/employability.py computes the same in Spark
    SQL), so re-keying nothing else, reordering or repartitioning the rows never moves a learner to another fold."""
    digest = hashlib.sha256(str(key).encode("utf-8")).hexdigest()
    return int(digest[:FOLD_HASH_DIGITS], 16) % folds


def employability_scores(frame: pd.DataFrame, *, outcome: str = "new_job", treatment: str = TREATMENT,
                         numeric: Iterable[str] = BALANCE_NUMERIC + BALANCE_LINKEDIN_EXTRA,
                         categorical: Iterable[str] = BALANCE_CATEGORICAL, folds: int = 5, penalty: float = 1.0,
                         key: str = EMPLOYABILITY_KEY) -> np.ndarray:
    """Predicted baseline employability (2025 paper, section 4.2.1 and Table 4, after Athey et al.): the chance of
    `outcome` without treatment, learned on the control group from pre-treatment covariates.

    Cross-fitting: controls are split into `folds` folds by their `key` (:func:`fold_of_key`; the frame must have
    it); a control's score comes from the model fitted on the other folds (its own outcome never enters its score,
    which would otherwise sort controls with a job into the high tercile and bias the tercile effects); a treated
    learner's score is the average of the fold models. The model is a ridge linear probability model (the paper
    used a gradient-boosting machine; the stack has no GBM library, and only the ranking matters for terciles).
    Rows with a missing outcome get NaN, and so does a control whose other folds hold no control."""
    if key not in frame:
        raise KeyError(f"employability_scores needs the learners' {key} column: the folds are a function of it")
    x = covariate_matrix(frame, numeric, categorical)
    y = _floats(frame[outcome])
    d = _floats(frame[treatment])
    known = ~np.isnan(y) & ~np.isnan(d)
    controls = np.flatnonzero(known & (d == 0))
    others = np.flatnonzero(known & (d != 0))
    keys = frame[key].to_numpy()
    fold_of = np.array([fold_of_key(keys[i], folds) for i in controls], dtype="int64")
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


def terciles(scores: np.ndarray, labels: Sequence[str] = ("low", "medium", "high"), *,
             keys: Sequence | None = None) -> pd.Series:
    """Terciles of the scores over all learners (both arms), by rank; NaN scores get no tercile. Equal scores are
    ranked by `keys` (the learners' keys) when given, else by their order in `scores`."""
    series = pd.Series(scores)
    if keys is None:
        ranked = series.rank(method="first")
    else:
        scored = pd.DataFrame({"score": series, "key": np.asarray(keys, dtype=object)}).dropna(subset=["score"])
        order = scored.sort_values(["score", "key"], kind="mergesort").index
        ranked = pd.Series(np.nan, index=series.index)
        ranked[order] = np.arange(1, len(order) + 1, dtype="float64")
    return pd.qcut(ranked, 3, labels=list(labels)).astype("object").where(series.notna())

