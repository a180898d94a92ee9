"""The data-quality history (data_quality_history) and the validation report page built from it, tested in a
real headless Chromium (Debian's package): a screenshot at 1280 px, no horizontal overflow, the summary above
the fold, the detail table collapsed, nothing loaded from the network."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from credsignal.core import lake
from jobs import quality_history as qh
from jobs import validate as v
from jobs.validate import Finding, ValidationOutcome

REPO = Path(__file__).resolve().parents[1]
FIRST_RUN = datetime(2023, 3, 1, 2, 30, tzinfo=timezone.utc)
RUNS = 34  # more than the 30 the page shows
VIEWPORT = (1280, 800)  # a laptop screen: the summary must be visible without scrolling
CHROMIUM_TIMEOUT_S = 90
SOURCES = ("learners", "certificates", "certificate_views", "experiment_assignments", "app_sessions", "skill_scores")
LONG_VALUE_SET = json.dumps({"column": "main_skill_standardized",
                             "value_set": [f"skill_{i:03d}_with_a_long_name" for i in range(40)]})


def night(n: int) -> ValidationOutcome:
    """The findings of nightly run n: ~190 checks like the real suite's, values drifting from night to night.
    The last night breaks: an SRM failure, a quarantine spike, a band warning; night RUNS-2 had a warning that
    recovers."""
    last = n == RUNS - 1
    findings = []
    for table, rows in (("learner_outcomes_full", 880_000), ("learner_outcomes_linkedin", 310_000)):
        for i in range(70 if table == "learner_outcomes_full" else 60):
            findings.append(Finding(table, f"gx:expect_column_{i:02d}_values_to_be_in_set", "ok", "0 unexpected rows",
                                    LONG_VALUE_SET, value=0.0))
        p = 0.0002 if last and table == "learner_outcomes_full" else 0.2 + 0.7 * ((n * 37) % 10) / 10
        findings.append(Finding(table, "srm:overall", "failure" if p < 0.001 else "ok",
                                f"treatment={rows // 2 - n} control={rows // 2 + n}", "50/50", p, value=p))
        rate = 0.41 + 0.01 * ((n * 7) % 5) - (0.15 if last and table == "learner_outcomes_linkedin" else 0)
        findings.append(Finding(table, "band:new_job", "warning" if rate < 0.3 else "ok", f"{rate:.4f} (n={rows})",
                                "[0.3, 0.5] (paper 0.41)", value=rate))
        volume = rows + 900 * n
        findings.append(Finding(table, "volume:vs_previous_snapshot", "ok", f"{volume} rows (+0.1%)",
                                f"within ±20.0% of {volume - 900}", value=volume))
        for level in range(6):
            smd = 0.01 * ((n + level) % 7)
            severity = "warning" if (n == RUNS - 2 and level == 0 and table == "learner_outcomes_linkedin") else "ok"
            findings.append(Finding(table, f"balance:education_level=level_{level}", severity, f"smd={smd:.4f}",
                                    "|smd| < 0.1", value=smd))
    findings.append(Finding("*", "freshness:newest_export", "ok", "2023-03-31 (0 days before as_of)",
                            "≤ 3 days before 2023-03-31", value=0))
    for source in SOURCES:
        share = 0.002 + 0.0005 * (n % 4) + (0.09 if last and source == "certificate_views" else 0)
        findings.append(Finding(f"bronze.{source}", "quarantine:share", "failure" if share > 0.05 else "ok",
                                f"{share:.4f} of 12000 lines", "≤ 0.05", detail="missing_field:viewed_at: 1080"
                                if share > 0.05 else "", value=share))
    return ValidationOutcome(f"scheduled__2023-03-{1 + n // 2:02d}T0{n % 2}:00:00+00:00", date(2023, 3, 1) +
                             timedelta(days=n), findings)


def record_nights(lake_root: Path, nights: int = RUNS) -> list[ValidationOutcome]:
    outcomes = [night(n) for n in range(nights)]
    for n, outcome in enumerate(outcomes):
        qh.append_run(lake_root, outcome, file_id=re.sub(r"[^A-Za-z0-9_.-]+", "_", outcome.run_id),
                      recorded_at=FIRST_RUN + timedelta(days=n))
    return outcomes


# ------------------------------------------------------------------------------------------------ history


def test_history_appends_one_file_per_run_partitioned_by_run_date(tmp_path):
    outcomes = record_nights(tmp_path, nights=3)
    root = lake.data_quality_history(tmp_path)
    assert sorted(p.name for p in root.iterdir()) == ["run_date=2023-03-01", "run_date=2023-03-02",
                                                      "run_date=2023-03-03"]
    assert not [p for p in root.rglob(".*")], "no hidden temporary file may stay behind"
    files = sorted(root.rglob("*.parquet"))
    assert len(files) == 3
    table = pq.read_table(files[0])
    assert table.num_rows == len(outcomes[0].findings)
    assert table.schema.field("check").metadata[b"description"].startswith(b"Check name")
    # Re-validating a run (a retry the next day) replaces its rows instead of adding a copy.
    qh.append_run(tmp_path, replace(outcomes[0], findings=outcomes[0].findings[:5]),
                  file_id=files[0].name[len("part-"):-len(".parquet")], recorded_at=FIRST_RUN + timedelta(days=5))
    history = qh.read_recent(tmp_path)
    assert history["run_id"].nunique() == 3 and (history["run_id"] == outcomes[0].run_id).sum() == 5
    assert set(history["run_date"]) == {date(2023, 3, 2), date(2023, 3, 3), date(2023, 3, 6)}


def test_read_recent_keeps_the_newest_runs_in_order(tmp_path):
    outcomes = record_nights(tmp_path)
    history = qh.read_recent(tmp_path, runs=30)
    runs = list(history.drop_duplicates("run_id")["run_id"])
    assert runs == [o.run_id for o in outcomes[-30:]]
    srm = history[(history["table"] == "learner_outcomes_full") & (history["check"] == "srm:overall")]
    assert srm["value"].iloc[-1] == pytest.approx(0.0002) and srm["severity"].iloc[-1] == "failure"
    assert qh.read_recent(tmp_path / "no-lake").empty


def test_every_history_column_is_in_the_data_dictionary():
    dictionary = (REPO / "docs" / "data_dictionary.md").read_text(encoding="utf-8")
    section = dictionary.split("## Table `data_quality_history`", 1)[1]
    missing = [c for c in qh.column_descriptions() if f"| `{c}` |" not in section]
    assert not missing, f"columns missing from docs/data_dictionary.md: {missing}"


# ------------------------------------------------------------------------------------------- report model


def test_summary_says_what_changed_since_the_previous_run(tmp_path):
    outcomes = record_nights(tmp_path)
    context = qh.report_context(outcomes[-1], qh.read_recent(tmp_path))
    assert context["previous_run"] == outcomes[-2].run_id
    rows = {row["table"]: row for row in context["tables"]}
    full = rows["learner_outcomes_full"]
    assert full["status"] == "failure" and full["failure"] == 1 and full["checks"] == 79
    assert full["changes"] == ["now failing: srm:overall (was ok)"]
    linkedin = rows["learner_outcomes_linkedin"]
    assert "now warning: band:new_job (was ok)" in linkedin["changes"]
    assert "recovered: balance:education_level=level_0 (was warning)" in linkedin["changes"]
    assert rows["bronze.certificate_views"]["changes"] == ["now failing: quarantine:share (was ok)"]
    assert rows["bronze.learners"]["changes"] == [] and rows["bronze.learners"]["status"] == "ok"
    assert [row["status"] for row in context["tables"]][:3] == ["failure", "failure", "warning"]
    trend = next(t for t in context["trends"] if t["table"] == "learner_outcomes_full" and t["check"] == "srm:overall")
    assert len(trend["points"]) == 30 and trend["points"][-1] == (pytest.approx(0.0002), "failure")
    assert {t["check"].split(":")[0] for t in context["trends"]} == {"srm", "band", "volume", "quarantine"}


def test_first_run_has_no_comparison():
    context = qh.report_context(night(0), None)
    assert context["previous_run"] is None
    assert all(row["unchanged"] == "first recorded run" and not row["changes"] for row in context["tables"])
    assert all(len(t["points"]) == 1 for t in context["trends"])


# ---------------------------------------------------------------------------------------------- browser

MEASURE = """
<script>
(function () {
  function measure() {
    var root = document.documentElement, summary = document.getElementById('summary').getBoundingClientRect();
    var wide = [];
    document.querySelectorAll('body *').forEach(function (el) {
      var r = el.getBoundingClientRect();
      if (r.right > root.clientWidth + 1 && r.width > 0) wide.push(el.tagName + '.' + el.className);
    });
    return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, summaryTop: summary.top,
            summaryBottom: summary.bottom, wide: wide.slice(0, 5),
            detailsOpen: document.getElementById('all-checks').open};
  }
  var closed = measure();
  document.querySelectorAll('details').forEach(function (d) { d.open = true; });
  var opened = measure();
  var out = document.createElement('pre');
  out.id = 'measurements';
  out.textContent = JSON.stringify({closed: closed, opened: opened});
  document.body.appendChild(out);
})();
</script>
"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing on a CI machine: .ci/ensure-chromium installs it")
        pytest.skip("chromium is not installed (apt-get install -y chromium, or .ci/ensure-chromium)")
    return found


