"""A real `airflow standalone` for end-to-end tests: started in its own session and process group in a throw-away
AIRFLOW_HOME, driven through the REST API, and stopped completely (every process it started, Spark JVMs of its
tasks included).

Nothing here sleeps for a fixed time: every wait polls a condition against a deadline and, when the deadline
passes, fails with what it last saw and the tail of the standalone's output.

Airflow 3.3 settings used (airflow/config_templates/config.yml):
- `[api] host` / `port` / `base_url`: the API server on 127.0.0.1 and a free port; `[core]
  execution_api_server_url`: where the tasks' supervisors reach the Execution API (default localhost:8080).
- `[core] simple_auth_manager_users` = `admin:admin` and `simple_auth_manager_passwords_file`: standalone keeps
  the passwords already in that file and only generates the missing ones, so a pre-written file gives a known
  admin password.
- `[dag_processor] refresh_interval` (the old scheduler `dag_dir_list_interval`) and `min_file_process_interval`.
- Task processes call `setpgid(0, 0)` (airflow.sdk.execution_time.supervisor), so they and their Spark JVMs leave
  standalone's process group but stay in its session: stopping signals the group, then every process of the
  session.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

ADMIN_USER = "admin"
TERMINAL_RUN_STATES = {"success", "failed"}
FAILED_TI_STATES = {"failed", "up_for_retry", "upstream_failed"}


class WaitTimeout(AssertionError):
    """A condition polled with a deadline did not hold in time."""


def wait_for(condition: Callable[[], T | None], *, timeout: float, what: str, interval: float = 2.0,
              describe: Callable[[], str] | None = None) -> T:
    """Poll `condition` until it returns a truthy value (returned) or `timeout` seconds pass (WaitTimeout, with
    `describe()` appended). Exceptions of the condition propagate."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = describe() if describe is not None else ""
            raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for {what}\n{detail}".rstrip())
        time.sleep(min(interval, max(0.05, deadline - time.monotonic())))


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str
    cmdline: str

    def __str__(self) -> str:
        return f"pid={self.pid} pgid={self.pgid} state={self.state} {self.cmdline[:160]}"


