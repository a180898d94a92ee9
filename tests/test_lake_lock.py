"""One writer per lake (credsignal.core.storage.lake_lock), tried with real processes: a holder that keeps the lock and
`credsignal run`s that find it held. Every wait is a poll with a deadline."""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from credsignal.core import lake
from credsignal.core.storage import LakeBusy, lake_lock

DEADLINE_S = 60.0
HOLDER_RUN_ID = "manual__rerun-1"
HOLDER = """
import sys
from pathlib import Path
from credsignal.core.storage import lake_lock

with lake_lock(Path(sys.argv[1]), step="backfill", run_id=sys.argv[2]):
    print("held", flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


PROBE = """
import sys
from pathlib import Path
from credsignal.core.storage import lake_lock

with lake_lock(Path(sys.argv[1]), step="probe", wait_seconds=0):
    pass
"""


def _read_until(stream, text: str, *, deadline_s: float = DEADLINE_S) -> str:
    """Lines of `stream` until one contains `text`; fails at the deadline or at end of stream."""
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    seen, deadline = [], time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if not selector.select(timeout=deadline - time.monotonic()):
            continue
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"{text!r} not seen within {deadline_s} s; got:\n{''.join(seen)}")


@pytest.fixture
def landing(tmp_path) -> Path:
    folder = tmp_path / "landing"
    folder.mkdir()
    return folder


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lake's writer lock until its stdin closes."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "lake"), HOLDER_RUN_ID],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    _read_until(proc.stdout, "held")
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=DEADLINE_S)


def _run(tmp_path, landing, wait_seconds: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "CREDSIGNAL_LAKE_LOCK_WAIT_SECONDS": wait_seconds}
    return subprocess.Popen([sys.executable, "-m", "credsignal.entry.cli", "run", "--landing", str(landing),
                             "--lake", str(tmp_path / "lake")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def test_a_second_run_fails_naming_the_writer(tmp_path, landing, holder):
    second = _run(tmp_path, landing, "0")
    _, stderr = second.communicate(timeout=DEADLINE_S)
    assert second.returncode == 1
    assert f"pid {holder.pid} on {socket.gethostname()}, run {HOLDER_RUN_ID}, step backfill, since 20" in stderr
    assert "is being written by" in stderr and "Traceback" not in stderr
    assert "no complete export" not in stderr  # it stopped at the lock, before reading anything
    assert holder.poll() is None


def test_a_second_run_waits_for_the_writer_then_goes_on(tmp_path, landing, holder):
    second = _run(tmp_path, landing, "120")
    waited = _read_until(second.stderr, "waits for the lake")
    assert f"pid {holder.pid}" in waited
    assert second.poll() is None
    holder.stdin.close()
    holder.wait(timeout=DEADLINE_S)
    _, rest = second.communicate(timeout=DEADLINE_S)
    assert second.returncode == 1
    assert "no complete export" in rest  # past the lock: the empty landing zone is the next thing it reports


def test_a_killed_writer_leaves_no_lock_behind(tmp_path, landing, holder):
    holder.kill()
    holder.wait(timeout=DEADLINE_S)
    second = _run(tmp_path, landing, "0")
    _, stderr = second.communicate(timeout=DEADLINE_S)
    assert "is being written by" not in stderr and "no complete export" in stderr


def test_the_lock_is_held_once_per_process_and_released(tmp_path):
    with lake_lock(tmp_path, step="run", run_id="r1"):
        with lake_lock(tmp_path, step="publish", run_id="r1", wait_seconds=0):  # a step inside the run
            assert "r1" in lake.writer_lock(tmp_path).read_text()
        probe = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True, text=True,
                               timeout=DEADLINE_S)
        assert probe.returncode != 0 and "LakeBusy" in probe.stderr  # still held after the inner step ended
    assert lake.writer_lock(tmp_path).read_text() == ""
    with lake_lock(tmp_path, step="run", wait_seconds=0):
        pass


def test_the_busy_error_names_the_holder_in_process_terms(tmp_path, holder):
    with pytest.raises(LakeBusy, match=rf"pid {holder.pid} .*run {HOLDER_RUN_ID}"):
        with lake_lock(tmp_path / "lake", step="cleanup", wait_seconds=0.2, poll_seconds=0.05):
            pass
