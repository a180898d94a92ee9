"""The `credsignal` command as a user runs it: exit codes, messages, and the classify filters."""

from __future__ import annotations

import subprocess
import sys

import pytest


def credsignal(*args, stdin=""):
    return subprocess.run([sys.executable, "-m", "credsignal.entry.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=120)


def test_classify_titles_writes_csv():
    result = credsignal("classify", "titles", stdin="Desenvolvedor de Software\nCashier\nStagiaire data\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "text,tech,managerial,internship,in_scope",
        "Desenvolvedor de Software,1,0,0,1",
        "Cashier,0,0,0,0",
        "Stagiaire data,1,0,1,1",
    ]


def test_classify_degrees_writes_csv():
    result = credsignal("classify", "degrees", stdin="MBA\nBachelor of Mathematics\nPhD in Physics\nBusiness\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "text,level", "MBA,master", "Bachelor of Mathematics,bachelor", "PhD in Physics,doctor", "Business,none",
    ]


def test_run_on_missing_landing_fails_clearly(tmp_path):
    result = credsignal("run", "--landing", str(tmp_path / "nowhere"), "--lake", str(tmp_path / "lake"))
    assert result.returncode == 1
    assert "landing zone" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_on_empty_landing_fails_clearly(tmp_path):
    (tmp_path / "landing").mkdir()
    result = credsignal("run", "--landing", str(tmp_path / "landing"), "--lake", str(tmp_path / "lake"))
    assert result.returncode == 1
    assert "no complete export" in result.stderr


@pytest.mark.parametrize("args", [["run", "--as-of", "2023-13-01"], ["synth"], ["frobnicate"]])
def test_bad_arguments_exit_2(args):
    assert credsignal(*args).returncode == 2
