"""The readout's unadjusted estimators from sufficient statistics that Spark aggregates: the driver receives a few
small frames of counts and sums (one row per arm x cell, per arm x month, ...), never a table's rows, so its
memory does not grow with the sample.

- difference in means with HC2 (or HC1/HC0) SEs: per arm n, sum y, sum y^2;
- 2SLS LATE of sharing: per instrument arm n, sum y, sum d, sum y^2, sum d^2, sum y*d;
- Figure 2 curves: counts per batch, arm, follow-up and event month;
- Cox ITT on the month scale: counts per stratum, arm, duration and event, fitted by Newton-Raphson on Efron's
  partial likelihood (lifelines' tie handling) with the sums over tied events in closed form (digamma), so a month
  with many events costs no more than one with a single event.

The formulas are those of jobs/readout/statistics.py (the row-level reference implementations, kept as test
oracles); docs/readout.md gives them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.readout.adjusted import (
    CONTROLS_CATEGORICAL,
    FIXED_EFFECTS,
    independent_columns,
    lin_result,
    lpm_result,
    summary_frame,
    with_unadjusted,
)
from jobs.readout.statistics import (
    ITT_COV_TYPE,
    MISSING_LEVEL,
    LATE_COV_TYPE,
    TREATMENT,
    arm_variances,
    balance_frame,
    cox_result,
    curve_frame,
    curve_point,
    iv_result,
    iv_se,
    mean_difference,
)

ARM = "_arm"  # 1 for the treated, 0 for every other known assignment (the reference's `d == 1` split)
COUNT = "_count"
OUTCOME = "_outcome"  # the key of a row: the outcomes it knows (per_outcome_rows), or its event


def _arm(treatment: str) -> Column:
    return F.when(F.col(treatment) == 1, F.lit(1)).otherwise(F.lit(0))


def _double(name: str) -> Column:
    return F.col(name).cast("double")


# ------------------------------------------------------------------------------------------------ difference in means


def outcome_moments(frame: DataFrame, outcomes: Sequence[str], *, by: Sequence[str] = (),
                    pairs: Mapping[str, str] | None = None, extremes: Sequence[str] = (),
                    treatment: str = TREATMENT) -> pd.DataFrame:
    """One Spark aggregation: per arm (and per `by` cell) and outcome, the count of known values, their sum and
    sum of squares (`n:y`, `s:y`, `q:y`); for each `pairs` entry outcome -> endogenous, the same over the rows
    where both are known plus the endogenous sums and the cross product (`pn:y`, `ps:y`, `pq:y`, `pds:y`,
    `pdq:y`, `pyd:y`); for each `extremes` column its least and greatest known value (`min:x`, `max:x`, null in a
    cell without any). The moments add over cells, so the driver forms any union of cells from this frame."""
    known_arm = F.col(treatment).isNotNull()
    columns: list[Column] = []
    for y in outcomes:
        value = F.when(known_arm, _double(y))
        columns += [F.count(value).alias(f"n:{y}"), F.sum(value).alias(f"s:{y}"),
                    F.sum(value * value).alias(f"q:{y}")]
    for y, d in (pairs or {}).items():
        both = known_arm & F.col(y).isNotNull() & F.col(d).isNotNull()
        yv, dv = F.when(both, _double(y)), F.when(both, _double(d))
        columns += [F.count(yv).alias(f"pn:{y}"), F.sum(yv).alias(f"ps:{y}"), F.sum(yv * yv).alias(f"pq:{y}"),
                    F.sum(dv).alias(f"pds:{y}"), F.sum(dv * dv).alias(f"pdq:{y}"), F.sum(yv * dv).alias(f"pyd:{y}")]
    for x in extremes:
        columns += [F.min(_double(x)).alias(f"min:{x}"), F.max(_double(x)).alias(f"max:{x}")]
    cells = (frame.where(known_arm).withColumn(ARM, _arm(treatment))
             .groupBy(ARM, *by).agg(F.count(F.lit(1)).alias(COUNT), *columns))
    additive = [c for c in cells.columns if c not in (ARM, *by) and not c.startswith(("min:", "max:"))]
    return cells.toPandas().fillna({c: 0 for c in additive})


def arm_sums(cells: pd.DataFrame, prefix: str, outcome: str) -> dict[int, float]:
    """{arm: the sum of column `prefix:outcome` over the given cells}."""
    column = f"{prefix}:{outcome}"
    return {arm: float(cells.loc[cells[ARM] == arm, column].sum()) for arm in (0, 1)}


def difference_in_means_from_moments(n1: float, s1: float, q1: float, n0: float, s0: float, q0: float, *,
                                     cov_type: str = ITT_COV_TYPE) -> dict:
    """:func:`jobs.readout.statistics.difference_in_means` from each arm's count, sum and sum of squares
    (sum (y - m)^2 = q - s^2 / n)."""
    n1, n0 = int(n1), int(n0)
    nan = float("nan")
    m1 = s1 / n1 if n1 else nan
    m0 = s0 / n0 if n0 else nan
    ss1 = max(q1 - s1 * s1 / n1, 0.0) if n1 else nan
    ss0 = max(q0 - s0 * s0 / n0, 0.0) if n0 else nan
    return mean_difference(m1, m0, *arm_variances(ss1, ss0, n1, n0, cov_type=cov_type), n1, n0)


def itt_from_cells(cells: pd.DataFrame, outcome: str, *, cov_type: str = ITT_COV_TYPE) -> dict:
    """:func:`jobs.readout.statistics.itt` over the union of `cells` (rows of :func:`outcome_moments`)."""
    n, s, q = (arm_sums(cells, prefix, outcome) for prefix in ("n", "s", "q"))
    return difference_in_means_from_moments(n[1], s[1], q[1], n[0], s[0], q[0], cov_type=cov_type)


def late_from_cells(cells: pd.DataFrame, outcome: str, *, cov_type: str = LATE_COV_TYPE) -> dict:
    """:func:`jobs.readout.statistics.iv_2sls` (y on (1, d), instruments (1, z), z the 0/1 assignment) from the
    pair moments of :func:`outcome_moments`. With u = y - b0 - b1 d, each arm's sum of u^2 expands into the
    moments, and the meat sum u^2 z z' has entries (sum over all, sum over z = 1)."""
    n, sy, qy, sd, qd, yd = (arm_sums(cells, prefix, outcome) for prefix in ("pn", "ps", "pq", "pds", "pdq", "pyd"))
    nan = float("nan")
    total = int(n[0] + n[1])
    first = difference_in_means_from_moments(n[1], sd[1], qd[1], n[0], sd[0], qd[0], cov_type="HC2")
    reduced = difference_in_means_from_moments(n[1], sy[1], qy[1], n[0], sy[0], qy[0], cov_type="HC2")
    zx = np.array([[total, sd[0] + sd[1]], [n[1], sd[1]]])
    if total < 3 or abs(np.linalg.det(zx)) < 1e-12 * total * total:
        beta, se = np.array([nan, nan]), nan
    else:
        zx_inv = np.linalg.inv(zx)
        beta = zx_inv @ np.array([sy[0] + sy[1], sy[1]])
        b0, b1 = beta
        u2 = {arm: max(qy[arm] + n[arm] * b0 * b0 + b1 * b1 * qd[arm] - 2 * b0 * sy[arm] - 2 * b1 * yd[arm]
                       + 2 * b0 * b1 * sd[arm], 0.0) for arm in (0, 1)}
        se = iv_se(zx_inv, np.array([[u2[0] + u2[1], u2[1]], [u2[1], u2[1]]]), total, cov_type=cov_type)
    return iv_result(float(beta[1]), se, int(n[1]), int(n[0]), first, reduced)


