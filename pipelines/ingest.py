"""`realeyez data import SOURCE`: bring a REAL/FAKE image dataset into the data folder, normalised.

SOURCE is a .tar.gz/.tgz/.zip archive, a directory, or an http(s) URL of such an archive. Class folders
named REAL and FAKE (any case, at any depth) are found and their files land in `dest/REAL/` and
`dest/FAKE/` under their own names. Nothing already stored is lost: the new data is built in a temporary
folder beside `dest` and swapped in only once complete, and a non-empty `dest` is only replaced on request.
"""

from __future__ import annotations

import http.client
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, TypeVar

from pipelines.manifest import CLASS_NAMES

if TYPE_CHECKING:
    from rich.progress import Progress

log = logging.getLogger(__name__)
T = TypeVar("T")

# Extensions that make an unknown folder "a folder of images" (an error: probably a misnamed class).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
# Folders that archives from macOS carry along and that never hold data.
_IGNORED_DIRS = frozenset({"__MACOSX"})
_SPLIT_TRAIN, _SPLIT_TEST = "TRAIN", "TEST"
_DOWNLOAD_CHUNK = 1 << 20
_DOWNLOAD_TIMEOUT_S = 60


class DatasetImportError(ValueError):
    """The source cannot be imported; the message names the source, folder or file at fault."""


@dataclass(frozen=True)
class ImportSummary:
    dest: Path
    n_real: int
    n_fake: int
    source: str
    notes: tuple[str, ...] = ()  # what the import decided on its own (e.g. test/ skipped), for the log


@dataclass(frozen=True)
class _PlannedFile:
    src: Path
    label: str  # REAL | FAKE
    name: str
    rel: str  # path relative to the source root, for messages


def _is_url(source: str) -> bool:
    return urllib.parse.urlparse(source).scheme.lower() in ("http", "https")


@contextmanager
def _progress(enabled: bool, *, download: bool = False) -> Iterator[Progress]:
    """A rich progress display on stderr (the CLI's stdout stays clean for its own summary)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    columns = (
        (DownloadColumn(), TransferSpeedColumn()) if download else (MofNCompleteColumn(),)  # bytes vs files
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        *columns,
        console=Console(stderr=True),
        disable=not enabled,
        transient=True,
    ) as bar:
        yield bar


def _download(url: str, folder: Path, progress: bool) -> Path:
    """Fetch `url` into `folder` (inside the staging area, so a failure leaves nothing behind)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = PurePosixPath(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name or "download"
    target = folder / name
    request = urllib.request.Request(url, headers={"User-Agent": "realeyez-data-import"})  # noqa: S310 (scheme checked)
    total: int | None = None
    received = 0
    try:
        # The caller only passes http(s) URLs here, so urlopen cannot read file:// or similar.
        with (
            urllib.request.urlopen(request, timeout=_DOWNLOAD_TIMEOUT_S) as response,  # noqa: S310  # nosec B310
            open(target, "wb") as out,
            _progress(progress, download=True) as bar,
        ):
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            task = bar.add_task(f"download {name}", total=total)
            while chunk := response.read(_DOWNLOAD_CHUNK):
                out.write(chunk)
                received += len(chunk)
                bar.update(task, advance=len(chunk))
    except urllib.error.HTTPError as exc:
        raise DatasetImportError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise DatasetImportError(f"download of {url} failed: {exc.reason}") from exc
    except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, a body cut short
        raise DatasetImportError(f"download of {url} failed after {received} bytes: {exc!r}") from exc
    if total is not None and received != total:
        raise DatasetImportError(f"download of {url} is incomplete: {received} of {total} bytes")
    log.info("downloaded %s (%d bytes)", url, received)
    return target


def _check_zip_member(name: str, archive_label: str) -> None:
    """Reject absolute paths, drive letters and `..` in a zip member name (zip-slip)."""
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise DatasetImportError(f"{archive_label}: unsafe path in zip archive, refusing to extract: {name!r}")


def _counting(items: Iterable[T], bar: Progress, description: str, total: int | None = None) -> Iterator[T]:
    """Pass `items` through, advancing a progress task per item."""
    task = bar.add_task(description, total=total)
    for item in items:
        yield item
        bar.update(task, advance=1)


def _extract(archive: Path, target: Path, archive_label: str, progress: bool) -> Path:
    """Safely unpack a .zip or tar(.gz) archive into `target`; returns `target`."""
    target.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                members = zf.infolist()
                for info in members:  # check everything before writing anything
                    _check_zip_member(info.filename, archive_label)
                with _progress(progress) as bar:
                    for info in _counting(members, bar, f"extract {archive.name}", len(members)):
                        zf.extract(info, target)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tar, _progress(progress) as bar:
                # filter="data": no absolute paths, no `..`, no links leaving the tree, no devices.
                tar.extractall(target, members=_counting(tar, bar, f"extract {archive.name}"), filter="data")
        else:
            raise DatasetImportError(f"{archive_label}: not a .tar.gz, .tgz or .zip archive (or unreadable)")
    except tarfile.FilterError as exc:
        raise DatasetImportError(f"{archive_label}: unsafe member in tar archive, refusing: {exc}") from exc
    except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise DatasetImportError(f"{archive_label}: corrupt or truncated archive: {exc}") from exc
    except OSError as exc:
        raise DatasetImportError(f"{archive_label}: extraction failed: {exc}") from exc
    return target


def _nearest(parts: tuple[str, ...], names: Iterable[str]) -> int:
    """Index of the last component whose upper-cased name is in `names`, or -1."""
    wanted = set(names)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i].upper() in wanted:
            return i
    return -1


