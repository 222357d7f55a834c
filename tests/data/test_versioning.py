"""Dataset versioning with DVC against a real S3 protocol endpoint on loopback (moto's server, no network).

The S3 endpoint is `moto.server.ThreadedMotoServer` bound to 127.0.0.1 on a free port; DVC (a subprocess)
and boto3 reach it only over HTTP. Its state lives in this process's moto backends, so stopping the server
and starting a new one on the same port is a real outage and a real recovery: the bucket survives.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from flows.cli import app
from pipelines import versioning as v

pytestmark = pytest.mark.data
N_PER_CLASS = 25  # 50 tiny JPEGs


# --------------------------------------------------------------------------------------------- helpers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class S3Endpoint:
    """A moto S3 server on 127.0.0.1 that can be stopped and restarted on the same port."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def set_auth(self, enforce: bool) -> None:
        """Moto accepts any keys unless told to check them against its IAM (after 0 free requests)."""
        request = urllib.request.Request(
            f"{self.url}/moto-api/reset-auth",
            data=b"0" if enforce else b"inf",
            headers={"Content-Type": "application/octet-stream"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            assert response.status == 200

    def client(self, service: str = "s3", **keys: str):  # noqa: ANN201
        import boto3

        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1", **keys)


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Endpoint]:
    endpoint = S3Endpoint()
    endpoint.start()
    yield endpoint
    endpoint.stop()


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake keys for moto; nothing read from ~/.aws or an instance metadata service."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    # Fewer botocore attempts than its default 5 so an outage fails in seconds, not half a minute; the
    # wrapper adds no retries of its own, so this only shortens the test.
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")


def make_image(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)).save(path, format="JPEG")


def make_dataset(folder: Path, seed: int = 0, n: int = N_PER_CLASS) -> Path:
    for i in range(n):
        make_image(folder / "REAL" / f"{i}.jpg", seed + i)
        make_image(folder / "FAKE" / f"{i}.jpg", seed + 1000 + i)
    return folder


