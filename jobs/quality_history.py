"""The data-quality history: every validation run's findings, appended to `data_quality_history`, and the
validation report built from a run and the history (`render_html`, `write_report`: a summary per table with what
changed since the last run, and trends).

The table is Parquet, partitioned by the UTC day the run was validated (`run_date=YYYY-MM-DD/`), one file per
run (`part-<run_id>.parquet`), at `credsignal.core.lake.data_quality_history`. A run's file is written under a hidden
name and renamed into place, so a reader sees a run's rows completely or not at all; re-validating a run replaces
its file. Blocked runs are recorded too: the history is of validations, not of publishes.

The table's contract is DATA_QUALITY_HISTORY_SCHEMA (column types and one-line descriptions, which are also
written into the Parquet schema); docs/data_dictionary.md has the prose.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from credsignal.core import lake
from jobs import validate
from jobs.validate import ValidationOutcome

HISTORY_TABLE = "data_quality_history"
TREND_RUNS = 30
SEVERITIES = ("ok", "warning", "failure")


def _column(name: str, data_type: pa.DataType, description: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, data_type, nullable=nullable, metadata={"description": description})


DATA_QUALITY_HISTORY_SCHEMA = pa.schema([
    _column("run_id", pa.string(), "Validation run that recorded the row (Airflow run id, or cli__<UTC time>).",
            nullable=False),
    _column("recorded_at", pa.timestamp("us", tz="UTC"), "When the run was validated (UTC).", nullable=False),
    _column("as_of", pa.date32(), "The run's data date: export days up to as_of were read."),
    _column("blocked", pa.bool_(), "True when the run had a failure, so nothing of it was published.",
            nullable=False),
    _column("table", pa.string(), "Checked table: a curated table, bronze.<source>, or * for run-wide checks.",
            nullable=False),
    _column("check", pa.string(), "Check name, family:subject (gx:, srm:, balance:, band:, attrition:, volume:, "
                                  "freshness:, quarantine:).", nullable=False),
    _column("severity", pa.string(), "ok, warning (reported, does not block) or failure (blocks publishing).",
            nullable=False),
    _column("observed", pa.string(), "What the check saw, as text."),
    _column("expected", pa.string(), "What the check expects, as text."),
    _column("p_value", pa.float64(), "The test's p-value where the check is a test (SRM: Bonferroni-adjusted)."),
    _column("value", pa.float64(), "The observed figure as a number, for trends: SRM or attrition p, rate, rows, "
                                   "quarantine share, SMD, lag in days, GX observed value or unexpected rows."),
    _column("detail", pa.string(), "More context: top quarantine reasons, the unadjusted p-value."),
    _column("remedy", pa.string(), "What to change when the check does not pass: the configuration key or the "
                                   "landing files (jobs.validate.remedy_for)."),
])
PARTITION_FIELD = _column("run_date", pa.date32(), "Partition: the UTC day the run was validated "
                                                   "(folder run_date=YYYY-MM-DD).", nullable=False)
ALLOWED = {"severity": SEVERITIES}


def column_descriptions() -> dict[str, str]:
    """{column: one-line description} of data_quality_history, the partition column last."""
    return {field.name: field.metadata[b"description"].decode() for field in [*DATA_QUALITY_HISTORY_SCHEMA,
                                                                               PARTITION_FIELD]}


# ------------------------------------------------------------------------------------------------ write


def history_rows(outcome: ValidationOutcome, *, recorded_at: datetime) -> pa.Table:
    """One run's findings as rows of data_quality_history (without the partition column)."""
    rows = [{"run_id": outcome.run_id, "recorded_at": recorded_at, "as_of": outcome.as_of,
             "blocked": outcome.blocked, **{k: v for k, v in asdict(f).items()}} for f in outcome.findings]
    bad = sorted({row["severity"] for row in rows} - set(SEVERITIES))
    if bad:
        raise ValueError(f"unknown severities {bad}; expected one of {SEVERITIES}")
    return pa.Table.from_pylist(rows, schema=DATA_QUALITY_HISTORY_SCHEMA)


