"""`run_pipeline` (and `credsignal run`) end to end on small synthetic landing zones: what gets published, what is
blocked, and which alerts reach a real local webhook server and a real local SMTP server (aiosmtpd).

Scenarios (issue 5, "Reliability tests"), each asserting the published state AND the alerts received:
1. a clean run publishes the three curated tables (read back with pandas and with DuckDB), the readout exists,
   and the only alert is a *warning* (see CLEAN_RUN_WARNINGS: with ~60 LinkedIn rows, chance covariate imbalance
   of |SMD| >= 0.1 is expected; the test asserts it is a warning alert, never a failure);
2. re-running the same day (through the `credsignal run` CLI) publishes identical learner_outcomes_* data, and a
   data_quality_report that differs only in run_id;
3. a planted sample-ratio mismatch (5% of one arm's assignments dropped from the exports) blocks publishing;
4. a planted schema break (learner_id renamed in certificates exports) blocks publishing, through the CLI:
   exit status 1 and a one-line error naming the report;
5. a planted volume drop (40% of the randomized learners missing in a later run) blocks publishing and the
   previous snapshot stays live.

Speed (2 cores, shared machine): one 1,500-learner landing zone is generated once and copied for the planted
faults. The generator writes one export folder per day (215 days for a March-September window); ingestion cost is
per partition, not per row, so the tests regroup the daily folders into DT_STEP_DAYS-day export folders (each line
moves to the same or a later folder: it is a late delivery, which the contract allows). The SRM scenario needs
its own, larger zone: a 5% drop of one arm among 750 per arm gives chi-square ~1 (p ~ 0.3), far from the gate's
p < 0.001, which needs about 8,500 learners per arm. SRM_LEARNERS = 24,000 gives chi-square ~15 (p ~ 1e-4).

Network: every server listens on 127.0.0.1; the connections are AIRFLOW_CONN_* variables set for each run.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import gzip
import hashlib
import io
import html
import json
import os
import re
import shutil
import threading
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import pandas as pd
import pytest

from credsignal.entry import cli

from credsignal.core import lake
from credsignal.core.config import Config
from credsignal.pipeline import FEATURE_TABLES, QUALITY_TABLE, PublishBlocked, run_pipeline, validation_dir
from jobs import publish
from local_servers import Inbox, free_port
from personal_data import personal_values

AS_OF = date(2023, 9, 30)
WINDOW_START = date(2023, 3, 1)  # the generator's batches are the 5 months from here; must end before AS_OF
DT_STEP_DAYS = 30
N_LEARNERS = 1500
SEED = 11
SRM_LEARNERS = 24_000
SRM_SEED = 5
CRAWL_ID = "2023-09"
TABLES = (*FEATURE_TABLES, QUALITY_TABLE)
WEBHOOK_ENV = "AIRFLOW_CONN_CREDSIGNAL_ALERTS_WEBHOOK"
SMTP_ENV = "AIRFLOW_CONN_CREDSIGNAL_ALERTS_SMTP"
DEADLINE_S = 20.0
# Checks that may warn on a clean small run by chance alone (sampling noise), never a sign of broken data.
CLEAN_RUN_WARNINGS = ("balance:", "attrition:", "band:", "srm:")


# ------------------------------------------------------------------------------------------ local servers


@contextlib.contextmanager
def alert_channels(**extra_env: str):
    """A webhook server and an aiosmtpd server on 127.0.0.1, and the AIRFLOW_CONN_* variables pointing at them."""
    from aiosmtpd.controller import Controller

    posts, mails = Inbox(), Inbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")
            posts.add(json.loads(body))

        def log_message(self, *args):
            pass

    class Mailbox:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            mails.add(email.message_from_bytes(envelope.original_content or envelope.content,
                                               policy=email.policy.default))
            return "250 Message accepted for delivery"

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    controller = Controller(Mailbox(), hostname="127.0.0.1", port=free_port())
    controller.start()
    smtp = json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": controller.port,
                       "extra": {"from_email": "credsignal-alerts@example.org", "to": ["oncall@example.org"],
                                 "disable_ssl": True, "disable_tls": True, "timeout": 5}})
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(WEBHOOK_ENV, json.dumps({"conn_type": "slackwebhook", "schema": "http", "password": "e2e",
                                               "host": f"127.0.0.1:{server.server_address[1]}/hooks"}))
            mp.setenv(SMTP_ENV, smtp)
            mp.delenv("AIRFLOW_CONN_CREDSIGNAL_SPARK", raising=False)  # in-process features, not spark-submit
            for name, value in extra_env.items():
                mp.setenv(name, value)
            yield SimpleNamespace(posts=posts, mails=mails)
    finally:
        controller.stop()
        server.shutdown()
        server.server_close()
        thread.join(timeout=DEADLINE_S)


# ------------------------------------------------------------------------------------------ landing zones


def coarsen_export_days(landing: Path, as_of: date = AS_OF, step: int = DT_STEP_DAYS) -> None:
    """Regroup the daily export folders into `step`-day folders ending on as_of: each day's part files move to
    the first folder on or after it (renamed part-<day>-<n>, so none collides), each folder gets its _SUCCESS."""
    for source in lake.PLATFORM_SOURCES:
        root = landing / "platform" / source
        for folder in sorted(root.glob("dt=*")):
            day = date.fromisoformat(folder.name[3:])
            target_day = as_of - timedelta(days=step * ((as_of - day).days // step))
            if target_day == day:
                continue
            target = lake.landing_partition(landing, source, target_day)
            target.mkdir(exist_ok=True)
            for part in sorted(folder.glob("part-*.jsonl.gz")):
                part.rename(target / f"part-{day:%Y%m%d}-{part.name[len('part-'):]}")
            (target / lake.SUCCESS_MARKER).touch()
            shutil.rmtree(folder)


def make_landing(root: Path, *, n_learners: int, seed: int) -> Path:
    from synth.platform import generate
    from synth.profile_pages import write_crawl

    landing = root / "landing"
    generate(landing, n_learners=n_learners, seed=seed, dirty_rate=0.01, as_of=AS_OF, window_start=WINDOW_START)
    write_crawl(landing, crawl_id=CRAWL_ID, seed=7)
    coarsen_export_days(landing)
    return landing


def copy_tree(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)  # the lake's curated links are relative symlinks
    return target


def rewrite_export(landing: Path, source: str, edit: Callable[[dict], dict | None],
                   days: set[date] | None = None) -> dict[str, int]:
    """Apply `edit` to every parseable JSON line of the source's exports (on `days`, or all): it returns the
    record to write (possibly changed) or None to drop the line. Unparseable lines are kept as they are."""
    counts = {"lines": 0, "dropped": 0, "changed": 0}
    for folder in sorted((landing / "platform" / source).glob("dt=*")):
        if days is not None and date.fromisoformat(folder.name[3:]) not in days:
            continue
        for part in sorted(folder.glob("part-*.jsonl.gz")):
            out = []
            for line in gzip.decompress(part.read_bytes()).split(b"\n"):
                if not line.strip():
                    continue
                counts["lines"] += 1
                try:
                    record = json.loads(line)
                except ValueError:
                    out.append(line)
                    continue
                if not isinstance(record, dict):
                    out.append(line)
                    continue
                edited = edit(dict(record))
                if edited is None:
                    counts["dropped"] += 1
                elif edited != record:
                    counts["changed"] += 1
                    out.append(json.dumps(edited, separators=(",", ":")).encode())
                else:
                    out.append(line)
            part.write_bytes(gzip.compress(b"".join(l + b"\n" for l in out), mtime=0))
    return counts


def chosen(learner_id: str, share: float, salt: str) -> bool:
    """A deterministic pseudo-random `share` of learner ids, independent of the arm."""
    digest = hashlib.sha256(f"{salt}:{learner_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def export_records(landing: Path, source: str) -> list[dict]:
    records = []
    for part in sorted((landing / "platform" / source).glob("dt=*/part-*.jsonl.gz")):
        for line in gzip.decompress(part.read_bytes()).splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


# ------------------------------------------------------------------------------------------------- runs


@dataclass
class Run:
    config: Config
    run_id: str
    report: Any = None  # PipelineReport of a run that published
    blocked: PublishBlocked | None = None
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    posts: list = field(default_factory=list)
    mails: list = field(default_factory=list)
    live_before: str | None = None
    live_after: str | None = None


def _live(config: Config) -> str | None:
    snapshot = publish.current_snapshot(config.lake)
    return None if snapshot is None else snapshot.snapshot_id


def run_in_process(config: Config, run_id: str, *, expect_alerts: int) -> Run:
    result = Run(config, run_id, live_before=_live(config))
    with alert_channels() as channels:
        try:
            result.report = run_pipeline(config, run_id=run_id)
        except PublishBlocked as blocked:
            result.blocked = blocked
        result.posts = channels.posts.wait_for(expect_alerts) if expect_alerts else list(channels.posts.items)
        result.mails = channels.mails.wait_for(expect_alerts) if expect_alerts else list(channels.mails.items)
    result.live_after = _live(config)
    return result


def run_cli(config: Config, *, expect_alerts: int) -> Run:
    result = Run(config, "", live_before=_live(config))
    stdout, stderr = io.StringIO(), io.StringIO()
    # Small shuffle partitions as in the tests' session (the CLI builds its Config from the environment).
    with alert_channels(CREDSIGNAL_SHUFFLE_PARTITIONS="2") as channels:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            result.exit_code = cli.main(["run", "--landing", str(config.landing), "--lake", str(config.lake),
                                         "--as-of", AS_OF.isoformat()])
        result.posts = channels.posts.wait_for(expect_alerts) if expect_alerts else list(channels.posts.items)
        result.mails = channels.mails.wait_for(expect_alerts) if expect_alerts else list(channels.mails.items)
    result.stdout, result.stderr = stdout.getvalue(), stderr.getvalue()
    result.live_after = _live(config)
    return result


def config_for(landing: Path, lake_root: Path) -> Config:
    return Config(landing=landing, lake=lake_root, as_of=AS_OF, spark_master="local[2]", shuffle_partitions=2)


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    return make_landing(tmp_path_factory.mktemp("e2e_clean"), n_learners=N_LEARNERS, seed=SEED)


@pytest.fixture(scope="module")
def clean(spark, landing, tmp_path_factory) -> Run:
    config = config_for(landing, tmp_path_factory.mktemp("e2e_lake") / "lake")
    return run_in_process(config, "e2e-clean-1", expect_alerts=1)


@pytest.fixture(scope="module")
def clean_lake_copy(clean, tmp_path_factory) -> Path:
    """The lake as the clean run left it (one published snapshot), for the later runs that mutate it."""
    return copy_tree(clean.config.lake, tmp_path_factory.mktemp("e2e_lake_after_clean") / "lake")


@pytest.fixture(scope="module")
def rerun(clean, clean_lake_copy) -> Run:
    """The same day again on the same lake, through `credsignal run`."""
    return run_cli(clean.config, expect_alerts=1)


@pytest.fixture(scope="module")
def volume_drop(spark, landing, clean_lake_copy, tmp_path_factory) -> tuple[Run, dict]:
    root = tmp_path_factory.mktemp("e2e_volume")
    dropped_landing = copy_tree(landing, root / "landing")
    counts = rewrite_export(dropped_landing, "experiment_assignments",
                            lambda r: None if chosen(str(r.get("learner_id")), 0.4, "volume") else r)
    config = config_for(dropped_landing, copy_tree(clean_lake_copy, root / "lake"))
    return run_in_process(config, "e2e-volume-drop", expect_alerts=1), counts


@pytest.fixture(scope="module")
def schema_break(spark, landing, tmp_path_factory) -> tuple[Run, dict]:
    """learner_id renamed to learnerId in the certificates exports of the three oldest export folders, on a
    fresh lake (so every export day counts in the quarantine gate), through the CLI."""
    root = tmp_path_factory.mktemp("e2e_schema")
    broken = copy_tree(landing, root / "landing")
    days = sorted(lake.complete_export_days(broken, "certificates"))[:3]

    def rename(record: dict) -> dict:
        if "learner_id" in record:
            record["learnerId"] = record.pop("learner_id")
        return record

    counts = rewrite_export(broken, "certificates", rename, set(days))
    counts["days"] = len(days)
    counts["all_lines"] = len(export_records(broken, "certificates"))
    return run_cli(config_for(broken, root / "lake"), expect_alerts=1), counts


@pytest.fixture(scope="module")
def srm(spark, tmp_path_factory) -> tuple[Run, dict]:
    root = tmp_path_factory.mktemp("e2e_srm")
    srm_landing = make_landing(root, n_learners=SRM_LEARNERS, seed=SRM_SEED)
    treated = sorted({r["learner_id"] for r in export_records(srm_landing, "experiment_assignments")
                      if r.get("arm") == "treatment" and isinstance(r.get("learner_id"), str)
                      and r.get("experiment_id") == Config().experiment_id})
    # Exactly 5% of the treatment arm, chosen by hash (not by id order, which could correlate with a stratum).
    ranked = sorted(treated, key=lambda lid: hashlib.sha256(f"srm:{lid}".encode()).hexdigest())
    victims = set(ranked[: round(0.05 * len(treated))])
    counts = rewrite_export(srm_landing, "experiment_assignments",
                            lambda r: None if r.get("learner_id") in victims
                            and r.get("experiment_id") == Config().experiment_id else r)
    counts.update(treated=len(treated), victims=len(victims))
    return run_in_process(config_for(srm_landing, root / "lake"), "e2e-srm", expect_alerts=1), counts


# ------------------------------------------------------------------------------------------------ helpers


def webhook_text(post: dict) -> str:
    return post["text"] + "\n" + json.dumps(post["blocks"])


def mail_text(message) -> str:
    """The HTML mail's text as a reader sees it, one line per list item or table row."""
    page = message.get_body(preferencelist=("html",)).get_content()
    text = html.unescape(re.sub(r"<[^>]+>", " ", page.replace("</li>", "\n").replace("</tr>", "\n")))
    return "\n".join(re.sub(r"\s+", " ", line).strip() for line in text.splitlines())


