"""The three Dockerfiles, the MLflow entrypoint, .dockerignore and the Jenkinsfile (no Docker engine needed)."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = {
    "gateway": REPO / "serving" / "Dockerfile",
    "mlflow": REPO / "mlflow" / "Dockerfile",
    "trainer": REPO / "flows" / "Dockerfile",
}
ENTRYPOINT = REPO / "mlflow" / "entrypoint.sh"


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_base_images_are_pinned(name: str) -> None:
    stages: set[str] = set()
    froms = [args for keyword, args in _instructions(DOCKERFILES[name]) if keyword == "FROM"]
    assert froms
    for args in froms:
        parts = args.split()
        image = next(p for p in parts if not p.startswith("--"))
        if image in stages:
            continue  # an earlier stage of the same build
        if len(parts) >= 3 and parts[-2].upper() == "AS":
            stages.add(parts[-1])
        assert "$" not in image, f"{name}: base image from a build argument: {image}"
        if "@sha256:" in image:
            continue
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: base image without an exact tag: {image}"
        assert re.search(r"\d+\.\d+\.\d+", tag), f"{name}: tag {tag} is not an exact version"


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_runs_as_a_non_root_user(name: str) -> None:
    users = [args for keyword, args in _instructions(DOCKERFILES[name]) if keyword == "USER"]
    assert users, f"{name}: no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), f"{name}: runs as root"


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_has_a_health_check(name: str) -> None:
    checks = [args for keyword, args in _instructions(DOCKERFILES[name]) if keyword == "HEALTHCHECK"]
    assert checks and not checks[-1].upper().startswith("NONE"), f"{name}: no HEALTHCHECK"
    assert "CMD" in checks[-1]


def test_gateway_serves_the_fastapi_app_on_port_8000() -> None:
    instructions = _instructions(DOCKERFILES["gateway"])
    cmd = json.loads(next(args for keyword, args in reversed(instructions) if keyword == "CMD"))
    assert cmd[:2] == ["uvicorn", "serving.gateway:app"]
    assert cmd[cmd.index("--port") + 1] == "8000" and cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert ("EXPOSE", "8000") in instructions


def test_trainer_runs_a_prefect_worker_with_cuda_tensorflow() -> None:
    text = DOCKERFILES["trainer"].read_text()
    assert "prefect worker start" in text and "--with-healthcheck" in text
    assert "tensorflow[and-cuda]" in text


def test_mlflow_directory_is_not_a_package() -> None:
    """mlflow/ holds the image files only: an __init__.py there would shadow the mlflow package."""
    assert not (REPO / "mlflow" / "__init__.py").exists()


def test_dockerignore_keeps_the_build_inputs_and_drops_the_rest() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        result = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            pattern = pattern.lstrip("!").rstrip("/")
            bare = pattern.removeprefix("**/")
            hit = any(
                fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(part, bare) or path.startswith(pattern + "/")
                for part in [path, *path.split("/")]
            )
            if hit:
                result = not negate
        return result

    copied = re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", "\n".join(p.read_text() for p in DOCKERFILES.values()), re.M)
    sources = {src for line in copied if "--from" not in line for src in line.split()}
    assert sources >= {"pyproject.toml", "flows", "pipelines", "serving", "mlflow/entrypoint.sh"}
    for source in sources:
        assert not ignored(source), f".dockerignore drops {source}, which a Dockerfile copies"
    for unwanted in (".git", ".venv", "data", "terraform", ".env", "mlruns", "terraform/x.tfstate", "tests"):
        assert ignored(unwanted), f".dockerignore lets {unwanted} into the build context"


# --- the MLflow entrypoint: migrations first, then the server ---------------------------------------------


def _fake_bin(tmp_path: Path) -> tuple[Path, Path]:
    """A bin/ with `python` (this interpreter) and a fake `mlflow` that logs each call as JSON."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.jsonl"
    (bin_dir / "python").symlink_to(sys.executable)
    fake = bin_dir / "mlflow"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(log)!r}, 'a') as out:\n"
        "    out.write(json.dumps({'argv': sys.argv[1:], 'uri': os.environ.get('MLFLOW_BACKEND_STORE_URI'),\n"
        "                          'pgpassword': os.environ.get('PGPASSWORD')}) + '\\n')\n"
    )
    fake.chmod(0o755)
    return bin_dir, log


