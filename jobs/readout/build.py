"""Analyst readout: the experiment's headline tables and figures, computed from the *published* curated Parquet.

The first look an analyst takes at every published snapshot, built automatically (issues 7 and 19): did
randomization hold (sample ratio, covariate balance, attrition by arm), how many shared, did the treated find more
jobs, with and without the paper's controls, by subgroup and by batch. The models are the 2025 paper (Hutchinson
et al., "The value of non-traditional credentials"): Table 2 (the two samples), Table 3 (ITT with controls: OLS
and Cox, in percentage points), Table 6 (views, adjusted), Table 12 (balance), Table 13 (sharing by batch),
Table 14 (views vs new job), Figure 2 with 95% bands, Lin-adjusted ITTs, subgroup effects with Benjamini-Hochberg,
the LATE of sharing and the employability terciles.

Inputs are read by Spark from one snapshot of the publish contract::

    lake/curated/_snapshots/<snapshot_id>/<table>/part-*.parquet
    lake/curated/_current -> _snapshots/<snapshot_id>          (the live snapshot)
    lake/curated/<table>  -> _current/<table>                  (what analysts open)

The snapshot id is resolved once (from the ``_current`` link's target when none is given) and every table is read
from that snapshot's folder, so a publish that swaps ``_current`` mid-build cannot mix two snapshots.

Outputs go beside the snapshot, in ``lake/curated/_snapshots/<snapshot_id>/_readout/`` (written to a temporary
folder and renamed into place)::

    readout_estimates/part-00000.parquet   one row per analysis x outcome x sample x subgroup (ESTIMATE_COLUMNS)
    readout_curves/part-00000.parquet      the Figure 2 curves (batch, arm, month, share, 95% band)
    readout.html                           self-contained: inline CSS, PNG charts as base64 data URIs
    figure2_new_job_by_month.png, itt_effects.png, forest_linkedin.png, forest_full.png

The estimators live in jobs/readout/moments.py (from Spark aggregates), jobs/readout/statistics.py and
jobs/readout/adjusted.py (checked against statsmodels / lifelines / closed forms in tests/test_readout.py and
tests/test_readout_moments.py); the page in
jobs/readout/render.py with its template and stylesheet; docs/readout.md gives the formulas.

    python -m jobs.readout --lake DIR [--snapshot ID]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from pyspark.sql import SparkSession

from credsignal.core import lake
from credsignal.core.config import Config
from credsignal.core.spark import spark_session
from credsignal.core.storage import write_json_atomically
from jobs.readout import plots
from jobs.readout.estimates import ESTIMATOR_COX_PP, ESTIMATOR_LIN, estimate_all
from jobs.readout.render import render_html
from jobs.readout.statistics import FULL, LINKEDIN
from jobs.validate import SRM_BLOCK_P

log = logging.getLogger(__name__)

# ------------------------------------------------------------------------------------------------ layout contract

READOUT_DIR = "_readout"
FULL_TABLE = "learner_outcomes_full"
LINKEDIN_TABLE = "learner_outcomes_linkedin"
QUALITY_TABLE = "data_quality_report"
ESTIMATES_TABLE = "readout_estimates"
CURVES_TABLE = "readout_curves"
HTML_FILE = "readout.html"
FIGURE2_FILE = "figure2_new_job_by_month.png"
ITT_CHART_FILE = "itt_effects.png"
FOREST_FILE = "forest_{sample}.png"
PART_FILE = "part-00000.parquet"

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

    def to_json(self) -> dict:
        """What the pipeline needs back from a spark-submit run of `main`; the tables are read again from the files."""
        return {"snapshot_id": self.snapshot_id, "output_dir": str(self.output_dir), "notes": list(self.notes),
                "n_full": self.n_full, "n_linkedin": self.n_linkedin}

    @classmethod
    def from_json(cls, payload: dict) -> "ReadoutResult":
        target = Path(payload["output_dir"])
        return cls(snapshot_id=payload["snapshot_id"], output_dir=target,
                   estimates_path=target / ESTIMATES_TABLE / PART_FILE, html_path=target / HTML_FILE,
                   estimates=pd.read_parquet(target / ESTIMATES_TABLE), curves=pd.read_parquet(target / CURVES_TABLE),
                   notes=list(payload["notes"]), n_full=payload["n_full"], n_linkedin=payload["n_linkedin"])

    def summary(self) -> str:
        lines = [f"readout of snapshot {self.snapshot_id}: {self.n_full:,} learners (full), "
                 f"{self.n_linkedin:,} (LinkedIn) -> {self.output_dir}"]
        srm = self.estimates.loc[self.estimates["analysis"] == "srm"]
        for r in srm.to_dict("records"):
            lines.append(f"  SRM {r['sample']}: {r['n_treatment']:,} treatment / {r['n_control']:,} control, "
                         f"p={r['p_value']:.3g}")
        e = self.estimates
        headline = e.loc[(e["analysis"].isin(["itt", "late"]) & (e["subgroup"] == "all"))
                         | ((e["analysis"].isin(["itt_adjusted", "table3"])) & (e["subgroup"] == "all")
                            & e["estimator"].isin([ESTIMATOR_LIN, ESTIMATOR_COX_PP]))]
        for r in headline.to_dict("records"):
            label = {"itt_adjusted": "ADJ", "table3": "T3"}.get(r["analysis"], r["analysis"].upper())
            lines.append(f"  {label:4} {r['outcome']} ({r['sample']}): {100 * r['estimate']:+.2f} pp "
                         f"(SE {100 * r['se']:.2f}), baseline {100 * r['baseline']:.1f}%")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def current_snapshot_id(lake_root: Path) -> str:
    """The live snapshot: the name of the `curated/_current` link's target (`_snapshots/<id>`)."""
    link = lake.curated_current_link(Path(lake_root))
    if not link.is_symlink():
        raise FileNotFoundError(f"no published snapshot: {link} is not a symlink")
    return Path(os.readlink(link)).name


