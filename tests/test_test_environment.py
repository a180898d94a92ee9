"""The test run's own environment: what conftest sets up for a run is gone when the run ends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_a_runs_airflow_home_is_removed_when_the_run_ends(tmp_path):
    seen = tmp_path / "airflow_home.txt"
    (tmp_path / "test_inner.py").write_text(
        "import os\n"
        "from pathlib import Path\n\n"
        "def test_home():\n"
        "    home = Path(os.environ['AIRFLOW_HOME'])\n"
        "    (home / 'airflow.db').write_text('')\n"
        f"    Path({str(seen)!r}).write_text(str(home))\n",
        encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    inner = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "--rootdir", str(tmp_path), str(tmp_path / "test_inner.py")],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=300)
    assert inner.returncode == 0, inner.stdout + inner.stderr
    home = Path(seen.read_text())
    assert home.name.startswith("credsignal-airflow-")
    assert home != Path(os.environ["AIRFLOW_HOME"])
    assert not home.exists()