def _plan(root: Path, source_label: str) -> tuple[list[_PlannedFile], list[str]]:
    """Decide which files go where; raise on unknown image folders, no classes, or name collisions."""
    found: list[tuple[_PlannedFile, str | None]] = []  # (file, "TRAIN"/"TEST"/None above its class folder)
    stray_folders: dict[str, int] = {}
    class_folders: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _IGNORED_DIRS)
        rel_dir = Path(dirpath).relative_to(root)
        parts = rel_dir.parts
        idx = _nearest(parts, CLASS_NAMES)
        if idx >= 0:
            class_folders.add("/".join(parts[: idx + 1]))
        split_idx = _nearest(parts[:idx], (_SPLIT_TRAIN, _SPLIT_TEST)) if idx >= 0 else -1
        split = parts[split_idx].upper() if split_idx >= 0 else None
        for name in sorted(filenames):
            if name.startswith("."):
                continue  # .DS_Store, ._AppleDouble files
            rel = (rel_dir / name).as_posix()
            if idx >= 0:
                found.append((_PlannedFile(Path(dirpath) / name, parts[idx].upper(), name, rel), split))
            elif Path(name).suffix.lower() in IMAGE_SUFFIXES:
                folder = rel_dir.as_posix()
                stray_folders[folder] = stray_folders.get(folder, 0) + 1

    if stray_folders:
        listed = ", ".join(
            f"{'the top level' if f == '.' else repr(f + '/')} ({n} images)"
            for f, n in sorted(stray_folders.items())[:5]
        )
        raise DatasetImportError(
            f"{source_label}: image files outside a class folder, in {listed}; "
            "images must sit in folders named REAL or FAKE (any case)"
        )
    if not class_folders:
        raise DatasetImportError(f"{source_label}: no REAL or FAKE class folders found")

    notes: list[str] = []
    splits = {split for _, split in found}
    if _SPLIT_TRAIN in splits and _SPLIT_TEST in splits:
        # CIFAKE's own layout: train/ and test/ both hold REAL/ and FAKE/ with the same file names.
        # The project makes its own stratified split from training data, so the test split stays out.
        n_test = sum(1 for _, split in found if split == _SPLIT_TEST)
        found = [(f, split) for f, split in found if split != _SPLIT_TEST]
        notes.append(
            f"{source_label} has both train/ and test/ class folders: imported train/ only "
            f"({n_test} files under test/ skipped; the project makes its own split from training data)"
        )
    planned = [f for f, _ in found]
    if not planned:
        raise DatasetImportError(
            f"{source_label}: the class folders ({', '.join(sorted(class_folders)[:5])}) hold no files"
        )

    seen: dict[tuple[str, str], str] = {}
    collisions: list[str] = []
    for f in planned:
        key = (f.label, f.name)
        if key in seen:
            collisions.append(f"'{seen[key]}' and '{f.rel}'")
        else:
            seen[key] = f.rel
    if collisions:
        raise DatasetImportError(
            f"{source_label}: {len(collisions)} file name(s) collide when class folders are merged into "
            f"REAL/ and FAKE/, e.g. {'; '.join(collisions[:3])}; rename them or import one folder at a time"
        )
    for label in CLASS_NAMES:
        if not any(f.label == label for f in planned):
            notes.append(f"{source_label} has no {label} images")
    return planned, notes


