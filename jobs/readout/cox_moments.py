"""The 2025 paper's Table 3 Cox models with controls (:func:`jobs.readout.adjusted.cox_adjusted`) from Spark passes
over the rows, never collecting them.

- one aggregation pass: per panel the covariates' moments and level counts (the design of
  :func:`jobs.readout.adjusted.covariate_design`, by :func:`jobs.readout.moments.covariate_columns`), and per panel
  and event the learners by stratum, arm, duration and event flag;
- Newton-Raphson on Efron's partial likelihood stratified by batch, every model of the table in the same passes
  (one pass per Newton step, each model at its own coefficients): per (stratum, duration) the sums of e = exp(x'b),
  x e and x x' e over all rows and over the events, the events' count and sum of x. The driver turns them into
  risk-set sums (reverse cumulative over durations) and Efron's terms; with c_l = l / d and
  phi_l = S0 - c_l T0 the sums over the d tied events reduce to the scalars sum 1/phi_l, sum c_l/phi_l,
  sum 1/phi_l^2, sum c_l/phi_l^2, sum c_l^2/phi_l^2, so the driver holds (strata x months) x p x p numbers;
- one pass over the control learners for the effect in percentage points, from Breslow's baseline cumulative
  hazard of the last pass's risk sets.

An indicator that no event has (a rare level, a missing-value flag) has its maximum at -infinity: the fit starts
its coefficient at -30, where its rows no longer count, and reports it in `fit_warnings`.

The covariates are centred on their means, which changes neither the coefficients, the Hessian nor
H0(t) exp(x'b); the dependence check runs on the uncentred Gram matrix, as the reference's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.readout.adjusted import (
    COX_CONTROLS_NUMERIC,
    CONTROLS_CATEGORICAL,
    ROBUSTNESS_MONTHS,
    cox_adjusted_result,
    independent_columns,
)
from jobs.readout.moments import (
    ARM,
    COUNT,
    OUTCOME,
    DesignColumn,
    covariate_columns,
    design_inputs,
    design_matrix,
    level_counts,
    outcome_moments,
    partition_sums,
)
from jobs.readout.statistics import TREATMENT

TOLERANCE = 1e-10  # Newton stops when no coefficient moves more than this: the MLE to ~1e-10
MAX_STEPS = 60
MAX_HALVINGS = 20  # a step shrunk a millionfold without a better likelihood: the fit stops where it was
STALL_GAIN = 1e-13  # a relative log-likelihood gain below this moves no converging coefficient beyond ~1e-10
JUMP = 10.0
SEPARATED_START = -30.0  # exp(-30) ~ 1e-13: the rows of an indicator without events drop out of the risk sets
NULL_STRATUM = "<NA>"  # pandas' astype(str) of a null batch: a stratum of its own


@dataclass(frozen=True)
class CoxModel:
    """One model of Table 3: `event` (0/1) with its months-to column `time` over the rows of panel `panel`."""

    panel: str
    event: str
    time: str


@dataclass
class _Fit:
    """A model's Newton state. `keep` indexes the panel's design (treatment first); `durations` and `strata` are
    the grid of its cells; `beta` the coefficients at which the last pass evaluated it."""

    model: CoxModel
    index: int
    panel: int
    columns: tuple[DesignColumn, ...]
    names: list[str]
    keep: list[int]
    strata: list[str]
    durations: np.ndarray
    beta: np.ndarray
    step: np.ndarray | None = None
    loglik: float = -math.inf
    gradient: np.ndarray | None = None
    hessian: np.ndarray | None = None
    risk0: np.ndarray | None = None  # (strata, durations) risk-set sums of e at the accepted beta
    events: np.ndarray | None = None
    accepted: np.ndarray | None = None
    steps: int = 0
    halvings: int = 0
    stalled: int = 0
    runs: list[np.ndarray] = field(default_factory=list)
    separated: list[int] = field(default_factory=list)  # indicators without events (their maximum is at -inf)
    done: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.keep)

    @property
    def cells(self) -> int:
        return len(self.strata) * len(self.durations)

    def width(self) -> int:  # numbers per cell: all rows (e, x e, x x' e), events (the same, count, sum x)
        p = self.size
        q = p * (p + 1) // 2
        return (1 + p + q) * 2 + 1 + p


def survival_expressions(columns: Sequence[str], event: str, time: str, *, followup: str = "followup_months"
                         ) -> tuple[Column, Column, Column]:
    """(duration, event 0/1, imputed 0/1) as Spark columns, as :func:`jobs.readout.adjusted.survival_columns`:
    the event month for a dated event, else the follow-up, floored at 0; a `_4m` outcome without its months-to
    column takes the 1-month one, an event whose first job started before month 4 getting month 4 (imputed)."""
    happened = F.col(event).cast("double") == 1
    if time in columns:
        times = F.col(time).cast("double")
        imputed = F.lit(0)
    else:
        base = time.removesuffix("_4m") if time.endswith("_4m") else None
        if base is None or base not in columns:
            raise KeyError(f"no column {time} and no way to derive it")
        first = F.col(base).cast("double")
        early = F.coalesce(happened, F.lit(False)) & ~F.coalesce(first >= ROBUSTNESS_MONTHS, F.lit(False))
        times = F.when(early, F.lit(float(ROBUSTNESS_MONTHS))).otherwise(first)
        imputed = early.cast("int")
    dated = F.coalesce(happened, F.lit(False)) & times.isNotNull()
    duration = F.greatest(F.when(dated, times).otherwise(F.col(followup).cast("double")), F.lit(0.0))
    return duration, dated.cast("int"), imputed


def cox_adjusted_fits(frame: DataFrame, models: Sequence[CoxModel], panels: Mapping[str, Column | None], *,
                      numeric: Sequence[str] = COX_CONTROLS_NUMERIC,
                      categorical: Sequence[str] = CONTROLS_CATEGORICAL, followup: str = "followup_months",
                      treatment: str = TREATMENT, strata: str | None = "batch") -> dict[CoxModel, dict | Exception]:
    """{model: :func:`jobs.readout.adjusted.cox_adjusted` of its panel's rows, or the error that stopped it} for
    every model at once; `panels` maps a panel's name to the condition selecting its rows (None: every row)."""
    names = set(frame.columns)
    numeric = [name for name in numeric if name in names]
    categorical = [name for name in categorical if name in names]
    results: dict[CoxModel, dict | Exception] = {}
    survival: dict[CoxModel, tuple[Column, Column, Column]] = {}
    for model in models:
        try:
            survival[model] = survival_expressions(frame.columns, model.event, model.time, followup=followup)
        except KeyError as error:
            results[model] = error
    if not survival:
        return results
    panel_names = list(dict.fromkeys(model.panel for model in survival))
    stratum = F.coalesce(F.col(strata).cast("string"), F.lit(NULL_STRATUM)) if strata else F.lit("")
    known = frame.where(F.col(treatment).isNotNull() & F.col(followup).isNotNull())
    flags = {panel: (F.coalesce(panels[panel], F.lit(False)) if panels.get(panel) is not None else F.lit(True))
             for panel in panel_names}
    by_panel = known.select("*", F.explode(F.array(*[F.when(flag, F.lit(panel)) for panel, flag in flags.items()]))
                            .alias(OUTCOME)).where(F.col(OUTCOME).isNotNull())
    cells = outcome_moments(by_panel, numeric, by=[OUTCOME], extremes=numeric, treatment=treatment)
    levels = level_counts(by_panel, categorical, by=[OUTCOME], treatment=treatment)
    counts = _survival_counts(by_panel, survival, stratum, treatment)

    fits: list[_Fit] = []
    panel_design: dict[str, tuple[tuple[DesignColumn, ...], list[str]]] = {}
    for panel in panel_names:
        mine = _of_panel(cells, panel)
        ranges = {name: (mine[f"min:{name}"].min(), mine[f"max:{name}"].max()) for name in numeric}
        columns, column_names = covariate_columns(mine, ranges, _of_panel(levels, panel), numeric, categorical)
        panel_design[panel] = ((DesignColumn("value", treatment), *columns), ["treatment", *column_names])
    for index, model in enumerate(survival):
        columns, column_names = panel_design[model.panel]
        mine = counts.loc[counts["_model"] == index]
        if mine.empty:
            results[model] = ValueError("no rows with the assignment and the follow-up known")
            continue
        fits.append(_Fit(model, index, panel_names.index(model.panel), columns, column_names,
                         list(range(len(columns))), sorted(mine["_stratum"].unique()),
                         np.sort(mine["_duration"].unique()), np.zeros(len(columns))))

    needed = design_inputs([column for columns, _ in panel_design.values() for column in columns],
                           treatment, followup)
    needed += [stratum.alias("_stratum")]
    needed += [flag.cast("double").alias(f"_p{j}") for j, flag in enumerate(flags.values())]
    for fit in fits:
        duration, event, _ = survival[fit.model]
        needed += [duration.alias(f"_t{fit.index}"), event.cast("double").alias(f"_e{fit.index}")]
    # One output row per task: as many tasks as cores, not as files, so the driver adds up a few arrays.
    rows = known.coalesce(max(1, frame.sparkSession.sparkContext.defaultParallelism))

    first = True
    while active := [fit for fit in fits if not fit.done]:
        sums = partition_sums(rows, needed, lambda batch: _cell_sums(batch, active),
                              sum(fit.cells * fit.width() for fit in active))
        start = 0
        for fit in active:
            part = sums[start:start + fit.cells * fit.width()].reshape(len(fit.strata), len(fit.durations), -1)
            start += fit.cells * fit.width()
            if first:
                error = _drop_dependent(fit, part)
                if error is not None:
                    results[fit.model] = error
                    fit.done = True
                    continue
                part = _restricted(part, len(fit.columns), fit.keep)
            _newton_update(fit, part)
            if fit.done and fit.accepted is None:
                results[fit.model] = ValueError("; ".join(fit.warnings))
        fits = [fit for fit in fits if fit.model not in results]
        first = False

    if fits:
        _pp_effects(rows, needed, fits, counts, results, treatment=treatment, followup=followup)
    return results


def _of_panel(cells: pd.DataFrame, panel: str) -> pd.DataFrame:
    """The cells (or level counts) aggregated under one panel's key, without the key: a row counts once in each
    panel it belongs to, so a panel's cells are exactly its rows (unlike moments.rows_of's known-outcome keys)."""
    return cells.loc[cells[OUTCOME] == panel].drop(columns=OUTCOME).reset_index(drop=True)


def _survival_counts(by_panel: DataFrame, survival: Mapping[CoxModel, tuple[Column, Column, Column]],
                     stratum: Column, treatment: str) -> pd.DataFrame:
    """Learners per model, stratum, arm, duration, event flag and imputed flag, in one aggregation."""
    per_model = [F.when(F.col(OUTCOME) == model.panel, F.struct(
        F.lit(index).alias("_model"), duration.alias("_duration"), event.alias("_event"), imputed.alias("_imputed")))
        for index, (model, (duration, event, imputed)) in enumerate(survival.items())]
    arm = F.when(F.col(treatment) == 1, F.lit(1)).otherwise(F.lit(0))
    exploded = (by_panel.select(stratum.alias("_stratum"), arm.alias(ARM), F.explode(F.array(*per_model)).alias("_r"))
                .where(F.col("_r").isNotNull()))
    return (exploded.groupBy(F.col("_r._model").alias("_model"), "_stratum", ARM,
                             F.col("_r._duration").alias("_duration"), F.col("_r._event").alias("_event"),
                             F.col("_r._imputed").alias("_imputed"))
            .agg(F.count(F.lit(1)).alias(COUNT)).toPandas())


def _model_rows(batch: pd.DataFrame, fit: _Fit) -> tuple[pd.DataFrame, np.ndarray]:
    """The batch's rows of the model's panel and their design (the kept columns)."""
    rows = batch.loc[batch[f"_p{fit.panel}"].to_numpy() == 1]
    return rows, design_matrix(rows, fit.columns)[:, 1:][:, fit.keep]


def _cell_index(rows: pd.DataFrame, fit: _Fit) -> np.ndarray:
    strata = pd.Categorical(rows["_stratum"], categories=fit.strata).codes.astype("int64")
    return strata * len(fit.durations) + np.searchsorted(fit.durations, rows[f"_t{fit.index}"].to_numpy())


def _weighted_sums(x: np.ndarray, e: np.ndarray, cell: np.ndarray, cells: int) -> np.ndarray:
    """Per cell: sum e, sum x e, and the upper triangle of sum x x' e."""
    p = x.shape[1]
    upper = np.triu_indices(p)
    out = np.zeros((cells, 1 + p + len(upper[0])))
    order = np.argsort(cell, kind="stable")
    cell, x, e = cell[order], x[order], e[order]
    bounds = np.flatnonzero(np.diff(cell)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(cell)]])
    for lo, hi in zip(starts, ends):
        if hi <= lo:
            continue
        xs, es = x[lo:hi], e[lo:hi]
        weighted = xs * es[:, None]
        out[cell[lo], 0] = es.sum()
        out[cell[lo], 1:1 + p] = weighted.sum(axis=0)
        out[cell[lo], 1 + p:] = (xs.T @ weighted)[upper]
    return out