def append_run(lake_root: Path, outcome: ValidationOutcome, *, file_id: str,
               recorded_at: datetime | None = None) -> Path:
    """Add the run's findings to the history (replacing an earlier recording of the same `file_id`, a run id
    safe as a file name). The file appears whole or not at all."""
    recorded_at = (recorded_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    final = lake.data_quality_history_file(lake_root, recorded_at.date(), file_id)
    final.parent.mkdir(parents=True, exist_ok=True)
    hidden = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")  # dot names are skipped by every reader
    try:
        pq.write_table(history_rows(outcome, recorded_at=recorded_at), hidden)
        os.replace(hidden, final)
    finally:
        hidden.unlink(missing_ok=True)
    for older in lake.data_quality_history(lake_root).glob(f"run_date=*/{final.name}"):
        if older != final:
            older.unlink()
    return final


# ------------------------------------------------------------------------------------------------- read


def read_recent(lake_root: Path, runs: int = TREND_RUNS) -> pd.DataFrame:
    """The rows of the newest `runs` runs of the history (by recorded_at), with run_date; empty if none."""
    root = lake.data_quality_history(lake_root)
    columns = [*DATA_QUALITY_HISTORY_SCHEMA.names, PARTITION_FIELD.name]
    partitions = sorted(root.glob("run_date=*"), reverse=True) if root.is_dir() else []
    files: list[tuple[date, Path]] = []
    for partition in partitions:  # newest days first, until enough runs (one file each) are found
        day = date.fromisoformat(partition.name[len("run_date="):])
        files += [(day, path) for path in sorted(partition.glob("part-*.parquet"))]
        if len(files) >= runs:
            break
    if not files:
        return pd.DataFrame(columns=columns)
    frames = []
    for day, path in files:
        frame = pq.read_table(path).to_pandas()
        frame["run_date"] = day
        frames.append(frame)
    history = pd.concat(frames, ignore_index=True)
    order = history.groupby("run_id")["recorded_at"].max().sort_values()
    keep = set(order.index[-runs:])
    return history[history["run_id"].isin(keep)].sort_values(["recorded_at", "table", "check"],
                                                             ignore_index=True)[columns]


# ------------------------------------------------------------------------------------------ report model
# What the validation report shows, as plain data for the template (credsignal/core/templates/).

TRENDS: Sequence[tuple[str, str, bool, float | None]] = (
    # (check prefix, label, log scale, threshold line)
    ("srm:overall", "Sample ratio, p-value", True, 0.001),
    ("band:", "Rate", False, None),
    ("volume:", "Rows", False, None),
    ("quarantine:share", "Quarantined share of lines", False, None),
)
_ORDER = {"failure": 0, "warning": 1, "ok": 2}


def report_context(outcome: ValidationOutcome, history: pd.DataFrame | None = None, *,
                   history_path: Path | str = "", generated_at: datetime | None = None) -> dict[str, Any]:
    """Everything validation_report.html.j2 shows: verdict, per-table summary and changes since the previous run
    in `history`, the failed and warned checks, trend series of the last runs, and every finding."""
    history = history if history is not None else pd.DataFrame(columns=[*DATA_QUALITY_HISTORY_SCHEMA.names])
    earlier = history[history["run_id"] != outcome.run_id]
    previous_run = None
    previous: dict[tuple[str, str], str] = {}
    if len(earlier):
        previous_run = str(earlier.sort_values("recorded_at")["run_id"].iloc[-1])
        rows = earlier[earlier["run_id"] == previous_run]
        previous = {(t, c): s for t, c, s in zip(rows["table"], rows["check"], rows["severity"])}
    counts = {severity: len(outcome.of_severity(severity)) for severity in SEVERITIES}
    counts["total"] = len(outcome.findings)
    status = "failure" if counts["failure"] else "warning" if counts["warning"] else "ok"
    verdict = {"failure": "Blocked: not published", "warning": "Published, with warnings",
               "ok": "Passed: published"}[status]
    findings = sorted(outcome.findings, key=lambda f: (_ORDER[f.severity], f.table, f.check))
    return {
        "title": "Data quality",
        "run_id": outcome.run_id,
        "as_of": str(outcome.as_of),
        "previous_run": previous_run,
        "status": status,
        "verdict": verdict,
        "counts": counts,
        "tables": _table_summaries(outcome, previous, has_previous=previous_run is not None),
        "attention": [f for f in findings if f.severity != "ok"],
        "trends": _trends(outcome, history),
        "runs_shown": max(1, history["run_id"].nunique() if len(history) else 1),
        "findings": findings,
        "history_path": str(history_path),
        "generated_at": f"{(generated_at or datetime.now(timezone.utc)):%Y-%m-%d %H:%M} UTC",
    }


def _table_summaries(outcome: ValidationOutcome, previous: Mapping[tuple[str, str], str], *,
                     has_previous: bool) -> list[dict[str, Any]]:
    summaries = []
    for table in dict.fromkeys(f.table for f in outcome.findings):
        mine = [f for f in outcome.findings if f.table == table]
        tally = {severity: sum(f.severity == severity for f in mine) for severity in SEVERITIES}
        changes = []
        if has_previous:
            before = {c: s for (t, c), s in previous.items() if t == table}
            for f in sorted(mine, key=lambda f: (_ORDER[f.severity], f.check)):
                was = before.get(f.check)
                if was is None and f.severity != "ok":
                    changes.append(f"new {f.severity}: {f.check}")
                elif was is not None and was != f.severity:
                    verb = "now failing" if f.severity == "failure" else "now warning" if f.severity == "warning" \
                        else "recovered"
                    changes.append(f"{verb}: {f.check} (was {was})")
            gone = len(set(before) - {f.check for f in mine})
            added = len({f.check for f in mine} - set(before))
            if added or gone:
                changes.append(f"{added} check(s) added, {gone} gone")
        summaries.append({
            "table": table, "checks": len(mine), **tally,
            "status": "failure" if tally["failure"] else "warning" if tally["warning"] else "ok",
            "changes": changes[:6] + ([f"… and {len(changes) - 6} more"] if len(changes) > 6 else []),
            "unchanged": "no change" if has_previous else "first recorded run",
        })
    return sorted(summaries, key=lambda s: (_ORDER[s["status"]], s["table"]))


def _trends(outcome: ValidationOutcome, history: pd.DataFrame) -> list[dict[str, Any]]:
    """One series per trend check of this run, over the runs in `history` (this run last, even if the history
    was read before it was recorded)."""
    runs = list(history.sort_values("recorded_at")["run_id"].drop_duplicates()) if len(history) else []
    runs = [r for r in runs if r != outcome.run_id][-(TREND_RUNS - 1):] + [outcome.run_id]
    by_key = {}
    if len(history):
        for run_id, table, check, value, severity in zip(history["run_id"], history["table"], history["check"],
                                                         history["value"], history["severity"]):
            by_key[(run_id, table, check)] = (None if pd.isna(value) else float(value), severity)
    for f in outcome.findings:
        by_key[(outcome.run_id, f.table, f.check)] = (f.value, f.severity)
    series = []
    for prefix, label, log_scale, threshold in TRENDS:
        for f in sorted((f for f in outcome.findings if f.check.startswith(prefix)), key=lambda f: (f.table, f.check)):
            points = [by_key.get((run_id, f.table, f.check), (None, "ok")) for run_id in runs]
            values = [v for v, _ in points if v is not None]
            series.append({
                "label": f"{label}: {f.check.split(':', 1)[1]}" if prefix == "band:" else label,
                "table": f.table, "check": f.check, "points": points, "log_scale": log_scale,
                "threshold": threshold, "latest": f.value,
                "low": min(values) if values else None, "high": max(values) if values else None,
                "title": f"{f.table} {f.check} over the last {len(runs)} runs",
            })
    return series


def render_html(outcome: ValidationOutcome, history: pd.DataFrame | None = None, *,
                history_path: Path | str = "") -> str:
    """The report page (credsignal/core/templates/validation_report.html.j2): a summary per table with what changed
    since the previous run of `history`, the failed and warned checks, trend charts of the last runs, and every
    check in a collapsed table. Self-contained: inline CSS and SVG, no scripts, nothing fetched."""
    from credsignal.core.pages import render

    return render("validation_report.html.j2", **report_context(outcome, history, history_path=history_path))


def write_report(outcome: ValidationOutcome, report_dir: Path, history: pd.DataFrame | None = None, *,
                 history_path: Path | str = "") -> Path:
    """data_quality_report.parquet, report.html and summary.txt of the run, in `report_dir`; the page's trends
    and changes come from `history` (the recent rows of data_quality_history)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    outcome.report_frame().to_parquet(report_dir / "data_quality_report.parquet", index=False)
    (report_dir / "report.html").write_text(render_html(outcome, history, history_path=history_path),
                                            encoding="utf-8")
    (report_dir / "summary.txt").write_text(validate.render_text(outcome, limit=1000) + "\n")
    outcome.report_path = report_dir / "report.html"
    return outcome.report_path
