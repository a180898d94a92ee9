"""OpenLineage for the DAG tasks: the lake tables each task read and wrote, their schemas, their row counts and,
for validate, the outcome of every check (docs/operations.md, "Lineage").

The provider's listener (apache-airflow-providers-openlineage) emits the run events of every task. A TaskFlow
task is opaque to it: the provider's own PythonExtractor reports its source code and nothing about data. So
each credsignal task says what it read and wrote, with `declare` (an XCom under LINEAGE_XCOM_KEY, pushed
before the task ends, also when it fails), and `TaskLineageExtractor`, registered as the provider's custom
extractor (``[openlineage] extractors = credsignal.entry.lineage.TaskLineageExtractor``), turns the declaration into
the event's input and output datasets and facets. A task that declares nothing gets what the provider's
PythonExtractor gives.

Datasets are named after the lake's layout: the namespace is the lake (or the landing zone) as a URI, the
name is the table's path inside it, e.g. ``bronze/learners`` or ``curated/learner_outcomes_full``.

The extractor pulls the XCom while the task's process is still alive, which needs the provider's
``execute_in_thread = True``: a forked emitter shares the task's supervisor socket (the provider's docs).
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import attr
from airflow.providers.openlineage.extractors.base import OperatorLineage
from airflow.providers.openlineage.extractors.python import PythonExtractor
from openlineage.client.event_v2 import Dataset, InputDataset, OutputDataset
from openlineage.client.facet_v2 import (
    DatasetFacet,
    data_quality_assertions_dataset,
    input_statistics_input_dataset,
    output_statistics_output_dataset,
    schema_dataset,
    symlinks_dataset,
)

from credsignal.core.storage import footer_descriptions

log = logging.getLogger(__name__)

LINEAGE_XCOM_KEY = "openlineage"
PRODUCER = "https://github.com/credsignal/credsignal"
ROW_ACCOUNTING_FACET = "credsignal_rowAccounting"
_PARTITION_DIR = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class TableUse:
    """One table a task read or wrote, as it travels in the XCom (plain JSON)."""

    namespace: str
    name: str
    fields: list[list[str]] = field(default_factory=list)  # [name, type, description]
    rows: int | None = None
    files: int | None = None
    accounting: dict[str, Any] = field(default_factory=dict)  # the task's row accounting, as it logs it
    assertions: list[dict[str, Any]] = field(default_factory=list)
    same_as: str | None = None  # the table this one is staged for (a symlink facet)


def namespace_of(root: Path) -> str:
    return _absolute(root).as_uri()


def _absolute(path: Path) -> Path:
    # Not resolve(): curated/<table> is a symlink into the live snapshot, and the dataset is the stable name.
    return Path(os.path.abspath(path))


def table(root: Path, path: Path, *, rows: int | None = None, files: int | None = None,
          accounting: Mapping[str, Any] | None = None, assertions: Sequence[Mapping[str, Any]] = (),
          same_as: str | None = None, with_schema: bool = True,
          fields: list[list[str]] | None = None) -> TableUse:
    """The dataset of the table stored at `path` under the zone `root` (the lake, or the landing zone). Its schema
    is read from the Parquet written there, unless `fields` gives it (an export's contract) or `with_schema` is
    off."""
    root, path = _absolute(root), _absolute(path)
    if fields is None:
        fields = parquet_fields(path) if with_schema else []
    return TableUse(namespace=namespace_of(root), name=path.relative_to(root).as_posix(),
                    fields=fields, rows=rows, files=files,
                    accounting=dict(accounting or {}), assertions=[dict(a) for a in assertions], same_as=same_as)


def parquet_fields(path: Path) -> list[list[str]]:
    """[name, type, description] of the Parquet table at `path`, read from one file's footer (the table is
    written with one schema) plus its hive partition columns; [] when nothing has been written there."""
    import pyarrow.parquet as pq

    if not path.is_dir():
        return []
    first = next((p for p in path.rglob("*.parquet") if not _hidden(p.relative_to(path))), None)
    if first is None:
        return []
    schema = pq.read_schema(first)
    described = footer_descriptions(schema)
    fields = [[f.name, str(f.type), described.get(f.name, "")] for f in schema]
    known = {f.name for f in schema}
    for part in first.relative_to(path).parts[:-1]:
        match = _PARTITION_DIR.match(part)
        if match and match["key"] not in known:
            fields.append([match["key"], "date" if _ISO_DAY.match(match["value"]) else "string", "partition"])
    return fields


def contract_fields(schema: Any) -> list[list[str]]:
    """[name, type, description] of a contract's Spark schema (for exports, which are not Parquet)."""
    return [[f.name, f.dataType.simpleString(), f.metadata.get("description", "")] for f in schema.fields]


def _hidden(relative: Path) -> bool:
    return any(part.startswith(("_", ".")) for part in relative.parts)