def _cell_sums(batch: pd.DataFrame, fits: Sequence[_Fit]) -> np.ndarray:
    parts = []
    designs: dict[int, tuple[pd.DataFrame, np.ndarray]] = {}  # the models of a panel share its rows and design
    for fit in fits:
        if fit.panel not in designs:
            rows = batch.loc[batch[f"_p{fit.panel}"].to_numpy() == 1]
            designs[fit.panel] = rows, design_matrix(rows, fit.columns)[:, 1:]
        rows, x = designs[fit.panel]
        x = x[:, fit.keep]
        p = fit.size
        q = p * (p + 1) // 2
        cells = np.zeros((fit.cells, fit.width()))
        if len(rows):
            cell = _cell_index(rows, fit)
            e = np.exp(x @ fit.beta)
            cells[:, :1 + p + q] = _weighted_sums(x, e, cell, fit.cells)
            event = rows[f"_e{fit.index}"].to_numpy() == 1
            cells[:, 1 + p + q:2 * (1 + p + q)] = _weighted_sums(x[event], e[event], cell[event], fit.cells)
            cells[:, 2 * (1 + p + q)] = np.bincount(cell[event], minlength=fit.cells)
            for j in range(p):
                cells[:, 2 * (1 + p + q) + 1 + j] = np.bincount(cell[event], weights=x[event, j], minlength=fit.cells)
        parts.append(cells.ravel())
    return np.concatenate(parts) if parts else np.zeros(0)