def assert_failure_alert(run: Run, check_pattern: str) -> str:
    """One failure alert on each channel, naming a failed check matching `check_pattern`; returns the mail text."""
    assert len(run.posts) == 1 and len(run.mails) == 1, (run.posts, run.mails)
    post, mail = run.posts[0], run.mails[0]
    text = mail_text(mail)
    assert post["text"].startswith("🚨") or ":rotating_light:" in post["text"]
    assert "FAILURE" in post["blocks"][0]["text"]["text"]
    assert mail["X-Credsignal-Severity"] == "failure"
    assert mail["Subject"].startswith("[credsignal FAILURE] validation failed, publishing blocked")
    failed_section = text.split("Failed expectations:", 1)[1].split("Warnings:", 1)[0]
    assert re.search(rf"FAILURE \S+ {check_pattern}", failed_section), failed_section
    assert re.search(rf"FAILURE \S+ {check_pattern}", post["text"]), post["text"]
    assert "Publishing was blocked" in text
    return text


def snapshot_frame(lake_root: Path, table: str, snapshot_id: str) -> pd.DataFrame:
    return publish.read_published(lake_root, table, snapshot=snapshot_id)


# --------------------------------------------------------------------------------------------- 1. clean run


def test_clean_run_publishes_every_table_readable_by_pandas_and_duckdb(clean):
    import duckdb

    assert clean.blocked is None, str(clean.blocked)
    assert clean.live_before is None and clean.live_after == clean.report.snapshot.snapshot_id
    rows = clean.report.snapshot.rows
    connection = duckdb.connect()
    for table in TABLES:
        path = lake.curated_table(clean.config.lake, table)
        frame = pd.read_parquet(path)
        assert len(frame) == rows[table] > 0, table
        counted = connection.execute(f"select count(*) from read_parquet('{path}/*.parquet')").fetchone()[0]
        assert counted == rows[table], table
    keys = connection.execute(
        f"select learner_key from read_parquet('{lake.curated_table(clean.config.lake, 'learner_outcomes_full')}"
        f"/*.parquet') order by learner_key").df()["learner_key"]
    assert keys.is_unique and len(keys) == rows["learner_outcomes_full"]