def _materialise(planned: list[_PlannedFile], out: Path, *, move: bool, progress: bool) -> dict[str, int]:
    """Place the planned files in out/REAL and out/FAKE: moved out of our own extraction, else copied."""
    counts = dict.fromkeys(CLASS_NAMES, 0)
    for label in CLASS_NAMES:
        (out / label).mkdir(parents=True, exist_ok=True)
    with _progress(progress) as bar:
        for f in _counting(planned, bar, "import files", len(planned)):
            target = out / f.label / f.name
            if move and not f.src.is_symlink():
                os.replace(f.src, target)  # same file system (both in the staging folder): a rename
            else:
                # Copy from the user's folder (never modify a source); a symlink is copied as its content,
                # since a relative link would break once moved.
                try:
                    shutil.copyfile(f.src, target)
                except OSError as exc:
                    raise DatasetImportError(f"cannot copy {f.rel}: {exc}") from exc
            counts[f.label] += 1
    return counts


def _swap_in(new: Path, dest: Path, staging: Path) -> None:
    """Replace `dest` by `new`; the old data moves into `staging` (deleted by the caller) only now."""
    if not dest.exists() and not dest.is_symlink():
        os.replace(new, dest)
        return
    old = staging / "old"
    if not dest.is_symlink():
        try:
            os.replace(dest, old)
        except OSError:
            pass  # e.g. dest is a mount point: fall back to swapping its contents below
        else:
            try:
                os.replace(new, dest)
            except OSError:
                os.replace(old, dest)  # put the old data back before reporting
                raise
            return
    # dest must stay where it is (mount point, symlink): swap its entries instead.
    old.mkdir(exist_ok=True)
    moved_out: list[str] = []
    moved_in: list[str] = []
    try:
        for entry in sorted(os.listdir(dest)):
            os.replace(dest / entry, old / entry)
            moved_out.append(entry)
        for entry in sorted(os.listdir(new)):
            os.replace(new / entry, dest / entry)
            moved_in.append(entry)
    except OSError:
        # Undo in reverse: take the new entries out again, then put every old entry back.
        for entry in moved_in:
            os.replace(dest / entry, new / entry)
        for entry in moved_out:
            os.replace(old / entry, dest / entry)
        raise


def _check_dest(dest: Path, replace: bool) -> None:
    if dest.exists() and not dest.is_dir():
        raise DatasetImportError(f"destination {dest} exists and is not a folder")
    if dest.is_dir() and any(dest.iterdir()) and not replace:
        raise DatasetImportError(
            f"destination {dest} is not empty: pass --replace to replace its contents "
            "(the current data is kept until the new import has succeeded)"
        )


def _check_overlap(source: Path, dest: Path) -> None:
    src, dst = source.resolve(), dest.resolve()
    if src == dst or src.is_relative_to(dst) or dst.is_relative_to(src):
        raise DatasetImportError(f"source {source} and destination {dest} overlap: import from another folder")


def import_dataset(source: str | Path, dest: Path, *, replace: bool = False, progress: bool = True) -> ImportSummary:
    """Import SOURCE (archive, folder or http(s) URL of an archive) into dest/REAL and dest/FAKE.

    Raises DatasetImportError (a ValueError) naming the source, folder or file at fault; `dest` is left
    untouched on any failure. `replace=True` allows a non-empty `dest`, swapped only after success.
    """
    source_label = str(source)
    dest = Path(dest)
    url = isinstance(source, str) and _is_url(source)
    src_path: Path | None = None
    if not url:
        src_path = Path(source).expanduser()
        if not src_path.exists():
            raise DatasetImportError(f"source not found: {src_path}")
        if src_path.is_dir():
            _check_overlap(src_path, dest)
    _check_dest(dest, replace)  # before any download: fail fast

    dest.parent.mkdir(parents=True, exist_ok=True)
    # Hidden and beside dest: same file system (renames, not copies) and ignored by the manifest.
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.import-", dir=dest.parent))
    try:
        if url:
            archive = _download(source_label, staging / "download", progress)
            root, move = _extract(archive, staging / "extract", source_label, progress), True
        elif src_path is not None and src_path.is_dir():
            root, move = src_path, False
        else:
            assert src_path is not None
            root, move = _extract(src_path, staging / "extract", source_label, progress), True
        planned, notes = _plan(root, source_label)
        out = staging / "new"
        counts = _materialise(planned, out, move=move, progress=progress)
        _swap_in(out, dest, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    for note in notes:
        log.info(note)
    summary = ImportSummary(
        dest=dest, n_real=counts["REAL"], n_fake=counts["FAKE"], source=source_label, notes=tuple(notes)
    )
    log.info("imported %s into %s: %d REAL, %d FAKE", source_label, dest, summary.n_real, summary.n_fake)
    return summary
