"""Analyst readout of a published snapshot: the 2025 paper's tables and figures from the curated Parquet.

    python -m jobs.readout --lake DIR [--snapshot ID] [--no-cox]

Modules: `moments` (what Spark aggregates, and the unadjusted estimators from it), `cox_moments` (Table 3's Cox
models with controls from Spark passes), `statistics` (the row-level unadjusted estimators: test oracles, balance,
employability), `employability` (the employability terciles and their estimates from Spark passes), `adjusted`
(Lin, Cox with controls, LPM, Table 2, subgroups with
Benjamini-Hochberg, attrition), `estimates` (every number as rows of readout_estimates), `plots` (PNG charts),
`render` (the page, laid out by credsignal/core/templates/readout.html.j2), `build` (reading a snapshot, writing the readout,
the command line). docs/readout.md gives the formulas.
"""

from jobs.readout.adjusted import (
    CONTROLS_CATEGORICAL,
    CONTROLS_NUMERIC_FULL,
    CONTROLS_NUMERIC_LINKEDIN,
    SUBGROUP_COLUMNS,
    COX_CONTROLS_NUMERIC,
    adjusted_itt,
    attrition,
    attrition_counts,
    benjamini_hochberg,
    breslow_cumulative_hazard,
    covariate_design,
    cox_adjusted,
    independent_columns,
    lin_itt,
    lpm,
    ols_robust,
    subgroups,
    subsample_difference,
    summary_statistics,
    survival_columns,
)
from jobs.readout.build import (
    ReadoutResult,
    build_readout,
    current_snapshot_id,
    gate_figures,
    main,
    readout_dir,
    snapshot_dir,
)
from jobs.readout.estimates import ESTIMATE_COLUMNS, Estimates, estimate_all
from jobs.readout.statistics import *  # noqa: F403 - the unadjusted estimators and the readout's constants
from jobs.readout.statistics import _label  # noqa: F401 - used by tests
