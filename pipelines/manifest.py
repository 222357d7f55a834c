"""The dataset manifest: one row per file under the data directory, with its hash and what PIL makes of it.

The manifest is the single input of validation, splitting and data versioning, so it records facts only
(no judgement): the class folder a file sits in, its sha256, and whether it decodes fully. Deciding what
is an error is `pipelines.validate`'s job.

Speed matters (100k CIFAKE images on 2 cores): every file is read once, hashed and decoded from the same
bytes, in a process pool fed with chunks of paths, so per-file IPC overhead stays small.
"""

from __future__ import annotations

import hashlib
import io
import logging
import multiprocessing
import os
import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported lazily: spawned pool workers must not pay for it
    import pandas as pd

MANIFEST_COLUMNS = ["path", "label", "sha256", "width", "height", "mode", "format", "bytes", "decodable", "error"]

CLASS_NAMES = ("REAL", "FAKE")

# Prefixes of the `error` column: validation tells a non-image file from a broken image by them.
ERR_EMPTY = "empty"  # zero-byte file
ERR_NOT_IMAGE = "not-image"  # PIL cannot identify it (text, PDF, ... whatever the extension says)
ERR_TRUNCATED = "truncated"  # identified as an image, but the pixel data ends early
ERR_CORRUPT = "corrupt"  # identified, but decoding failed for another reason
ERR_TOO_LARGE = "too-large"  # PIL's decompression-bomb guard refused it
ERR_UNREADABLE = "unreadable"  # the file itself could not be read (permissions, I/O error)
NON_IMAGE_ERRORS = (ERR_EMPTY, ERR_NOT_IMAGE)

# Below this many files a pool costs more (process start-up) than it saves.
_MIN_FILES_FOR_POOL = 2000
_CHUNK_SIZE = 2000
# forkserver: workers do not inherit the caller's threads and locks (Prefect runs tasks in threads,
# where a plain fork can deadlock), yet start faster than spawn after the first pool.
_START_METHOD = "forkserver"

log = logging.getLogger(__name__)

Row = tuple[str, str, str, int | None, int | None, str | None, str | None, int, bool, str]


def _walk(data_dir: Path) -> Iterator[tuple[str, str, str]]:
    """Yield (absolute path, relative posix path, label) for every non-hidden file, depth first.

    The label is the nearest ancestor folder named REAL/FAKE (any case), upper-cased; otherwise the
    top-level folder's name as found (so validation can name an unknown class folder), or "" for files
    at the root. Symlinked folders are not followed (no cycles); symlinked files are.
    """
    stack: list[tuple[str, str, str]] = [(str(data_dir), "", "")]
    while stack:
        dir_abs, rel_prefix, label = stack.pop()
        with os.scandir(dir_abs) as it:
            entries = sorted(it, key=lambda e: e.name)
        subdirs: list[tuple[str, str, str]] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue  # .DS_Store, ._AppleDouble, .git, editor droppings: never data
            rel = f"{rel_prefix}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                upper = entry.name.upper()
                if upper in CLASS_NAMES:
                    sub_label = upper
                elif label.upper() in CLASS_NAMES:
                    sub_label = label  # inside a class folder: the nearest class ancestor wins
                elif rel_prefix == "":
                    sub_label = entry.name  # top-level unknown folder, named as found
                else:
                    sub_label = label
                subdirs.append((entry.path, rel + "/", sub_label))
            elif entry.is_file():
                yield entry.path, rel, label
        # Reversed so that popping visits folders in name order (only for locality: rows are sorted later).
        stack.extend(reversed(subdirs))


