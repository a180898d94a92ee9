"""The readout's charts as PNG bytes (matplotlib, Agg): ITT effects, Figure 2 with 95% bands, and the forest plot
of subgroup effects. Each takes the readout's frames and nothing else."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd

from jobs.readout.statistics import LINKEDIN, TREATMENT

ARM_COLORS = {1: "tab:blue", 0: "tab:orange"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(figure)
    return buffer.getvalue()


def plot_cumulative(curves: pd.DataFrame) -> bytes:
    """Figure 2: one panel per batch plus the pooled panel (months every batch reaches); solid = treatment,
    dashed = control, shaded = 95% band."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    batches = sorted(curves["batch"].unique(), key=lambda b: (b != "all", b)) if len(curves) else []
    n = max(1, len(batches))
    cols = min(3, n)
    rows = math.ceil(n / cols)
    figure, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False, sharey=True,
                                layout="constrained")
    for ax, batch in zip(axes.flat, batches):
        for arm, style, label in ((1, "-", "treatment"), (0, "--", "control")):
            part = curves.loc[(curves["batch"] == batch) & (curves[TREATMENT] == arm)].sort_values("month")
            color = ARM_COLORS[arm]
            ax.plot(part["month"], 100 * part["share"], style, color=color, label=label,
                    linewidth=2.4 if batch == "all" else 1.5)
            if "ci_low" in part:
                ax.fill_between(part["month"], 100 * part["ci_low"].astype(float),
                                100 * part["ci_high"].astype(float), color=color, alpha=0.15, linewidth=0)
        ax.set_title("all batches (months every batch reaches)" if batch == "all" else f"batch {batch}",
                     fontsize=10, fontweight="bold" if batch == "all" else "normal")
        ax.set_xlabel("months since randomization")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    if batches:
        axes.flat[0].legend(fontsize=8, loc="upper left")
    for ax in list(axes.flat)[len(batches):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("% with a new job")
    figure.suptitle("Share of learners reporting a new job, LinkedIn sample (95% bands)")
    return _png(figure)


def plot_itt(estimates: pd.DataFrame) -> bytes:
    """ITT effects in percentage points with 95% intervals, unadjusted (open) and adjusted (filled)."""
    plt = _pyplot()
    data = estimates.loc[estimates["analysis"].isin(["itt", "itt_adjusted"]) & (estimates["subgroup"] == "all")]
    keys = list(dict.fromkeys(zip(data["outcome"], data["sample"])))
    figure, ax = plt.subplots(figsize=(7.5, 0.42 * max(3, len(keys)) + 1), layout="constrained")
    for offset, analysis, marker, label in ((-0.15, "itt", "o", "unadjusted"), (0.15, "itt_adjusted", "s",
                                                                                 "adjusted (Lin)")):
        part = data.loc[data["analysis"] == analysis].set_index(["outcome", "sample"])
        positions, effect, low, high = [], [], [], []
        for i, key in enumerate(keys):
            if key in part.index:
                row = part.loc[key]
                positions.append(i + offset)
                effect.append(100 * row["estimate"])
                low.append(100 * row["ci_low"])
                high.append(100 * row["ci_high"])
        effect = np.array(effect, dtype="float64")
        ax.errorbar(effect, positions, xerr=[effect - np.array(low, dtype="float64"),
                                             np.array(high, dtype="float64") - effect],
                    fmt=marker, mfc="white" if analysis == "itt" else None, color="tab:blue", capsize=3, label=label)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(keys)), [f"{o} ({s})" for o, s in keys])
    ax.invert_yaxis()
    ax.set_xlabel("ITT effect, percentage points (95% CI)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Intent-to-treat effects")
    return _png(figure)


def plot_forest(estimates: pd.DataFrame, sample: str) -> bytes:
    """Forest plot of the subgroup effects of one sample: one panel per outcome, one line per subgroup, 95%
    intervals; filled markers where the Benjamini-Hochberg adjusted p < 0.05, the dashed line the all-learners
    effect."""
    plt = _pyplot()
    data = estimates.loc[(estimates["analysis"] == "heterogeneity") & (estimates["sample"] == sample)]
    outcomes = list(dict.fromkeys(data["outcome"]))
    overall = estimates.loc[(estimates["analysis"] == "itt") & (estimates["subgroup"] == "all")
                            & (estimates["sample"] == sample)].set_index("outcome")["estimate"]
    groups = list(dict.fromkeys(data["subgroup"]))
    figure, axes = plt.subplots(1, max(1, len(outcomes)), figsize=(2.6 * max(1, len(outcomes)) + 1.6,
                                                                   0.28 * max(4, len(groups)) + 1.2),
                                sharey=True, squeeze=False, layout="constrained")
    for ax, outcome in zip(axes[0], outcomes):
        part = data.loc[data["outcome"] == outcome].set_index("subgroup").reindex(groups)
        effect = 100 * part["estimate"].to_numpy(dtype="float64")
        low = 100 * part["ci_low"].to_numpy(dtype="float64")
        high = 100 * part["ci_high"].to_numpy(dtype="float64")
        significant = part["p_adjusted"].to_numpy(dtype="float64") < 0.05
        positions = np.arange(len(groups))
        ax.hlines(positions, low, high, color="tab:blue", linewidth=1.2)
        ax.plot(effect[~significant], positions[~significant], "o", mfc="white", color="tab:blue", markersize=4)
        ax.plot(effect[significant], positions[significant], "o", color="tab:blue", markersize=4)
        if outcome in overall:
            ax.axvline(100 * overall[outcome], color="tab:gray", linestyle="--", linewidth=0.9)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_title(outcome, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel("pp", fontsize=8)
    axes[0][0].set_yticks(range(len(groups)), groups, fontsize=8)
    axes[0][0].invert_yaxis()
    label = "LinkedIn sample" if sample == LINKEDIN else "full sample"
    figure.suptitle(f"Effects by subgroup, {label} (filled: BH-adjusted p < 0.05; dashed: all learners)",
                    fontsize=10)
    return _png(figure)
