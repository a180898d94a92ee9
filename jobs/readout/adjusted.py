"""The readout's covariate-adjusted and descriptive estimators (issue 19): Lin's fully interacted regression, Cox
models with the 2025 paper's Table 3 controls and their effect in percentage points, the views-vs-new-job linear
probability model (Table 14), summary statistics of the two samples (Table 2), subgroup effects with
Benjamini-Hochberg, and attrition into the LinkedIn sample.

Every estimator is a pure function of a pandas frame or of arrays (or, for attrition, of counts), so the scale-out
work can feed it aggregated statistics instead. docs/readout.md gives the formulas.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from jobs.readout.statistics import (
    TREATMENT,
    Z95,
    _floats,
    _normal_p,
    balance_indicators,
    difference_in_means,
    hazard_ratio_of,
    mean_imputed,
)

# Pre-treatment covariates (as of randomization, jobs/features/) that the adjusted models use. The 2025 paper's
# Table 3 controls, mapped to the curated columns: batch -> baseline hazard stratified by batch (a fixed effect in
# the linear models); education -> education_level; gender -> gender; domain -> primary_domain; credential type ->
# credential_type; country -> developing_country (the curated tables hold no country); professional experience
# -> professional_experience_years; prior employment in technical and business roles -> past_tech_job,
# past_managerial_job. The linear models add the skill score and has_linkedin_url (a URL given at enrollment,
# before the experiment; Table 6: "learners' characteristics"); in the LinkedIn sample it is constant and drops.
CONTROLS_CATEGORICAL = ("education_level", "gender", "primary_domain", "credential_type")
CONTROLS_NUMERIC_FULL = ("developing_country", "main_skill_standardized", "has_linkedin_url")
CONTROLS_NUMERIC_LINKEDIN = (*CONTROLS_NUMERIC_FULL, "professional_experience_years", "past_tech_job",
                             "past_managerial_job")
COX_CONTROLS_NUMERIC = ("developing_country", "professional_experience_years", "past_tech_job", "past_managerial_job")
FIXED_EFFECTS = ("stratum", "batch")  # the randomization strata and batches
ROBUSTNESS_MONTHS = 4  # footnote 6: jobs starting at least four months after randomization
DEGREE_LEVELS = ("associate degree", "bachelor degree", "masters degree", "professional degree", "doctorate degree")
_INDEPENDENCE_TOLERANCE = 1e-9
_CHUNK = 200_000


# ------------------------------------------------------------------------------------------------ designs


def covariate_design(frame: pd.DataFrame, numeric: Iterable[str] = (), categorical: Iterable[str] = ()
                     ) -> tuple[np.ndarray, list[str]]:
    """Pre-treatment covariates as an uncentred design without intercept, and the column names.

    A numeric column is kept as it is; a missing value takes the column mean and a 0/1 `name=(missing)` column
    marks it. A categorical column gives one 0/1 column per level except its first (the reference); a missing
    category is a level of its own. Columns absent from the frame are skipped. Constant columns are dropped."""
    numeric = [name for name in numeric if name in frame]
    categorical = [name for name in categorical if name in frame]
    names: list[str] = []
    columns: list[np.ndarray] = []
    for name, values in balance_indicators(frame, numeric, ()).items():
        array, missing = mean_imputed(values)
        if array is None:
            continue
        if missing is not None:
            names.append(f"{name}=(missing)")
            columns.append(missing)
        names.append(name)
        columns.append(array)
    for name in categorical:
        levels = balance_indicators(frame, (), (name,))
        for level, values in list(levels.items())[1:]:
            names.append(level)
            columns.append(values.to_numpy(dtype="float64"))
    if not columns:
        return np.empty((len(frame), 0)), []
    matrix = np.column_stack(columns)
    keep = matrix.std(axis=0) > 0
    return matrix[:, keep], [n for n, k in zip(names, keep) if k]


def independent_columns(gram: np.ndarray, *, tolerance: float = _INDEPENDENCE_TOLERANCE) -> list[int]:
    """Indices of the columns of X, in order, that are not linear combinations of the columns kept before them,
    from the Gram matrix X'X alone (a column is kept when the share of its squared norm that the kept columns do
    not explain exceeds `tolerance`). Deterministic: the earlier column of a dependent set stays."""
    keep: list[int] = []
    for j in range(gram.shape[0]):
        norm = gram[j, j]
        if norm <= 0:
            continue
        if keep:
            g = gram[np.ix_(keep, [j])][:, 0]
            coefficients = np.linalg.lstsq(gram[np.ix_(keep, keep)], g, rcond=None)[0]
            residual = norm - g @ coefficients
        else:
            residual = norm
        if residual > tolerance * norm:
            keep.append(j)
    return keep


def ols_robust(y: np.ndarray, x: np.ndarray, *, cov_type: str = "HC2") -> dict:
    """OLS of y on the design x (its columns as given, full rank) with a heteroskedasticity-robust covariance:
    V = (X'X)^-1 (sum_i w_i u_i^2 x_i x_i') (X'X)^-1 with w_i = 1 (HC0), n / (n - k) (HC1) or 1 / (1 - h_ii)
    (HC2, h_ii the leverage). Returns coefficients, covariance, residual and total sums of squares, n."""
    y = np.asarray(y, dtype="float64")
    x = np.asarray(x, dtype="float64")
    n, k = x.shape
    gram_inv = np.linalg.inv(x.T @ x)
    beta = gram_inv @ (x.T @ y)
    meat = np.zeros((k, k))
    rss = 0.0
    for start in range(0, n, _CHUNK):  # by chunks: the leverage needs x_i (X'X)^-1 x_i' for every row
        rows = x[start:start + _CHUNK]
        residual = y[start:start + _CHUNK] - rows @ beta
        rss += float(residual @ residual)
        if cov_type == "HC2":
            leverage = ((rows @ gram_inv) * rows).sum(axis=1)
            weight = residual**2 / np.clip(1.0 - leverage, 1e-12, None)
        elif cov_type in ("HC0", "HC1"):
            weight = residual**2
        else:
            raise ValueError(f"unsupported cov_type {cov_type!r}")
        meat += (rows * weight[:, None]).T @ rows
    if cov_type == "HC1":
        meat *= n / (n - k)
    cov = gram_inv @ meat @ gram_inv
    tss = float(((y - y.mean()) ** 2).sum())
    return {"params": beta, "cov": cov, "rss": rss, "tss": tss, "n": n}


# ------------------------------------------------------------------------------------------------ Lin (2013)


def lin_itt(y: np.ndarray, d: np.ndarray, x: np.ndarray, *, cov_type: str = "HC2") -> dict:
    """Lin's (2013) covariate-adjusted ITT: OLS of y on (1, d, xc, d * xc), xc the covariates centred on their
    mean over the rows used, with a robust (HC2) covariance. The coefficient on d is the adjusted ATE; the
    intercept is the adjusted control mean (the baseline). It is the regression form of CUPED and is never less
    precise than the difference in means asymptotically. Covariates (and interactions) that are linearly
    dependent on earlier columns are dropped. effect_pct = 100 b / a with the delta-method SE from the joint
    covariance of (a, b). `n_covariates` is the number of covariate columns kept."""
    y = np.asarray(y, dtype="float64")
    d = np.asarray(d, dtype="float64")
    x = np.asarray(x, dtype="float64").reshape(len(y), -1)
    xc = x - x.mean(axis=0) if len(y) else x
    design = np.column_stack([np.ones(len(y)), d, xc, d[:, None] * xc])
    keep = independent_columns(design.T @ design)
    n1, n0 = int((d == 1).sum()), int((d != 1).sum())
    if keep[:2] != [0, 1] or len(y) <= len(keep) + 1:
        return lin_result(None, None, n1, n0, len(keep))
    fit = ols_robust(y, design[:, keep], cov_type=cov_type)
    return lin_result(fit["params"], fit["cov"], n1, n0, len(keep))


def lin_result(params: np.ndarray | None, cov: np.ndarray | None, n1: int, n0: int, kept: int) -> dict:
    """The result of :func:`lin_itt` from the coefficients and covariance of the regression on the `kept`
    columns (intercept and assignment first); None when the assignment did not survive the dependence check."""
    nan = float("nan")
    if params is None:
        return {"estimate": nan, "se": nan, "n_treatment": n1, "n_control": n0}
    a, b = params[:2]
    cov = cov[:2, :2]
    se = math.sqrt(cov[1, 1])
    if a != 0:
        gradient = np.array([-100.0 * b / a**2, 100.0 / a])
        effect_pct, effect_pct_se = 100.0 * b / a, math.sqrt(gradient @ cov @ gradient)
    else:
        effect_pct = effect_pct_se = nan
    return {
        "estimate": float(b), "se": se, "baseline": float(a), "baseline_se": math.sqrt(cov[0, 0]),
        "treatment_mean": float(a + b), "treatment_mean_se": math.sqrt(cov[0, 0] + cov[1, 1] + 2 * cov[0, 1]),
        "effect_pct": effect_pct, "effect_pct_se": effect_pct_se, "n_treatment": n1, "n_control": n0,
        "ci_low": b - Z95 * se, "ci_high": b + Z95 * se, "p_value": _normal_p(b / se) if se else nan,
        "n_covariates": (kept - 2),
    }


def adjusted_itt(frame: pd.DataFrame, outcome: str, *, numeric: Iterable[str] = CONTROLS_NUMERIC_FULL,
                 categorical: Iterable[str] = CONTROLS_CATEGORICAL, fixed_effects: Iterable[str] = FIXED_EFFECTS,
                 treatment: str = TREATMENT) -> dict:
    """:func:`lin_itt` of `outcome` on the rows where it and the assignment are known, with the pre-treatment
    covariates and fixed effects (strata and batch, as categorical levels) of :func:`covariate_design`; beside it
    the unadjusted difference in means on the same rows and the variance reduction 1 - se_adj^2 / se_unadj^2."""
    data = frame.loc[frame[outcome].notna() & frame[treatment].notna()]
    x, _ = covariate_design(data, numeric, [*categorical, *fixed_effects])
    y, d = _floats(data[outcome]), _floats(data[treatment])
    return with_unadjusted(lin_itt(y, d, x), difference_in_means(y, d))


def with_unadjusted(result: dict, unadjusted: dict) -> dict:
    """A Lin result with the unadjusted difference in means on the same rows and the variance reduction
    1 - se_adj^2 / se_unadj^2."""
    result["unadjusted_estimate"], result["unadjusted_se"] = unadjusted["estimate"], unadjusted["se"]
    result["variance_reduction"] = (1.0 - result["se"] ** 2 / unadjusted["se"] ** 2
                                    if unadjusted["se"] and np.isfinite(result["se"]) else float("nan"))
    return result


# ------------------------------------------------------------------------------------------------ Cox


def survival_columns(frame: pd.DataFrame, event: str, time: str, *, followup: str = "followup_months"
                     ) -> tuple[np.ndarray, np.ndarray, int]:
    """(duration, event 0/1, number of event times imputed) for a Cox model: the months to the first qualifying
    job for an event, else the follow-up (censored).

    For a >= 4-month outcome (`event` ends in `_4m`), on a snapshot published before the feature job wrote its
    months-to column: when `time` is missing from the frame it is derived from the 1-month one (`event` without
    `_4m`, its months-to column): a first job at month >= 4 is also the first >= 4-month job; a learner whose first job started in
    months 1-3 and who has a later one (event = 1) has an unknown month in [4, follow-up] and gets 4, the
    earliest possible (counted in the third value, reported in the readout's notes)."""
    follow = _floats(frame[followup])
    happened = _floats(frame[event]) == 1
    imputed = 0
    if time in frame:
        times = _floats(frame[time])
    else:
        base_time = time.removesuffix("_4m") if time.endswith("_4m") else None
        if base_time is None or base_time not in frame:
            raise KeyError(f"no column {time} and no way to derive it")
        first = _floats(frame[base_time])
        early = happened & ~(first >= ROBUSTNESS_MONTHS)
        imputed = int(early.sum())
        times = np.where(early, float(ROBUSTNESS_MONTHS), first)
    happened = happened & ~np.isnan(times)
    duration = np.maximum(np.where(happened, times, follow), 0.0)
    return duration, happened.astype(int), imputed


def breslow_cumulative_hazard(duration: np.ndarray, event: np.ndarray, risk_score: np.ndarray,
                              at: np.ndarray) -> np.ndarray:
    """Breslow's baseline cumulative hazard H0(t) = sum over event times t_j <= t of
    d_j / sum_{duration_k >= t_j} risk_score_k, evaluated at each value of `at` (one stratum)."""
    times = np.unique(duration[event == 1])
    if times.size == 0:
        return np.zeros(len(at))
    order = np.argsort(duration)
    sorted_duration, sorted_risk = duration[order], risk_score[order]
    tail = np.cumsum(sorted_risk[::-1])[::-1]  # sum of risk scores with duration >= sorted_duration[i]
    first = np.searchsorted(sorted_duration, times, side="left")
    at_risk = tail[first]
    events = np.array([(duration[event == 1] == t).sum() for t in times], dtype="float64")
    cumulative = np.cumsum(events / at_risk)
    index = np.searchsorted(times, at, side="right") - 1
    return np.where(index >= 0, cumulative[np.clip(index, 0, None)], 0.0)


def cox_adjusted(frame: pd.DataFrame, event: str = "new_job", time: str = "months_to_new_job", *,
                 numeric: Iterable[str] = COX_CONTROLS_NUMERIC, categorical: Iterable[str] = CONTROLS_CATEGORICAL,
                 followup: str = "followup_months", treatment: str = TREATMENT, strata: str | None = "batch") -> dict:
    """The 2025 paper's Table 3 model for employment: a Cox proportional-hazards model of the months to the first
    qualifying new job (censored at the follow-up) on the assignment and the pre-treatment controls, with the
    baseline hazard stratified by batch (lifelines, Efron ties). Returns the log hazard ratio of the assignment
    (estimate, se) and its effect in percentage points at the control group's follow-up:

    for each control learner i (covariates x_i, follow-up F_i, batch b), the predicted chance of the event by F_i
    is r0_i = 1 - exp(-H0_b(F_i) exp(x_i beta)) untreated and r1_i = 1 - exp(-H0_b(F_i) exp(x_i beta + g))
    treated (H0_b Breslow's baseline cumulative hazard of the batch). pp_effect = mean(r1 - r0), baseline =
    mean(r0), pp_effect_pct = 100 pp_effect / baseline. SE by the delta method in g:
    d pp_effect / d g = mean(exp(-H_i e^g) H_i e^g) with H_i = H0_b(F_i) exp(x_i beta), times se(g); the baseline
    hazard and beta are held at their estimates (their error moves both arms alike)."""
    from lifelines import CoxPHFitter

    data = frame.loc[frame[treatment].notna() & frame[followup].notna()]
    duration, happened, imputed = survival_columns(data, event, time, followup=followup)
    x, names = covariate_design(data, numeric, categorical)
    d = _floats(data[treatment])
    design = np.column_stack([d, x])
    anchored = np.column_stack([np.ones(len(d)), design])  # the intercept only anchors the dependence check
    keep = [j - 1 for j in independent_columns(anchored.T @ anchored) if j > 0]
    if 0 not in keep:
        raise ValueError("the assignment is collinear with the controls")
    columns = ["treatment", *names]
    model = pd.DataFrame(design[:, keep], columns=[f"c{j}" for j in keep])
    model["duration"], model["event"] = duration, happened
    stratum = data[strata].astype(str).to_numpy() if strata else np.full(len(d), "all")
    model["stratum"] = stratum
    fitter = CoxPHFitter()
    with warnings.catch_warnings(record=True) as caught:  # a rare level can make lifelines warn: reported, not logged
        warnings.simplefilter("always")
        fitter.fit(model, duration_col="duration", event_col="event", strata=["stratum"])
    def named(message: str) -> str:  # the model's columns are c<j>: give the warning the covariate's name
        return re.sub(r"\bc(\d+)\b", lambda match: columns[int(match.group(1))], message.split(".")[0]).strip()

    fit_warnings = sorted({named(str(w.message)) for w in caught})
    beta = fitter.params_.reindex([f"c{j}" for j in keep]).to_numpy()
    g, se = float(beta[0]), float(fitter.standard_errors_["c0"])
    linear = design[:, keep] @ beta
    controls = d != 1
    cumulative = np.zeros(len(d))
    for level in np.unique(stratum):
        rows = stratum == level
        h0 = breslow_cumulative_hazard(duration[rows], happened[rows], np.exp(linear[rows]), _floats(data[followup])[rows])
        cumulative[rows] = h0 * np.exp(linear[rows] - g * d[rows])  # H_i untreated
    h = cumulative[controls]
    r0, r1 = 1 - np.exp(-h), 1 - np.exp(-h * math.exp(g))
    pp_se = float(np.mean(np.exp(-h * math.exp(g)) * h * math.exp(g))) * se
    return cox_adjusted_result(g, se, float(np.mean(r1 - r0)), pp_se, float(np.mean(r0)),
                               float(happened[controls].mean()) if controls.any() else float("nan"),
                               int((~controls).sum()), int(controls.sum()), len(keep) - 1, imputed,
                               [columns[j] for j in keep[1:]], fit_warnings)


def cox_adjusted_result(g: float, se: float, pp: float, pp_se: float, baseline: float, observed_baseline: float,
                        n_treatment: int, n_control: int, n_covariates: int, imputed: int, controls: list[str],
                        fit_warnings: list[str]) -> dict:
    """The result of :func:`cox_adjusted` from the log hazard ratio g and its SE, the effect in percentage points
    with its SE, the predicted and observed control shares with the event, and the fit's description."""
    return {
        "estimate": g, "se": se, "ci_low": g - Z95 * se, "ci_high": g + Z95 * se,
        "p_value": _normal_p(g / se) if se else float("nan"), "hazard_ratio": hazard_ratio_of(g),
        "pp_effect": pp, "pp_se": pp_se, "baseline": baseline, "observed_baseline": observed_baseline,
        "effect_pct": 100.0 * pp / baseline if baseline else float("nan"),
        "effect_pct_se": 100.0 * pp_se / baseline if baseline else float("nan"),
        "n_treatment": n_treatment, "n_control": n_control, "n_covariates": n_covariates, "imputed_times": imputed,
        "controls": controls, "fit_warnings": fit_warnings,
    }


# ------------------------------------------------------------------------------------------------ Table 14


def lpm(frame: pd.DataFrame, outcome: str, regressor: str, *, cov_type: str = "HC2") -> dict:
    """Linear probability model outcome = a + b regressor (2025 paper, Table 14: each view flag on new_job, in the
    LinkedIn sample) with a robust covariance; returns b, its SE, the intercept and R^2."""
    data = frame.loc[frame[outcome].notna() & frame[regressor].notna()]
    y, x = _floats(data[outcome]), _floats(data[regressor])
    fit = ols_robust(y, np.column_stack([np.ones(len(y)), x]), cov_type=cov_type)
    return lpm_result(fit["params"], fit["cov"], fit["rss"], fit["tss"], fit["n"])


def lpm_result(params: np.ndarray, cov: np.ndarray, rss: float, tss: float, n: int) -> dict:
    """The result of :func:`lpm` from the fit's coefficients, covariance and sums of squares."""
    b, se = float(params[1]), math.sqrt(cov[1, 1])
    return {"estimate": b, "se": se, "ci_low": b - Z95 * se, "ci_high": b + Z95 * se,
            "p_value": _normal_p(b / se) if se else float("nan"), "baseline": float(params[0]),
            "r_squared": 1 - rss / tss if tss else float("nan"), "n": n}


# ------------------------------------------------------------------------------------------------ Table 2


def mean_and_se_of_moments(n: float, total: float, squares: float) -> tuple[float, float]:
    """(mean, SE of the mean) from the count, sum and sum of squares of the non-missing values."""
    if n < 1:
        return float("nan"), float("nan")
    mean = total / n
    if n < 2:
        return mean, float("nan")
    return mean, math.sqrt(max(squares - total * mean, 0.0) / (n - 1) / n)


def subsample_difference(whole: np.ndarray, part: np.ndarray) -> dict:
    """Mean of a subsample (`part`, e.g. the LinkedIn sample) minus the mean of the sample it is drawn from
    (`whole`, the full sample), with its SE. The subsample is inside the whole, so the two means are not
    independent: with R the rest (whole minus part, from counts, sums and sums of squares) and pi = n_part /
    n_whole, mean_part - mean_whole = (1 - pi) (mean_part - mean_rest), SE = (1 - pi) sqrt(s_part^2 / n_part +
    s_rest^2 / n_rest)."""
    whole, part = whole[~np.isnan(whole)], part[~np.isnan(part)]
    return subsample_difference_of_moments(whole.size, float(whole.sum()), float((whole**2).sum()),
                                           part.size, float(part.sum()), float((part**2).sum()))


def subsample_difference_of_moments(n_w: float, sum_w: float, squares_w: float, n_p: float, sum_p: float,
                                    squares_p: float) -> dict:
    """:func:`subsample_difference` from the count, sum and sum of squares of the whole and of the part."""
    n_r = n_w - n_p
    nan = float("nan")
    if n_p < 2 or n_r < 2:
        return {"estimate": nan, "se": nan}
    sum_r = sum_w - sum_p
    squares_r = squares_w - squares_p
    mean_r = sum_r / n_r
    variance_r = max((squares_r - n_r * mean_r**2) / (n_r - 1), 0.0)
    variance_p = max(squares_p - sum_p * sum_p / n_p, 0.0) / (n_p - 1)
    share = n_p / n_w
    difference = sum_p / n_p - sum_w / n_w
    se = (1 - share) * math.sqrt(variance_p / n_p + variance_r / n_r)
    return {"estimate": float(difference), "se": se, "ci_low": difference - Z95 * se, "ci_high": difference + Z95 * se,
            "p_value": _normal_p(difference / se) if se else nan}


def summary_statistics(full: pd.DataFrame, linkedin: pd.DataFrame, *, numeric: Sequence[str],
                       categorical: Sequence[str]) -> pd.DataFrame:
    """Table 2: for each variable (one row per level of a category), its mean and SE in the full and in the
    LinkedIn sample and the difference LinkedIn - full with :func:`subsample_difference`'s SE. A variable only
    the LinkedIn sample has gets no full-sample figures."""
    def moments_of(values: pd.Series) -> tuple[float, float, float]:
        known = values.to_numpy(dtype="float64")
        known = known[~np.isnan(known)]
        return float(known.size), float(known.sum()), float((known**2).sum())

    return summary_frame({name: moments_of(v) for name, v in balance_indicators(full, numeric, categorical).items()},
                         {name: moments_of(v) for name, v in balance_indicators(linkedin, numeric, categorical).items()})


def summary_frame(full: Mapping[str, tuple[float, float, float]], linkedin: Mapping[str, tuple[float, float, float]]
                  ) -> pd.DataFrame:
    """The rows of :func:`summary_statistics` from each variable's (count, sum, sum of squares) of its known
    values in the full and in the LinkedIn sample."""
    rows = []
    for name, part in linkedin.items():
        mean_l, se_l = mean_and_se_of_moments(*part)
        row = {"variable": name, "linkedin_mean": mean_l, "linkedin_se": se_l, "linkedin_n": int(part[0]),
               "full_mean": float("nan"), "full_se": float("nan"), "full_n": 0,
               "difference": float("nan"), "difference_se": float("nan"), "p_value": float("nan")}
        if name in full:
            whole = full[name]
            row["full_mean"], row["full_se"] = mean_and_se_of_moments(*whole)
            row["full_n"] = int(whole[0])
            difference = subsample_difference_of_moments(*whole, *part)
            row.update(difference=difference["estimate"], difference_se=difference["se"],
                       p_value=difference.get("p_value", float("nan")))
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------ heterogeneity


SUBGROUP_COLUMNS = ("developing_country", "education_level", "primary_domain", "batch")


def subgroups(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The heterogeneity subgroups as boolean masks named `dimension=level`: developing_country (0/1), education
    (degree = associate or above, no_degree, not_mentioned), primary_domain (each domain) and batch."""
    masks: dict[str, np.ndarray] = {}
    if "developing_country" in frame:
        values = _floats(frame["developing_country"])
        for level in (0, 1):
            masks[f"developing_country={level}"] = values == level
    if "education_level" in frame:
        text = frame["education_level"].astype("string")
        degree = text.isin(DEGREE_LEVELS).fillna(False).to_numpy(dtype=bool)
        known = text.isin(_known_education_levels()).fillna(False).to_numpy(dtype=bool)
        masks["education=degree"] = degree
        masks["education=no_degree"] = known & ~degree
        masks["education=not_mentioned"] = ~known
    for column in ("primary_domain", "batch"):
        if column in frame:
            for level in sorted(frame[column].dropna().unique()):
                name = f"{level:g}" if isinstance(level, float) else str(level)
                masks[f"{column}={name}"] = (frame[column] == level).fillna(False).to_numpy(dtype=bool)
    return masks


def _known_education_levels() -> tuple[str, ...]:
    from credsignal.core.contracts import EDUCATION_LEVELS

    return EDUCATION_LEVELS


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate): p_(i) * m / i for the i-th smallest of the m
    finite p-values, made monotone from the largest down and capped at 1. NaN stays NaN and is not counted."""
    p = np.asarray(p_values, dtype="float64")
    adjusted = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    if finite.size == 0:
        return adjusted
    order = finite[np.argsort(p[finite], kind="mergesort")]
    m = order.size
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return adjusted


# ------------------------------------------------------------------------------------------------ attrition


ATTRITION_STAGES = ("randomized", "url_at_randomization", "fetched", "parsed_ok", "matched")


def attrition(counts: Mapping[str, Mapping[int, int]]) -> pd.DataFrame:
    """Attrition by arm from counts per stage (`stage -> {1: treated, 0: control}`, stages in ATTRITION_STAGES
    order; a stage without counts is skipped). For each stage after the first: the share of the previous stage's
    learners who reach it in each arm, their difference (treatment - control) with the Neyman SE and a two-sided
    normal p - the test of differential attrition. A last row compares `matched` with `url_at_randomization`
    (the paper's matched share of those who gave URLs, about 90%). When a stage holds more learners of an arm than
    the stage before (counts that do not nest), the row's `nested` is False and its SE and p-value are NaN."""
    present = [stage for stage in ATTRITION_STAGES if stage in counts]
    rows = []
    pairs = list(zip(present, present[1:]))
    if "matched" in present and "url_at_randomization" in present and (
            ("url_at_randomization", "matched") not in pairs):
        pairs.append(("url_at_randomization", "matched"))
    for previous, stage in pairs:
        row = {"stage": stage, "from_stage": previous}
        for arm, label in ((1, "treatment"), (0, "control")):
            reached, base = counts[stage].get(arm, 0), counts[previous].get(arm, 0)
            row[f"n_{label}"], row[f"base_{label}"] = reached, base
            row[f"share_{label}"] = reached / base if base else float("nan")
        s1, s0 = row["share_treatment"], row["share_control"]
        # A share above 1 means the counts do not nest (the match report disagrees with the tables): the
        # binomial variance has no meaning there, so the row keeps its counts and shares without an SE.
        row["nested"] = not any(share > 1 or share < 0 for share in (s1, s0))
        variance = (s1 * (1 - s1) / row["base_treatment"] if row["base_treatment"] else float("nan")) + (
            s0 * (1 - s0) / row["base_control"] if row["base_control"] else float("nan"))
        se = math.sqrt(variance) if row["nested"] and np.isfinite(variance) else float("nan")
        row.update(difference=s1 - s0, se=se, p_value=_normal_p((s1 - s0) / se) if se else float("nan"))
        rows.append(row)
    return pd.DataFrame(rows)


def attrition_counts(full: pd.DataFrame, linkedin: pd.DataFrame, match_by_arm: Sequence[Mapping] | None = None,
                     *, treatment: str = TREATMENT) -> dict[str, dict[int, int]]:
    """Counts per attrition stage and arm: randomized (rows of the full table), url_at_randomization
    (has_linkedin_url = 1), matched (rows of the LinkedIn table) and, when the feature job's match report by arm
    is given (`[{"match": outcome, "treatment": 0/1, "count": n}, ...]`), fetched (matched + fetch_failed:*) and
    parsed_ok (matched)."""
    def by_arm(frame: pd.DataFrame) -> dict[int, int]:
        arms = _floats(frame[treatment])
        return {1: int((arms == 1).sum()), 0: int((arms == 0).sum())}

    with_url = by_arm(full.loc[full["has_linkedin_url"] == 1]) if "has_linkedin_url" in full else None
    return stage_counts(by_arm(full), with_url, by_arm(linkedin), match_by_arm)


def stage_counts(randomized: dict[int, int], with_url: dict[int, int] | None, matched: dict[int, int],
                 match_by_arm: Sequence[Mapping] | None = None) -> dict[str, dict[int, int]]:
    """:func:`attrition_counts` from the arm counts of the full table, of its learners with a URL (None when the
    table has no has_linkedin_url) and of the LinkedIn table."""
    counts = {"randomized": randomized}
    if with_url is not None:
        counts["url_at_randomization"] = with_url
    if match_by_arm:
        fetched = {1: 0, 0: 0}
        parsed = {1: 0, 0: 0}
        for record in match_by_arm:
            arm = int(record["treatment"]) if record.get("treatment") is not None else None
            if arm not in (0, 1):
                continue
            if record["match"] == "matched" or str(record["match"]).startswith("fetch_failed:"):
                fetched[arm] += int(record["count"])
            if record["match"] == "matched":
                parsed[arm] += int(record["count"])
        counts["fetched"], counts["parsed_ok"] = fetched, parsed
    counts["matched"] = matched
    return counts