def test_clean_run_full_table_has_one_row_per_randomized_learner(clean):
    full = pd.read_parquet(lake.curated_table(clean.config.lake, "learner_outcomes_full"))
    truth = pd.read_parquet(clean.config.landing / "_truth" / "learners_truth.parquet")
    crosswalk = pd.read_parquet(lake.learner_crosswalk(clean.config.lake))
    assert full["learner_key"].is_unique
    assert sorted(full.merge(crosswalk, on="learner_key")["learner_id"]) == sorted(truth["learner_id"])
    assert len(truth) == N_LEARNERS
    linkedin = pd.read_parquet(lake.curated_table(clean.config.lake, "learner_outcomes_linkedin"))
    assert 0 < len(linkedin) < len(full) and set(linkedin["learner_key"]) <= set(full["learner_key"])


def test_clean_run_curated_tables_hold_no_personal_data(clean):
    """Every column of every published table: no URL, e-mail address, generator name or raw platform ID; the
    crosswalk back to the platform ID is in the restricted zone only, readable by its owner only."""
    truth = pd.read_parquet(clean.config.landing / "_truth" / "learners_truth.parquet")
    published = publish.current_snapshot(clean.config.lake)
    tables = {table: snapshot_frame(clean.config.lake, table, published.snapshot_id) for table in published.rows}
    assert set(TABLES) <= set(tables)
    findings = personal_values(tables, platform_ids={*truth["learner_id"], *truth["certificate_id"].dropna()})
    assert not findings, "personal data in curated tables:\n" + "\n".join(findings)
    restricted = lake.restricted_root(clean.config.lake)
    assert lake.learner_crosswalk(clean.config.lake).is_relative_to(restricted)
    assert os.stat(lake.pseudonym_key_file(clean.config.lake)).st_mode & 0o077 == 0


