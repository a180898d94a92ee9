"""Tiny DAGs that tests write and run with `dag.test()`. Importable from tests (pytest's `pythonpath`)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest


def load_helper_dag(folder: Path, dag_id: str, source: str, monkeypatch: pytest.MonkeyPatch):
    """The DAG `the_dag` of `source`, written to `folder/<dag_id>.py`. dag.test() serialises a DAG from a bundle:
    the folder becomes a bundle of its own, so dags/ and its bundle stay untouched."""
    folder.mkdir(parents=True, exist_ok=True)
    dag_file = folder / f"{dag_id}.py"
    dag_file.write_text(source)
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([
        {"name": f"{dag_id}-tests", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
         "kwargs": {"path": str(folder), "refresh_interval": 0}},
        {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}},
    ]))
    spec = importlib.util.spec_from_file_location(f"{dag_id}_dag", dag_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.the_dag
