"""The heterogeneity by baseline employability (Table 4 design) from Spark passes over the LinkedIn sample: the
reference :func:`jobs.readout.statistics.employability_scores` + :func:`jobs.readout.statistics.terciles`, then per
tercile the ITTs and the unadjusted Cox models, with the driver holding k x k matrices and a few counts whatever
the number of learners.

1. the covariates' moments and level counts (two aggregations): the standardized columns of
   :func:`jobs.readout.statistics.covariate_matrix` as :class:`moments.DesignColumn` plus each one's sd;
2. the ridge LPM of every cross-fitting fold from one pass of per-fold Gram matrices over the controls (a fold's
   model is fitted on the total minus the fold), solved on the driver;
3. the scores as a column expression, and the terciles as two pivots (score, learner_key): a range-partitioned
   sort, its per-partition counts and, within the one partition that holds each cut, the cut's row;
4. per tercile the ITTs (one :func:`moments.outcome_moments` by tercile) and the Cox models (one
   :func:`moments.event_duration_counts`, stratified by tercile x batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.readout import moments
from jobs.readout.statistics import (
    BALANCE_CATEGORICAL,
    BALANCE_LINKEDIN_EXTRA,
    BALANCE_NUMERIC,
    COX_OUTCOMES,
    EMPLOYABILITY_KEY,
    FOLD_HASH_DIGITS,
    TREATMENT,
)

TERCILES = ("low", "medium", "high")
SCORE = "_score"
TERCILE = "_tercile"
_FOLD = "_fold"
_PART = "_part"
_ALL = "_all"  # a constant "arm" so moments' aggregations count every row, as covariate_matrix does


def fold_column(key: str = EMPLOYABILITY_KEY, folds: int = 5) -> Column:
    """:func:`jobs.readout.statistics.fold_of_key` in Spark SQL: sha256 of the key as text, its first hex digits
    as a number, modulo `folds`."""
    digits = F.substring(F.sha2(F.col(key).cast("string"), 256), 1, FOLD_HASH_DIGITS)
    return (F.conv(digits, 16, 10).cast("long") % F.lit(folds)).cast("int")


@dataclass(frozen=True)
class Covariates:
    """The columns of :func:`jobs.readout.statistics.covariate_matrix`: each centred on its mean (`columns`) and
    divided by its population sd (`sds`)."""

    columns: tuple[moments.DesignColumn, ...]
    sds: np.ndarray


def covariates(frame: DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> Covariates:
    """:func:`jobs.readout.statistics.covariate_matrix` from two aggregations over every row of `frame`: per numeric
    column its count, sum, sum of squares and range; per categorical column its level counts. In the reference's
    order: a numeric column's missing indicator then its imputed values, then every level of each categorical
    column (sorted) and its missing indicator; a constant column dropped."""
    numeric = [name for name in numeric if name in frame.columns]
    categorical = [name for name in categorical if name in frame.columns]
    everyone = frame.withColumn(_ALL, F.lit(1))
    cells = moments.outcome_moments(everyone, numeric, extremes=numeric, treatment=_ALL)
    levels = moments.level_counts(everyone, categorical, treatment=_ALL)
    rows = float(cells[moments.COUNT].sum())
    found: list[tuple[moments.DesignColumn, float]] = []

    def indicator(column: moments.DesignColumn, count: float) -> None:
        if 0 < count < rows:
            share = count / rows
            found.append((column, float(np.sqrt(share * (1.0 - share)))))

    for name in numeric:
        n, total, squares = (float(cells[f"{prefix}:{name}"].sum()) for prefix in ("n", "s", "q"))
        if n == 0:
            continue
        mean = total / n
        indicator(moments.DesignColumn("missing", name, centre=(rows - n) / rows), rows - n)
        if cells[f"min:{name}"].min() < cells[f"max:{name}"].max():
            # The imputed values' population variance: the known ones' squared deviations over every row.
            found.append((moments.DesignColumn("value", name, mean=mean, centre=mean),
                          float(np.sqrt(max(squares - total * total / n, 0.0) / rows))))
    for name in categorical:
        part = levels.loc[levels["_column"] == name]
        known = part.loc[part["_level"].notna()].groupby("_level")[moments.COUNT].sum()
        for level in sorted(known.index):
            indicator(moments.DesignColumn("level", name, level=level, centre=float(known[level]) / rows),
                      float(known[level]))
        missing = float(part.loc[part["_level"].isna(), moments.COUNT].sum())
        indicator(moments.DesignColumn("level", name, level=None, centre=missing / rows), missing)
    return Covariates(tuple(column for column, _ in found), np.array([sd for _, sd in found], dtype="float64"))


def _known(outcome: str, treatment: str) -> Column:
    return F.col(outcome).isNotNull() & F.col(treatment).isNotNull()


def fold_models(frame: DataFrame, design: Covariates, *, outcome: str = "new_job", treatment: str = TREATMENT,
                key: str = EMPLOYABILITY_KEY, folds: int = 5, penalty: float = 1.0) -> list[np.ndarray | None]:
    """The ridge LPM of :func:`jobs.readout.statistics.employability_scores` fitted without each fold (None when
    the other folds hold no control): coefficients on the standardized covariates, intercept first. One pass over
    the controls sums every fold's Gram matrices of (1, x - centre); a fold's model uses the total minus its own,
    rescaled by the sds."""
    k = 1 + len(design.columns)
    controls = frame.where(_known(outcome, treatment) & (F.col(treatment).cast("double") == 0))

    def grams(batch: pd.DataFrame) -> np.ndarray:
        x = moments.design_matrix(batch, design.columns)
        y = batch[outcome].to_numpy(dtype="float64")
        fold = batch[_FOLD].to_numpy()
        sums = np.zeros((folds, k * k + k))
        for f in np.unique(fold):
            rows = fold == f
            sums[f] = np.concatenate([(x[rows].T @ x[rows]).ravel(), x[rows].T @ y[rows]])
        return sums.ravel()

    columns = [*moments.design_inputs(design.columns, outcome), fold_column(key, folds).alias(_FOLD)]
    sums = moments.partition_sums(controls, columns, grams, folds * (k * k + k)).reshape(folds, k * k + k)
    scale = np.concatenate([[1.0], 1.0 / design.sds])
    total = sums.sum(axis=0)
    models: list[np.ndarray | None] = []
    for f in range(folds):
        train = total - sums[f]
        gram = train[:k * k].reshape(k, k) * np.outer(scale, scale)
        if round(gram[0, 0]) == 0:
            models.append(None)
            continue
        gram[1:, 1:] += penalty * np.eye(k - 1)
        models.append(np.linalg.solve(gram, train[k * k:] * scale))
    return models


def _standardized(column: moments.DesignColumn, sd: float) -> Column:
    """One column of :func:`moments.design_matrix` (minus its centre) over its sd, as a Spark expression."""
    if column.kind == "value":
        value = F.coalesce(F.col(column.name).cast("double"), F.lit(column.mean))
    elif column.kind == "missing" or column.level is None:
        value = F.col(column.name).isNull().cast("double")
    else:
        value = F.coalesce(F.col(column.name).cast("string") == F.lit(column.level), F.lit(False)).cast("double")
    return (value - F.lit(column.centre)) / F.lit(sd)


def score_column(design: Covariates, models: Sequence[np.ndarray | None], *, outcome: str = "new_job",
                 treatment: str = TREATMENT, key: str = EMPLOYABILITY_KEY) -> Column:
    """The scores of :func:`jobs.readout.statistics.employability_scores`: a control's from the model fitted
    without its fold, a treated learner's the average of the fold models; null without an outcome or assignment
    (or a model)."""
    z = [_standardized(column, sd) for column, sd in zip(design.columns, design.sds)]

    def linear(beta: np.ndarray) -> Column:
        total = F.lit(float(beta[0]))
        for coefficient, value in zip(beta[1:], z):
            total = total + F.lit(float(coefficient)) * value
        return total

    fitted = [beta for beta in models if beta is not None]
    known, d = _known(outcome, treatment), F.col(treatment).cast("double")
    fold = fold_column(key, len(models))
    control = F.lit(None).cast("double")
    for f, beta in enumerate(models):
        if beta is not None:
            control = F.when(fold == f, linear(beta)).otherwise(control)
    treated = linear(np.mean(fitted, axis=0)) if fitted else F.lit(None).cast("double")
    return F.when(known & (d == 0), control).when(known, treated)


def qcut_rank_cuts(count: int, q: int = 3) -> list[int]:
    """The last rank (1-based) in each of the first q - 1 bins of `pd.qcut(ranks 1..count, q)`. pandas' edges are
    numpy's linear quantiles of the ranks, which land a hair below a whole rank (2.9999999999999996 for 7 ranks),
    so the arithmetic is numpy's own: percentiles q * 100 / 100, virtual index (n - 1) q, two-sided lerp."""
    p = np.true_divide(np.linspace(0, 1, q + 1)[1:-1] * 100.0, 100)
    virtual = (count - 1) * p
    below = np.floor(virtual)
    gamma = virtual - below
    last = virtual >= count - 1
    a = np.where(last, count, below + 1).astype("float64")  # the rank at 0-based index i is i + 1
    b = np.where(last, count, below + 2).astype("float64")
    diff = b - a
    edges = np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)
    return [int(np.floor(edge)) for edge in edges]


