"""Benchmark: DVC push/pull of the full CIFAKE training split (100k images) to a local S3 endpoint,
beside a plain parallel boto3 upload/download of the same files, in the same run.

    .venv/bin/python benchmarks/bench_dvc.py [--jobs 8] [--limit 0] [--workdir DIR] [--json out.json]

The endpoint is moto's S3 server in its own process (`python -m moto.server`, 127.0.0.1, a free port), so
the clients and the server do not share a GIL. Steps, each timed:
  1. unpack `../shared/datasets/cifake/cifake-train.tar.gz` into a fresh git repo's data/ and `dvc add` it;
  2. `pipelines.versioning.push` (what `realeyez data push` runs: `dvc push data.dvc`) to bucket A;
  3. boto3: the same files, `put_object` from a ThreadPoolExecutor of --jobs threads, to bucket B;
  4. delete the DVC cache and data/, then `pipelines.versioning.pull` (fetch + checkout), and check the
     sha256 of every file against the originals;
  5. boto3: `get_object` of every key of bucket B into a folder, --jobs threads.
DVC's `--jobs` is set to the same --jobs. `--limit N` takes the first N files per class (a quick check).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from anywhere without installing

DEFAULT_ARCHIVE = REPO.parent / "shared" / "datasets" / "cifake" / "cifake-train.tar.gz"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_moto(port: int, log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),  # noqa: SIM115 - the server outlives this function
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=2):  # noqa: S310
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"moto server did not start on port {port} (see {log})")


def _unpack(archive: Path, dest: Path, limit: int) -> int:
    """The archive's REAL/ and FAKE/ files into dest/REAL and dest/FAKE (first `limit` per class if > 0)."""
    staging = dest.parent / ".unpack"
    with tarfile.open(archive) as tar:
        tar.extractall(staging, filter="data")
    top = next(p for p in staging.iterdir() if (p / "REAL").is_dir())
    n = 0
    for label in ("REAL", "FAKE"):
        (dest / label).mkdir(parents=True)
        files = sorted((top / label).iterdir())
        for src in files[:limit] if limit else files:
            os.replace(src, dest / label / src.name)
            n += 1
    shutil.rmtree(staging)
    return n


def _sha256_tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _boto3_upload(client: Any, bucket: str, folder: Path, jobs: int) -> int:
    files = [p for p in sorted(folder.rglob("*")) if p.is_file()]

    def put(path: Path) -> None:
        client.put_object(Bucket=bucket, Key=f"plain/{path.relative_to(folder).as_posix()}", Body=path.read_bytes())

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for _ in pool.map(put, files):
            pass
    return len(files)