# ------------------------------------------------------------------------------------------------ balance, Table 2


def level_counts(frame: DataFrame, columns: Sequence[str], *, by: Sequence[str] = (),
                 treatment: str = TREATMENT) -> pd.DataFrame:
    """Learners per arm (and `by` cell) and level of each categorical column (null kept as a level), in one pass:
    rows (*by, `_column`, `_level`, ARM, COUNT). Spark counts the learners per combination of the columns' levels
    (at most the product of their numbers of levels, whatever the number of rows) and the driver adds those up per
    column: one row per learner to aggregate instead of one per learner and column."""
    if not columns:
        return pd.DataFrame(columns=[*by, "_column", "_level", ARM, COUNT])
    level = {name: f"_level:{name}" for name in columns}
    combinations = (frame.where(F.col(treatment).isNotNull())
                    .groupBy(*by, _arm(treatment).alias(ARM),
                             *[F.col(name).cast("string").alias(level[name]) for name in columns])
                    .agg(F.count(F.lit(1)).alias(COUNT))).toPandas()
    parts = [combinations.groupby([*by, ARM, level[name]], dropna=False, sort=False)[COUNT].sum().reset_index()
             .rename(columns={level[name]: "_level"}).assign(_column=name) for name in columns]
    counts = pd.concat(parts, ignore_index=True)[[*by, "_column", "_level", ARM, COUNT]]
    # pandas groups a null key as NaN: back to None, as Spark returns it.
    counts["_level"] = counts["_level"].astype(object).where(counts["_level"].notna(), None)
    return counts


def indicator_moments(cells: pd.DataFrame, levels: pd.DataFrame, numeric: Sequence[str],
                      categorical: Sequence[str]) -> dict[str, dict[int, tuple[float, float, float]]]:
    """{covariate: {arm: (n, sum, sum of squares)}} for the indicators of
    :func:`jobs.readout.statistics.balance_indicators`: a numeric column over its known values; a 0/1 indicator
    per level of a categorical column (sorted), and `covariate=(missing)` when a value is null, over every row."""
    moments: dict[str, dict[int, tuple[float, float, float]]] = {}
    for name in numeric:
        if f"n:{name}" in cells:
            n, s, q = (arm_sums(cells, prefix, name) for prefix in ("n", "s", "q"))
            moments[name] = {arm: (n[arm], s[arm], q[arm]) for arm in (0, 1)}
    rows = {arm: float(cells.loc[cells[ARM] == arm, COUNT].sum()) for arm in (0, 1)}
    for name in categorical:
        column = levels.loc[levels["_column"] == name]
        if column.empty:
            continue
        named = sorted(column["_level"].dropna().unique())
        for level, label in [*((level, level) for level in named), (None, MISSING_LEVEL)]:
            matches = column["_level"].isna() if level is None else column["_level"] == level
            if level is None and not matches.any():
                continue
            count = {arm: float(column.loc[matches & (column[ARM] == arm), COUNT].sum()) for arm in (0, 1)}
            moments[f"{name}={label}"] = {arm: (rows[arm], count[arm], count[arm]) for arm in (0, 1)}
    return moments