def run_chromium(tmp_path: Path, *args: str, width: int = VIEWPORT[0], height: int = VIEWPORT[1]) -> str:
    profile = tmp_path / "chromium-profile"
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", f"--window-size={width},{height}", "--hide-scrollbars", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S,
                            env={**os.environ, "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def report_page(tmp_path_factory) -> Path:
    """The report of the 34th night, rendered with the history of the nights before it, as the pipeline does."""
    root = tmp_path_factory.mktemp("quality")
    outcomes = record_nights(root / "lake")
    path = qh.write_report(outcomes[-1], root / "report", qh.read_recent(root / "lake"),
                          history_path=lake.data_quality_history(root / "lake"))
    return path


def test_report_page_is_self_contained(report_page):
    page = report_page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page) and "@import" not in page and "url(" not in page
    assert "<script" not in page
    assert page.count("<svg") == 2 * 3 + 6  # srm, band, volume per curated table; quarantine per source
    assert '<details id="all-checks">' in page and page.count("<tr class=") >= len(night(RUNS - 1).findings)


def test_report_page_in_a_real_browser(report_page, tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text(report_page.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"),
                     encoding="utf-8")
    dom = run_chromium(tmp_path, "--dump-dom", probe.as_uri())
    found = re.search(r'<pre id="measurements">(.*?)</pre>', dom, re.DOTALL)
    assert found, dom[-2000:]
    measured = json.loads(found.group(1).replace("&quot;", '"'))
    closed, opened = measured["closed"], measured["opened"]
    assert closed["detailsOpen"] is False, "the detail table must be collapsed by default"
    for state in (closed, opened):
        assert state["scrollWidth"] <= state["clientWidth"], f"horizontal overflow: {state}"
        assert not state["wide"], f"elements wider than the page: {state['wide']}"
    assert 0 <= closed["summaryTop"] and closed["summaryBottom"] <= VIEWPORT[1], \
        f"the summary is not above the fold of a {VIEWPORT} screen: {closed}"

    screenshot = tmp_path / "report.png"
    run_chromium(tmp_path, f"--screenshot={screenshot}", report_page.as_uri(), height=2000)
    assert screenshot.stat().st_size > 20_000
    keep = os.environ.get("REPORT_SCREENSHOT_DIR")
    if keep:  # for a person to look at
        shutil.copy(screenshot, Path(keep) / "validation_report_1280.png")


def test_sparkline_draws_gaps_dots_and_a_log_threshold():
    from credsignal.core.pages import sparkline

    svg = str(sparkline([(0.5, "ok"), (None, "ok"), (0.2, "ok"), (0.1, "warning"), (0.0001, "failure")],
                        log_scale=True, threshold=0.001, label="srm <p>"))
    assert svg.count("<polyline") == 1, "a missing value splits the line; a lone point draws no segment"
    assert svg.count("<circle") == 2 and 'fill="#b42318"' in svg and 'fill="#b54708"' in svg
    assert "spark-threshold" in svg and "<title>srm &lt;p&gt;</title>" in svg
    ys = [float(y) for y in re.findall(r'cy="([\d.]+)"', svg)]
    assert ys[-1] > ys[0], "the smallest p-value is drawn lowest"
    assert "no numeric values" in str(sparkline([(None, "ok")]))