def _describe(abs_path: str) -> tuple[str, int | None, int | None, str | None, str | None, int, bool, str]:
    """Hash and fully decode one file: (sha256, width, height, mode, format, bytes, decodable, error)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with open(abs_path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        return "", None, None, None, None, 0, False, f"{ERR_UNREADABLE}: {exc.strerror or exc}"
    digest = hashlib.sha256(data).hexdigest()
    size = len(data)
    if size == 0:
        return digest, None, None, None, None, 0, False, f"{ERR_EMPTY}: zero-byte file"
    try:
        with warnings.catch_warnings():
            # DecompressionBombWarning for big-but-allowed images is not a defect of the file.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                # load() decodes every pixel: that is what detects truncation (LOAD_TRUNCATED_IMAGES stays
                # False on purpose, otherwise PIL pads the missing rows with grey and reports success).
                img.load()
                return digest, img.width, img.height, img.mode, img.format, size, True, ""
    except UnidentifiedImageError:
        return digest, None, None, None, None, size, False, f"{ERR_NOT_IMAGE}: cannot identify image file"
    except Image.DecompressionBombError as exc:
        return digest, None, None, None, None, size, False, f"{ERR_TOO_LARGE}: {exc}"
    except OSError as exc:
        kind = ERR_TRUNCATED if "truncated" in str(exc).lower() else ERR_CORRUPT
        return digest, None, None, None, None, size, False, f"{kind}: {exc}"
    except Exception as exc:  # PIL raises SyntaxError/ValueError/struct.error on malformed headers
        return digest, None, None, None, None, size, False, f"{ERR_CORRUPT}: {type(exc).__name__}: {exc}"


def _describe_chunk(items: list[tuple[str, str, str]]) -> list[Row]:
    """Pool task: one chunk of (absolute path, relative path, label) -> manifest rows."""
    return [(rel, label, *_describe(abs_path)) for abs_path, rel, label in items]


def _resolve_workers(workers: int) -> int:
    if workers > 0:
        return workers
    try:
        return max(1, len(os.sched_getaffinity(0)))  # honours CPU pinning (containers, taskset)
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _describe_all(items: Iterator[tuple[str, str, str]], workers: int) -> list[Row]:
    """Describe every walked file; a process pool for large folders, fed while the walk goes on."""
    first: list[tuple[str, str, str]] = []
    for item in items:
        first.append(item)
        if len(first) >= _MIN_FILES_FOR_POOL:
            break
    n_workers = _resolve_workers(workers)
    if n_workers <= 1 or len(first) < _MIN_FILES_FOR_POOL:
        return _describe_chunk(first + list(items))  # small (or single-core): a pool would cost more

    ctx = multiprocessing.get_context(_START_METHOD)
    submitted: list[tuple[str, str, str]] = list(first)
    rows: list[Row] = []
    try:
        with ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx) as pool:
            # Chunks are submitted as the walk finds files, so walking, pool start-up and hashing overlap;
            # one task per 2,000 files keeps IPC small yet balances load on noisy shared cores.
            futures = [pool.submit(_describe_chunk, first)]
            chunk: list[tuple[str, str, str]] = []
            for item in items:
                chunk.append(item)
                submitted.append(item)
                if len(chunk) >= _CHUNK_SIZE:
                    futures.append(pool.submit(_describe_chunk, chunk))
                    chunk = []
            if chunk:
                futures.append(pool.submit(_describe_chunk, chunk))
            for future in futures:
                rows.extend(future.result())
    except (OSError, BrokenProcessPool) as exc:
        # No pool here (sandbox without semaphores, a worker killed for memory): slower, but the same rows.
        log.warning("manifest process pool failed (%s); continuing in a single process", exc)
        return _describe_chunk(submitted + list(items))
    return rows


def build_manifest(data_dir: Path, workers: int = 0) -> pd.DataFrame:
    """One row per file under `data_dir` (recursive, hidden files skipped), sorted by path.

    Columns are `MANIFEST_COLUMNS`: `path` relative to data_dir (posix); `label` (see `_walk`); `sha256` of
    the file's bytes; `width`/`height`/`mode`/`format` from PIL for decodable images (null otherwise);
    `bytes`; `decodable` (a full decode succeeded); `error` ("" or "<kind>: <message>", kinds as ERR_*).
    `workers`: processes to use, 0 = one per available CPU core.
    """
    import pandas as pd

    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data directory not found (or not a directory): {data_dir}")
    rows = _describe_all(_walk(data_dir), workers)
    rows.sort(key=lambda row: row[0])  # deterministic row order (by path), independent of the file system

    frame = pd.DataFrame.from_records(rows, columns=MANIFEST_COLUMNS)
    # Nullable integers: undecodable rows have no size, and GX ignores nulls in value checks.
    frame["width"] = frame["width"].astype("Int64")
    frame["height"] = frame["height"].astype("Int64")
    frame["bytes"] = frame["bytes"].astype("int64")
    frame["decodable"] = frame["decodable"].astype(bool)
    for col in ("path", "label", "sha256", "mode", "format", "error"):
        frame[col] = frame[col].astype(object)
    return frame