def balance_from_moments(moments: Mapping[str, Mapping[int, tuple[float, float, float]]]) -> pd.DataFrame:
    """:func:`jobs.readout.statistics.balance_table` from :func:`indicator_moments`."""
    return balance_frame({name: difference_in_means_from_moments(*arms[1], *arms[0], cov_type="HC2")
                          for name, arms in moments.items()})


def summary_from_moments(full: Mapping[str, Mapping[int, tuple]], linkedin: Mapping[str, Mapping[int, tuple]]
                         ) -> pd.DataFrame:
    """:func:`jobs.readout.adjusted.summary_statistics` from the two samples' :func:`indicator_moments`, the arms
    pooled."""
    def pooled(moments: Mapping[str, Mapping[int, tuple]]) -> dict[str, tuple[float, float, float]]:
        return {name: tuple(arms[0][i] + arms[1][i] for i in range(3)) for name, arms in moments.items()}

    return summary_frame(pooled(full), pooled(linkedin))


# ------------------------------------------------------------------------------------------------ Figure 2


def event_month_counts(frame: DataFrame, *, event: str = "new_job", time: str = "months_to_new_job",
                       followup: str = "followup_months", by: Sequence[str] = ("batch", TREATMENT)) -> pd.DataFrame:
    """Learners per `by` cell, follow-up and event month (`_time`, null without a dated event), over the rows
    with a follow-up: what the Figure 2 curves need, O(cells x months^2) rows."""
    happened = (F.col(event).cast("double") == 1) & F.col(time).isNotNull()
    counts = (frame.where(F.col(followup).isNotNull())
              .select(*by, F.col(followup).cast("double").alias("_followup"),
                      F.when(happened, F.col(time).cast("double")).alias("_time"))
              .groupBy(*by, "_followup", "_time").agg(F.count(F.lit(1)).alias(COUNT)))
    return counts.toPandas()


def _curve(counts: pd.DataFrame, last: int) -> list[tuple[int, int, int]]:
    follow = counts["_followup"].to_numpy(dtype="float64")
    times = counts["_time"].to_numpy(dtype="float64")
    weight = counts[COUNT].to_numpy(dtype="int64")
    points = []
    for month in range(0, last + 1):
        observed = follow >= month
        points.append((month, int(weight[observed].sum()),
                       int(weight[observed & ~np.isnan(times) & (times <= month)].sum())))
    return points


def cumulative_share_from_counts(counts: pd.DataFrame, *, by: Sequence[str] = ("batch", TREATMENT),
                                 pooled_label: str = "all") -> pd.DataFrame:
    """:func:`jobs.readout.statistics.cumulative_new_job_share` from :func:`event_month_counts`: the same rows in
    the same order (groups with a null key left out, as pandas' groupby does; the pooled curves over every
    batch, up to the shortest of the batches' longest follow-ups)."""
    keys = list(by)
    groups: list[tuple[tuple, pd.DataFrame]] = []
    complete = counts.dropna(subset=keys)
    for key, group in complete.groupby(keys, sort=True):
        groups.append((key if isinstance(key, tuple) else (key,), group))
    pooled_months = None
    if keys and keys[0] != TREATMENT:
        reach = counts.dropna(subset=keys[:1]).groupby(keys[0])["_followup"].max()
        pooled_months = int(reach.min()) if len(reach) else -1
        rest = counts.dropna(subset=keys[1:])
        for key, group in rest.groupby(keys[1:], sort=True) if len(keys) > 1 else [((), counts)]:
            key = key if isinstance(key, tuple) else (key,)
            groups.append(((pooled_label, *key), group))
    rows = []
    for key, group in groups:
        last = int(group["_followup"].max()) if len(group) else -1
        if key[0] == pooled_label and pooled_months is not None:
            last = min(last, pooled_months)
        rows += [curve_point(dict(zip(keys, key)), month, n_observed, n_with_job)
                 for month, n_observed, n_with_job in _curve(group, last)]
    return curve_frame(rows, keys)


# ------------------------------------------------------------------------------------------------ Cox on months


def duration_counts(frame: DataFrame, *, event: str = "new_job", time: str = "months_to_new_job",
                    followup: str = "followup_months", treatment: str = TREATMENT,
                    strata: str | None = "batch") -> pd.DataFrame:
    """Learners per stratum, arm, duration and event flag (the rows of the reference :func:`cox_itt`: assignment
    and follow-up known; duration the event month for a dated event, else the follow-up, floored at 0)."""
    return event_duration_counts(frame, [(event, time)], followup=followup, treatment=treatment,
                                 strata=strata)[event]