def hashes(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under `folder` (missing folder: empty)."""
    if not folder.exists():
        return {}
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def dvc(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=root, capture_output=True, text=True, check=check, timeout=600
    )


@dataclass
class Project:
    root: Path
    data: Path
    originals: dict[str, str]
    bucket: str
    endpoint: S3Endpoint

    @property
    def cache(self) -> Path:
        return self.root / ".dvc" / "cache"


def cli(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str):  # noqa: ANN201
    monkeypatch.chdir(root)
    return CliRunner().invoke(app, list(args))


@pytest.fixture()
def project(tmp_path: Path, s3: S3Endpoint, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A git repo whose data/ (50 JPEGs) is imported and tracked by `realeyez data import`, committed,
    with an S3 remote added the way a user does (`dvc remote add -d` + `endpointurl`)."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    source = make_dataset(tmp_path / "source")
    result = cli(root, monkeypatch, "data", "import", str(source))
    assert result.exit_code == 0, result.output
    bucket = f"realeyez-{uuid.uuid4().hex[:12]}"
    dvc(root, "remote", "add", "-d", "storage", f"s3://{bucket}/realeyez")
    dvc(root, "remote", "modify", "storage", "endpointurl", s3.url)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "data v1")
    return Project(root, root / "data", hashes(root / "data"), bucket, s3)


def remote_keys(p: Project) -> list[str]:
    listed = p.endpoint.client().list_objects_v2(Bucket=p.bucket, Prefix="realeyez/")
    return [o["Key"] for o in listed.get("Contents", [])]


# --------------------------------------------------------------------------------------------- import / track


def test_import_tracks_the_folder_in_data_dvc_and_says_what_to_commit(project: Project) -> None:
    dvc_file = project.root / "data.dvc"
    out = yaml.safe_load(dvc_file.read_text())["outs"][0]
    assert out["path"] == "data" and out["md5"].endswith(".dir") and out["nfiles"] == 2 * N_PER_CLASS
    assert v.data_version_from_dvc_file(dvc_file) == out["md5"]
    # The embedded default remote is the git-ignored local folder; the user's S3 remote became the default.
    config = (project.root / ".dvc" / "config").read_text()
    assert 'remote "local"' in config and "remote = storage" in config
    assert "/storage" in (project.root / ".dvc" / ".gitignore").read_text().splitlines()
    assert "data" not in git(project.root, "ls-files").split()  # the images never go into git


def test_import_prints_the_files_to_commit_and_skips_dvc_outside_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    source = make_dataset(tmp_path / "source", n=2)
    result = cli(root, monkeypatch, "data", "import", str(source))
    assert result.exit_code == 0, result.output
    assert "data.dvc" in result.output and "git -C" in result.output and ".gitignore" in result.output
    assert v.remotes(root)["local"].url == str(root / ".dvc" / "storage")

    result = cli(root, monkeypatch, "data", "import", str(source), "--dest", "other", "--no-dvc")
    assert result.exit_code == 0 and "--no-dvc" in result.output
    assert not (root / "other.dvc").exists()

    plain = tmp_path / "plain"
    plain.mkdir()
    result = cli(plain, monkeypatch, "data", "import", str(source))
    assert result.exit_code == 0 and "not inside a git repository" in result.output
    assert not (plain / "data.dvc").exists() and not (plain / ".dvc").exists()


def test_default_local_remote_round_trip_needs_no_s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    result = cli(root, monkeypatch, "data", "import", str(make_dataset(tmp_path / "source", n=3)))
    assert result.exit_code == 0, result.output
    originals = hashes(root / "data")
    assert cli(root, monkeypatch, "data", "push").exit_code == 0
    assert (root / ".dvc" / "storage" / "files" / "md5").is_dir()
    shutil.rmtree(root / ".dvc" / "cache")
    shutil.rmtree(root / "data")
    result = cli(root, monkeypatch, "data", "pull")
    assert result.exit_code == 0, result.output
    assert hashes(root / "data") == originals


def test_tracked_data_version_is_the_md5_of_data_dvc_only_while_data_matches(project: Project) -> None:
    md5 = yaml.safe_load((project.root / "data.dvc").read_text())["outs"][0]["md5"]
    assert v.tracked_data_version(project.data) == md5
    assert v.dir_md5(project.data) == md5  # the same hash computed without DVC
    assert v.training_data(project.data) == (project.data.absolute(), md5)
    make_image(project.data / "REAL" / "0.jpg", seed=999)  # the folder no longer is that version
    assert v.tracked_data_version(project.data) is None
    assert v.tracked_data_version(project.data, verify=False) == md5
    assert v.tracked_data_version(project.root / "untracked") is None


# --------------------------------------------------------------------------------------------- S3 round trip


def test_create_bucket_push_delete_pull_restores_every_file(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli(project.root, monkeypatch, "data", "create-bucket")
    assert result.exit_code == 0, result.output
    assert f"created bucket '{project.bucket}'" in result.output
    s3c = project.endpoint.client()
    assert s3c.get_bucket_versioning(Bucket=project.bucket)["Status"] == "Enabled"
    rules = s3c.get_bucket_encryption(Bucket=project.bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    again = cli(project.root, monkeypatch, "data", "create-bucket")
    assert again.exit_code == 0 and "already exists" in again.output

    result = cli(project.root, monkeypatch, "data", "push")
    assert result.exit_code == 0, result.output
    assert "51 files pushed" in result.output  # 50 images + the .dir listing
    assert len(remote_keys(project)) == 2 * N_PER_CLASS + 1

    shutil.rmtree(project.cache)
    shutil.rmtree(project.data)
    result = cli(project.root, monkeypatch, "data", "pull")
    assert result.exit_code == 0, result.output
    assert hashes(project.data) == project.originals  # every file, byte for byte
    assert dvc(project.root, "status", "-c").stdout.strip() == "Cache and remote 'storage' are in sync."
    st = v.status(project.root)
    assert st.in_sync and st.remote.name == "storage"
    result = cli(project.root, monkeypatch, "data", "status")
    assert result.exit_code == 0 and "in sync" in result.output


def test_status_counts_what_a_push_would_send(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    project.endpoint.client().create_bucket(Bucket=project.bucket)
    st = v.status(project.root)
    assert (st.workspace_clean, st.only_local, st.only_remote, st.in_sync) == (True, 2 * N_PER_CLASS + 1, 0, False)
    result = cli(project.root, monkeypatch, "data", "status")
    assert result.exit_code == 0 and f"{2 * N_PER_CLASS + 1} file(s) to push" in result.output


# --------------------------------------------------------------------------------------------- faults


def cache_snapshot(p: Project) -> dict[str, str]:
    return hashes(p.cache)


def test_endpoint_down_during_push_fails_cleanly_and_the_rerun_completes(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.endpoint.client().create_bucket(Bucket=project.bucket)
    before = cache_snapshot(project)
    project.endpoint.stop()
    try:
        result = cli(project.root, monkeypatch, "data", "push")
    finally:
        project.endpoint.start()
    assert result.exit_code == 1
    message = " ".join(result.output.split())  # rich wraps long lines at the terminal width
    assert "remote 'storage'" in message and "endpoint unreachable" in message
    assert "Traceback" not in result.output
    assert cache_snapshot(project) == before and hashes(project.data) == project.originals

    result = cli(project.root, monkeypatch, "data", "push")  # the same command, endpoint back
    assert result.exit_code == 0, result.output
    assert dvc(project.root, "status", "-c").stdout.strip() == "Cache and remote 'storage' are in sync."


def test_endpoint_down_during_pull_fails_cleanly_and_the_rerun_completes(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.endpoint.client().create_bucket(Bucket=project.bucket)
    v.push(project.root)
    # Half the cache is gone (a second machine, or a cleaned cache); data/ holds the user's files.
    objects = sorted(p for p in (project.cache / "files" / "md5").rglob("*") if p.is_file())
    for path in objects[::2]:
        path.unlink()
    before = cache_snapshot(project)
    project.endpoint.stop()
    try:
        with pytest.raises(v.DataStoreError) as info:
            v.pull(project.root)
        result = cli(project.root, monkeypatch, "data", "pull")
    finally:
        project.endpoint.start()
    assert info.value.kind is v.FailureKind.UNREACHABLE and info.value.remote.name == "storage"
    assert project.endpoint.url in str(info.value) and "\n" not in str(info.value)
    assert result.exit_code == 1 and "endpoint unreachable" in " ".join(result.output.split())
    assert cache_snapshot(project) == before  # nothing lost, nothing half-written
    assert hashes(project.data) == project.originals

    shutil.rmtree(project.data)
    result = cli(project.root, monkeypatch, "data", "pull")
    assert result.exit_code == 0, result.output
    assert hashes(project.data) == project.originals
    assert len(cache_snapshot(project)) == 2 * N_PER_CLASS + 1
    assert v.status(project.root).in_sync


def test_pull_never_overwrites_edits_not_recorded_in_data_dvc(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    edited = project.data / "REAL" / "0.jpg"
    edited.write_bytes(edited.read_bytes() + b"edit")
    kept = hashes(project.data)
    result = cli(project.root, monkeypatch, "data", "pull", "--remote", "local")
    assert result.exit_code == 1 and "changes not recorded" in " ".join(result.output.split())
    assert hashes(project.data) == kept


def _cache_objects(p: Project) -> dict[str, Path]:
    """Cache objects by the hash their path names (temporary files of an interrupted write left out)."""
    found: dict[str, Path] = {}
    for path in (p.cache / "files" / "md5").rglob("*"):
        name = path.parent.name + path.name
        if (
            path.is_file()
            and len(name.removesuffix(".dir")) == 32
            and all(c in "0123456789abcdef" for c in name.removesuffix(".dir"))
        ):
            found[name] = path
    return found


def _kill_when(proc: subprocess.Popen[bytes], ready: Callable[[], int], at_least: int, total: int) -> int:
    """SIGKILL `proc` once `ready()` reports at least `at_least` items (and fewer than `total`)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if ready() >= at_least:
            proc.kill()
            proc.wait()
            time.sleep(0.5)  # a request already sent may still land on the server
            return ready()
        time.sleep(0.01)
    raise AssertionError(f"the transfer ended before it could be interrupted (exit {proc.poll()})")


def test_a_push_and_a_pull_killed_half_way_complete_when_rerun(project: Project) -> None:
    make_dataset(project.data, seed=5000, n=100)  # 200 files: long enough to be caught half-way
    v.track(project.data, project.root)
    originals, total = hashes(project.data), 201
    project.endpoint.client().create_bucket(Bucket=project.bucket)
    command = [*v.dvc_command(), "--cd", str(project.root)]

    push = subprocess.Popen([*command, "push", "-j", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sent = _kill_when(push, lambda: len(remote_keys(project)), 20, total)
    assert 20 <= sent < total
    assert v.push(project.root).summary == f"{total - sent} files pushed"  # only what was missing
    assert v.status(project.root).in_sync

    shutil.rmtree(project.cache)
    shutil.rmtree(project.data)
    pull = subprocess.Popen([*command, "pull", "-j", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    got = _kill_when(pull, lambda: len(_cache_objects(project)) if project.cache.exists() else 0, 20, total)
    assert 20 <= got < total
    for name, path in _cache_objects(project).items():  # every object written is whole
        assert hashlib.md5(path.read_bytes()).hexdigest() == name.removesuffix(".dir")
    v.pull(project.root)
    assert hashes(project.data) == originals and v.status(project.root).in_sync


def test_missing_bucket_has_its_own_message_and_push_creates_nothing(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = cli(project.root, monkeypatch, "data", "push")
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert f"bucket '{project.bucket}' does not exist" in message and "create-bucket" in message
    with pytest.raises(v.DataStoreError) as info:
        v.status(project.root)
    assert info.value.kind is v.FailureKind.NO_BUCKET
    names = [b["Name"] for b in project.endpoint.client().list_buckets().get("Buckets", [])]
    assert project.bucket not in names


def test_wrong_credentials_have_their_own_message(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Moto checks keys only when told to: an IAM user with S3 rights is created, then auth is enforced."""
    s3 = project.endpoint
    s3.client().create_bucket(Bucket=project.bucket)
    iam = s3.client("iam")
    user = f"u{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    s3.set_auth(True)
    try:
        # The right keys work under enforcement: what fails below fails because of the keys.
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        assert v.push(project.root).summary == "51 files pushed"

        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        with pytest.raises(v.DataStoreError) as wrong_secret:
            v.pull(project.root)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000")
        result = cli(project.root, monkeypatch, "data", "push")
    finally:
        s3.set_auth(False)
    assert wrong_secret.value.kind is v.FailureKind.CREDENTIALS
    assert "SignatureDoesNotMatch" in str(wrong_secret.value)
    message = " ".join(result.output.split())
    assert result.exit_code == 1 and "credentials invalid or denied" in message and "InvalidAccessKeyId" in message
    assert hashes(project.data) == project.originals


def test_missing_credentials_are_named(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(v.DataStoreError) as info:
        v.push(project.root)
    assert info.value.kind is v.FailureKind.CREDENTIALS and "no AWS credentials found" in str(info.value)


def test_unknown_remote_and_untracked_data_are_plain_errors(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli(project.root, monkeypatch, "data", "push", "--remote", "nope")
    assert result.exit_code == 1 and "no DVC remote named 'nope'" in result.output
    result = cli(project.root, monkeypatch, "data", "pull", "--data", "elsewhere")
    assert result.exit_code == 1 and "not tracked with DVC" in " ".join(result.output.split())


# --------------------------------------------------------------------------------------------- revisions


def test_a_past_revision_is_rebuilt_exactly_from_the_remote(project: Project) -> None:
    project.endpoint.client().create_bucket(Bucket=project.bucket)
    v1 = git(project.root, "rev-parse", "HEAD").strip()
    md5_v1 = v.data_version_from_dvc_file(project.root / "data.dvc")
    v.push(project.root)
    make_image(project.data / "FAKE" / "0.jpg", seed=4242)
    (project.data / "REAL" / "1.jpg").unlink()
    make_image(project.data / "REAL" / "new.jpg", seed=4343)
    v2_files = hashes(project.data)
    v.track(project.data, project.root)
    git(project.root, "commit", "-qam", "data v2")
    v.push(project.root)
    assert v.data_version_from_dvc_file(project.root / "data.dvc") != md5_v1
    # Only the remote holds v1 now: the cache is gone.
    shutil.rmtree(project.cache)

    folder = v.materialize_revision(v1, project.root)
    assert hashes(folder) == project.originals
    assert folder.parent.name == md5_v1.removesuffix(".dir")
    assert v.materialize_revision(v1[:8], project.root) == folder  # reused, not fetched again
    path, md5 = v.training_data(project.data, rev=v1)
    assert (path, md5) == (folder, md5_v1)
    assert v.tracked_data_version(folder) == md5_v1 == v.dir_md5(folder)  # what the flow tags
    assert hashes(project.data) == v2_files  # the workspace is untouched
    (folder / "REAL" / "0.jpg").unlink()  # a materialized folder edited by hand is no longer that version
    assert v.tracked_data_version(folder) is None

    with pytest.raises(v.VersioningError, match="unknown git revision"):
        v.materialize_revision("no-such-rev", project.root)
    first = git(project.root, "rev-list", "--max-parents=0", "HEAD").strip()
    (project.root / "x.txt").write_text("x")
    git(project.root, "add", "x.txt")
    git(project.root, "commit", "-qm", "x")
    with pytest.raises(v.VersioningError, match="other.dvc does not exist"):
        v.materialize_revision(first, project.root, dvc_file="other.dvc")


def test_dvc_error_lines_are_reduced_to_their_cause() -> None:
    run = v._Run(
        255,
        "",
        "\x1b[31mERROR\x1b[39m: unexpected error - Forbidden: An error occurred (403) when calling the HeadObject "
        "operation: Forbidden\n\nHaving any troubles? Hit us up at https://dvc.org/support\n",
    )
    assert (
        v._dvc_error_line(run) == "Forbidden: An error occurred (403) when calling the HeadObject operation: Forbidden"
    )
    remote = v.Remote("r", "/some/folder")
    error = v.diagnose(remote, run, "push")
    assert error.kind is v.FailureKind.CREDENTIALS and "remote 'r' (/some/folder)" in str(error)


def test_cli_help_lists_every_data_command() -> None:
    result = CliRunner().invoke(app, ["data", "--help"])
    assert result.exit_code == 0
    for name in ("import", "push", "pull", "status", "create-bucket"):
        assert name in result.output
        assert CliRunner().invoke(app, ["data", name, "--help"]).exit_code == 0


def test_module_imports_neither_dvc_nor_boto3() -> None:
    code = "import sys, pipelines.versioning, flows.cli_data; print(any(m in sys.modules for m in ('dvc', 'boto3')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    assert done.stdout.strip() == "False"


# --------------------------------------------------------------------------------------------- dvc repro

REPO = Path(__file__).resolve().parents[2]
QUICK = {
    "train": {
        "backbone": "efficientnet_lite0",  # explicit: `auto` would probe the network for B0's weights
        "image_size": 32,
        "epochs": 1,
        "freeze_backbone_epochs": 1,
        "batch_size": 32,
    },
    "gate": {"min_accuracy": 0.0, "min_roc_auc": 0.0},
    "evaluate": {"misclassified_grid": 4},
}


def test_dvc_yaml_lists_every_param_the_training_flow_reads() -> None:
    from pipelines.config import Params

    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["train"]
    listed = set(stage["params"])
    every = set(Params().flat())
    # Read only by `realeyez run` (to fill an empty data/), a process count, and data.dir (tracked by `${}`).
    not_listed = {"data.sample_archive", "data.url", "validate.workers", "data.dir"}
    assert listed == every - not_listed
    assert stage["deps"][0] == "${data.dir}" and {"pipelines", "flows", "serving"} <= set(stage["deps"])


def _model_versions(tracking_uri: str) -> int:
    from mlflow import MlflowClient

    return len(MlflowClient(tracking_uri=tracking_uri).search_model_versions("name='realeyez'"))


@pytest.fixture(scope="module")
def repro(cifake_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """A copy of the project (dvc.yaml, params.yaml, code) in a fresh git repo with 200 real CIFAKE images:
    `dvc repro`, `dvc repro` again, then one param changed and `dvc repro` a third time."""
    base = tmp_path_factory.mktemp("repro")
    root = base / "project"
    root.mkdir()
    for name in ("dvc.yaml", "params.yaml", ".dvcignore", ".gitignore"):
        shutil.copy(REPO / name, root / name)
    (root / ".dvc").mkdir()
    for name in ("config", ".gitignore"):
        shutil.copy(REPO / ".dvc" / name, root / ".dvc" / name)
    for name in ("pipelines", "flows", "serving"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    params = yaml.safe_load((root / "params.yaml").read_text())
    for section, values in QUICK.items():
        params[section].update(values)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for label in ("REAL", "FAKE"):
        (root / "data" / label).mkdir(parents=True)
        for src in sorted((cifake_sample / label).iterdir())[:100]:
            shutil.copy(src, root / "data" / label / src.name)
    tracking_uri = f"sqlite:///{base / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # the venv's realeyez
        mp.setenv("MLFLOW_TRACKING_URI", tracking_uri)
        mp.setenv("REALEYEZ_ARTIFACTS", str(base / "artifacts"))
        mp.setenv("KERAS_HOME", str(base / "keras"))
        mp.setenv("DVC_SITE_CACHE_DIR", str(base / "dvc-site"))
        mp.setenv("DVC_NO_ANALYTICS", "1")
        git(root, "init", "-q")
        v.track(root / "data", root)
        git(root, "add", "-A")
        git(root, "commit", "-qm", "project + data")
        metrics = root / "reports" / "metrics.json"

        first = dvc(root, "repro", check=False)
        assert first.returncode == 0, first.stdout + first.stderr
        lock_first = yaml.safe_load((root / "dvc.lock").read_text())
        stamp, versions_first = metrics.stat().st_mtime_ns, _model_versions(tracking_uri)

        second = dvc(root, "repro", check=False)
        unchanged = (metrics.stat().st_mtime_ns == stamp, _model_versions(tracking_uri) == versions_first)
        # Bytecode written next to the code must not count as a code change (.dvcignore).
        (root / "pipelines" / "__pycache__").mkdir(exist_ok=True)
        (root / "pipelines" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
        status_after_pyc = dvc(root, "status", "--json").stdout

        text = (root / "params.yaml").read_text()
        assert "ece_bins: 15" in text
        (root / "params.yaml").write_text(text.replace("ece_bins: 15", "ece_bins: 10"))
        status_after_param = dvc(root, "status", "--json").stdout
        third = dvc(root, "repro", check=False)
        assert third.returncode == 0, third.stdout + third.stderr
        yield {
            "root": root,
            "tracking_uri": tracking_uri,
            "first": first,
            "second": second,
            "third": third,
            "lock_first": lock_first,
            "lock_third": yaml.safe_load((root / "dvc.lock").read_text()),
            "unchanged": unchanged,
            "versions": (versions_first, _model_versions(tracking_uri)),
            "status_after_pyc": status_after_pyc,
            "status_after_param": status_after_param,
            "metrics_show": dvc(root, "metrics", "show", "--json").stdout,
            "plots_show": dvc(root, "plots", "show", "--json").stdout,
            "exp_show": dvc(root, "exp", "show", "--json").stdout,
        }


@pytest.mark.model
def test_repro_runs_the_training_flow_and_records_its_inputs_in_dvc_lock(repro: dict[str, object]) -> None:
    root = repro["root"]
    assert "Running stage 'train'" in repro["first"].stdout  # type: ignore[union-attr]
    stage = repro["lock_first"]["stages"]["train"]  # type: ignore[index]
    deps = {d["path"]: d["md5"] for d in stage["deps"]}
    assert deps["data"] == v.data_version_from_dvc_file(root / "data.dvc")  # type: ignore[operator]
    assert {"pipelines", "flows", "serving"} <= set(deps)
    assert stage["params"]["params.yaml"]["train.epochs"] == 1
    outs = {o["path"] for o in stage["outs"]}
    assert {"reports/metrics.json", "reports/plots/roc.json", "reports/plots/pr.json"} <= outs
    assert repro["versions"][0] == 1  # type: ignore[index]


@pytest.mark.model
def test_second_repro_does_nothing(repro: dict[str, object]) -> None:
    out = repro["second"].stdout  # type: ignore[union-attr]
    assert "Stage 'train' didn't change, skipping" in out and "Running stage" not in out
    assert repro["unchanged"] == (True, True)  # no new metrics, no new model version
    assert json.loads(repro["status_after_pyc"]) == {}  # type: ignore[arg-type]


@pytest.mark.model
def test_changing_one_param_reruns_the_training_stage(repro: dict[str, object]) -> None:
    changed = json.loads(repro["status_after_param"])["train"]  # type: ignore[arg-type]
    assert {"changed deps": {"params.yaml": {"evaluate.ece_bins": "modified"}}} in changed
    assert "Running stage 'train'" in repro["third"].stdout  # type: ignore[union-attr]
    assert repro["lock_third"]["stages"]["train"]["params"]["params.yaml"]["evaluate.ece_bins"] == 10  # type: ignore[index]
    assert repro["versions"] == (1, 2)


@pytest.mark.model
def test_metrics_plots_and_experiments_are_readable_by_dvc(repro: dict[str, object]) -> None:
    metrics = json.loads(repro["metrics_show"])  # type: ignore[arg-type]
    (workspace_metrics,) = metrics.values()  # DVC keys the workspace as ""
    values = workspace_metrics["data"]["reports/metrics.json"]["data"]
    assert 0.0 <= values["accuracy"] <= 1.0 and values["n_real"] + values["n_fake"] == 20
    plots = json.loads(repro["plots_show"])["data"]  # type: ignore[arg-type]
    assert {"reports/plots/roc.json", "reports/plots/pr.json"} <= set(plots)
    rows = json.loads(repro["exp_show"])  # type: ignore[arg-type]
    workspace = next(r for r in rows if r["rev"] == "workspace")["data"]
    assert workspace["params"]["params.yaml"]["data"]["evaluate"]["ece_bins"] == 10
    assert "accuracy" in workspace["metrics"]["reports/metrics.json"]["data"]


@pytest.mark.model
def test_the_run_tag_data_version_is_the_md5_in_data_dvc(repro: dict[str, object]) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=str(repro["tracking_uri"]))
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], order_by=["attributes.start_time ASC"]
    )
    md5 = v.data_version_from_dvc_file(repro["root"] / "data.dvc")  # type: ignore[operator]
    assert md5 and [r.data.tags.get("data_version") for r in runs] == [md5, md5]
