"""Version the dataset with DVC: track `data/` in `data.dvc`, push/pull it to a remote, rebuild past versions.

DVC runs as a subprocess of this interpreter (`python -m dvc`): its global state (logging, file-system
caches, retries) stays out of the Prefect/MLflow process, and what a user sees is what `dvc` itself does.
Its exit status decides success; when a transfer fails, the remote is probed once with boto3 so the error
is one line naming the remote and the cause (endpoint unreachable, bucket missing, credentials rejected),
not DVC's generic "unexpected error". DVC is safe on failure by construction, and nothing here adds a
step that could lose data: push only reads the cache, pull writes objects atomically and checks out only
after every object has arrived.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlparse

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client  # type: ignore[import-not-found]

log = logging.getLogger(__name__)

DEFAULT_LOCAL_REMOTE = "local"  # not "storage": the name users give their own S3 remote in the README
DEFAULT_LOCAL_STORAGE = ".dvc/storage"  # git-ignored (.dvc/.gitignore and the root .gitignore)
_STDERR_KEEP = 256 * 1024  # enough of DVC's stderr to find its ERROR lines behind progress bars
_PROBE_TIMEOUT_S = 10


class VersioningError(RuntimeError):
    """DVC or git refused an operation; the message is one readable line with the cause."""


class FailureKind(StrEnum):
    UNREACHABLE = "endpoint unreachable"
    NO_BUCKET = "bucket missing"
    CREDENTIALS = "credentials invalid or denied"
    OTHER = "other"


class DataStoreError(VersioningError):
    """A transfer with a remote failed: one line naming the remote, the cause and what to do."""

    def __init__(self, remote: Remote, kind: FailureKind, detail: str, operation: str) -> None:
        self.remote = remote
        self.kind = kind
        self.detail = detail
        self.operation = operation
        verb = {"push": "push to", "pull": "pull from", "status": "status of"}.get(operation, f"{operation} with")
        super().__init__(f"{verb} {remote.describe()} failed: {kind.value}: {detail}")


@dataclass(frozen=True)
class Remote:
    name: str
    url: str
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def is_s3(self) -> bool:
        return urlparse(self.url).scheme == "s3"

    @property
    def bucket(self) -> str:
        return urlparse(self.url).netloc

    @property
    def prefix(self) -> str:
        return urlparse(self.url).path.strip("/")

    @property
    def endpoint(self) -> str | None:
        return self.config.get("endpointurl")

    def describe(self) -> str:
        where = f" at {self.endpoint}" if self.endpoint else ""
        return f"remote '{self.name}' ({self.url}{where})"


@dataclass(frozen=True)
class DataVersion:
    """What `dvc add` recorded: the `.dir` md5 in the .dvc file, and the files to commit to git."""

    md5: str
    dvc_file: Path
    nfiles: int | None
    size: int | None
    to_commit: tuple[str, ...]


@dataclass(frozen=True)
class TransferResult:
    remote: Remote
    operation: str  # push | pull
    summary: str  # DVC's own last line, e.g. "41 files pushed" or "Everything is up to date."


@dataclass(frozen=True)
class DataStatus:
    remote: Remote
    workspace_clean: bool  # data/ matches the .dvc file
    workspace_changes: dict[str, Any]
    only_local: int  # in the cache, not yet pushed
    only_remote: int  # in the remote, not in the cache (pull fetches them)
    missing: int  # named by the .dvc file but in neither

    @property
    def in_sync(self) -> bool:
        return self.workspace_clean and not (self.only_local or self.only_remote or self.missing)


@dataclass(frozen=True)
class BucketReport:
    remote: Remote
    created: bool  # False: it already existed and was left as it is
    versioning: str  # "enabled" | "not requested" | "not supported by this store: ..." | "left as is"
    encryption: str


@dataclass(frozen=True)
class _Run:
    returncode: int
    stdout: str
    stderr: str


# --------------------------------------------------------------------------------------------- running dvc


def dvc_command() -> list[str]:
    """`python -m dvc` of this interpreter: the venv's DVC, whatever PATH holds."""
    return [sys.executable, "-m", "dvc"]