def _run_entrypoint(bin_dir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_", "PG"))}
    clean.update(env, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", MLFLOW_PROMETHEUS_DIR=str(bin_dir / "m"))
    return subprocess.run(["sh", str(ENTRYPOINT), *args], env=clean, capture_output=True, text=True, timeout=120)


def _calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_entrypoint_upgrades_the_database_before_starting_the_server(tmp_path: Path) -> None:
    bin_dir, log = _fake_bin(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = _run_entrypoint(
        bin_dir,
        {"MLFLOW_BACKEND_STORE_URI": uri, "MLFLOW_DEFAULT_ARTIFACT_ROOT": "s3://bucket/mlflow"},
        "--workers",
        "1",
    )
    assert result.returncode == 0, result.stderr
    upgrade, server = _calls(log)
    assert upgrade["argv"] == ["db", "upgrade", uri]
    assert server["argv"][0] == "server" and server["uri"] == uri
    argv = server["argv"]
    assert argv[argv.index("--host") + 1] == "0.0.0.0" and argv[argv.index("--port") + 1] == "5000"
    assert argv[argv.index("--default-artifact-root") + 1] == "s3://bucket/mlflow" and "--no-serve-artifacts" in argv
    assert argv[-2:] == ["--workers", "1"]


def test_entrypoint_refuses_to_start_without_a_backend_store(tmp_path: Path) -> None:
    bin_dir, log = _fake_bin(tmp_path)
    result = _run_entrypoint(bin_dir, {})
    assert result.returncode == 64
    assert "MLFLOW_BACKEND_STORE_URI" in result.stderr
    assert not log.exists()


def test_entrypoint_stops_when_the_migration_fails(tmp_path: Path) -> None:
    bin_dir, log = _fake_bin(tmp_path)
    failing = bin_dir / "mlflow"
    failing.write_text(failing.read_text() + "sys.exit(3 if sys.argv[1] == 'db' else 0)\n")
    result = _run_entrypoint(bin_dir, {"MLFLOW_BACKEND_STORE_URI": "sqlite:///x.db"})
    assert result.returncode == 3
    assert [c["argv"][0] for c in _calls(log)] == ["db"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_entrypoint_reads_the_rds_secret_and_keeps_the_password_out_of_the_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3 = pytest.importorskip("boto3")
    server_module = pytest.importorskip("moto.server")
    port = _free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        aws = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
        for key, value in aws.items():  # for the client below; the entrypoint gets them explicitly
            monkeypatch.setenv(key, value)
        client = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1")
        password = "p@ss w'rd\"$(touch pwned)"
        arn = client.create_secret(
            Name="rds-master", SecretString=json.dumps({"username": "mlflow", "password": password})
        )["ARN"]
        bin_dir, log = _fake_bin(tmp_path)
        env = dict(
            aws,
            AWS_ENDPOINT_URL_SECRETS_MANAGER=endpoint,
            MLFLOW_DB_SECRET_ARN=arn,
            MLFLOW_DB_HOST="db.internal",
            MLFLOW_DB_NAME="mlflow",
        )
        result = _run_entrypoint(bin_dir, env)
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    upgrade, server_call = _calls(log)
    expected = "postgresql+psycopg://mlflow@db.internal:5432/mlflow?sslmode=require"
    assert upgrade["argv"] == ["db", "upgrade", expected]
    assert server_call["uri"] == expected
    assert upgrade["pgpassword"] == server_call["pgpassword"] == password
    assert password not in result.stdout + result.stderr
    assert not Path("pwned").exists() and not (tmp_path / "pwned").exists()


# --- the Jenkinsfile calls the Makefile's targets -------------------------------------------------------


def _make_targets() -> set[str]:
    makefile = REPO / "Makefile"
    assert makefile.exists(), "no Makefile"
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", makefile.read_text(), re.M))


def test_jenkinsfile_stages_follow_the_seed() -> None:
    text = (REPO / "Jenkinsfile").read_text()
    stages = re.findall(r"stage\('([^']+)'\)", text)
    for word in ("branch", "Clean", "Test", "Security", "images", "plan", "apply"):
        assert any(word.lower() in s.lower() for s in stages), f"no stage about {word}: {stages}"
    order = [next(i for i, s in enumerate(stages) if w in s.lower()) for w in ("branch", "test", "security", "plan")]
    assert order == sorted(order), stages


def test_jenkinsfile_make_targets_exist_in_the_makefile() -> None:
    text = (REPO / "Jenkinsfile").read_text()
    used = set(re.findall(r"\bmake\s+([A-Za-z0-9_.-]+)", text))
    assert used >= {"install", "lint", "test", "security", "images", "tf-plan", "tf-apply", "clean"}
    missing = used - _make_targets()
    assert not missing, f"the Jenkinsfile calls make targets the Makefile lacks: {sorted(missing)}"


def test_ci_scripts_are_valid_bash() -> None:
    for script in sorted((REPO / ".ci").glob("*.sh")) + [ENTRYPOINT]:
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script}: {result.stderr}"
