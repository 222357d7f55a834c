"""Benchmark: manifest + GX validation on the full CIFAKE training split (100k images).

    .venv/bin/python benchmarks/bench_manifest.py [--dir /tmp/cifake-train] [--workers 0] [--json out.json]

Unpacks `../shared/datasets/cifake/cifake-train.tar.gz` into a temporary folder (or into --dir, reused when
it already holds the images), then times `build_manifest` and `validate_manifest` separately and together.
The first validation includes importing Great Expectations and creating its context (a one-off per
process); a second, warm validation is timed too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from anywhere without installing

DEFAULT_ARCHIVE = REPO.parent / "shared" / "datasets" / "cifake" / "cifake-train.tar.gz"


def _data_root(folder: Path) -> Path | None:
    """The folder holding REAL/ and FAKE/ (the archive's top folder, or `folder` itself)."""
    for candidate in (folder, *sorted(p for p in folder.iterdir() if p.is_dir())):
        if (candidate / "REAL").is_dir() and (candidate / "FAKE").is_dir():
            return candidate
    return None


def _unpack(archive: Path, folder: Path) -> tuple[Path, float]:
    folder.mkdir(parents=True, exist_ok=True)
    root = _data_root(folder)
    if root is not None:
        return root, 0.0  # reused
    start = time.perf_counter()
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    elapsed = time.perf_counter() - start
    root = _data_root(folder)
    if root is None:
        raise SystemExit(f"{archive} did not unpack into a folder with REAL/ and FAKE/")
    return root, elapsed


def _run(root: Path, workers: int) -> dict[str, float | int | str | bool]:
    from pipelines.config import ValidateParams
    from pipelines.manifest import build_manifest
    from pipelines.validate import data_version, validate_manifest

    params = ValidateParams(workers=workers)
    start = time.perf_counter()
    manifest = build_manifest(root, workers=params.workers)
    t_manifest = time.perf_counter() - start

    start = time.perf_counter()
    report = validate_manifest(manifest, params)
    t_validate = time.perf_counter() - start

    start = time.perf_counter()
    validate_manifest(manifest, params)
    t_validate_warm = time.perf_counter() - start

    n = len(manifest)
    total = t_manifest + t_validate
    return {
        "images": n,
        "workers": workers or len(os.sched_getaffinity(0)),
        "manifest_s": round(t_manifest, 2),
        "manifest_images_per_s": round(n / t_manifest),
        "validate_cold_s": round(t_validate, 2),
        "validate_warm_s": round(t_validate_warm, 2),
        "validate_warm_images_per_s": round(n / t_validate_warm),
        "total_s": round(total, 2),
        "total_images_per_s": round(n / total),
        "success": report.success,
        "duplicates_dropped": report.n_duplicates_dropped,
        "duplicates_by_class": ", ".join(
            f"{label}: {count}"
            for label, count in sorted(
                (manifest["label"].value_counts() - report.clean_manifest["label"].value_counts())
                .fillna(0)
                .astype(int)
                .items()
            )
        ),
        "errors": len(report.failures),
        "data_version": data_version(report.clean_manifest),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--dir", type=Path, default=None, help="unpack here (reused if it already holds the images)")
    parser.add_argument("--workers", type=int, default=0, help="manifest processes (0 = one per core)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

    with tempfile.TemporaryDirectory(prefix="bench-cifake-") as tmp:
        folder = args.dir if args.dir is not None else Path(tmp)
        root, t_unpack = _unpack(args.archive, folder)
        figures = {"unpack_s": round(t_unpack, 2), **_run(root, args.workers)}

    figures["cpus"] = os.cpu_count() or 0
    figures["python"] = platform.python_version()
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