def test_clean_run_quality_report_and_readout(clean):
    quality = pd.read_parquet(lake.curated_table(clean.config.lake, QUALITY_TABLE))
    assert set(quality["run_id"]) == {"e2e-clean-1"}
    assert len(quality) == len(clean.report.validation.findings)
    assert "failure" not in set(quality["severity"])
    assert {"srm:overall", "volume:vs_previous_snapshot", "freshness:newest_export", "quarantine:share"} <= set(
        quality["check"])
    readout = clean.report.readout
    assert readout.snapshot_id == clean.report.snapshot.snapshot_id
    assert readout.html_path.is_file() and readout.estimates_path.is_file()
    assert readout.n_full == clean.report.snapshot.rows["learner_outcomes_full"]
    report_dir = validation_dir(clean.config, "e2e-clean-1")
    assert (report_dir / "report.html").is_file() and (report_dir / "summary.txt").is_file()


def test_clean_run_sends_only_a_warning_alert(clean):
    """Observed on this landing zone: 14 balance warnings on the LinkedIn table (~60 rows: |SMD| >= 0.1 arises
    by chance) and no failure. So the clean run sends one WARNING alert per channel and never a failure; any
    warning outside the sampling-noise checks (gx:, volume:, freshness:, quarantine:) would fail this test."""
    warnings = clean.report.validation.of_severity("warning")
    assert not clean.report.validation.of_severity("failure")
    assert all(f.check.startswith(CLEAN_RUN_WARNINGS) for f in warnings), [f.check for f in warnings]
    if not warnings:  # a fully clean run would send nothing at all
        assert clean.posts == [] and clean.mails == []
        return
    assert len(clean.posts) == 1 and len(clean.mails) == 1
    post, mail = clean.posts[0], clean.mails[0]
    assert "WARNING" in post["blocks"][0]["text"]["text"] and "FAILURE" not in webhook_text(post)
    assert mail["X-Credsignal-Severity"] == "warning"
    assert mail["Subject"].startswith("[credsignal WARNING] validation warnings")
    text = mail_text(mail)
    assert "Failed expectations:" not in text and "tables were published" in text
    assert f"{len(warnings)} warning" in text