def _unpack(part: np.ndarray, p: int) -> dict[str, np.ndarray]:
    """The (strata, durations, width) sums as named arrays with full p x p matrices."""
    q = p * (p + 1) // 2
    upper = np.triu_indices(p)

    def square(block: np.ndarray) -> np.ndarray:
        full = np.zeros((*block.shape[:-1], p, p))
        full[..., upper[0], upper[1]] = block
        full[..., upper[1], upper[0]] = block
        return full

    w = 1 + p + q
    return {"s0": part[..., 0], "s1": part[..., 1:1 + p], "s2": square(part[..., 1 + p:w]),
            "t0": part[..., w], "t1": part[..., w + 1:w + 1 + p], "t2": square(part[..., w + 1 + p:2 * w]),
            "d": part[..., 2 * w], "x1": part[..., 2 * w + 1:]}


def _restricted(part: np.ndarray, p: int, keep: list[int]) -> np.ndarray:
    """The sums of the full design's pass restricted to the kept columns (at beta = 0, e = 1 whatever the columns)."""
    if len(keep) == p:
        return part
    sums = _unpack(part, p)
    k = np.ix_(keep, keep)
    upper = np.triu_indices(len(keep))
    return np.concatenate([sums["s0"][..., None], sums["s1"][..., keep], sums["s2"][..., k[0], k[1]][..., upper[0], upper[1]],
                           sums["t0"][..., None], sums["t1"][..., keep], sums["t2"][..., k[0], k[1]][..., upper[0], upper[1]],
                           sums["d"][..., None], sums["x1"][..., keep]], axis=-1)