def event_duration_counts(frame: DataFrame, events: Sequence[tuple[str, str]], *, followup: str = "followup_months",
                          treatment: str = TREATMENT, strata: str | None = "batch") -> dict[str, pd.DataFrame]:
    """{event: its :func:`duration_counts`} for every (event flag, months-to column) pair, in one aggregation (each
    row counted once per event under an `_outcome` key)."""
    if not events:
        return {}
    def per_event(event: str, time: str) -> Column:
        happened = (F.col(event).cast("double") == 1) & F.col(time).isNotNull()
        duration = F.greatest(F.when(happened, _double(time)).otherwise(_double(followup)), F.lit(0.0))
        return F.struct(F.lit(event).alias(OUTCOME), duration.alias("_duration"), happened.cast("int").alias("_event"))

    # A null stratum is a stratum of its own, as in the reference (pandas' astype(str) makes it "<NA>").
    stratum = F.coalesce(F.col(strata).cast("string"), F.lit("<NA>")) if strata else F.lit("")
    data = frame.where(F.col(treatment).isNotNull() & F.col(followup).isNotNull())
    counts = (data.select(stratum.alias("_stratum"), _arm(treatment).alias(ARM),
                          F.explode(F.array(*[per_event(event, time) for event, time in events])).alias("_row"))
              .groupBy(F.col(f"_row.{OUTCOME}").alias(OUTCOME), "_stratum", ARM,
                       F.col("_row._duration").alias("_duration"), F.col("_row._event").alias("_event"))
              .agg(F.count(F.lit(1)).alias(COUNT))).toPandas()
    return {event: counts.loc[counts[OUTCOME] == event].drop(columns=OUTCOME).reset_index(drop=True)
            for event, _ in events}


def efron_terms(counts: pd.DataFrame) -> pd.DataFrame:
    """Per stratum and distinct event time: the treated and control risk sets (duration >= t) and events at t."""
    frames = []
    for _, group in counts.groupby("_stratum", sort=True):
        by_time = group.pivot_table(index="_duration", columns=[ARM, "_event"], values=COUNT, aggfunc="sum",
                                    fill_value=0)
        at = {(arm, e): (by_time[(arm, e)] if (arm, e) in by_time else pd.Series(0, index=by_time.index))
              for arm in (0, 1) for e in (0, 1)}
        leaving = {arm: at[(arm, 0)] + at[(arm, 1)] for arm in (0, 1)}
        # Risk set at t: everyone whose duration is t or later (a reverse cumulative sum over sorted times).
        risk = {arm: leaving[arm].sort_index()[::-1].cumsum()[::-1] for arm in (0, 1)}
        terms = pd.DataFrame({"r1": risk[1], "r0": risk[0], "d1": at[(1, 1)], "d0": at[(0, 1)]})
        frames.append(terms.loc[(terms["d1"] + terms["d0"]) > 0])
    if not frames:
        return pd.DataFrame(columns=["r1", "r0", "d1", "d0"])
    return pd.concat(frames, ignore_index=True).astype("float64")


def efron_derivatives(beta: float, terms: pd.DataFrame) -> tuple[float, float, float]:
    """Efron's log partial likelihood of one 0/1 covariate and its first two derivatives in beta.

    At a time with risk sums S = r1 e^b + r0, tied-event sums T = d1 e^b + d0 and d = d1 + d0 events, the term is
    d1 b - sum_{l<d} log(S - l T / d). With c = S d / T the sums over l are closed forms:
    sum log(c - l) = lgamma(c + 1) - lgamma(c - d + 1), sum 1/(c - l) = psi(c + 1) - psi(c - d + 1),
    sum 1/(c - l)^2 = psi'(c - d + 1) - psi'(c + 1). The covariate is binary, so x^2 = x and the weighted mean
    (A - l a) / (B - l b) is a / b + k / (B - l b) with A = r1 e^b, a = d1 e^b / d, B = S, b = T / d,
    k = (A b - a B) / b."""
    from scipy.special import gammaln, polygamma, psi

    r1, r0, d1, d0 = (terms[c].to_numpy() for c in ("r1", "r0", "d1", "d0"))
    e = math.exp(beta)
    d = d1 + d0
    S, T = r1 * e + r0, d1 * e + d0
    b = T / d
    c = S / b
    A, a = r1 * e, d1 * e / d
    k = (A * b - a * S) / b
    h1 = psi(c + 1) - psi(c - d + 1)  # sum 1/(c - l)
    h2 = polygamma(1, c - d + 1) - polygamma(1, c + 1)  # sum 1/(c - l)^2
    loglik = float((d1 * beta - d * np.log(b) - (gammaln(c + 1) - gammaln(c - d + 1))).sum())
    mean_sum = d * a / b + k / b * h1  # sum_l weighted mean of x
    square_sum = d * (a / b) ** 2 + 2 * (a / b) * (k / b) * h1 + (k / b) ** 2 * h2
    gradient = float((d1 - mean_sum).sum())
    hessian = float(-(mean_sum - square_sum).sum())
    return loglik, gradient, hessian