def tercile_column(frame: DataFrame, score: Column, *, key: str = EMPLOYABILITY_KEY,
                   partitions: int | None = None) -> Column:
    """:func:`jobs.readout.statistics.terciles` of `score` with ties ranked by `key`, as a column: the terciles
    are the rows up to two pivots in (score, key) order. A range-partitioned sort gives per-partition counts (the
    driver receives one number per partition) and the pivot's row is found within the one partition holding it."""
    if partitions is None:
        partitions = max(2, frame.sparkSession.sparkContext.defaultParallelism)
    scored = frame.select(F.col(key), score.alias(SCORE)).where(F.col(SCORE).isNotNull())
    ranged = (scored.repartitionByRange(partitions, SCORE, key)
              .withColumn(_PART, F.spark_partition_id()).persist())
    try:
        counts = sorted((row[_PART], row["count"]) for row in ranged.groupBy(_PART).count().collect())
        total = sum(count for _, count in counts)
        pivots = []
        for cut in qcut_rank_cuts(total):
            pivots.append(_row_at(ranged, counts, cut, key) if cut else None)
    finally:
        ranged.unpersist()

    def up_to(pivot) -> Column:
        if pivot is None:
            return F.lit(False)
        value, name = pivot
        return (score < F.lit(value)) | ((score == F.lit(value)) & (F.col(key) <= F.lit(name)))

    return (F.when(score.isNull(), F.lit(None).cast("string"))
            .when(up_to(pivots[0]), F.lit(TERCILES[0])).when(up_to(pivots[1]), F.lit(TERCILES[1]))
            .otherwise(F.lit(TERCILES[2])))