def snapshot_dir(lake_root: Path, snapshot_id: str) -> Path:
    return lake.curated_snapshot_dir(Path(lake_root), snapshot_id)


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


def read_match_by_arm(path: Path) -> list[dict] | None:
    """The feature job's profile match counts by arm (`profile_match_by_arm` of its match report, which the
    pipeline keeps beside the snapshot); None when absent (attrition then shows URL -> matched only)."""
    if not path.is_file():
        return None
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        log.warning("cannot read %s: %s", path, error)
        return None
    return payload.get("profile_match_by_arm")


def published_snapshot(lake_root: Path, snapshot: str | None = None) -> tuple[str, Path]:
    """(id, folder) of the snapshot to read, the live one when `snapshot` is None; FileNotFoundError when it
    lacks one of the two curated tables."""
    snapshot_id = snapshot or current_snapshot_id(lake_root)
    source = snapshot_dir(lake_root, snapshot_id)
    for table in (FULL_TABLE, LINKEDIN_TABLE):
        if not (source / table).exists():
            raise FileNotFoundError(f"snapshot {snapshot_id} has no table {table} (looked in {source / table})")
    return snapshot_id, source


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


def build_readout(spark: SparkSession, lake_root: Path, *, snapshot: str | None = None,
                  cox: bool = True) -> ReadoutResult:
    """Compute the readout of one published snapshot (the live one when `snapshot` is None) in `spark` and write
    it to `curated/_snapshots/<id>/_readout/`: readout_estimates and readout_curves Parquet, readout.html, PNGs."""
    lake_root = Path(lake_root)
    snapshot_id, source = published_snapshot(lake_root, snapshot)
    full = spark.read.parquet(str(source / FULL_TABLE))
    linkedin = spark.read.parquet(str(source / LINKEDIN_TABLE))
    quality = read_quality_report(source)
    match_by_arm = read_match_by_arm(lake.snapshot_match_report(lake_root, snapshot_id))
    result = estimate_all(full, linkedin, snapshot_id=snapshot_id, cox=cox, match_by_arm=match_by_arm)
    estimates, curves, notes = result.rows, result.curves, result.notes
    srm_counts = estimates.loc[estimates["analysis"] == "srm"].set_index("sample")[["n_treatment", "n_control"]]
    rows = {sample: int(srm_counts.loc[sample].sum()) for sample in (FULL, LINKEDIN)}
    log.info("readout of snapshot %s: %d full rows, %d LinkedIn rows", snapshot_id, rows[FULL], rows[LINKEDIN])
    gate = gate_figures(quality)
    if quality is None:
        notes.append("no data_quality_report in this snapshot: the gate's SRM and balance figures are not shown")
    for sample, table in ((FULL, FULL_TABLE), (LINKEDIN, LINKEDIN_TABLE)):
        srm = (gate.get(table) or {}).get("srm")
        mine = estimates.loc[(estimates["analysis"] == "srm") & (estimates["sample"] == sample)].iloc[0]
        if srm and (srm["n_treatment"], srm["n_control"]) != (mine["n_treatment"], mine["n_control"]):
            notes.append(f"arm counts of {table} differ from the quality gate's: "
                         f"{mine['n_treatment']}/{mine['n_control']} vs {srm['n_treatment']}/{srm['n_control']}")
        if mine["p_value"] < SRM_BLOCK_P:
            notes.append(f"sample-ratio mismatch in the {sample} sample: p = {mine['p_value']:.3g}")

    charts = {"itt": plots.plot_itt(estimates)}
    if not curves.empty:
        charts["figure2"] = plots.plot_cumulative(curves)
    for sample in (LINKEDIN, FULL):
        if ((estimates["analysis"] == "heterogeneity") & (estimates["sample"] == sample)).any():
            charts[f"forest_{sample}"] = plots.plot_forest(estimates, sample)
    page = render_html(snapshot_id, result, gate, charts, counts=rows,
                       notes=notes)

    def write(folder: Path) -> None:
        for name, frame in ((ESTIMATES_TABLE, estimates), (CURVES_TABLE, curves)):
            (folder / name).mkdir()
            frame.to_parquet(folder / name / PART_FILE, index=False)
        (folder / HTML_FILE).write_text(page, encoding="utf-8")
        (folder / ITT_CHART_FILE).write_bytes(charts["itt"])
        if "figure2" in charts:
            (folder / FIGURE2_FILE).write_bytes(charts["figure2"])
        for sample in (LINKEDIN, FULL):
            if f"forest_{sample}" in charts:
                (folder / FOREST_FILE.format(sample=sample)).write_bytes(charts[f"forest_{sample}"])

    target = readout_dir(lake_root, snapshot_id)
    _write_atomically(target, write)
    return ReadoutResult(snapshot_id=snapshot_id, output_dir=target,
                         estimates_path=target / ESTIMATES_TABLE / PART_FILE, html_path=target / HTML_FILE,
                         estimates=estimates, curves=curves, notes=notes, n_full=rows[FULL], n_linkedin=rows[LINKEDIN])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.readout", description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, required=True, help="lake root (holds curated/)")
    parser.add_argument("--snapshot", default=None, help="snapshot id (default: the live one, curated/_current)")
    parser.add_argument("--no-cox", action="store_true", help="skip the Cox models")
    parser.add_argument("--result", type=Path, help="write the result's summary here as JSON (for the submitter)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        published_snapshot(args.lake, args.snapshot)  # before starting a session for nothing
    except FileNotFoundError as error:
        print(f"readout: {error}", file=sys.stderr)
        return 2
    # The Spark master and the rest of the session's settings come from the environment, as for every job.
    spark = spark_session(Config.from_env(), app_name="credsignal-readout")
    result = build_readout(spark, args.lake, snapshot=args.snapshot, cox=not args.no_cox)
    print(f"wrote {result.html_path}")
    print(f"wrote {result.estimates_path}")
    print(result.summary())
    if args.result:
        write_json_atomically(args.result, result.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())