"""The whole chain in-process, for `credsignal run`: the same job functions the DAGs call, in order."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import date

from credsignal import lake
from credsignal.config import Config

log = logging.getLogger(__name__)


@dataclass
class PipelineReport:
    config: Config
    ingest: list = field(default_factory=list)

    def render(self) -> str:
        lines = [f"as_of {self.config.as_of}; lake {self.config.lake.resolve()}", "", "bronze ingestion:"]
        lines.append(f"  {'source':<24}{'days':>6}{'rows in':>10}{'kept':>10}{'quarant.':>10}{'dupl.':>8}")
        for result in self.ingest:
            total = result.total()
            lines.append(
                f"  {result.source:<24}{len(result.days):>6}{total.rows_in:>10}{total.rows_kept:>10}"
                f"{total.rows_quarantined:>10}{total.duplicates:>8}"
            )
        return "\n".join(lines)


def newest_complete_day(config: Config) -> date:
    days = [d for source in lake.PLATFORM_SOURCES for d in lake.complete_export_days(config.landing, source)]
    if not days:
        raise FileNotFoundError(f"no complete export (dt folder with _SUCCESS) under {config.landing / 'platform'}")
    return max(days)


def run_pipeline(config: Config) -> PipelineReport:
    from credsignal.spark import spark_session
    from jobs import ingest

    if config.as_of is None:
        config = replace(config, as_of=newest_complete_day(config))
    spark = spark_session(config)
    report = PipelineReport(config)
    report.ingest = ingest.run(spark, config, until=config.as_of)
    return report