def _dvc_env(root: Path, progress: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DVC_NO_ANALYTICS", "1")
    # DVC's site cache (repo ids, temporary indexes) otherwise goes to /var/tmp/dvc: keep it in the repo.
    env.setdefault("DVC_SITE_CACHE_DIR", str(Path(root).absolute() / ".dvc" / "tmp" / "site-cache"))
    if progress:
        # DVC draws progress bars only on a TTY; we pipe its stderr through to ours (to keep its errors),
        # so tell it the pipe ends at a terminal.
        env["DVC_IGNORE_ISATTY"] = "true"
    return env


def _pump(stream: IO[bytes], sink: IO[bytes] | None, keep: bytearray) -> None:
    """Copy `stream` to `sink` as it arrives (progress bars stay live) and keep its tail."""
    while chunk := stream.read1(65536):  # type: ignore[attr-defined]
        if sink is not None:
            sink.write(chunk)
            sink.flush()
        keep.extend(chunk)
        if len(keep) > 2 * _STDERR_KEEP:
            del keep[:-_STDERR_KEEP]


def run_dvc(args: list[str], root: Path, *, progress: bool = False, check: bool = False) -> _Run:
    """Run `dvc ARGS` in `root`. With `progress`, DVC's stderr (bars, warnings) is shown live when ours is a TTY."""
    show = progress and sys.stderr.isatty()
    proc = subprocess.Popen(
        [*dvc_command(), *args],
        cwd=root,
        env=_dvc_env(root, show),
        stdin=subprocess.DEVNULL,  # never a prompt: DVC answers "no" and fails instead of waiting
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    err = bytearray()
    assert proc.stdout is not None and proc.stderr is not None
    sink = sys.stderr.buffer if show else None
    pump = threading.Thread(target=_pump, args=(proc.stderr, sink, err), daemon=True)
    pump.start()
    try:
        out = proc.stdout.read()
        proc.wait()
    except BaseException:
        # Ctrl-C reaches DVC too (same process group); let it finish its own cleanup before we go.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
        raise
    finally:
        pump.join(timeout=5)
    result = _Run(proc.returncode, out.decode(errors="replace"), bytes(err).decode(errors="replace"))
    if check and result.returncode != 0:
        raise VersioningError(f"`dvc {' '.join(args)}` failed: {_dvc_error_line(result)}")
    return result


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _dvc_error_line(result: _Run) -> str:
    """DVC's most telling ERROR line, without its boilerplate, else the last line it wrote."""
    text = _ANSI.sub("", result.stderr.replace("\r", "\n"))
    errors = [line.strip()[len("ERROR:") :].strip() for line in text.splitlines() if line.strip().startswith("ERROR:")]
    if errors:
        # The first ERROR holds the cause ("failed to connect to s3 ... - Could not connect ..."); the
        # later ones are summaries ("failed to pull data from the cloud - 1 files failed to download").
        line = errors[0]
        return line.removeprefix("unexpected error - ")
    lines = [ln.strip() for ln in (text + "\n" + result.stdout).splitlines() if ln.strip()]
    return lines[-1] if lines else f"dvc exited with status {result.returncode}"


# --------------------------------------------------------------------------------------------- repo + remotes


def git_root(start: Path) -> Path | None:
    """The top of the git work tree holding `start`, or None when it is not inside one."""
    folder = start if start.is_dir() else start.parent
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=folder, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None


def find_dvc_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` holding a `.dvc/` directory."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / ".dvc").is_dir():
            return folder
    return None


def ensure_dvc_repo(root: Path) -> list[str]:
    """`dvc init` in `root` when needed, and the local default remote `.dvc/storage` when none is set.

    Returns the paths (relative to root) it created or changed, for the user to commit.
    """
    changed: list[str] = []
    if not (root / ".dvc").is_dir():
        args = ["init"] if git_root(root) is not None else ["init", "--no-scm"]
        run_dvc(args, root, check=True)
        changed += [".dvc/config", ".dvc/.gitignore", ".dvcignore"]
    ignore = root / ".dvc" / ".gitignore"
    lines = ignore.read_text().splitlines() if ignore.exists() else []
    if "/storage" not in lines:
        # The local default remote lives in .dvc/storage: it is a data store, never something for git.
        ignore.write_text("\n".join([*lines, "/storage"]) + "\n")
        changed.append(".dvc/.gitignore")
    if not remotes(root):
        run_dvc(["remote", "add", "--default", DEFAULT_LOCAL_REMOTE, DEFAULT_LOCAL_STORAGE], root, check=True)
        changed.append(".dvc/config")
    return sorted(set(changed))


def _config(root: Path) -> Any:
    from dvc.config import Config, ConfigError

    try:
        # All levels merged (system, global, repo, local) and validated, as `dvc` itself reads them.
        return Config(dvc_dir=str(root / ".dvc"))
    except ConfigError as exc:
        raise VersioningError(f"invalid DVC configuration in {root / '.dvc'}: {exc}") from exc


def remotes(root: Path) -> dict[str, Remote]:
    """Every configured remote, by name (relative local URLs already resolved by DVC)."""
    if not (root / ".dvc").is_dir():
        return {}
    conf = _config(root)
    return {name: Remote(name, str(c.get("url", "")), dict(c)) for name, c in conf["remote"].items()}


def resolve_remote(root: Path, name: str | None = None) -> Remote:
    """The remote called `name`, else the default one (`dvc remote add -d`)."""
    if not (root / ".dvc").is_dir():
        raise VersioningError(f"{root} is not a DVC repository: run `realeyez data import` or `dvc init` first")
    found = remotes(root)
    if name is None:
        name = _config(root)["core"].get("remote")
        if not name:
            raise VersioningError("no default DVC remote: run `dvc remote add -d NAME URL` (or pass --remote NAME)")
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise VersioningError(f"no DVC remote named '{name}' (configured: {known})")
    return found[name]


# --------------------------------------------------------------------------------------------- .dvc files


def dvc_file_for(data_dir: Path) -> Path:
    """Where `dvc add DATA_DIR` writes its .dvc file: beside the folder, `data` -> `data.dvc`."""
    return data_dir.parent / f"{data_dir.name}.dvc"


def _parse_dvc_file(text: str, source: str) -> dict[str, Any]:
    import yaml

    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise VersioningError(f"{source}: not a valid .dvc file: {exc}") from exc
    outs = doc.get("outs") if isinstance(doc, dict) else None
    if not outs or not isinstance(outs, list) or not isinstance(outs[0], dict):
        return {}
    return outs[0]


def data_version_from_dvc_file(path: Path) -> str | None:
    """The md5 DVC recorded for the tracked folder (`<hex>.dir`), exactly as in the file; None if absent."""
    if not path.is_file():
        return None
    md5 = _parse_dvc_file(path.read_text(), str(path)).get("md5")
    return str(md5) if md5 else None


def dir_md5(folder: Path) -> str:
    """DVC's version of a folder (`<md5>.dir`), computed without DVC: the md5 of the sorted JSON list of
    {md5, relpath} of its files, as dvc-data's Tree builds it. Independent proof that a folder is a version.
    """
    import hashlib
    import json

    entries = sorted(
        (
            {
                "md5": hashlib.md5(p.read_bytes(), usedforsecurity=False).hexdigest(),
                "relpath": p.relative_to(folder).as_posix(),
            }
            for p in folder.rglob("*")
            if p.is_file()
        ),
        key=lambda e: e["relpath"],
    )
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode(), usedforsecurity=False).hexdigest() + ".dir"


def _is_materialized(dvc_file: Path) -> bool:
    return ".dvc" in dvc_file.parts[:-1]  # the sidecar written by materialize_revision under .dvc/tmp/


def tracked_data_version(data_dir: Path, *, verify: bool = True) -> str | None:
    """The DVC data version of `data_dir` when it is the folder a .dvc file tracks, else None.

    Works for the workspace folder (`data/` + `data.dvc`) and for a folder from `materialize_revision`.
    With `verify`, the folder must still be that version: `dvc status` says so for the workspace (DVC
    reuses its hash cache, so this is quick after `dvc add`), `dir_md5` for a materialized folder.
    A modified folder is not the recorded version, so None. Never raises: DVC trouble logs a warning.
    """
    try:
        return _tracked_data_version(Path(data_dir), verify)
    except (VersioningError, OSError) as exc:  # a tag is not worth failing a training run for
        log.warning("cannot read the DVC data version of %s: %s", data_dir, exc)
        return None


def _tracked_data_version(data_dir: Path, verify: bool) -> str | None:
    dvc_file = dvc_file_for(data_dir.absolute())
    md5 = data_version_from_dvc_file(dvc_file)
    if md5 is None:
        return None
    if verify and _is_materialized(dvc_file):
        if dir_md5(Path(data_dir)) != md5:
            log.warning("%s no longer holds data version %s", data_dir, md5)
            return None
    elif verify:
        root = find_dvc_root(dvc_file.parent)
        if root is None:
            return None
        done = run_dvc(["status", "--json", str(dvc_file.relative_to(root))], root)
        if done.returncode != 0:
            log.warning("cannot check %s against %s: %s", data_dir, dvc_file, _dvc_error_line(done))
            return None
        if _json(done.stdout):
            log.warning("%s differs from %s (run `dvc add %s` to record it)", data_dir, dvc_file, data_dir)
            return None
    return md5


def _json(text: str) -> Any:
    import json

    text = text.strip()
    if not text:
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise VersioningError(f"unexpected output from dvc: {text[:200]!r}") from exc


def track(data_dir: Path, root: Path | None = None) -> DataVersion:
    """`dvc add DATA_DIR` (progress on a TTY): records the folder's version in `<data_dir>.dvc`."""
    data_dir = Path(data_dir).absolute()
    root = (root or find_dvc_root(data_dir) or git_root(data_dir) or data_dir.parent).absolute()
    if not data_dir.is_dir():
        raise VersioningError(f"data directory not found: {data_dir}")
    rel = data_dir.relative_to(root)
    done = run_dvc(["add", str(rel)], root, progress=True)
    if done.returncode != 0:
        raise VersioningError(f"`dvc add {rel}` failed: {_dvc_error_line(done)}")
    dvc_file = dvc_file_for(data_dir)
    out = _parse_dvc_file(dvc_file.read_text(), str(dvc_file))
    if not out.get("md5"):
        raise VersioningError(f"{dvc_file} records no md5 after `dvc add`")
    # DVC prints "git add data.dvc .gitignore" when it changed files git should know about.
    hinted = re.search(r"^\s*git add (.+)$", done.stdout, re.MULTILINE)
    to_commit = tuple(hinted.group(1).split()) if hinted else (str(dvc_file.relative_to(root)),)
    return DataVersion(
        md5=str(out["md5"]),
        dvc_file=dvc_file,
        nfiles=out.get("nfiles"),
        size=out.get("size"),
        to_commit=to_commit,
    )


# --------------------------------------------------------------------------------------------- transfers


def _targets(root: Path, targets: list[str] | None) -> list[str]:
    if targets:
        return targets
    # The dataset only: a bare `dvc push` would also push pipeline outputs (metrics, plots).
    found = [p.name for p in sorted(root.glob("*.dvc")) if p.is_file()]
    if not found:
        raise VersioningError(f"no .dvc file in {root}: track the data first (`realeyez data import SOURCE`)")
    return found


def push(
    root: Path, remote: str | None = None, jobs: int | None = None, targets: list[str] | None = None
) -> TransferResult:
    """Upload the cache objects of the tracked data to the remote; idempotent, resumable by rerunning."""
    return _transfer("push", root, remote, jobs, targets)


def pull(
    root: Path, remote: str | None = None, jobs: int | None = None, targets: list[str] | None = None
) -> TransferResult:
    """Fetch the version the .dvc files name into the cache, then check it out into the workspace."""
    return _transfer("pull", root, remote, jobs, targets)


def _transfer(op: str, root: Path, remote: str | None, jobs: int | None, targets: list[str] | None) -> TransferResult:
    target = resolve_remote(root, remote)
    args = [op, "--remote", target.name, *(["--jobs", str(jobs)] if jobs else []), *_targets(root, targets)]
    done = run_dvc(args, root, progress=True)
    if done.returncode != 0:
        raise diagnose(target, done, op)
    lines = [ln.strip() for ln in done.stdout.splitlines() if ln.strip()]
    return TransferResult(target, op, lines[-1] if lines else "done")


def status(
    root: Path, remote: str | None = None, jobs: int | None = None, targets: list[str] | None = None
) -> DataStatus:
    """Workspace vs .dvc files, and cache vs remote (`dvc status` and `dvc status -c`)."""
    target = resolve_remote(root, remote)
    names = _targets(root, targets)
    local = run_dvc(["status", "--json", *names], root)
    if local.returncode != 0:
        raise VersioningError(f"`dvc status` failed: {_dvc_error_line(local)}")
    args = ["status", "--cloud", "--json", "--remote", target.name, *(["--jobs", str(jobs)] if jobs else []), *names]
    cloud = run_dvc(args, root)
    if cloud.returncode != 0:
        raise diagnose(target, cloud, "status")
    changes = _json(local.stdout)
    states = list(_json(cloud.stdout).values())
    return DataStatus(
        remote=target,
        workspace_clean=not changes,
        workspace_changes=changes,
        only_local=states.count("new"),
        only_remote=states.count("deleted"),
        missing=states.count("missing"),
    )


# --------------------------------------------------------------------------------------------- diagnosis


_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "ExpiredToken",
    "InvalidToken",
    "InvalidClientTokenId",
    "TokenRefreshRequired",
    "AllAccessDisabled",
    "403",
    "Forbidden",
}

# Fallback when the probe cannot tell (it succeeded, or the remote is not S3): DVC's own words.
_PATTERNS: tuple[tuple[FailureKind, re.Pattern[str]], ...] = (
    (FailureKind.NO_BUCKET, re.compile(r"NoSuchBucket|bucket does not exist", re.I)),
    (
        FailureKind.CREDENTIALS,
        re.compile(
            r"InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied|Access Denied|Forbidden|\(403\)|"
            r"Unable to locate credentials|ExpiredToken|InvalidToken|could not be found \(profile",
            re.I,
        ),
    ),
    (
        FailureKind.UNREACHABLE,
        re.compile(
            r"Could not connect to the endpoint|Connection refused|Connect timeout|Name or service not known|"
            r"Temporary failure in name resolution|EndpointConnectionError|timed out",
            re.I,
        ),
    ),
)


def s3_client(remote: Remote, *, max_attempts: int | None = None) -> S3Client:
    """A boto3 S3 client configured like DVC's (profile, keys, region, endpointurl, TLS options)."""
    import boto3
    from botocore.config import Config as BotoConfig

    cfg = remote.config
    if cfg.get("credentialpath"):
        os.environ.setdefault("AWS_SHARED_CREDENTIALS_FILE", str(cfg["credentialpath"]))
    if cfg.get("configpath"):
        os.environ.setdefault("AWS_CONFIG_FILE", str(cfg["configpath"]))
    session = boto3.session.Session(
        profile_name=cfg.get("profile"),
        aws_access_key_id=cfg.get("access_key_id"),
        aws_secret_access_key=cfg.get("secret_access_key"),
        aws_session_token=cfg.get("session_token"),
        region_name=cfg.get("region"),
    )
    options: dict[str, Any] = {}
    if max_attempts is not None:
        options["retries"] = {"max_attempts": max_attempts, "mode": "standard"}
        options["connect_timeout"] = _PROBE_TIMEOUT_S
        options["read_timeout"] = _PROBE_TIMEOUT_S
    return session.client(
        "s3",
        endpoint_url=remote.endpoint,
        use_ssl=cfg.get("use_ssl", True),
        verify=cfg.get("ssl_verify"),
        config=BotoConfig(**options),
    )


def classify_s3_error(exc: BaseException, remote: Remote) -> tuple[FailureKind, str] | None:
    """Map a boto3/botocore exception to (kind, readable detail); None when it is not one of those."""
    from botocore import exceptions as bx

    endpoint = remote.endpoint or "AWS S3"
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return FailureKind.CREDENTIALS, (
            f"no AWS credentials found ({exc}); set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE"
        )
    if isinstance(exc, bx.ProfileNotFound):
        return FailureKind.CREDENTIALS, f"{exc}; check AWS_PROFILE or the remote's `profile`"
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError | bx.ConnectionClosedError):
        return FailureKind.UNREACHABLE, f"cannot connect to {endpoint} ({exc}); is it running, is `endpointurl` right?"
    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = error.get("Message") or code
        if code == "NoSuchBucket":
            return FailureKind.NO_BUCKET, (
                f"bucket '{remote.bucket}' does not exist; create it with `realeyez data create-bucket`"
            )
        if code in _CREDENTIAL_CODES:
            return FailureKind.CREDENTIALS, (
                f"{code}: {message}; check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) "
                f"and the access policy for bucket '{remote.bucket}'"
            )
        return FailureKind.OTHER, f"{code}: {message}"
    if isinstance(exc, bx.BotoCoreError):
        return FailureKind.OTHER, str(exc)
    return None


def probe(remote: Remote) -> tuple[FailureKind, str] | None:
    """One quick listing of the remote's prefix: the precise cause, or None when the remote answers."""
    if not remote.is_s3:
        return None
    try:
        client = s3_client(remote, max_attempts=2)
        # A GET: unlike HEAD (what DVC fails on), its error body names the code (InvalidAccessKeyId, ...).
        client.list_objects_v2(Bucket=remote.bucket, Prefix=remote.prefix, MaxKeys=1)
    except Exception as exc:
        found = classify_s3_error(exc, remote)
        return found if found is not None else (FailureKind.OTHER, f"{type(exc).__name__}: {exc}")
    return None


_UNSAVED = re.compile(r"unsaved files|Use `--force`", re.I)
_NOT_IN_REMOTE = re.compile(r"failed to load directory|missing cache files|do(es)? not exist|not found", re.I)


def diagnose(remote: Remote, done: _Run, operation: str) -> VersioningError:
    """The error for a failed DVC transfer: the probe's answer, else DVC's own error line."""
    dvc_line = _dvc_error_line(done)
    if _UNSAVED.search(done.stderr):
        # Not a remote fault: checkout refused to overwrite local edits (and left them in place).
        return VersioningError(
            f"{operation} stopped: the data folder has changes not recorded in its .dvc file, which it would "
            "overwrite; record them (`dvc add data`) or discard them (`dvc checkout --force data.dvc`), then rerun"
        )
    found = probe(remote)
    if found is None or found[0] is FailureKind.OTHER:
        kind = next((k for k, pattern in _PATTERNS if pattern.search(done.stderr)), FailureKind.OTHER)
        detail = dvc_line if found is None else f"{dvc_line} ({found[1]})"
        if kind is FailureKind.NO_BUCKET:
            detail = f"bucket '{remote.bucket}' does not exist; create it with `realeyez data create-bucket`"
        elif found is None and operation != "push" and _NOT_IN_REMOTE.search(done.stderr):
            # The remote answers, yet objects could not be read: usually a version never pushed there.
            detail += "; the remote is reachable, so this data version may never have been pushed to it"
        found = (kind, detail)
    kind, detail = found
    if operation in ("push", "pull"):
        detail += f"; nothing was lost: rerun `realeyez data {operation}` once fixed, it resumes"
    return DataStoreError(remote, kind, detail, operation)


# --------------------------------------------------------------------------------------------- bucket


_UNSUPPORTED = {"NotImplemented", "NotImplementedError", "MethodNotAllowed", "501", "InvalidRequest"}


def create_bucket(
    root: Path, remote: str | None = None, *, versioning: bool = True, encryption: bool = True
) -> BucketReport:
    """Create the S3 remote's bucket (only when asked: push never does), with versioning and SSE-S3 on."""
    target = resolve_remote(root, remote)
    if not target.is_s3:
        raise VersioningError(f"{target.describe()} is not an S3 remote: there is no bucket to create")
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client = s3_client(target)
        try:
            client.head_bucket(Bucket=target.bucket)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) not in ("404", "NoSuchBucket", "NotFound"):
                raise
        else:
            # It exists: leave its settings as they are rather than change a bucket we did not create.
            return BucketReport(target, created=False, versioning="left as is", encryption="left as is")
        region = target.config.get("region") or client.meta.region_name or "us-east-1"
        kwargs: dict[str, Any] = {"Bucket": target.bucket}
        if region != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        client.create_bucket(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        kind, detail = classify_s3_error(exc, target) or (FailureKind.OTHER, str(exc))
        if kind is FailureKind.NO_BUCKET:  # cannot happen on create, keep the message honest anyway
            kind, detail = FailureKind.OTHER, str(exc)
        raise DataStoreError(target, kind, detail, "create-bucket") from exc

    def optional(enabled: bool, call: Any, **kwargs: Any) -> str:
        if not enabled:
            return "not requested"
        try:
            call(Bucket=target.bucket, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            reason = exc.response.get("Error", {}).get("Message") or code
            if code in _UNSUPPORTED:
                return f"not supported by this store ({code})"
            return f"not enabled ({code}: {reason})"
        return "enabled"

    return BucketReport(
        target,
        created=True,
        versioning=optional(versioning, client.put_bucket_versioning, VersioningConfiguration={"Status": "Enabled"}),
        encryption=optional(
            encryption,
            client.put_bucket_encryption,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        ),
    )


# --------------------------------------------------------------------------------------------- revisions


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=60)


def data_version_at_revision(rev: str, root: Path, dvc_file: str = "data.dvc") -> tuple[str, str, str]:
    """(commit sha, md5, tracked path) recorded by `dvc_file` at git revision `rev`."""
    found = _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if found.returncode != 0:
        raise VersioningError(f"unknown git revision: {rev}")
    commit = found.stdout.strip()
    shown = _git(root, "show", f"{commit}:{dvc_file}")
    if shown.returncode != 0:
        raise VersioningError(f"{dvc_file} does not exist at revision {rev} ({commit[:12]})")
    out = _parse_dvc_file(shown.stdout, f"{dvc_file}@{rev}")
    if not out.get("md5") or not out.get("path"):
        raise VersioningError(f"{dvc_file} at revision {rev} tracks no data (no md5/path in outs)")
    tracked = (Path(dvc_file).parent / str(out["path"])).as_posix()
    return commit, str(out["md5"]), tracked


def materialize_revision(
    rev: str, root: Path, *, dvc_file: str = "data.dvc", dest_root: Path | None = None, jobs: int | None = None
) -> Path:
    """A folder holding exactly the data `dvc_file` names at git revision `rev` (from the cache, else the remote).

    Kept under `.dvc/tmp/revisions/<md5>/` (git-ignored) and reused: the md5 names the content, so two
    revisions with the same data share it. Built in a staging folder and renamed into place only when
    complete, so an interrupted fetch never leaves a partial dataset that looks finished.
    """
    root = Path(root).absolute()
    commit, md5, tracked = data_version_at_revision(rev, root, dvc_file)
    base = (dest_root or root / ".dvc" / "tmp" / "revisions") / md5.removesuffix(".dir")
    final = base / Path(tracked).name
    if final.is_dir():
        return final
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=base))
    try:
        args = ["get", str(root), tracked, "--rev", commit, "--out", str(staging / "data")]
        done = run_dvc([*args, *(["--jobs", str(jobs)] if jobs else [])], root, progress=True)
        if done.returncode != 0:
            target = _remote_or_none(root)
            if target is None:
                raise VersioningError(f"cannot rebuild {tracked} at {rev}: {_dvc_error_line(done)}")
            raise diagnose(target, done, f"fetch of {tracked}@{rev}")
        got = dir_md5(staging / "data")
        if got != md5:
            raise VersioningError(f"rebuilt {tracked} at {rev} hashes to {got}, not {md5}: refusing to use it")
        # The .dvc file of that revision beside the folder: `tracked_data_version(final)` reads it.
        (base / f"{final.name}.dvc").write_text(_git(root, "show", f"{commit}:{dvc_file}").stdout)
        os.replace(staging / "data", final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _remote_or_none(root: Path) -> Remote | None:
    try:
        return resolve_remote(root)
    except VersioningError:
        return None


def training_data(data_dir: Path, rev: str | None = None, *, root: Path | None = None) -> tuple[Path, str | None]:
    """(folder to train on, DVC data version or None): `data_dir` itself, or its version at git `rev`.

    For `realeyez train --data-rev REV` and the flow's `data_version` tag in one call.
    """
    data_dir = Path(data_dir).absolute()
    if rev is None:
        return data_dir, tracked_data_version(data_dir)
    dvc_file = dvc_file_for(data_dir)
    root = (root or find_dvc_root(dvc_file.parent) or git_root(dvc_file.parent) or Path.cwd()).absolute()
    rel = dvc_file.relative_to(root).as_posix()
    folder = materialize_revision(rev, root, dvc_file=rel)
    return folder, data_version_at_revision(rev, root, rel)[1]
