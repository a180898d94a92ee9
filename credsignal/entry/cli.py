"""`credsignal`: the command-line front door. It parses flags into a Config and calls credsignal.pipeline, the
same step functions the DAG tasks call; it holds no pipeline logic of its own."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Sequence

from credsignal.core.config import Config

log = logging.getLogger("credsignal")


class CommandError(Exception):
    """A failure to report to the user in one line, with exit status 1."""


def _cmd_synth(args: argparse.Namespace) -> int:
    from synth.platform import generate
    from synth.profile_pages import write_crawl

    summary = generate(args.landing, n_learners=args.scale, seed=args.seed, dirty_rate=args.dirty_rate)
    print(f"synthetic landing zone in {args.landing} ({summary.seconds:.1f} s): {summary.n_learners} learners, "
          f"{summary.part_files} export files over {summary.partitions_per_source} days per source")
    for source, rows in summary.clean_rows.items():
        print(f"  {source:<24}{rows:>10} rows  + {summary.extra_lines[source]} planted dirty/duplicate/late lines")
    if args.crawl_id:
        crawl = write_crawl(args.landing, crawl_id=args.crawl_id, seed=args.seed)
        print(f"  linkedin crawl={args.crawl_id}: {crawl.records} profile pages ({crawl.seconds:.1f} s)")
    print(f"  planted truth: {summary.truth_path.parent}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from credsignal.pipeline import PublishBlocked, run_pipeline

    config = Config.from_env(landing=args.landing, lake=args.lake, as_of=args.as_of, spark_master=args.spark_master,
                             experiment_id=args.experiment_id,
                             enrollment_reference_year=args.enrollment_reference_year,
                             degree_reference_year=args.degree_reference_year)
    if not config.landing.is_dir():
        raise CommandError(f"landing zone {config.landing} does not exist")
    try:
        report = run_pipeline(config)
    except PublishBlocked as blocked:
        print(str(blocked), file=sys.stderr)
        raise CommandError(f"validation failed, nothing was published; report: {blocked.outcome.report_path}")
    print(report.render())
    return 0


def _cmd_readout(args: argparse.Namespace) -> int:
    from credsignal.pipeline import build_readout

    config = Config.from_env(lake=args.lake)
    result = build_readout(None, config, snapshot_id=args.snapshot)
    print(result.summary())
    return 0


def _cmd_snapshots(args: argparse.Namespace) -> int:
    from credsignal.pipeline import list_snapshots

    for info in list_snapshots(Config.from_env(lake=args.lake)):
        print(info)
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    from credsignal.pipeline import roll_back

    snapshot = roll_back(Config.from_env(lake=args.lake), to=args.to)
    print(f"live snapshot is now {snapshot.snapshot_id}")
    return 0


def _cmd_cleanup(args: argparse.Namespace) -> int:
    from credsignal.pipeline import delete_expired

    config = Config.from_env(lake=args.lake, restricted_retention_days=args.retention_days)
    deleted = delete_expired(config, today=datetime.now(timezone.utc).date(), dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {len(deleted)} restricted-zone partitions older than {config.restricted_retention_days} days")
    for partition in deleted:
        print(f"  {partition}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from credsignal.entry.status import render, render_published

    config = Config.from_env(lake=args.lake)
    print(render(config.lake))
    print()
    print(render_published(config.lake))
    return 0


def _cmd_jvm_archive(args: argparse.Namespace) -> int:
    from credsignal.core.spark import build_class_archive

    print(build_class_archive(Config.from_env(jvm_class_archive=args.to)))
    return 0


def _cmd_jvm_filesystem(args: argparse.Namespace) -> int:
    from credsignal.core.spark import build_local_file_system_jar

    print(build_local_file_system_jar())
    return 0


def _cmd_classify(args: argparse.Namespace) -> int:
    from credsignal.reference import audit

    writer = audit.classify_titles_csv if args.kind == "titles" else audit.classify_degrees_csv
    writer((line.rstrip("\n") for line in sys.stdin), sys.stdout)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="credsignal", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    commands = parser.add_subparsers(dest="command", required=True)

    synth = commands.add_parser("synth", help="write a synthetic landing zone (platform exports + crawl)")
    synth.add_argument("--landing", type=Path, required=True)
    synth.add_argument("--scale", type=int, default=3000, help="number of learners (the study had ~880000)")
    synth.add_argument("--seed", type=int, default=7)
    synth.add_argument("--dirty-rate", type=float, default=0.01, help="share of planted bad lines per source")
    synth.add_argument("--crawl-id", default="2023-09", help="also render the LinkedIn crawl (empty: skip it)")
    synth.set_defaults(handler=_cmd_synth)

    run = commands.add_parser("run", help="run the whole chain in-process over every complete export day")
    run.add_argument("--landing", type=Path)
    run.add_argument("--lake", type=Path)
    run.add_argument("--as-of", type=date.fromisoformat, help="last export day to use (default: the newest)")
    run.add_argument("--spark-master", help="e.g. local[2] or spark://host:7077")
    run.add_argument("--experiment-id", help="the experiment whose assignments to use (CREDSIGNAL_EXPERIMENT_ID)")
    run.add_argument("--enrollment-reference-year", type=int,
                     help="currently_enrolled: an education entry ending after this year (paper: 2022)")
    run.add_argument("--degree-reference-year", type=int,
                     help="years_since_latest_degree counts from this year (paper: 2023)")
    run.set_defaults(handler=_cmd_run)

    readout = commands.add_parser("readout", help="build the analyst readout of a published snapshot")
    readout.add_argument("--lake", type=Path)
    readout.add_argument("--snapshot", help="snapshot id (default: the live one)")
    readout.set_defaults(handler=_cmd_readout)

    snapshots = commands.add_parser("snapshots", help="list the published snapshots kept for rollback")
    snapshots.add_argument("--lake", type=Path)
    snapshots.set_defaults(handler=_cmd_snapshots)

    rollback = commands.add_parser("rollback", help="make an earlier snapshot the live one again")
    rollback.add_argument("--lake", type=Path)
    rollback.add_argument("--to", help="snapshot id (default: the one before the live one)")
    rollback.set_defaults(handler=_cmd_rollback)

    cleanup = commands.add_parser("cleanup", help="delete restricted-zone partitions (quarantine, silver) older "
                                                  "than the retention (docs/privacy.md)")
    cleanup.add_argument("--lake", type=Path)
    cleanup.add_argument("--retention-days", type=int, help="default: Config.restricted_retention_days")
    cleanup.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    cleanup.set_defaults(handler=_cmd_cleanup)

    status = commands.add_parser("status", help="list the lake's tables with partitions and row counts")
    status.add_argument("--lake", type=Path)
    status.set_defaults(handler=_cmd_status)

    jvm_archive = commands.add_parser("jvm-archive", help="build the class archive Spark drivers start from (about "
                                                          "4 s faster per driver; `make install` runs it)")
    jvm_archive.add_argument("--to", type=Path, help="where (default: CREDSIGNAL_JVM_CLASS_ARCHIVE, else in the venv)")
    jvm_archive.set_defaults(handler=_cmd_jvm_archive)

    jvm_filesystem = commands.add_parser("jvm-filesystem", help="build the jar of the local file system Spark "
                                         "writes through (no chmod process per file; `make install` runs it)")
    jvm_filesystem.set_defaults(handler=_cmd_jvm_filesystem)

    classify = commands.add_parser("classify", help="classify job or degree titles read from stdin, CSV to stdout")
    classify.add_argument("kind", choices=["titles", "degrees"])
    classify.set_defaults(handler=_cmd_classify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return args.handler(args)
    except CommandError as error:
        print(f"credsignal: error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # noqa: BLE001 - the CLI's contract is one clear line and a non-zero exit
        log.debug("failure", exc_info=True)
        print(f"credsignal: error: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