def _row_at(ranged: DataFrame, counts: Sequence[tuple[int, int]], rank: int, key: str) -> tuple:
    """(score, key) of the row of 1-based `rank` in (score, key) order."""
    before = 0
    for part, count in counts:
        if rank <= before + count:
            top = (ranged.where(F.col(_PART) == part).orderBy(SCORE, key).limit(rank - before)
                   .agg(F.max(F.struct(SCORE, key)).alias("_last")).first()["_last"])
            return top[SCORE], top[key]
        before += count
    raise ValueError(f"rank {rank} beyond the {before} scored rows")


def employability_terciles(frame: DataFrame, *, outcome: str = "new_job", treatment: str = TREATMENT,
                           numeric: Sequence[str] = BALANCE_NUMERIC + BALANCE_LINKEDIN_EXTRA,
                           categorical: Sequence[str] = BALANCE_CATEGORICAL, folds: int = 5, penalty: float = 1.0,
                           key: str = EMPLOYABILITY_KEY) -> Column:
    """`terciles(employability_scores(rows), keys=rows[key])` of jobs/readout/statistics.py as a column of
    `frame` ("low", "medium", "high"; null without a score), from Spark passes over its rows."""
    if key not in frame.columns:
        raise KeyError(f"the employability terciles need the learners' {key} column: the folds are a function of it")
    design = covariates(frame, numeric, categorical)
    models = fold_models(frame, design, outcome=outcome, treatment=treatment, key=key, folds=folds,
                         penalty=penalty)
    score = score_column(design, models, outcome=outcome, treatment=treatment, key=key)
    return tercile_column(frame, score, key=key)


def tercile_moments(frame: DataFrame, tercile: Column, outcomes: Sequence[str], *, cox: bool,
                    strata: str = "batch") -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """(:func:`moments.outcome_moments` of `outcomes` by TERCILE, {event: :func:`moments.duration_counts`} with
    strata tercile x `strata`) over the rows with a tercile: one aggregation each. A Cox stratum never crosses
    terciles, so the counts of one tercile (`_stratum` starting with "<tercile>|") give its stratified model."""
    labelled = frame.withColumn(TERCILE, tercile).where(F.col(TERCILE).isNotNull())
    cells = moments.outcome_moments(labelled, outcomes, by=[TERCILE])
    times = dict(COX_OUTCOMES)
    events = [(event, times[event]) for event in outcomes
              if cox and event in times and {times[event], "followup_months"} <= set(frame.columns)]
    if not events:
        return cells, {}
    within = F.coalesce(F.col(strata).cast("string"), F.lit("<NA>")) if strata in frame.columns else F.lit("")
    stratified = labelled.withColumn("_tercile_stratum", F.concat_ws("|", F.col(TERCILE), within))
    return cells, moments.event_duration_counts(stratified, events, strata="_tercile_stratum")


def of_tercile(counts: pd.DataFrame, tercile: str) -> pd.DataFrame:
    """The Cox counts of :func:`tercile_moments` of one tercile."""
    return counts.loc[counts["_stratum"].str.startswith(f"{tercile}|")]