def _drop_dependent(fit: _Fit, part: np.ndarray) -> ValueError | None:
    """Keep the columns independent of the earlier ones on the uncentred Gram matrix anchored with an intercept
    (the reference's check), from the first pass's sums at beta = 0 (sum x, sum x x' over every row)."""
    sums = _unpack(part, len(fit.columns))
    n = sums["s0"].sum()
    total = sums["s1"].sum(axis=(0, 1))
    centred = sums["s2"].sum(axis=(0, 1))
    centre = np.array([column.centre for column in fit.columns])
    uncentred_total = total + n * centre
    gram = np.empty((len(centre) + 1, len(centre) + 1))
    gram[0, 0] = n
    gram[0, 1:] = gram[1:, 0] = uncentred_total
    gram[1:, 1:] = centred + np.outer(total, centre) + np.outer(centre, total) + n * np.outer(centre, centre)
    keep = [j - 1 for j in independent_columns(gram) if j > 0]
    if 0 not in keep:
        return ValueError("the assignment is collinear with the controls")
    # An indicator that no event has lowers every risk set's likelihood as its coefficient grows: the maximum is at
    # -infinity, so the fit starts it where its rows no longer count rather than walking there a unit a step.
    with_event = sums["x1"].sum(axis=(0, 1)) + centre * sums["d"].sum()
    fit.separated = [k for k, j in enumerate(keep)
                     if fit.columns[j].kind in ("missing", "level") and round(with_event[j]) == 0]
    fit.warnings += [f"the coefficient of {fit.names[keep[k]]} diverges: no event has it" for k in fit.separated]
    fit.keep = keep
    fit.beta = np.zeros(len(keep))
    return None