# ------------------------------------------------------------------------------------------- 2. re-run


def test_rerun_of_the_same_day_publishes_identical_data(clean, rerun):
    assert rerun.exit_code == 0, rerun.stderr[-3000:]
    first, second = clean.report.snapshot.snapshot_id, rerun.live_after
    assert rerun.live_before == first and second not in (None, first)
    lake_root = clean.config.lake
    for table in FEATURE_TABLES:
        a, b = snapshot_frame(lake_root, table, first), snapshot_frame(lake_root, table, second)
        assert len(a) > 0
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    qa, qb = (snapshot_frame(lake_root, QUALITY_TABLE, s) for s in (first, second))
    assert set(qa["run_id"]) == {"e2e-clean-1"} and len(set(qb["run_id"])) == 1 and set(qb["run_id"]) != set(qa["run_id"])
    # What the rerun's own ingest and the previous snapshot measure differs by design: the rerun ingests nothing new
    # (0 lines, none quarantined) and its volume check compares with the first run's snapshot (+0.0%).
    run_dependent = ("quarantine:", "volume:")
    qa, qb = (q[~q["check"].str.startswith(run_dependent)].drop(columns="run_id").reset_index(drop=True) for q in (qa, qb))
    assert len(qa) > 0
    pd.testing.assert_frame_equal(qa, qb, check_exact=True)
    assert [s.snapshot_id for s in publish.list_snapshots(lake_root)] == [first, second]


