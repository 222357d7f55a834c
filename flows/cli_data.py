"""`realeyez data ...`: import and version the dataset (DVC: data.dvc, push/pull to a remote)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from flows.cli_support import fail, out

if TYPE_CHECKING:
    from pipelines.versioning import Remote

data_app = typer.Typer(help="Import and version the dataset.", no_args_is_help=True)

RemoteOpt = Annotated[
    str | None, typer.Option("--remote", "-r", help="DVC remote name (default: the one set by `dvc remote add -d`).")
]
JobsOpt = Annotated[
    int | None, typer.Option("--jobs", "-j", min=1, help="Parallel transfers (default: DVC's, 4 x CPU cores).")
]
DataOpt = Annotated[
    Path | None, typer.Option("--data", help="The tracked dataset folder (default: data.dir of params.yaml).")
]
ParamsOpt = Annotated[Path, typer.Option("--params", help="The params file, for data.dir.")]


@data_app.command("import")
def data_import(
    source: Annotated[str, typer.Argument(help="A .tar.gz/.tgz/.zip, a directory, or an http(s) URL of an archive.")],
    dest: Annotated[Path, typer.Option(help="Where REAL/ and FAKE/ go.")] = Path("data"),
    replace: Annotated[bool, typer.Option("--replace", help="Replace a non-empty destination.")] = False,
    no_dvc: Annotated[bool, typer.Option("--no-dvc", help="Do not record the new version with `dvc add`.")] = False,
) -> None:
    """Import REAL/FAKE class folders (any case, any depth) into DEST, then track DEST with DVC (DEST.dvc)."""
    from pipelines.ingest import DatasetImportError, import_dataset

    try:
        summary = import_dataset(source, dest, replace=replace, progress=True)
    except (DatasetImportError, FileNotFoundError, OSError) as exc:
        raise _error(exc) from None
    out.print(f"imported {summary.n_real} REAL + {summary.n_fake} FAKE images into {summary.dest}")
    for note in summary.notes:
        out.print(f"note: {escape(note)}")
    if no_dvc:
        out.print("not tracked with DVC (--no-dvc)")
        return
    track_imported(dest)


def track_imported(dest: Path) -> None:
    """`dvc add DEST` in the git repository holding it (after `dvc init` if needed); prints what to commit."""
    from pipelines.versioning import VersioningError, ensure_dvc_repo, git_root, track

    root = git_root(dest.absolute())
    if root is None:
        # DVC versions data through git commits of the .dvc file: outside a repository there is nothing to commit.
        out.print(f"note: {dest} is not inside a git repository, so it is not tracked with DVC")
        return
    try:
        changed = ensure_dvc_repo(root)
        version = track(dest, root)
    except VersioningError as exc:
        raise fail(f"the data was imported but not tracked with DVC: {exc}") from None
    files = sorted({*changed, *version.to_commit})
    count = f"{version.nfiles} files, " if version.nfiles is not None else ""
    size = f"{version.size / 1e6:.1f} MB" if version.size is not None else "size unknown"
    out.print(f"data version {version.md5} ({count}{size}) recorded in {version.dvc_file}")
    out.print(f"commit it:  git -C {root} add {' '.join(files)} && git -C {root} commit -m 'data: {version.md5}'")
    out.print("upload it:  realeyez data push   (after `dvc remote add -d NAME s3://BUCKET/PREFIX` for S3)")


def _locate(data: Path | None, params: Path) -> tuple[Path, str]:
    """(DVC repo root, the data's .dvc file relative to it) for the transfer commands."""
    from pipelines.versioning import dvc_file_for, find_dvc_root

    if data is None:
        from pipelines.config import ConfigError, load_params

        try:
            data = load_params(params).data.dir
        except ConfigError as exc:
            raise fail(str(exc), 2) from None
    root = find_dvc_root(Path.cwd())
    if root is None:
        raise fail("not inside a DVC repository: run `realeyez data import SOURCE` in a git repository first")
    dvc_file = dvc_file_for(data.absolute())
    if not dvc_file.is_file():
        raise fail(f"{data} is not tracked with DVC ({dvc_file} not found): run `realeyez data import SOURCE` first")
    try:
        return root, dvc_file.relative_to(root).as_posix()
    except ValueError:
        raise fail(f"{dvc_file} is outside the DVC repository {root}") from None


def _remote_line(remote: Remote) -> str:
    return escape(remote.describe())


def _error(exc: Exception) -> typer.Exit:
    return fail(str(exc))


@data_app.command("push")
def data_push(
    remote: RemoteOpt = None, jobs: JobsOpt = None, data: DataOpt = None, params: ParamsOpt = Path("params.yaml")
) -> None:
    """Upload the dataset version named by data.dvc to the DVC remote (resumable: rerun after a failure)."""
    from pipelines.versioning import VersioningError, push

    root, target = _locate(data, params)
    try:
        result = push(root, remote, jobs, [target])
    except VersioningError as exc:
        raise _error(exc) from None
    out.print(f"{target} -> {_remote_line(result.remote)}: {result.summary}")


@data_app.command("pull")
def data_pull(
    remote: RemoteOpt = None, jobs: JobsOpt = None, data: DataOpt = None, params: ParamsOpt = Path("params.yaml")
) -> None:
    """Download the exact dataset version named by data.dvc and check it out (resumable: rerun after a failure)."""
    from pipelines.versioning import VersioningError, pull

    root, target = _locate(data, params)
    try:
        result = pull(root, remote, jobs, [target])
    except VersioningError as exc:
        raise _error(exc) from None
    out.print(f"{_remote_line(result.remote)} -> {target}: {result.summary}")


@data_app.command("status")
def data_status(
    remote: RemoteOpt = None, jobs: JobsOpt = None, data: DataOpt = None, params: ParamsOpt = Path("params.yaml")
) -> None:
    """Does the data folder match data.dvc, and does the remote hold that version?"""
    from pipelines.versioning import VersioningError, data_version_from_dvc_file, status

    root, target = _locate(data, params)
    try:
        st = status(root, remote, jobs, [target])
    except VersioningError as exc:
        raise _error(exc) from None
    out.print(f"data version: {data_version_from_dvc_file(root / target)} ({target})")
    if st.workspace_clean:
        out.print("workspace:    matches the .dvc file")
    else:
        out.print("workspace:    [yellow]changed since the .dvc file was written[/] (`dvc add` records it)")
    if st.only_local or st.only_remote or st.missing:
        out.print(
            f"remote:       {_remote_line(st.remote)}: {st.only_local} file(s) to push, "
            f"{st.only_remote} to pull, {st.missing} missing from both cache and remote"
        )
    else:
        out.print(f"remote:       {_remote_line(st.remote)} holds this version (in sync)")


@data_app.command("create-bucket")
def data_create_bucket(
    remote: RemoteOpt = None,
    versioning: Annotated[
        bool, typer.Option("--versioning/--no-versioning", help="Turn on object versioning (if supported).")
    ] = True,
    encryption: Annotated[
        bool, typer.Option("--encryption/--no-encryption", help="Turn on SSE-S3 default encryption (if supported).")
    ] = True,
) -> None:
    """Create the S3 bucket of the DVC remote (push never creates one), with versioning and encryption."""
    from pipelines.versioning import VersioningError, create_bucket, find_dvc_root

    root = find_dvc_root(Path.cwd())
    if root is None:
        raise fail("not inside a DVC repository: run `realeyez data import SOURCE` in a git repository first")
    try:
        report = create_bucket(root, remote, versioning=versioning, encryption=encryption)
    except VersioningError as exc:
        raise _error(exc) from None
    if not report.created:
        out.print(f"bucket '{report.remote.bucket}' already exists ({_remote_line(report.remote)}): left as it is")
        return
    out.print(f"created bucket '{report.remote.bucket}' for {_remote_line(report.remote)}")
    out.print(f"versioning: {report.versioning}; default encryption: {report.encryption}")