def _boto3_download(client: Any, bucket: str, dest: Path, jobs: int) -> int:
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="plain/"):
        keys += [o["Key"] for o in page.get("Contents", [])]

    def get(key: str) -> None:
        target = dest / key.removeprefix("plain/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for _ in pool.map(get, keys):
            pass
    return len(keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--jobs", type=int, default=4 * (os.cpu_count() or 1), help="DVC's default: 4 x cores")
    parser.add_argument("--limit", type=int, default=0, help="files per class (0 = all 50,000)")
    parser.add_argument("--workdir", type=Path, default=None, help="kept afterwards when given")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import boto3
    from botocore.config import Config

    from pipelines import versioning as v

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-dvc-"))
    work.mkdir(parents=True, exist_ok=True)
    root = work / "repo"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir()
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "DVC_NO_ANALYTICS": "1",
            "DVC_SITE_CACHE_DIR": str(work / "dvc-site"),
        }
    )
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = _start_moto(port, work / "moto.log")
    results: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "jobs": args.jobs,
        "endpoint": "moto.server (separate process, 127.0.0.1)",
    }
    try:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            config=Config(max_pool_connections=max(10, args.jobs), retries={"mode": "standard"}),
        )
        client.create_bucket(Bucket="bench-dvc")
        client.create_bucket(Bucket="bench-boto3")

        start = time.perf_counter()
        n_files = _unpack(args.archive, root / "data", args.limit)
        results["unpack_s"] = time.perf_counter() - start
        results["files"] = n_files
        results["bytes"] = sum(p.stat().st_size for p in (root / "data").rglob("*") if p.is_file())
        originals = _sha256_tree(root / "data")
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        v.ensure_dvc_repo(root)
        for cmd in (
            ["remote", "add", "-d", "bench", "s3://bench-dvc/realeyez"],
            ["remote", "modify", "bench", "endpointurl", endpoint],
        ):
            v.run_dvc(cmd, root, check=True)

        start = time.perf_counter()
        version = v.track(root / "data", root)
        results["dvc_add_s"] = time.perf_counter() - start
        print(f"{n_files} files, {results['bytes'] / 1e6:.1f} MB; dvc add {results['dvc_add_s']:.1f} s", flush=True)

        start = time.perf_counter()
        pushed = v.push(root, jobs=args.jobs)
        results["dvc_push_s"] = time.perf_counter() - start
        results["dvc_push_summary"] = pushed.summary
        print(f"dvc push: {results['dvc_push_s']:.1f} s ({pushed.summary})", flush=True)

        start = time.perf_counter()
        uploaded = _boto3_upload(client, "bench-boto3", root / "data", args.jobs)
        results["boto3_upload_s"] = time.perf_counter() - start
        print(f"boto3 upload: {results['boto3_upload_s']:.1f} s ({uploaded} files)", flush=True)

        shutil.rmtree(root / ".dvc" / "cache")
        shutil.rmtree(root / "data")
        start = time.perf_counter()
        pulled = v.pull(root, jobs=args.jobs)
        results["dvc_pull_s"] = time.perf_counter() - start
        results["dvc_pull_summary"] = pulled.summary
        results["pull_identical"] = _sha256_tree(root / "data") == originals
        print(f"dvc pull: {results['dvc_pull_s']:.1f} s ({pulled.summary}); identical: {results['pull_identical']}")

        start = time.perf_counter()
        downloaded = _boto3_download(client, "bench-boto3", work / "boto3-download", args.jobs)
        results["boto3_download_s"] = time.perf_counter() - start
        print(f"boto3 download: {results['boto3_download_s']:.1f} s ({downloaded} files)", flush=True)

        status = v.status(root)
        results["status_in_sync"] = status.in_sync
        results["data_version"] = version.md5
    finally:
        server.terminate()
        server.wait(timeout=30)
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)

    n = results["files"]
    for name in ("dvc_push", "boto3_upload", "dvc_pull", "boto3_download"):
        results[f"{name}_files_per_s"] = n / results[f"{name}_s"]
    results["ratio_push_dvc_over_boto3"] = results["dvc_push_s"] / results["boto3_upload_s"]
    results["ratio_pull_dvc_over_boto3"] = results["dvc_pull_s"] / results["boto3_download_s"]
    print()
    print(f"| step ({n} files, {results['bytes'] / 1e6:.1f} MB, jobs {args.jobs}) | wall s | files/s |")
    print("| --- | ---: | ---: |")
    for label, key in (
        ("dvc add (hash + cache)", "dvc_add"),
        ("DVC push (`realeyez data push`)", "dvc_push"),
        ("boto3 parallel put_object", "boto3_upload"),
        ("DVC pull (fetch + checkout)", "dvc_pull"),
        ("boto3 parallel get_object", "boto3_download"),
    ):
        rate = f"{n / results[key + '_s']:.0f}"
        print(f"| {label} | {results[key + '_s']:.1f} | {rate} |")
    print(
        f"ratio DVC/boto3: push {results['ratio_push_dvc_over_boto3']:.2f}x, "
        f"pull {results['ratio_pull_dvc_over_boto3']:.2f}x; pull identical: {results['pull_identical']}; "
        f"status in sync: {results['status_in_sync']}"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
