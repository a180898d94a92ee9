"""Run DAGs with `dag.test()` in a fresh process, one after the other, and write each run's state as JSON.

A fresh process because Airflow builds its plugin and listener set once per process: the OpenLineage listener
exists only when the process starts with an OpenLineage transport configured, which the test sets for it.

    python tests/run_dags.py runs.json platform_exports_daily='{"since": "2023-03-01", "until": "2023-09-30"}' features_daily

(A file, not stdout: dag.test() logs the tasks to stdout.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(out: str, *specs: str) -> int:
    from airflow.dag_processing.dagbag import DagBag

    dags = DagBag().dags
    states = {}
    for spec in specs:
        dag_id, _, conf = spec.partition("=")
        run = dags[dag_id].test(run_conf=json.loads(conf) if conf else None)
        states[dag_id] = {"state": str(run.state), "run_id": run.run_id}
    Path(out).write_text(json.dumps(states))
    return 0 if all(s["state"] == "success" for s in states.values()) else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