def cox_fit_from_counts(counts: pd.DataFrame, *, tolerance: float = 1e-10, max_steps: int = 100) -> tuple[float, float]:
    """(log hazard ratio, SE from the observed information) of the stratified Cox model with one 0/1 covariate,
    by Newton-Raphson with step halving until the step is below `tolerance`. The likelihood is concave; when it
    has no maximum (no events in one arm) the fit stops at max_steps with a large |beta| and SE, as lifelines."""
    terms = efron_terms(counts)
    if terms.empty:
        return float("nan"), float("nan")
    beta = 0.0
    loglik, gradient, hessian = efron_derivatives(beta, terms)
    for _ in range(max_steps):
        if hessian >= 0:
            break
        step = -gradient / hessian
        while True:
            trial = efron_derivatives(beta + step, terms)
            if trial[0] >= loglik - 1e-12 * abs(loglik) or abs(step) < tolerance:
                break
            step /= 2
        beta += step
        loglik, gradient, hessian = trial
        if abs(step) < tolerance:
            break
    se = math.sqrt(-1.0 / hessian) if hessian < 0 else float("nan")
    return beta, se


def cox_itt_from_counts(counts: pd.DataFrame) -> dict:
    """:func:`jobs.readout.statistics.cox_itt` from :func:`duration_counts`."""
    beta, se = cox_fit_from_counts(counts)
    arms = {arm: counts.loc[counts[ARM] == arm] for arm in (0, 1)}
    n = {arm: int(part[COUNT].sum()) for arm, part in arms.items()}
    events = {arm: int(part.loc[part["_event"] == 1, COUNT].sum()) for arm, part in arms.items()}
    return cox_result(beta, se, n[1], n[0], events[1], events[0])


# ------------------------------------------------------------------------------------------------ least squares


@dataclass(frozen=True)
class DesignColumn:
    """One covariate column of a design that the executors build row by row from global parameters: `kind` is
    "value" (the numeric column, a missing value imputed with `mean`), "missing" (1 where the column is null) or
    "level" (1 where the column's text equals `level`; `level` None: where it is null); `centre` is subtracted."""

    kind: str
    name: str
    level: str | None = None
    mean: float = 0.0
    centre: float = 0.0


def design_matrix(batch: pd.DataFrame, columns: Sequence[DesignColumn], *, treatment: str | None = None
                  ) -> np.ndarray:
    """The rows of `batch` as the design (1, x), or Lin's (1, d, x, d * x) with d the `treatment` column."""
    return BatchColumns(batch).design(columns, treatment=treatment)


class BatchColumns:
    """The columns of one pandas batch as the arrays a design is built from, each computed once however many
    designs use it: a batch holds every fit's columns, and most fits share their covariates."""

    def __init__(self, batch: pd.DataFrame):
        self.batch = batch
        self._arrays: dict[tuple, np.ndarray] = {}
        self._levels: dict[str, tuple[np.ndarray, dict]] = {}

    def floats(self, name: str) -> np.ndarray:
        key = ("value", name)
        if key not in self._arrays:
            self._arrays[key] = _float_array(self.batch[name])
        return self._arrays[key]

    def missing(self, name: str) -> np.ndarray:
        key = ("missing", name)
        if key not in self._arrays:
            self._arrays[key] = self.batch[name].isna().to_numpy(dtype="float64")
        return self._arrays[key]

    def level(self, name: str, level: str) -> np.ndarray:
        """1.0 where the column's text equals `level`: the text of each distinct value is compared once (a
        per-row comparison of strings cost more than the products of the whole fit)."""
        key = ("level", name, level)
        if key not in self._arrays:
            if name not in self._levels:
                codes, uniques = pd.factorize(self.batch[name])
                texts = pd.Series(uniques, dtype=object).astype("string")
                self._levels[name] = (codes, {text: code for code, text in enumerate(texts) if text is not pd.NA})
            codes, positions = self._levels[name]
            code = positions.get(level)
            self._arrays[key] = (codes == code).astype("float64") if code is not None else np.zeros(len(codes))
        return self._arrays[key]

    def covariate(self, column: DesignColumn) -> np.ndarray:
        if column.kind == "value":
            values = self.floats(column.name)
            values = np.where(np.isnan(values), column.mean, values)
        elif column.kind == "missing" or column.level is None:
            values = self.missing(column.name)
        else:
            values = self.level(column.name, column.level)
        return values - column.centre

    def design(self, columns: Sequence[DesignColumn], *, treatment: str | None = None,
               rows: np.ndarray | None = None) -> np.ndarray:
        """:func:`design_matrix` of the batch, or of its `rows` (a boolean mask) when given."""
        def pick(values: np.ndarray) -> np.ndarray:
            return values if rows is None else values[rows]

        size = len(self.batch) if rows is None else int(rows.sum())
        built = [pick(self.covariate(column)) for column in columns]
        ones = np.ones(size)
        x = np.column_stack(built) if built else np.empty((size, 0))
        if treatment is None:
            return np.column_stack([ones, x])
        d = pick(self.floats(treatment))
        return np.column_stack([ones, d, x, d[:, None] * x])


