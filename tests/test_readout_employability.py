"""The employability terciles and their estimates from Spark passes (jobs/readout/employability.py) against the
row-level reference (jobs/readout/statistics.py: employability_scores, terciles, itt, cox_itt) with the key-based
cross-fitting folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jobs.readout import employability as e
from jobs.readout import estimates as est
from jobs.readout import moments as m
from jobs.readout import statistics as s
from tests.test_readout import simulate
from tests.test_readout_moments import CLOSED_FORM_RTOL, assert_same_result, frame_with_gaps


@pytest.mark.parametrize("count", [*range(2, 120), 3001, 3002, 3003, 35_659, 880_001, 1_000_000])
def test_qcut_rank_cuts_are_those_of_pandas(count):
    ranks = np.arange(1, count + 1)
    expected = pd.qcut(pd.Series(ranks, dtype="float64"), 3, labels=False).to_numpy()
    low, medium = e.qcut_rank_cuts(count)
    assert np.array_equal(np.where(ranks <= low, 0, np.where(ranks <= medium, 1, 2)), expected)


def test_fold_column_is_the_reference_fold_of_the_key(spark):
    keys = [f"L{i:07d}" for i in range(300)] + ["", "é-ü", "0" * 64]
    folds = spark.createDataFrame(pd.DataFrame({"learner_key": keys})).select(
        "learner_key", e.fold_column(folds=5).alias("fold")).toPandas()
    assert folds["fold"].tolist() == [s.fold_of_key(key, 5) for key in folds["learner_key"]]
    assert set(folds["fold"]) == set(range(5))


def employability_frame(case: str) -> pd.DataFrame:
    """The LinkedIn sample of the tests' simulation, shaped for one edge case."""
    if case == "missing_outcomes":
        return frame_with_gaps(2500, seed=11)  # new_job, treatment unknown for some; experience for 10%
    frame = simulate(5000, seed=12, linkedin_share=0.5)[1]
    if case == "ties":  # categories only: hundreds of learners share each score
        frame = frame.drop(columns=["main_skill_score", "main_skill_standardized", "professional_experience_years"])
    elif case == "fold_without_controls":  # the controls of fold 0 assigned: its model is fitted on every control
        fold = np.array([s.fold_of_key(key, 5) for key in frame["learner_key"]])
        frame.loc[(fold == 0) & (frame["treatment"] == 0), "treatment"] = 1
    elif case == "constant_columns":  # a constant 0.1 and a category with one level: dropped, not blown up
        frame["main_skill_standardized"] = 0.1
        frame["gender"] = "female"
    return frame


def reference_terciles(frame: pd.DataFrame) -> pd.Series:
    scores = s.employability_scores(frame)
    return pd.Series(s.terciles(scores, keys=frame["learner_key"]).to_numpy(), index=frame["learner_key"])


def spark_terciles(spark, frame: pd.DataFrame) -> tuple[pd.Series, object, object]:
    sdf = spark.createDataFrame(frame)
    tercile = e.employability_terciles(sdf)
    labels = sdf.select("learner_key", tercile.alias("tercile")).toPandas().set_index("learner_key")["tercile"]
    return labels, sdf, tercile


CASES = ["simulated", "ties", "missing_outcomes", "fold_without_controls", "constant_columns"]