def processes() -> list[Proc]:
    """Every process of the machine, from /proc (Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # exited meanwhile
            continue
        # "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2:].split()
        found.append(Proc(int(entry.name), int(fields[1]), int(fields[2]), int(fields[3]), fields[0], cmdline))
    return found


def live_members(sid: int, pgid: int) -> list[Proc]:
    """Processes, zombies aside, in the session `sid` or the process group `pgid`."""
    return [p for p in processes() if (p.sid == sid or p.pgid == pgid) and p.state not in ("Z", "X")]


def _wait_gone(members: Callable[[], list[Proc]], *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while members():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.25)
    return True


def _signal_all(procs: Iterable[Proc], sig: int) -> None:
    for proc in procs:
        try:
            os.kill(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


# ---------------------------------------------------------------------------------------------- standalone


@dataclass
class AirflowStandalone:
    """`airflow standalone` in `home`, its API on 127.0.0.1:`port`. Use as a context manager, or start()/stop()."""

    home: Path
    dags_folder: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)
    port: int = 0
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    parallelism: int = 2
    airflow_bin: Path = field(default_factory=lambda: Path(sys.executable).parent / "airflow")

    def __post_init__(self) -> None:
        self.home = Path(self.home)
        self.port = self.port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.output_path = self.home / "standalone.out"
        self.process: subprocess.Popen | None = None
        self._token: str | None = None

    # ------------------------------------------------------------------------------------------ lifecycle

    def environment(self) -> dict[str, str]:
        home = self.home
        passwords_file = home / "simple_auth_manager_passwords.json"
        # Nothing Airflow- or credsignal-specific leaks in from the caller (conftest's unit-test home, a Spark
        # connection, Variables): the standalone sees only what is set here.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AIRFLOW", "_AIRFLOW", "CREDSIGNAL_", "PYSPARK_"))}
        env.update({
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            # React fast: list the DAG folder every 5 s (first parse is immediate either way). Files are not
            # re-parsed more often than every 30 s: they do not change during a test, and parsing costs CPU.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
            "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "180",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            # The tasks' supervisors call the Execution API (task state, heartbeats, Variables, XComs, Asset
            # events). The default 5 s timeout and 5 retries give up when the shared API server is slow on a
            # loaded 2-core machine.
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
            "AIRFLOW__WORKERS__EXECUTION_API_RETRIES": "10",
            "NO_COLOR": "1",
            "PYTHONUNBUFFERED": "1",
        })
        env.update(self.extra_env)
        return env

    def start(self, *, health_timeout: float = 240) -> "AirflowStandalone":
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "simple_auth_manager_passwords.json").write_text(json.dumps({ADMIN_USER: self.password}))
        out = open(self.output_path, "wb")
        try:
            self.process = subprocess.Popen(
                [str(self.airflow_bin), "standalone"], cwd=self.home, env=self.environment(),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        finally:
            out.close()
        self.wait_healthy(timeout=health_timeout)
        return self

    def __enter__(self) -> "AirflowStandalone":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def members(self) -> list[Proc]:
        """Live processes started by this standalone (its session, its process group)."""
        if self.process is None:
            return []
        return live_members(self.process.pid, self.process.pid)

    def stop(self, *, grace: float = 40, kill_grace: float = 20) -> list[Proc]:
        """TERM the process group (the components; the scheduler stops its task processes), after half the grace
        TERM whatever of the session is left (task process groups, their Spark JVMs), after the other half KILL
        everything left. Returns the processes still alive at the end (none, normally)."""
        if self.process is None:
            return []
        pgid = self.process.pid  # start_new_session: the leader's pid is the group and session id
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        _wait_gone(self.members, timeout=grace / 2)
        _signal_all(self.members(), signal.SIGTERM)
        _wait_gone(self.members, timeout=grace / 2)
        if self.members():
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + kill_grace
            while self.members() and time.monotonic() < deadline:
                _signal_all(self.members(), signal.SIGKILL)
                time.sleep(0.2)
        try:
            self.process.wait(timeout=kill_grace)
        except subprocess.TimeoutExpired:
            pass
        return self.members()

    def output_tail(self, lines: int = 60) -> str:
        try:
            text = self.output_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no standalone output)"
        return "\n".join(["---- airflow standalone output (tail) ----", *text[-lines:]])

    # ------------------------------------------------------------------------------------------ REST

    def _raw(self, method: str, path: str, body: Any = None, *, token: str | None = None,
             accept: str = "application/json", timeout: float = 90) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Accept", accept)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def token(self, *, refresh: bool = False) -> str:
        if self._token is None or refresh:
            status, payload = self._raw("POST", "/auth/token", {"username": ADMIN_USER, "password": self.password})
            if status not in (200, 201):
                raise AssertionError(f"POST /auth/token: HTTP {status}: {payload[:500]!r}")
            self._token = json.loads(payload)["access_token"]
        return self._token

    def api(self, method: str, path: str, body: Any = None, *, ok: Iterable[int] = (200, 201, 204),
            retry_for: float = 300) -> Any:
        """Call /api/v2`path` with the admin's token; the parsed JSON answer. Raises on an unexpected status.

        On a loaded machine the API server (one worker, SQLite) can take tens of seconds to answer while tasks
        talk to its Execution API: a timed-out or refused request is repeated until `retry_for` seconds passed."""
        deadline = time.monotonic() + retry_for
        while True:
            try:
                status, payload = self._raw(method, "/api/v2" + path, body, token=self.token())
                if status == 401:  # token expired
                    status, payload = self._raw(method, "/api/v2" + path, body, token=self.token(refresh=True))
                break
            except OSError as error:  # TimeoutError, ConnectionError, URLError
                if time.monotonic() >= deadline:
                    raise AssertionError(f"{method} /api/v2{path}: no answer for {retry_for:.0f} s: {error!r}\n"
                                         f"{self.output_tail(30)}") from error
                time.sleep(2)
        if status not in set(ok):
            raise AssertionError(f"{method} /api/v2{path}: HTTP {status}: {payload[:2000].decode(errors='replace')}")
        return json.loads(payload) if payload else None

    def health(self) -> dict | None:
        try:
            status, payload = self._raw("GET", "/api/v2/monitor/health", timeout=5)
        except (OSError, urllib.error.URLError):
            return None
        return json.loads(payload) if status == 200 else None

    def wait_healthy(self, *, timeout: float) -> dict:
        def healthy() -> dict | None:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"airflow standalone exited with {self.process.returncode}\n{self.output_tail()}")
            answer = self.health()
            if not answer:
                return None
            components = ("metadatabase", "scheduler", "dag_processor")
            states = {name: (answer.get(name) or {}).get("status") for name in components}
            return answer if all(state == "healthy" for state in states.values()) else None

        return wait_for(healthy, timeout=timeout, interval=1.0, what=f"{self.base_url}/api/v2/monitor/health",
                        describe=lambda: f"last answer: {self.health()}\n{self.output_tail()}")

    # ---------------------------------------------------------------------------------- DAGs, runs, assets

    def dags(self) -> dict[str, dict]:
        return {dag["dag_id"]: dag for dag in self.api("GET", "/dags?limit=100")["dags"]}

    def import_errors(self) -> list[dict]:
        return self.api("GET", "/importErrors?limit=100")["import_errors"]

    def wait_for_dags(self, dag_ids: Iterable[str], *, timeout: float) -> dict[str, dict]:
        wanted = set(dag_ids)

        def parsed() -> dict | None:
            if self.import_errors():
                raise AssertionError(f"DAG import errors: {json.dumps(self.import_errors(), indent=2)}")
            found = self.dags()
            return found if wanted <= set(found) else None

        return wait_for(parsed, timeout=timeout, what=f"DAGs {sorted(wanted)} to be parsed",
                        describe=lambda: f"parsed: {sorted(self.dags())}\n{self.output_tail()}")

    def set_paused(self, dag_id: str, paused: bool) -> dict:
        answer = self.api("PATCH", f"/dags/{dag_id}", {"is_paused": paused})
        assert answer["is_paused"] is paused, answer
        return answer

    def trigger(self, dag_id: str, *, logical_date: str | None, conf: Mapping[str, Any] | None = None,
                run_id: str | None = None) -> dict:
        """POST /dags/{id}/dagRuns. Airflow 3 requires the `logical_date` key (an ISO date-time with a zone, or
        null for a run without one)."""
        body: dict[str, Any] = {"logical_date": logical_date, "conf": dict(conf or {})}
        if run_id:
            body["dag_run_id"] = run_id
        if not run_id:
            return self.api("POST", f"/dags/{dag_id}/dagRuns", body)
        # With a run id the POST can be repeated safely (after a timeout): 409 means the first one got through.
        self.api("POST", f"/dags/{dag_id}/dagRuns", body, ok=(200, 201, 409))
        return self.dag_run(dag_id, run_id)

    def create_backfill(self, dag_id: str, *, from_date: str, to_date: str, run_backwards: bool = False,
                        max_active_runs: int = 1) -> dict:
        """POST /backfills: what `airflow backfill create` does. Dates are ISO date-times with a zone."""
        return self.api("POST", "/backfills", {"dag_id": dag_id, "from_date": from_date, "to_date": to_date,
                                                "run_backwards": run_backwards, "max_active_runs": max_active_runs,
                                                "reprocess_behavior": "none"})

    def backfill(self, backfill_id: int) -> dict:
        return self.api("GET", f"/backfills/{backfill_id}")

    def dag_runs(self, dag_id: str) -> list[dict]:
        return self.api("GET", f"/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.api("GET", f"/dags/{dag_id}/dagRuns/{_q(run_id)}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.api("GET", f"/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances?limit=100")["task_instances"]

    def upstream_asset_events(self, dag_id: str, run_id: str) -> list[dict]:
        return self.api("GET", f"/dags/{dag_id}/dagRuns/{_q(run_id)}/upstreamAssetEvents")["asset_events"]

    def asset_id(self, uri: str, *, timeout: float = 60) -> int:
        """The id of the Asset `uri` (registered when the DAGs that use it are parsed)."""
        def lookup() -> int | None:
            assets = self.api("GET", "/assets?limit=100")["assets"]
            return next((asset["id"] for asset in assets if asset["uri"] == uri), None)

        return wait_for(lookup, timeout=timeout, what=f"Asset {uri}")

    def post_asset_event(self, uri: str, extra: Mapping[str, Any] | None = None) -> dict:
        return self.api("POST", "/assets/events", {"asset_id": self.asset_id(uri), "extra": dict(extra or {})})

    def asset_events(self, uri: str) -> list[dict]:
        return self.api("GET", f"/assets/events?asset_id={self.asset_id(uri)}&limit=100")["asset_events"]

    # ---------------------------------------------------------------------------------- logs

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> str:
        """A task attempt's log, through the REST API, else from AIRFLOW_HOME/logs."""
        path = (f"/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances/{task_id}/logs/{try_number}"
                f"?full_content=true&map_index={map_index}")
        try:
            answer = self.api("GET", path)
            content = answer.get("content")
            if content:
                return _format_log(content)
        except (AssertionError, OSError, ValueError):
            pass
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        files = sorted(folder.glob(f"**/attempt={try_number}.log"))
        if not files:
            return f"(no log for {dag_id} {run_id} {task_id} try {try_number})"
        return "\n".join(_format_log(f.read_text(errors="replace").splitlines()) for f in files)

    def failure_report(self, dag_id: str, run_id: str, *, states: Iterable[str] = FAILED_TI_STATES) -> str:
        """The states of a run's task instances, and the logs of those that failed (or will be retried)."""
        wanted = set(states)
        lines = [f"==== {dag_id} / {run_id}"]
        try:
            tis = self.task_instances(dag_id, run_id)
        except (AssertionError, OSError) as error:
            return f"{lines[0]}: cannot list task instances: {error}"
        for ti in tis:
            lines.append(f"  {ti['task_id']:<32} {ti['state']} (try {ti['try_number']})")
        for ti in tis:
            if ti["state"] in wanted:
                for attempt in range(1, max(1, ti["try_number"]) + 1):
                    lines += [f"---- log of {ti['task_id']} try {attempt} ----",
                              self.task_log(dag_id, run_id, ti["task_id"], attempt, ti.get("map_index", -1))]
        return "\n".join(lines)


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _format_log(content: Iterable[Any]) -> str:
    """Airflow 3 task logs are structured (JSON lines); render them one line per record, tracebacks included."""
    out = []
    for item in content:
        record = item
        if isinstance(item, str):
            try:
                record = json.loads(item)
            except ValueError:
                out.append(item)
                continue
        if not isinstance(record, dict):
            out.append(str(record))
            continue
        out.append(" ".join(str(part) for part in (record.get("timestamp", ""), record.get("level", ""),
                                                   record.get("logger", ""), record.get("event", "")) if part))
        for detail in record.get("error_detail") or []:
            for frame in detail.get("frames", []):
                out.append(f"    {frame.get('filename')}:{frame.get('lineno')} in {frame.get('name')}")
            out.append(f"  {detail.get('exc_type')}: {detail.get('exc_value')}")
    return "\n".join(out)