def _efron(sums: Mapping[str, np.ndarray], beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Efron's log partial likelihood, gradient and Hessian from the cell sums at `beta`, and the risk-set sums of e
    per (stratum, duration)."""
    def risk(values: np.ndarray) -> np.ndarray:  # duration >= t: reverse cumulative sum over the durations
        return np.flip(np.cumsum(np.flip(values, axis=1), axis=1), axis=1)

    r0, r1, r2 = risk(sums["s0"]), risk(sums["s1"]), risk(sums["s2"])
    d = np.rint(sums["d"]).astype("int64")
    tied = d > 0
    r0, r1, r2 = r0[tied], r1[tied], r2[tied]
    t0, t1, t2, x1, d_tied = sums["t0"][tied], sums["t1"][tied], sums["t2"][tied], sums["x1"][tied], d[tied]
    cell = np.repeat(np.arange(len(d_tied)), d_tied)
    l = np.arange(len(cell)) - np.repeat(np.cumsum(d_tied) - d_tied, d_tied)
    c = l / d_tied[cell]
    phi = r0[cell] - c * t0[cell]
    cells = len(d_tied)

    def by_cell(values: np.ndarray) -> np.ndarray:
        return np.bincount(cell, weights=values, minlength=cells)

    a0, a1 = by_cell(1 / phi), by_cell(c / phi)
    b0, b1, b2 = by_cell(1 / phi**2), by_cell(c / phi**2), by_cell(c**2 / phi**2)
    loglik = float(x1.sum(axis=0) @ beta - np.log(phi).sum())
    gradient = x1.sum(axis=0) - (r1 * a0[:, None] - t1 * a1[:, None]).sum(axis=0)
    hessian = -(np.einsum("c,cij->ij", a0, r2) - np.einsum("c,cij->ij", a1, t2)
                - np.einsum("c,ci,cj->ij", b0, r1, r1) + np.einsum("c,ci,cj->ij", b1, r1, t1)
                + np.einsum("c,ci,cj->ij", b1, t1, r1) - np.einsum("c,ci,cj->ij", b2, t1, t1))
    return loglik, gradient, hessian, risk(sums["s0"])


def _newton_update(fit: _Fit, part: np.ndarray) -> None:
    """Take the pass's evaluation of `fit` at fit.beta: accept it (then the next Newton step) or halve the step
    when the log-likelihood fell."""
    sums = _unpack(part, fit.size)
    with np.errstate(all="ignore"):
        loglik, gradient, hessian, risk0 = _efron(sums, fit.beta)
    # A step so long that exp(x'b) overflows gives an infinite or undefined likelihood: a worse point, not a
    # better one (a small sample with a near-separating covariate takes such steps).
    finite = bool(np.isfinite(loglik) and np.isfinite(gradient).all() and np.isfinite(hessian).all())
    if fit.accepted is not None and not (finite and loglik >= fit.loglik - 1e-13 * abs(fit.loglik)):
        fit.halvings += 1
        if np.abs(fit.step).max() < TOLERANCE:  # the likelihood's rounding floor: the previous beta is the MLE
            fit.beta, fit.done = fit.accepted, True
            return
        if fit.halvings > MAX_HALVINGS:
            fit.warnings.append(f"did not converge: no step from Newton step {fit.steps} improved the likelihood")
            fit.beta, fit.done = fit.accepted, True
            return
        fit.step = fit.step / 2
        fit.beta = fit.accepted + fit.step
        return
    if not finite:
        fit.warnings.append("the partial likelihood is not finite at the starting coefficients")
        fit.done = True
        return
    fit.halvings = 0
    previous = fit.loglik
    fit.accepted, fit.loglik, fit.gradient, fit.hessian, fit.risk0 = fit.beta, loglik, gradient, hessian, risk0
    fit.events = sums["d"]
    fit.steps += 1
    try:
        step = np.linalg.solve(-hessian, gradient)
    except np.linalg.LinAlgError:
        fit.warnings.append("the information matrix is singular")
        fit.done = True
        return
    free = np.ones(len(step), dtype=bool)
    free[fit.separated] = False  # at -30 their rows no longer count: where they go changes nothing else
    if np.abs(step[free]).max() < TOLERANCE:
        fit.done = True
        return
    # Another coefficient that runs to infinity (a separation the indicators' check does not see) moves the
    # likelihood less and less: two negligible gains in a row end the fit with the others converged.
    fit.stalled = fit.stalled + 1 if loglik - previous <= STALL_GAIN * abs(loglik) else 0
    if fit.steps >= MAX_STEPS or fit.stalled >= 2:
        moving = [fit.names[fit.keep[j]] for j in np.flatnonzero((np.abs(step) > 1e-4) & free)]
        fit.warnings.append(f"did not converge in {fit.steps} Newton steps"
                            + (f": the coefficient of {', '.join(moving)} diverges" if moving else ""))
        fit.done = True
        return
    # Newton moves a diverging coefficient by about one unit a step; after three such steps in the same direction
    # it jumps ten, so the fit reaches the likelihood's plateau in a few passes instead of dozens (step halving
    # still guards the likelihood).
    running = np.sign(step) * (np.abs(step) > 0.5)
    fit.runs = [*fit.runs[-2:], running]
    if len(fit.runs) == 3:
        jump = (fit.runs[0] == fit.runs[1]) & (fit.runs[1] == fit.runs[2]) & (running != 0)
        step = np.where(jump, step * JUMP, step)
        if jump.any():
            fit.runs = []
    if fit.steps == 1:
        step[fit.separated] = SEPARATED_START
    fit.step = step
    fit.beta = fit.accepted + step


def _pp_effects(rows: DataFrame, needed: Sequence[Column], fits: Sequence[_Fit], counts: pd.DataFrame,
                results: dict, *, treatment: str, followup: str) -> None:
    """One pass over the control learners of every fit: mean(r1 - r0), mean(r0) and mean(exp(-h e^g) h e^g) with
    h = H0(follow-up) exp(x'b - g d), H0 Breslow's baseline cumulative hazard of the learner's stratum."""
    hazards = []
    for fit in fits:
        increments = np.divide(fit.events, fit.risk0, out=np.zeros_like(fit.risk0), where=fit.events > 0)
        hazards.append(np.cumsum(increments, axis=1))  # H0 at each duration of the grid, per stratum

    def sums(batch: pd.DataFrame) -> np.ndarray:
        parts = []
        for fit, cumulative in zip(fits, hazards):
            rows_, x = _model_rows(batch, fit)
            d = rows_[treatment].to_numpy(dtype="float64")
            controls = d != 1
            g = fit.accepted[0]
            strata = pd.Categorical(rows_["_stratum"][controls], categories=fit.strata).codes
            follow = rows_[followup].to_numpy(dtype="float64")[controls]
            at = np.searchsorted(fit.durations, follow, side="right") - 1
            h0 = np.where(at >= 0, cumulative[strata, np.clip(at, 0, None)], 0.0)
            h = h0 * np.exp(x[controls] @ fit.accepted - g * d[controls])
            r0, r1 = 1 - np.exp(-h), 1 - np.exp(-h * math.exp(g))
            parts.append([r0.sum(), (r1 - r0).sum(), (np.exp(-h * math.exp(g)) * h * math.exp(g)).sum()])
        return np.concatenate(parts)

    totals = partition_sums(rows, needed, sums, 3 * len(fits)).reshape(len(fits), 3)
    for fit, (r0, difference, slope) in zip(fits, totals):
        mine = counts.loc[counts["_model"] == fit.index]
        arms = {arm: mine.loc[mine[ARM] == arm] for arm in (0, 1)}
        n = {arm: int(part[COUNT].sum()) for arm, part in arms.items()}
        happened = int(arms[0].loc[arms[0]["_event"] == 1, COUNT].sum())
        imputed = int(mine.loc[mine["_imputed"] == 1, COUNT].sum())
        nan = float("nan")
        try:
            variance = np.linalg.inv(-fit.hessian)[0, 0]
        except np.linalg.LinAlgError:
            variance = nan
        se = math.sqrt(variance) if variance > 0 else nan
        controls = n[0]
        results[fit.model] = cox_adjusted_result(
            float(fit.accepted[0]), se, difference / controls if controls else nan,
            (slope / controls) * se if controls else nan, r0 / controls if controls else nan,
            happened / controls if controls else nan, n[1], n[0], len(fit.keep) - 1, imputed,
            [fit.names[j] for j in fit.keep[1:]], list(fit.warnings))