@pytest.mark.parametrize("case", CASES)
def test_covariates_are_the_reference_covariate_matrix(spark, case):
    frame = employability_frame(case)
    numeric, categorical = s.BALANCE_NUMERIC + s.BALANCE_LINKEDIN_EXTRA, s.BALANCE_CATEGORICAL
    design = e.covariates(spark.createDataFrame(frame), numeric, categorical)
    text = {c.name for c in design.columns if c.kind == "level"}
    rows = frame.astype({name: "string" for name in text})
    mine = m.design_matrix(rows, design.columns)[:, 1:] / design.sds
    np.testing.assert_allclose(mine, s.covariate_matrix(frame, numeric, categorical), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_terciles_and_their_estimates_equal_the_row_reference(spark, case):
    frame = employability_frame(case)
    expected = reference_terciles(frame)
    labels, sdf, tercile = spark_terciles(spark, frame)
    assert labels.reindex(expected.index).fillna("-").tolist() == expected.fillna("-").tolist()
    sizes = expected.value_counts()
    assert sizes.max() - sizes.min() <= 1 and sizes.sum() == expected.notna().sum()
    if case == "ties":
        assert frame.assign(score=s.employability_scores(frame))["score"].duplicated().sum() > 1000

    cells, durations = e.tercile_moments(sdf, tercile, list(s.HETEROGENEITY_OUTCOMES), cox=True)
    assert set(durations) == set(s.HETEROGENEITY_OUTCOMES)
    times = dict(s.COX_OUTCOMES)
    for name in e.TERCILES:
        part = frame.loc[(expected == name).to_numpy()]
        for outcome in s.HETEROGENEITY_OUTCOMES:
            assert_same_result(m.itt_from_cells(cells.loc[cells[e.TERCILE] == name], outcome), s.itt(part, outcome))
            mine = m.cox_itt_from_counts(e.of_tercile(durations[outcome], name))
            # The tercile x batch strata are the tercile's batch strata. Lifelines at its default precision stops
            # its Newton steps early: on a tercile of ~800 learners that is ~1e-4 on the log hazard ratio.
            by_rows = m.cox_itt_from_counts(m.event_duration_counts(
                spark.createDataFrame(part), [(outcome, times[outcome])])[outcome])
            assert_same_result(mine, by_rows, rel=CLOSED_FORM_RTOL)
            lifelines = s.cox_itt(part, outcome, times[outcome])
            assert (mine["estimate"], mine["se"]) == pytest.approx((lifelines["estimate"], lifelines["se"]), abs=2e-4)


def test_terciles_do_not_depend_on_the_row_order(spark):
    frame = employability_frame("ties")
    expected = reference_terciles(frame)
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    assert reference_terciles(shuffled).reindex(expected.index).tolist() == expected.tolist()
    labels, *_ = spark_terciles(spark, shuffled)
    assert labels.reindex(expected.index).tolist() == expected.tolist()
    sdf = spark.createDataFrame(shuffled).repartition(7)
    again = sdf.select("learner_key", e.employability_terciles(sdf).alias("t")).toPandas()
    assert again.set_index("learner_key")["t"].reindex(expected.index).tolist() == expected.tolist()


def test_cross_fitted_controls_never_see_their_own_outcome(spark):
    frame = employability_frame("simulated")
    control = int(np.flatnonzero(frame["treatment"].to_numpy() == 0)[0])
    sdf = spark.createDataFrame(frame)
    design = e.covariates(sdf, s.BALANCE_NUMERIC + s.BALANCE_LINKEDIN_EXTRA, s.BALANCE_CATEGORICAL)
    models = e.fold_models(sdf, design)
    changed = frame.copy()
    changed.loc[control, "new_job"] = 1 - changed.loc[control, "new_job"]
    remodelled = e.fold_models(spark.createDataFrame(changed), design)
    own = s.fold_of_key(frame.loc[control, "learner_key"], 5)
    # Its fold's model is the total minus its fold, both of which changed: equal up to the subtraction's rounding.
    np.testing.assert_allclose(remodelled[own], models[own], rtol=1e-10, atol=1e-14)
    assert all(not np.allclose(remodelled[f], models[f], rtol=1e-6, atol=0) for f in range(5) if f != own)


def test_a_frame_without_learner_key_is_refused(spark):
    frame = employability_frame("simulated").drop(columns=["learner_key"])
    with pytest.raises(KeyError, match="learner_key"):
        s.employability_scores(frame)
    with pytest.raises(KeyError, match="learner_key"):
        e.employability_terciles(spark.createDataFrame(frame))


@pytest.mark.parametrize(("size", "key", "cox", "expected"), [
    (299, True, False, 0), (300, True, True, 12), (300, True, False, 6), (300, False, False, 0)])
def test_readout_reports_terciles_from_300_learners_with_keys(spark, size, key, cox, expected):
    full, linkedin = simulate(4000, seed=21, linkedin_share=0.1)
    linkedin = linkedin.iloc[:size]
    if not key:
        full, linkedin = full.drop(columns=["learner_key"]), linkedin.drop(columns=["learner_key"])
    result = est.estimate_all(spark.createDataFrame(full), spark.createDataFrame(linkedin), cox=cox)
    rows = result.rows.loc[result.rows["subgroup"].str.startswith("employability=")]
    assert len(rows) == expected
    assert any("no learner_key" in note for note in result.notes) == (size >= 300 and not key)
    if expected:
        groups = reference_terciles(linkedin)
        for name in e.TERCILES:
            row = rows.loc[(rows["subgroup"] == f"employability={name}") & (rows["analysis"] == "itt")
                           & (rows["outcome"] == "new_job")].iloc[0]
            assert_same_result({k: row[k] for k in ("estimate", "se", "n_treatment", "n_control")},
                               {k: v for k, v in s.itt(linkedin.loc[(groups == name).to_numpy()], "new_job").items()
                                if k in ("estimate", "se", "n_treatment", "n_control")})