def assertions_of(findings: Iterable[Any]) -> dict[str, list[dict[str, Any]]]:
    """validate's findings as data-quality assertions, grouped by the table they are about."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for finding in findings:
        grouped.setdefault(finding.table, []).append({
            "assertion": finding.check, "success": finding.severity != "failure", "severity": finding.severity,
            "expected": finding.expected, "actual": finding.observed,
            "params": {name: number for name, number in (("p_value", finding.p_value), ("value", finding.value))
                       if number is not None and math.isfinite(number)},
        })
    return grouped


def declare(context: Mapping[str, Any] | None, *, inputs: Sequence[TableUse] = (),
            outputs: Sequence[TableUse] = ()) -> None:
    """Record what the running task read and wrote, for its OpenLineage events. Outside a task (`credsignal
    run`, no context) there is nothing to record to."""
    ti = (context or {}).get("ti")
    if ti is None:
        return
    ti.xcom_push(key=LINEAGE_XCOM_KEY,
                 value={"inputs": [asdict(t) for t in inputs], "outputs": [asdict(t) for t in outputs]})


# ------------------------------------------------------------------------------------------- the events


@attr.define
class RowAccountingDatasetFacet(DatasetFacet):
    """What the task counted for this dataset: ingest's rows in, kept, quarantined by reason and duplicates, or
    parse's records by status."""

    counts: dict[str, Any] = attr.field(factory=dict)

    @staticmethod
    def _get_schema() -> str:
        return f"{PRODUCER}/blob/main/docs/operations.md#lineage"


def _schema_facet(use: Mapping[str, Any]) -> dict[str, Any]:
    if not use.get("fields"):
        return {}
    return {"schema": schema_dataset.SchemaDatasetFacet(fields=[
        schema_dataset.SchemaDatasetFacetFields(name=name, type=kind, description=description or None)
        for name, kind, description in use["fields"]])}


def _common_facets(use: Mapping[str, Any]) -> dict[str, Any]:
    facets = _schema_facet(use)
    if use.get("accounting"):
        facets[ROW_ACCOUNTING_FACET] = RowAccountingDatasetFacet(counts=use["accounting"])
    if use.get("same_as"):
        facets["symlinks"] = symlinks_dataset.SymlinksDatasetFacet(identifiers=[
            symlinks_dataset.Identifier(namespace=use["namespace"], name=use["same_as"], type="TABLE")])
    return facets


def input_dataset(use: Mapping[str, Any]) -> InputDataset:
    input_facets: dict[str, Any] = {}
    if use.get("rows") is not None or use.get("files") is not None:
        input_facets["inputStatistics"] = input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
            rowCount=use.get("rows"), fileCount=use.get("files"))
    if use.get("assertions"):
        input_facets["dataQualityAssertions"] = data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
            assertions=[data_quality_assertions_dataset.Assertion(**a) for a in use["assertions"]])
    return InputDataset(namespace=use["namespace"], name=use["name"], facets=_common_facets(use),
                        inputFacets=input_facets)


def output_dataset(use: Mapping[str, Any]) -> OutputDataset:
    output_facets: dict[str, Any] = {}
    if use.get("rows") is not None or use.get("files") is not None:
        output_facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            rowCount=use.get("rows"), fileCount=use.get("files"))
    return OutputDataset(namespace=use["namespace"], name=use["name"], facets=_common_facets(use),
                         outputFacets=output_facets)


class TaskLineageExtractor(PythonExtractor):
    """The provider's extractor for TaskFlow tasks: the datasets the task declared, with the PythonExtractor's
    source-code facet; just the latter for a task that declared nothing."""

    @classmethod
    def get_operator_classnames(cls) -> list[str]:
        return ["_PythonDecoratedOperator"]

    def extract_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        return self._declared(task_instance)

    def extract_on_failure(self, task_instance: Any) -> OperatorLineage | None:
        return self._declared(task_instance)

    def _declared(self, task_instance: Any) -> OperatorLineage | None:
        base = self._execute_extraction()
        # The calling task's own map index is used when none is given.
        declared = task_instance.xcom_pull(task_ids=task_instance.task_id, key=LINEAGE_XCOM_KEY)
        if not declared:
            return base
        return OperatorLineage(inputs=[input_dataset(use) for use in declared.get("inputs", [])],
                               outputs=[output_dataset(use) for use in declared.get("outputs", [])],
                               job_facets=base.job_facets if base else {})


def spark_properties(context: Mapping[str, Any] | None) -> dict[str, str]:
    """The OpenLineage properties a submitted Spark job gets, as the Spark provider's SparkSubmitOperator adds
    them: the parent job (this task's OpenLineage run) when ``[openlineage] spark_inject_parent_job_info`` is on,
    the transport when ``spark_inject_transport_info`` is. They take effect on a cluster whose Spark has the
    OpenLineage listener jar (docs/spark_cluster.md)."""
    if not context or context.get("ti") is None:
        return {}
    from airflow.configuration import conf
    from airflow.providers.common.compat.openlineage.utils.spark import (
        inject_parent_job_information_into_spark_properties,
        inject_transport_information_into_spark_properties,
    )

    properties: dict[str, str] = {}
    if conf.getboolean("openlineage", "spark_inject_parent_job_info", fallback=False):
        properties = inject_parent_job_information_into_spark_properties(properties, context)
    if conf.getboolean("openlineage", "spark_inject_transport_info", fallback=False):
        properties = inject_transport_information_into_spark_properties(properties, context)
    return {str(k): str(v) for k, v in properties.items()}
