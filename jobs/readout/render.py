"""The readout page: the estimates turned into table sections (numbers formatted here), laid out by the template
`readout.html.j2` of credsignal/core/templates/ (rendered by credsignal.core.pages, in the design and the one
stylesheet of every credsignal page). The page is self-contained: charts are data URIs, no scripts, nothing
fetched."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from credsignal.core.contracts import labelled
from credsignal.core.pages import render
from jobs.readout.estimates import ESTIMATOR_COX_HR, ESTIMATOR_COX_PP, ESTIMATOR_LIN, TABLE3_PANEL_B, Estimates
from jobs.readout.statistics import (
    FULL,
    GATE_SMD_TOLERANCE,
    ITT_COV_TYPE,
    LATE_COV_TYPE,
    LATE_ENDOGENOUS,
    LINKEDIN,
    LOGGED_IN,
    SHARE_OUTCOME,
    hazard_ratio_of,
)
from jobs.validate import SMD_WARN, SRM_BLOCK_P

TEMPLATE = "readout.html.j2"
TITLE = "Experiment readout"
DASH = "\u2014"
HEADLINE = (  # (analysis, outcome, sample, estimator): the effects shown first
    ("table3", SHARE_OUTCOME, LINKEDIN, ESTIMATOR_LIN),
    ("table3", "new_job", LINKEDIN, ESTIMATOR_COX_PP),
    ("table3", "new_job_in_scope", LINKEDIN, ESTIMATOR_COX_PP),
    ("table3", "new_job_in_scope_4m", LINKEDIN, ESTIMATOR_COX_PP),
    ("itt_adjusted", "views_all", FULL, ESTIMATOR_LIN),
    ("itt_adjusted", "views_linkedin_by_others", FULL, ESTIMATOR_LIN),
)


def num(value, digits: int = 4, scale: float = 1.0) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return DASH if value is None else str(value)
    if not np.isfinite(number):
        return DASH
    return f"{number * scale:.{digits}f}"


def pval(value) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return DASH
    if not np.isfinite(number):
        return DASH
    return "<0.0001" if number < 1e-4 else f"{number:.4f}"


def count(value) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return DASH


def with_se(value, se, digits: int = 2, scale: float = 100.0) -> str:
    return f"{num(value, digits, scale)} ({num(se, digits, scale)})"


def interval(low, high, digits: int = 2, scale: float = 100.0) -> str:
    return f"[{num(low, digits, scale)}, {num(high, digits, scale)}]"


@dataclass
class Table:
    """One table of the page: cells are plain text (the template escapes them); `flags` marks rows to look at."""

    headers: list[str]
    rows: list[list[str]]
    flags: list[bool] = field(default_factory=list)


@dataclass
class Section:
    title: str
    intro: str = ""
    tables: list[Table] = field(default_factory=list)
    images: list[tuple[str, str]] = field(default_factory=list)  # (alt, data URI)
    folded: bool = False  # shown collapsed (<details>)


def _uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _select(estimates: pd.DataFrame, **where) -> pd.DataFrame:
    mask = np.ones(len(estimates), dtype=bool)
    for column, value in where.items():
        mask &= (estimates[column] == value).to_numpy()
    return estimates.loc[mask]


def headline_table(estimates: pd.DataFrame) -> Table:
    rows = []
    for analysis, outcome, sample, estimator in HEADLINE:
        part = _select(estimates, analysis=analysis, outcome=outcome, sample=sample, subgroup="all",
                       estimator=estimator)
        if part.empty:
            continue
        r = part.iloc[0]
        model = {ESTIMATOR_LIN: "OLS with controls (Lin)", ESTIMATOR_COX_PP: "Cox with controls"}[estimator]
        rows.append([labelled(outcome), sample, num(r["estimate"], 2, 100), interval(r["ci_low"], r["ci_high"]),
                     num(r["effect_pct"], 1), num(r["baseline"], 1, 100), pval(r["p_value"]), count(r["n"]), model])
    return Table(["outcome", "sample", "effect (pp)", "95% CI (pp)", "% of baseline", "baseline (%)", "p", "N",
                  "model"], rows)


def sections_of(result: Estimates, gate: dict[str, dict], charts: dict[str, bytes]) -> list[Section]:
    estimates = result.rows
    table_of = {FULL: "learner_outcomes_full", LINKEDIN: "learner_outcomes_linkedin"}
    sections: list[Section] = []

    # Randomization and attrition.
    srm_table = Table(["sample", "N treatment", "N control", "share treated", "p (chi2 vs 50/50)", "gate N t / c",
                       "gate p", "agrees with gate"], [])
    for r in _select(estimates, analysis="srm").to_dict("records"):
        gate_srm = (gate.get(table_of[r["sample"]]) or {}).get("srm")
        agree = DASH
        if gate_srm:
            same = (gate_srm["n_treatment"], gate_srm["n_control"]) == (r["n_treatment"], r["n_control"])
            agree = "yes" if same else "NO"
        srm_table.rows.append([r["sample"], count(r["n_treatment"]), count(r["n_control"]), num(r["estimate"]),
                               pval(r["p_value"]),
                               f"{count(gate_srm['n_treatment'])} / {count(gate_srm['n_control'])}" if gate_srm else DASH,
                               pval(gate_srm["p_value"]) if gate_srm else DASH, agree])
        srm_table.flags.append(r["p_value"] < SRM_BLOCK_P or agree == "NO")
    attrition = Table(["stage", "of stage", "treatment", "control", "share treatment (%)", "share control (%)",
                       "difference (pp)", "SE (pp)", "p"], [])
    for r in _select(estimates, analysis="attrition").to_dict("records"):
        attrition.rows.append([labelled(r["outcome"]), r["subgroup"].removeprefix("from="), count(r["n_treatment"]),
                               count(r["n_control"]), num(r["treatment_mean"], 1, 100), num(r["baseline"], 1, 100),
                               num(r["estimate"], 2, 100), num(r["se"], 2, 100), pval(r["p_value"])])
        attrition.flags.append(bool(r["p_value"] < 0.01))
    sections.append(Section(
        "Randomization and attrition",
        "Sample ratio against the planned 50/50 (the quality gate's figures beside ours), then attrition from "
        "randomization to the LinkedIn sample by arm: each stage's share of the previous one, and the difference "
        "between arms (the test of differential attrition; rows with p < 0.01 are shaded).",
        [srm_table, attrition]))

    # Table 3.
    panels = []
    for subgroup, title in (("all", "Panel A: LinkedIn sample"), (TABLE3_PANEL_B, "Panel B: prior job not in scope")):
        part = _select(estimates, analysis="table3", subgroup=subgroup)
        if part.empty:
            continue
        table = Table([title, "ATE (pp)", "SE (pp)", "ATE (%)", "SE (%)", "baseline (%)", "hazard ratio",
                       "95% CI (HR)", "p", "N", "model"], [])
        for outcome in dict.fromkeys(part["outcome"]):
            rows = part.loc[part["outcome"] == outcome].set_index("estimator")
            if ESTIMATOR_LIN in rows.index:
                r = rows.loc[ESTIMATOR_LIN]
                table.rows.append([labelled(outcome), num(r["estimate"], 3, 100), num(r["se"], 3, 100), num(r["effect_pct"], 1),
                                   num(r["effect_pct_se"], 1), num(r["baseline"], 1, 100), DASH, DASH,
                                   pval(r["p_value"]), count(r["n"]), "OLS, controls"])
            elif ESTIMATOR_COX_PP in rows.index:
                r, hr = rows.loc[ESTIMATOR_COX_PP], rows.loc[ESTIMATOR_COX_HR]
                table.rows.append([labelled(outcome), num(r["estimate"], 3, 100), num(r["se"], 3, 100), num(r["effect_pct"], 1),
                                   num(r["effect_pct_se"], 1), num(r["baseline"], 1, 100),
                                   num(hazard_ratio_of(hr["estimate"]), 3),
                                   f"[{num(hazard_ratio_of(hr['ci_low']), 3)}, {num(hazard_ratio_of(hr['ci_high']), 3)}]",
                                   pval(hr["p_value"]), count(r["n"]), "Cox, controls"])
        panels.append(table)
    if panels:
        sections.append(Section(
            "Intent-to-treat effects with controls (Table 3)",
            "Credential shared: OLS with the controls (Lin's interacted regression, HC2). Employment: Cox models "
            "with the controls and a baseline hazard per batch; the effect in percentage points is the change in "
            "the predicted chance of the event by each control learner's follow-up when treated, averaged over the "
            "control group (delta-method SE); baseline = the predicted control chance. Controls: education, gender, "
            "domain, credential type, developing country, professional experience, past tech and managerial jobs.",
            panels))

    # Adjusted vs unadjusted ITT, and Table 6.
    adjusted = Table(["outcome", "sample", "unadjusted (pp)", "SE", "adjusted (pp)", "SE", "95% CI adjusted (pp)",
                      "variance reduction", "p", "N"], [])
    for r in _select(estimates, analysis="itt_adjusted", subgroup="all").to_dict("records"):
        plain = _select(estimates, analysis="itt", outcome=r["outcome"], sample=r["sample"], subgroup="all")
        u = plain.iloc[0] if not plain.empty else {"estimate": None, "se": None}
        adjusted.rows.append([labelled(r["outcome"]), r["sample"], num(u["estimate"], 3, 100), num(u["se"], 3, 100),
                              num(r["estimate"], 3, 100), num(r["se"], 3, 100), interval(r["ci_low"], r["ci_high"]),
                              f"{num(r['variance_reduction'], 1, 100)}%", pval(r["p_value"]), count(r["n"])])
    table6 = Table(["", "ATE (pp)", "ATE (% of baseline)", "baseline (%)", "N"], [])
    for r in _select(estimates, analysis="itt_adjusted", sample=FULL, subgroup="all").to_dict("records"):
        table6.rows.append([labelled(r["outcome"]), with_se(r["estimate"], r["se"], 3), with_se(r["effect_pct"], r["effect_pct_se"], 2, 1),
                            with_se(r["baseline"], r["baseline_se"], 2), count(r["n"])])
    sections.append(Section(
        "Covariate-adjusted ITT for every binary outcome (Lin 2013), and Table 6",
        f"Unadjusted: difference in means, {ITT_COV_TYPE}. Adjusted: OLS of the outcome on the assignment, the "
        "centred pre-treatment covariates and their interactions with the assignment, with randomization-stratum "
        "and batch fixed effects, HC2. Variance reduction = 1 - SE_adjusted^2 / SE_unadjusted^2. Table 6 below: "
        "the view outcomes in the full sample with covariates (SE in parentheses).",
        [adjusted, table6]))

    if "figure2" in charts:
        sections.append(Section(
            "New jobs by month since randomization (Figure 2)",
            "Share of the learners observed through month m who report a new job starting by m, with 95% bands. "
            "The pooled panel stops at the last month every batch reaches.",
            images=[("Figure 2", _uri(charts["figure2"]))]))

    # Heterogeneity.
    part = _select(estimates, analysis="heterogeneity")
    if not part.empty:
        table = Table(["outcome", "sample", "subgroup", "ATE (pp)", "SE (pp)", "95% CI (pp)", "p", "p (BH)", "N"], [])
        for r in part.to_dict("records"):
            table.rows.append([labelled(r["outcome"]), r["sample"], r["subgroup"], num(r["estimate"], 2, 100),
                               num(r["se"], 2, 100), interval(r["ci_low"], r["ci_high"]), pval(r["p_value"]),
                               pval(r["p_adjusted"]), count(r["n"])])
            table.flags.append(bool(r["p_adjusted"] < 0.05))
        images = [(f"forest plot, {s} sample", _uri(charts[f"forest_{s}"])) for s in (LINKEDIN, FULL)
                  if f"forest_{s}" in charts]
        sections.append(Section(
            "Effects by subgroup",
            f"Difference in means ({ITT_COV_TYPE}) within each subgroup, for every outcome. p (BH): "
            f"Benjamini-Hochberg adjusted over the whole family of {len(part)} subgroup tests; shaded where it is "
            "below 0.05.", images=images))
        sections.append(Section("Effects by subgroup: the numbers", tables=[table], folded=True))

    # Table 14.
    part = _select(estimates, analysis="views_vs_new_job")
    if not part.empty:
        table = Table(["view outcome", "coefficient on new_job", "SE", "intercept", "R²", "N"], [])
        for r in part.to_dict("records"):
            table.rows.append([labelled(r["outcome"]), num(r["estimate"], 3), num(r["se"], 3), num(r["baseline"], 3),
                               num(result.table14_r2.get(r["outcome"]), 3), count(r["n"])])
        sections.append(Section(
            "Views and new jobs (Table 14)",
            "Linear probability model of each view flag on new_job with a constant, LinkedIn sample, HC2 SE. A "
            "correlation, not an effect.", [table]))

    # Table 2.
    summary = result.summary
    if summary is not None and not summary.empty:
        table = Table(["variable", "full: mean", "SE", "LinkedIn: mean", "SE", "difference", "SE", "p"], [])
        for r in summary.to_dict("records"):
            table.rows.append([r["variable"], num(r["full_mean"], 3), num(r["full_se"], 4), num(r["linkedin_mean"], 3),
                               num(r["linkedin_se"], 4), num(r["difference"], 3), num(r["difference_se"], 4),
                               pval(r["p_value"])])
        sections.append(Section(
            "Who is in the LinkedIn sample (Table 2)",
            "Means with their SE in the full sample and the LinkedIn sample; difference = LinkedIn - full, its SE "
            "accounting for the LinkedIn sample being part of the full one.", [table], folded=True))

    # Balance (Table 12).
    for sample in (FULL, LINKEDIN):
        table_rows = result.balances.get(sample)
        if table_rows is None or table_rows.empty:
            continue
        smd_gate = (gate.get(table_of[sample]) or {}).get("smd", {})
        table = Table(["covariate", "treatment mean", "control mean", "difference", "SE", "N treatment", "N control",
                       "p", "SMD", "gate SMD"], [])
        for r in table_rows.to_dict("records"):
            theirs = smd_gate.get(r["covariate"])
            differs = theirs is not None and np.isfinite(theirs) and np.isfinite(r["smd"]) and abs(
                theirs - r["smd"]) > GATE_SMD_TOLERANCE
            table.rows.append([r["covariate"], num(r["treatment_mean"]), num(r["control_mean"]), num(r["difference"]),
                               num(r["se"]), count(r["n_treatment"]), count(r["n_control"]), pval(r["p_value"]),
                               num(r["smd"]), (num(theirs) + (" DIFFERS" if differs else "")) if theirs is not None
                               else DASH])
            table.flags.append(differs or (np.isfinite(r["smd"]) and abs(r["smd"]) >= SMD_WARN))
        sections.append(Section(f"Covariate balance, {sample} sample (Table 12)",
                                f"Shaded: |SMD| >= {SMD_WARN} or a disagreement with the quality gate.", [table],
                                folded=not any(table.flags)))

    # Table 13, LATE, employability, unadjusted Cox.
    tables = []
    for title, prefix in (("LinkedIn sample, by batch", "batch="), (f"{LOGGED_IN} = 1", f"{LOGGED_IN}=1")):
        part = _select(estimates, analysis="itt", outcome=SHARE_OUTCOME)
        part = part.loc[part["subgroup"].str.startswith(prefix)]
        if part.empty:
            continue
        tables.append(Table([title, "mean control (%)", "mean treatment (%)", "ATE (pp)", "ATE (%)", "N"], [
            [r["subgroup"], with_se(r["baseline"], r["baseline_se"], 3), with_se(r["treatment_mean"], r["treatment_mean_se"], 3),
             with_se(r["estimate"], r["se"], 3), with_se(r["effect_pct"], r["effect_pct_se"], 3, 1), count(r["n"])]
            for r in part.to_dict("records")]))
    if tables:
        sections.append(Section("Credential shared by batch (Table 13)", "Difference in means, HC2.", tables,
                                folded=True))
    part = _select(estimates, analysis="late")
    if not part.empty:
        sections.append(Section(
            "LATE of credential sharing (2SLS, assignment as instrument)",
            f"Wald estimator = ITT on the outcome / ITT on {LATE_ENDOGENOUS}; {LATE_COV_TYPE} IV sandwich SE.",
            [Table(["outcome", "LATE (pp)", "SE (pp)", "95% CI (pp)", "p", "baseline (%)", "N"], [
                [labelled(r["outcome"]), num(r["estimate"], 3, 100), num(r["se"], 3, 100), interval(r["ci_low"], r["ci_high"]),
                 pval(r["p_value"]), num(r["baseline"], 2, 100), count(r["n"])] for r in part.to_dict("records")])],
            folded=True))
    part = _select(estimates, analysis="itt")
    part = part.loc[part["subgroup"].str.startswith("employability=")]
    cox = _select(estimates, analysis="cox")
    if not part.empty or not cox.empty:
        tables = []
        if not part.empty:
            tables.append(Table(["outcome", "employability", "baseline (%)", "ATE (pp)", "ATE (%)", "p", "N"], [
                [labelled(r["outcome"]), r["subgroup"].removeprefix("employability="), with_se(r["baseline"], r["baseline_se"], 1),
                 with_se(r["estimate"], r["se"], 3), with_se(r["effect_pct"], r["effect_pct_se"], 1, 1),
                 pval(r["p_value"]), count(r["n"])] for r in part.to_dict("records")]))
        if not cox.empty:
            tables.append(Table(["outcome", "subgroup", "log HR", "SE", "HR", "95% CI (HR)", "p", "N"], [
                [labelled(r["outcome"]), r["subgroup"], num(r["estimate"]), num(r["se"]), num(hazard_ratio_of(r["estimate"]), 3),
                 f"[{num(hazard_ratio_of(r['ci_low']), 3)}, {num(hazard_ratio_of(r['ci_high']), 3)}]",
                 pval(r["p_value"]), count(r["n"])] for r in cox.to_dict("records")]))
        sections.append(Section(
            "Baseline employability (Table 4 design) and Cox models without controls",
            "Terciles of the predicted chance of a new job without treatment (cross-fitted ridge LPM on the "
            "controls); Cox models on the assignment alone, baseline hazard per batch.", tables, folded=True))
    return sections


def render_html(snapshot_id: str, result: Estimates, gate: dict[str, dict], charts: dict[str, bytes], *,
                counts: dict[str, int], notes: Sequence[str] = ()) -> str:
    """The self-contained report page."""
    return render(
        TEMPLATE, title=TITLE, snapshot_id=snapshot_id, generated_at=f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        n_full=counts.get(FULL, 0), n_linkedin=counts.get(LINKEDIN, 0), notes=list(notes),
        headline=headline_table(result.rows), headline_image=_uri(charts["itt"]) if "itt" in charts else None,
        sections=sections_of(result, gate, charts),
    )
