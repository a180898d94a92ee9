"""Per-source freshness (Config.source_freshness) and the one as_of rule both doors use (pipeline.resolve_as_of),
on small hand-made landing zones and lakes: a sparse zone that follows docs/landing_contract.md resolves and is
fresh; a daily source that stops delivering is named, warned about and then blocks."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from credsignal.core import lake

from credsignal import pipeline
from credsignal.core.config import DEFAULT_SOURCE_FRESHNESS, Config, SourceFreshness, parse_source_freshness
from credsignal.entry.airflow_tasks import ExportWindow, exports_missing
from jobs import validate as v

AS_OF = date(2023, 9, 30)
DAILY = ("certificates", "certificate_views", "app_sessions")


def deliver(landing: Path, source: str, days, *, complete: bool = True) -> None:
    for day in days:
        folder = lake.landing_partition(landing, source, day)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "part-00000.jsonl.gz").write_bytes(b"")
        if complete:
            (folder / lake.SUCCESS_MARKER).touch()


def every_day(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@pytest.fixture
def sparse_landing(tmp_path) -> Path:
    """Daily sources every day through AS_OF; assignments on randomization days only; learners and skill scores on
    a few days; no export day is common to all six sources."""
    landing = tmp_path / "landing"
    for source in DAILY:
        deliver(landing, source, every_day(date(2023, 3, 1), AS_OF))
    deliver(landing, "experiment_assignments", [date(2023, 3, 31), date(2023, 4, 30)])
    deliver(landing, "learners", [date(2023, 3, 2), date(2023, 9, 12)])
    deliver(landing, "skill_scores", [date(2023, 5, 5)])
    return landing


def test_the_default_contract_names_the_daily_and_the_event_driven_sources():
    assert Config().daily_sources() == DAILY
    assert set(DEFAULT_SOURCE_FRESHNESS) == set(lake.PLATFORM_SOURCES)
    assert DEFAULT_SOURCE_FRESHNESS["experiment_assignments"] is None


def test_freshness_is_configured_like_dbt_per_source_and_merged_with_the_defaults():
    config = Config.from_env({"CREDSIGNAL_SOURCE_FRESHNESS":
                              '{"app_sessions": {"warn_after": 2, "error_after": 5}, "certificates": null}'})
    assert config.source_freshness["app_sessions"] == SourceFreshness(warn_after=2, error_after=5)
    assert config.source_freshness["certificates"] is None
    assert config.source_freshness["certificate_views"] == DEFAULT_SOURCE_FRESHNESS["certificate_views"]
    assert config.daily_sources() == ("certificate_views", "app_sessions")
    assert Config().with_overrides(source_freshness={"learners": {"warn_after": 7}}).source_freshness["learners"] == \
        SourceFreshness(warn_after=7, error_after=None)


@pytest.mark.parametrize("text, message", [
    ('{"app_session": null}', "unknown source"),
    ('{"app_sessions": {"warn_after": 0}}', ">= 1"),
    ('{"app_sessions": {"warn_after": 4, "error_after": 2}}', "after error_after"),
    ('{"app_sessions": {"warn_after": null, "error_after": null}}', "event-driven"),
    ('{"app_sessions": {"count": 1, "period": "day"}}', "expected null"),
    ('[1]', "JSON object"),
])
def test_a_wrong_freshness_is_refused_naming_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        parse_source_freshness(text)


def test_as_of_resolves_on_a_sparse_zone_that_has_no_common_day(sparse_landing):
    config = Config(landing=sparse_landing)
    assert pipeline.newest_complete_day(config) == AS_OF
    newest = pipeline.newest_export_days(config, as_of=AS_OF)
    assert newest["experiment_assignments"] == date(2023, 4, 30) and newest["skill_scores"] == date(2023, 5, 5)
    findings = v.freshness_findings(newest, AS_OF, config.source_freshness)
    assert [f.severity for f in findings] == [v.OK] * 6, [(f.table, f.observed) for f in findings]


def test_a_folder_without_success_is_not_a_delivered_day(sparse_landing):
    deliver(sparse_landing, "app_sessions", [AS_OF + timedelta(days=1)], complete=False)
    assert pipeline.newest_complete_day(Config(landing=sparse_landing)) == AS_OF


def test_a_daily_source_that_stops_delivering_warns_then_blocks_and_is_named(sparse_landing):
    config = Config(landing=sparse_landing)
    for extra_days in (1, 2, 3, 4):
        as_of = AS_OF + timedelta(days=extra_days)
        for source in ("certificates", "certificate_views"):  # they keep delivering; app_sessions stopped at AS_OF
            deliver(sparse_landing, source, [as_of])
        # The source that stopped does not hold as_of back: the others' newest day is the run's as_of.
        assert pipeline.newest_complete_day(config) == as_of
        findings = {f.table: f for f in v.freshness_findings(pipeline.newest_export_days(config, as_of=as_of), as_of,
                                                             config.source_freshness)}
        lagging = findings["landing.app_sessions"]
        expected = {1: v.WARNING, 2: v.WARNING, 3: v.FAILURE, 4: v.FAILURE}[extra_days]
        assert lagging.severity == expected, (extra_days, lagging)
        assert f"{AS_OF} ({extra_days} day(s) behind as_of)" == lagging.observed
        assert all(f.severity == v.OK for table, f in findings.items() if table != "landing.app_sessions")


def test_an_explicit_as_of_is_judged_on_the_days_up_to_it(sparse_landing):
    config = Config(landing=sparse_landing)
    newest = pipeline.newest_export_days(config, as_of=date(2023, 6, 30))
    assert newest["app_sessions"] == date(2023, 6, 30) and newest["learners"] == date(2023, 3, 2)
    beyond = date(2023, 10, 5)  # five days past what was delivered
    findings = v.freshness_findings(pipeline.newest_export_days(config, as_of=beyond), beyond, config.source_freshness)
    assert {f.table for f in findings if f.severity == v.FAILURE} == {f"landing.{s}" for s in DAILY}


def test_no_daily_delivery_or_no_daily_source_fails_clearly(tmp_path, sparse_landing):
    empty = tmp_path / "empty"
    deliver(empty, "experiment_assignments", [date(2023, 3, 31)])
    with pytest.raises(FileNotFoundError, match="certificates, certificate_views, app_sessions"):
        pipeline.newest_complete_day(Config(landing=empty))
    all_event_driven = Config(landing=sparse_landing).with_overrides(
        source_freshness=dict.fromkeys(DEFAULT_SOURCE_FRESHNESS))
    with pytest.raises(ValueError, match="set as_of"):
        pipeline.newest_complete_day(all_event_driven)


def test_the_dag_resolves_as_of_from_bronze_with_the_same_rule(tmp_path):
    """Ingest reports of daily sources through AS_OF, of assignments on one day: as_of is AS_OF."""
    config = Config(lake=tmp_path / "lake")
    for source, days in {**{s: every_day(date(2023, 9, 1), AS_OF) for s in DAILY},
                         "experiment_assignments": [date(2023, 3, 31)]}.items():
        for day in days:
            report = lake.ingest_report(config.lake, source, day)
            report.parent.mkdir(parents=True, exist_ok=True)
            report.write_text(json.dumps({"source": source, "dt": day.isoformat()}))
    assert pipeline.newest_ingested_day(config) == AS_OF


def test_the_ingest_sensor_waits_only_for_the_daily_sources(sparse_landing):
    config = Config(landing=sparse_landing)
    assert exports_missing(config, ExportWindow(AS_OF, AS_OF)) == []
    assert exports_missing(config, ExportWindow(AS_OF, AS_OF + timedelta(days=1))) == list(DAILY)


def _bronze_through(lake_root: Path, newest: date) -> None:
    for source in DAILY:
        for day in every_day(newest - timedelta(days=2), newest):
            report = lake.ingest_report(lake_root, source, day)
            report.parent.mkdir(parents=True, exist_ok=True)
            report.write_text(json.dumps({"source": source, "dt": day.isoformat()}))


@pytest.mark.parametrize(("partition_key", "configured", "expected"), [
    (AS_OF.isoformat(), None, AS_OF.isoformat()),                          # the newest day: derive it
    ((AS_OF - timedelta(days=1)).isoformat(), None, None),                  # superseded by AS_OF: skip
    (None, None, AS_OF.isoformat()),                                        # no partition: the newest in bronze
    ((AS_OF - timedelta(days=1)).isoformat(), "2023-09-15", "2023-09-15"),  # a configured as_of wins
])
def test_a_feature_run_is_for_its_export_day_unless_a_newer_one_is_in_bronze(tmp_path, monkeypatch, partition_key,
                                                                              configured, expected):
    from types import SimpleNamespace

    from credsignal.entry.airflow_tasks import feature_day_for_run

    _bronze_through(tmp_path / "lake", AS_OF)
    monkeypatch.setenv("AIRFLOW_VAR_CREDSIGNAL_LAKE", str(tmp_path / "lake"))
    if configured:
        monkeypatch.setenv("AIRFLOW_VAR_CREDSIGNAL_AS_OF", configured)
    context = {"dag_run": SimpleNamespace(partition_key=partition_key)}
    assert feature_day_for_run(context) == expected


@pytest.mark.parametrize(("context", "window"), [
    ({"dag_run": None, "partition_key": "2023-09-29"}, (date(2023, 9, 29), date(2023, 9, 29))),
    ({"partition_key": "2023-09-29", "params": {"since": "2023-09-01", "until": "2023-09-10"}},
     (date(2023, 9, 1), date(2023, 9, 10))),
    ({"data_interval_start": None, "logical_date": None, "partition_key": None,
      "params": {"since": "2023-09-01"}}, (date(2023, 9, 1), date(2023, 9, 1))),
])
def test_an_ingest_run_covers_its_partition_or_its_params(context, window):
    assert (ExportWindow.for_run(context).since, ExportWindow.for_run(context).until) == window