def _float_array(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def design_inputs(columns: Sequence[DesignColumn], *others: str) -> list[Column]:
    """The columns the executors read to build :func:`design_matrix` of `columns` (and the `others` they need):
    categories arrive as text whatever their type, numbers as doubles (an int column with nulls would otherwise
    arrive as floats and print as "1.0")."""
    text = {column.name for column in columns if column.kind == "level"}
    names = dict.fromkeys([*others, *(column.name for column in columns)])
    return [F.col(name).cast("string" if name in text else "double").alias(name) for name in names]


def partition_sums(frame: DataFrame, columns: Sequence[Column], compute, size: int) -> np.ndarray:
    """The sum over the rows of `frame` of `compute(batch)` (an array of `size` numbers per pandas batch of the
    `columns`), added up on the executors: the driver receives one array per partition."""
    def partials(batches):
        total = np.zeros(size)
        for batch in batches:
            if len(batch):
                total += compute(batch)
        yield pd.DataFrame({"sums": [total.tolist()]})

    parts = frame.select(*columns).mapInPandas(partials, "sums array<double>").collect()
    return np.sum([np.asarray(row["sums"], dtype="float64") for row in parts], axis=0) if parts else np.zeros(size)


def covariate_columns(cells: pd.DataFrame, ranges: Mapping[str, tuple], levels: pd.DataFrame,
                      numeric: Sequence[str], categorical: Sequence[str]) -> tuple[list[DesignColumn], list[str]]:
    """The columns (and names) of :func:`jobs.readout.adjusted.covariate_design` from the moments of the rows:
    a numeric column with its mean imputed and a `=(missing)` indicator when some are missing, every level but
    the first of a categorical column; constant columns dropped; each centred on its mean over the rows."""
    rows = float(cells[COUNT].sum())
    columns: list[tuple[str, DesignColumn]] = []
    for name in numeric:
        n, total = (sum(arm_sums(cells, prefix, name).values()) for prefix in ("n", "s"))
        if n == 0:
            continue
        mean = total / n
        if n < rows:
            columns.append((f"{name}=(missing)", DesignColumn("missing", name, centre=(rows - n) / rows)))
        low, high = ranges[name]
        if low < high:
            columns.append((name, DesignColumn("value", name, mean=mean, centre=mean)))
    for name in categorical:
        part = levels.loc[levels["_column"] == name]
        known = part.loc[part["_level"].notna()].groupby("_level")[COUNT].sum()
        missing = float(part.loc[part["_level"].isna(), COUNT].sum())
        found = [(level, level, float(known[level])) for level in sorted(known.index)]
        if missing:
            found.append((None, MISSING_LEVEL, missing))
        for level, label, count in found[1:]:  # the first level is the reference
            if 0 < count < rows:
                columns.append((f"{name}={label}", DesignColumn("level", name, level=level, centre=count / rows)))
    return [column for _, column in columns], [name for name, _ in columns]


@dataclass(frozen=True)
class LeastSquares:
    """One OLS fit of :func:`ols_hc2_fits`: `outcome` on :func:`design_matrix` of `columns` (Lin's interacted design
    when `treatment` is given), over the rows where every `known` column is known."""

    outcome: str
    columns: tuple[DesignColumn, ...]
    known: tuple[str, ...]
    treatment: str | None = None

    @property
    def size(self) -> int:
        return 1 + len(self.columns) if self.treatment is None else 2 + 2 * len(self.columns)

    def rows(self, batch: pd.DataFrame) -> pd.DataFrame:
        return batch.loc[self.known_rows(batch)]

    def known_rows(self, batch: pd.DataFrame) -> np.ndarray:
        return batch[list(self.known)].notna().all(axis=1).to_numpy()

    def design(self, batch: pd.DataFrame) -> np.ndarray:
        return design_matrix(batch, self.columns, treatment=self.treatment)


def _shared_designs(batch: pd.DataFrame, fits: Sequence[LeastSquares], keys: Sequence) -> list:
    """[(the design's rows, X, [the indices of the fits whose rows and design they are])]: the fits of one batch
    grouped by `keys` (fits with one key have the same design columns) and by the rows they know, so X and the
    products of X alone are computed once per group (the same numbers each fit would get on its own)."""
    columns = BatchColumns(batch)
    groups: dict[tuple, tuple[np.ndarray, list[int]]] = {}
    for index, (fit, key) in enumerate(zip(fits, keys)):
        rows = fit.known_rows(batch)
        groups.setdefault((key, rows.tobytes()), (rows, []))[1].append(index)
    shared = []
    for rows, members in groups.values():
        fit = fits[members[0]]
        shared.append((rows, columns.design(fit.columns, treatment=fit.treatment, rows=rows), members))
    return shared


def ols_hc2_fits(frame: DataFrame, fits: Sequence[LeastSquares]) -> list[dict]:
    """Several OLS fits with the HC2 covariance in two passes over the rows of `frame` whatever their number: the
    Gram matrices X'X, X'y and y'y of every fit, then (with each fit's (X'X)^-1 and coefficients broadcast) the
    meat sums u_i^2 / (1 - h_ii) x_i x_i' and the residual sums of squares. Columns linearly dependent on earlier
    ones are dropped (:func:`jobs.readout.adjusted.independent_columns`, on the Gram matrix). Per fit: `keep`,
    `n`, `yy` and `xy`, and when it is estimable `params`, `cov`, `rss`. The driver holds k x k matrices."""
    if not fits:
        return []
    needed = design_inputs([column for fit in fits for column in fit.columns],
                           *(name for fit in fits for name in (
                               fit.outcome, *fit.known, *([fit.treatment] if fit.treatment else []))))

    designs = [(fit.columns, fit.treatment) for fit in fits]
    sizes = [fit.size * fit.size + fit.size + 1 for fit in fits]
    offsets = np.cumsum([0, *sizes])

    def gram(batch: pd.DataFrame) -> np.ndarray:
        sums = np.empty(offsets[-1])
        for rows, x, members in _shared_designs(batch, fits, designs):
            xx = (x.T @ x).ravel()
            for index in members:
                y = _float_array(batch[fits[index].outcome])[rows]
                sums[offsets[index]:offsets[index + 1]] = np.concatenate([xx, x.T @ y, [y @ y]])
        return sums

    sums = partition_sums(frame, needed, gram, int(offsets[-1]))
    results, solved, start = [], [], 0
    for fit in fits:
        k = fit.size
        full_gram, full_xy = sums[start:start + k * k].reshape(k, k), sums[start + k * k:start + k * k + k]
        yy = float(sums[start + k * k + k])
        start += k * k + k + 1
        keep = independent_columns(full_gram)
        result = {"keep": keep, "n": int(round(full_gram[0, 0])), "xy": full_xy, "yy": yy}
        results.append(result)
        if keep and result["n"] > len(keep) + 1 and (fit.treatment is None or keep[:2] == [0, 1]):
            gram_inv = np.linalg.inv(full_gram[np.ix_(keep, keep)])
            solved.append((fit, result, gram_inv, gram_inv @ full_xy[keep]))
    if not solved:
        return results

    # Fits with the same design, rows (so the same Gram matrix) and kept columns share their leverages too.
    inverses = [(fit.columns, fit.treatment, tuple(result["keep"]), gram_inv.tobytes())
                for fit, result, gram_inv, _ in solved]
    meat_sizes = [len(result["keep"]) ** 2 + 1 for _, result, _, _ in solved]
    meat_offsets = np.cumsum([0, *meat_sizes])

    def meat(batch: pd.DataFrame) -> np.ndarray:
        sums = np.empty(meat_offsets[-1])
        for rows, x, members in _shared_designs(batch, [fit for fit, *_ in solved], inverses):
            _, result, gram_inv, _ = solved[members[0]]
            x = x[:, result["keep"]]
            leverage = ((x @ gram_inv) * x).sum(axis=1)
            for index in members:
                fit, _, _, beta = solved[index]
                residual = _float_array(batch[fit.outcome])[rows] - x @ beta
                weight = residual**2 / np.clip(1.0 - leverage, 1e-12, None)
                sums[meat_offsets[index]:meat_offsets[index + 1]] = np.concatenate(
                    [((x * weight[:, None]).T @ x).ravel(), [residual @ residual]])
        return sums

    sums = partition_sums(frame, needed, meat, int(meat_offsets[-1]))
    start = 0
    for _, result, gram_inv, beta in solved:
        kept = len(result["keep"])
        middle = sums[start:start + kept * kept].reshape(kept, kept)
        result.update(params=beta, cov=gram_inv @ middle @ gram_inv, rss=float(sums[start + kept * kept]))
        start += kept * kept + 1
    return results



ALL_ROWS = "*"  # rows_of's key for every row
_KNOWN = "|"  # separates the outcomes a row knows in its per_outcome_rows key


def per_outcome_rows(frame: DataFrame, outcomes: Sequence[str]) -> DataFrame:
    """The rows of `frame` with an `_outcome` key naming which of `outcomes` the row knows ("|a|c|"), so one
    aggregation by `_outcome` gives the moments over every row (all keys) and, per outcome, over the rows where it
    is known (the keys that name it: :func:`rows_of`). A row is aggregated once however many outcomes it knows."""
    known = [F.when(F.col(y).isNotNull(), F.lit(y)) for y in outcomes]
    return frame.withColumn(OUTCOME, F.concat_ws(_KNOWN, F.lit(""), *known, F.lit("")))


def rows_of(cells: pd.DataFrame, outcome: str = ALL_ROWS) -> pd.DataFrame:
    """The cells (or level counts) of :func:`per_outcome_rows` over the rows that know `outcome` (every row for
    ALL_ROWS), without the key: the moments add over cells, so their union is these cells together."""
    mine = cells if outcome == ALL_ROWS else cells.loc[cells[OUTCOME].str.contains(
        f"{_KNOWN}{outcome}{_KNOWN}", regex=False)]
    return mine.drop(columns=OUTCOME).reset_index(drop=True)


def lin_covariates(frame: DataFrame, *, numeric: Sequence[str], categorical: Sequence[str] = CONTROLS_CATEGORICAL,
                   fixed_effects: Sequence[str] = FIXED_EFFECTS) -> tuple[list[str], list[str]]:
    """(numeric, categorical) covariates of Lin's design that `frame` has."""
    return ([name for name in numeric if name in frame.columns],
            [name for name in (*categorical, *fixed_effects) if name in frame.columns])


def lin_designs_of_cells(cells: pd.DataFrame, levels: pd.DataFrame, outcomes: Sequence[str], *,
                         numeric: Sequence[str], categorical: Sequence[str], treatment: str = TREATMENT
                         ) -> dict[str, tuple[pd.DataFrame, LeastSquares]]:
    """{outcome: (its cells, its Lin fit)} for :func:`jobs.readout.adjusted.adjusted_itt` of every outcome from the
    moments (with the `numeric` covariates' extremes) and level counts of :func:`per_outcome_rows`: the covariates
    imputed, dropped and centred on their moments over the rows where the outcome and the assignment are known
    (:func:`covariate_columns`)."""
    designs = {}
    for outcome in outcomes:
        mine = rows_of(cells, outcome)
        ranges = {name: (mine[f"min:{name}"].min(), mine[f"max:{name}"].max()) for name in numeric}
        columns, _ = covariate_columns(mine, ranges, rows_of(levels, outcome), numeric, categorical)
        designs[outcome] = (mine, LeastSquares(outcome, tuple(columns), (outcome, treatment), treatment))
    return designs


def lin_designs(frame: DataFrame, outcomes: Sequence[str], *, numeric: Sequence[str],
                categorical: Sequence[str] = CONTROLS_CATEGORICAL, fixed_effects: Sequence[str] = FIXED_EFFECTS,
                treatment: str = TREATMENT) -> dict[str, tuple[pd.DataFrame, LeastSquares]]:
    """:func:`lin_designs_of_cells` from two aggregations of :func:`per_outcome_rows` whatever the number of
    outcomes (the readout folds them into its moments and levels aggregations)."""
    numeric, categorical = lin_covariates(frame, numeric=numeric, categorical=categorical,
                                          fixed_effects=fixed_effects)
    rows = per_outcome_rows(frame, outcomes)
    cells = outcome_moments(rows, list(dict.fromkeys([*outcomes, *numeric])), by=[OUTCOME], extremes=numeric,
                            treatment=treatment)
    levels = level_counts(rows, categorical, by=[OUTCOME], treatment=treatment)
    return lin_designs_of_cells(cells, levels, outcomes, numeric=numeric, categorical=categorical,
                                treatment=treatment)


def lin_itt_of_fit(cells: pd.DataFrame, outcome: str, fit: Mapping) -> dict:
    """:func:`jobs.readout.adjusted.adjusted_itt` from the outcome's cells (:func:`lin_designs`) and its fit."""
    n = {arm: int(cells.loc[cells[ARM] == arm, COUNT].sum()) for arm in (0, 1)}
    result = lin_result(fit.get("params"), fit.get("cov"), n[1], n[0], len(fit["keep"]))
    return with_unadjusted(result, itt_from_cells(cells, outcome))


def adjusted_itt_from_spark(frame: DataFrame, outcome: str, *, numeric: Sequence[str],
                            categorical: Sequence[str] = CONTROLS_CATEGORICAL,
                            fixed_effects: Sequence[str] = FIXED_EFFECTS, treatment: str = TREATMENT) -> dict:
    """:func:`jobs.readout.adjusted.adjusted_itt` from Spark passes (:func:`lin_designs`, :func:`ols_hc2_fits`)."""
    cells, fit = lin_designs(frame, [outcome], numeric=numeric, categorical=categorical,
                             fixed_effects=fixed_effects, treatment=treatment)[outcome]
    return lin_itt_of_fit(cells, outcome, ols_hc2_fits(frame, [fit])[0])


def lpm_fit(outcome: str, regressor: str) -> LeastSquares:
    """The :func:`ols_hc2_fits` fit of :func:`jobs.readout.adjusted.lpm`: outcome on (1, regressor)."""
    return LeastSquares(outcome, (DesignColumn("value", regressor),), (outcome, regressor))


def lpm_of_fit(fit: Mapping) -> dict:
    """:func:`jobs.readout.adjusted.lpm` from its :func:`ols_hc2_fits` result (the total sum of squares from the
    fit's n, sum y (the intercept's X'y) and y'y)."""
    n, total = fit["n"], float(fit["xy"][0])
    tss = max(fit["yy"] - total * total / n, 0.0) if n else 0.0
    return lpm_result(fit["params"], fit["cov"], fit["rss"], tss, n)


def lpm_from_spark(frame: DataFrame, outcome: str, regressor: str) -> dict:
    """:func:`jobs.readout.adjusted.lpm` from Spark passes (:func:`ols_hc2_fits`)."""
    return lpm_of_fit(ols_hc2_fits(frame, [lpm_fit(outcome, regressor)])[0])