def test_cli_run_prints_the_published_summary_and_alerts_a_warning(rerun):
    assert rerun.exit_code == 0
    out = rerun.stdout
    assert f"as_of {AS_OF}" in out and f"published snapshot {rerun.live_after}:" in out
    for table in TABLES:
        assert re.search(rf"^  {table}\s+\d+ rows  \S+", out, re.MULTILINE), out
    assert "readout of snapshot" in out
    assert "credsignal: error" not in rerun.stderr
    assert len(rerun.posts) == 1 and rerun.mails[0]["X-Credsignal-Severity"] == "warning"


# ----------------------------------------------------------------------------------------------- 3. SRM


def test_planted_srm_blocks_publishing_and_alerts(srm):
    run, counts = srm
    assert counts["victims"] == round(0.05 * counts["treated"]) and counts["dropped"] >= counts["victims"]
    assert run.blocked is not None, "a 5% drop of one arm was published"
    overall = next(f for f in run.blocked.outcome.findings
                   if f.table == "learner_outcomes_full" and f.check == "srm:overall")
    assert overall.severity == "failure" and overall.p_value < 0.001
    treated, control = map(int, re.fullmatch(r"treatment=(\d+) control=(\d+)", overall.observed).groups())
    assert treated < control and control - treated > 0.04 * control
    # Nothing was published: no live snapshot before, none after, no curated data visible.
    assert run.live_before is None and run.live_after is None
    assert publish.list_snapshots(run.config.lake) == []
    assert not lake.curated_table(run.config.lake, "learner_outcomes_full").exists()
    text = assert_failure_alert(run, r"srm:overall")
    assert overall.observed in text and overall.observed in run.posts[0]["text"]
    assert str(run.blocked.outcome.report_path) in text


# ---------------------------------------------------------------------------------------- 4. schema break


def test_planted_schema_break_blocks_publishing_through_the_cli(schema_break):
    run, counts = schema_break
    share = counts["changed"] / counts["all_lines"]
    assert share > Config().max_quarantine_share, f"planted break too small to be a gate failure: {share:.3f}"
    assert run.exit_code == 1
    last = [line for line in run.stderr.splitlines() if line.strip()][-1]
    report = validation_dir(run.config, "x").parent
    assert re.fullmatch(r"credsignal: error: validation failed, nothing was published; report: \S+report\.html",
                        last), last
    report_path = Path(last.rsplit("report: ", 1)[1])
    assert report_path.is_file() and report_path.parent.parent == report
    assert run.live_before is None and run.live_after is None
    assert not lake.curated_table(run.config.lake, "learner_outcomes_full").exists()
    quality = pd.read_parquet(report_path.parent / "data_quality_report.parquet")
    failed = quality[quality["severity"] == "failure"]
    certificates = failed[(failed["table"] == "bronze.certificates") & (failed["check"] == "quarantine:share")]
    assert len(certificates) == 1, failed[["table", "check", "observed"]]
    assert "missing_field:learner_id" in certificates["detail"].iloc[0]
    text = assert_failure_alert(run, r"quarantine:share")
    assert "bronze.certificates quarantine:share" in text and certificates["observed"].iloc[0] in text
    assert str(report_path) in text


# ----------------------------------------------------------------------------------------- 5. volume drop


def test_planted_volume_drop_blocks_publishing_and_keeps_the_live_snapshot(volume_drop, clean):
    run, counts = volume_drop
    assert 0.3 < counts["dropped"] / counts["lines"] < 0.5
    assert run.blocked is not None, "a 40% drop of the randomized learners was published"
    findings = run.blocked.outcome.findings
    volume = next(f for f in findings if f.table == "learner_outcomes_full" and f.check == "volume:vs_previous_snapshot")
    assert volume.severity == "failure"
    previous = clean.report.snapshot.rows["learner_outcomes_full"]
    rows, change = re.fullmatch(r"(\d+) rows \(([-+]\d+\.\d)%\)", volume.observed).groups()
    assert -50 < float(change) < -30 and int(rows) < previous
    assert str(previous) in volume.expected
    # Not an SRM in disguise: the drop was arm-blind.
    srm = next(f for f in findings if f.table == "learner_outcomes_full" and f.check == "srm:overall")
    assert srm.severity != "failure"
    # The clean snapshot stays live, untouched.
    assert run.live_before == run.live_after == clean.report.snapshot.snapshot_id
    full = pd.read_parquet(lake.curated_table(run.config.lake, "learner_outcomes_full"))
    assert len(full) == previous
    text = assert_failure_alert(run, r"volume:vs_previous_snapshot")
    assert volume.observed in text
