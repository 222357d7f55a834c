"""build_manifest: one row per file, labels from the nearest REAL/FAKE folder, defects recorded not raised."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pipelines.manifest import MANIFEST_COLUMNS, build_manifest

pytestmark = pytest.mark.data


def make_image(path: Path, seed: int, size: tuple[int, int] = (32, 32), mode: str = "RGB", fmt: str = "JPEG") -> Path:
    """A tiny noise image: random pixels so every seed gives different bytes (and hash)."""
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "L": 1}[mode]
    pixels = rng.integers(0, 256, size=(size[1], size[0], channels), dtype=np.uint8)
    img = Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode=mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format=fmt)
    return path


def test_rows_labels_and_columns(tmp_path: Path) -> None:
    make_image(tmp_path / "REAL" / "a.jpg", 1)
    make_image(tmp_path / "fake" / "b.jpg", 2)  # any case
    make_image(tmp_path / "x" / "y" / "Real" / "c.jpg", 3)  # any depth
    make_image(tmp_path / "REAL" / "sub" / "d.jpg", 4)  # inside a class folder: that class
    make_image(tmp_path / "cats" / "e.jpg", 5)  # unknown class folder, named as found
    make_image(tmp_path / "f.jpg", 6)  # at the root
    make_image(tmp_path / ".hidden" / "g.jpg", 7)  # hidden: skipped
    (tmp_path / "REAL" / ".DS_Store").write_bytes(b"junk")

    manifest = build_manifest(tmp_path)

    assert list(manifest.columns) == MANIFEST_COLUMNS
    assert manifest["path"].tolist() == sorted(manifest["path"].tolist())
    labels = dict(zip(manifest["path"], manifest["label"], strict=True))
    assert labels == {
        "REAL/a.jpg": "REAL",
        "REAL/sub/d.jpg": "REAL",
        "cats/e.jpg": "cats",
        "f.jpg": "",
        "fake/b.jpg": "FAKE",
        "x/y/Real/c.jpg": "REAL",
    }
    row = manifest.set_index("path").loc["REAL/a.jpg"]
    data = (tmp_path / "REAL" / "a.jpg").read_bytes()
    assert row["sha256"] == hashlib.sha256(data).hexdigest()
    assert (row["width"], row["height"], row["mode"], row["format"]) == (32, 32, "RGB", "JPEG")
    assert row["bytes"] == len(data)
    assert bool(row["decodable"]) and row["error"] == ""


def test_defects_are_recorded(tmp_path: Path) -> None:
    good = make_image(tmp_path / "REAL" / "good.jpg", 1)
    data = good.read_bytes()
    (tmp_path / "REAL" / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "REAL" / "empty.jpg").write_bytes(b"")
    (tmp_path / "REAL" / "text.jpg").write_text("this is not a JPEG\n")
    make_image(tmp_path / "FAKE" / "gray.png", 2, mode="L", fmt="PNG")

    manifest = build_manifest(tmp_path).set_index("path")

    assert bool(manifest.loc["REAL/good.jpg", "decodable"])
    for name, kind in [("truncated.jpg", "truncated"), ("empty.jpg", "empty"), ("text.jpg", "not-image")]:
        row = manifest.loc[f"REAL/{name}"]
        assert not bool(row["decodable"]), name
        assert row["error"].startswith(f"{kind}:"), row["error"]
        assert pd.isna(row["width"]) and row["mode"] is None
    gray = manifest.loc["FAKE/gray.png"]
    assert (gray["mode"], gray["format"]) == ("L", "PNG")


def test_empty_and_missing_folders(tmp_path: Path) -> None:
    manifest = build_manifest(tmp_path)
    assert manifest.empty and list(manifest.columns) == MANIFEST_COLUMNS
    with pytest.raises(FileNotFoundError, match="nope"):
        build_manifest(tmp_path / "nope")


def test_real_sample_pool_matches_single_process(cifake_sample: Path) -> None:
    """The process pool (used from 2,000 files up) gives exactly the single-process rows, in path order."""
    pooled = build_manifest(cifake_sample, workers=2)
    single = build_manifest(cifake_sample, workers=1)
    pd.testing.assert_frame_equal(pooled, single)
    assert len(pooled) == 4000
    assert pooled["label"].value_counts().to_dict() == {"FAKE": 2000, "REAL": 2000}
    assert pooled["decodable"].all()


def test_pool_failure_falls_back_to_one_process(cifake_sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pipelines.manifest as manifest_module

    def no_pool(*args: object, **kwargs: object) -> None:
        raise OSError("no semaphores here")

    monkeypatch.setattr(manifest_module, "ProcessPoolExecutor", no_pool)
    manifest = build_manifest(cifake_sample, workers=2)
    assert len(manifest) == 4000 and manifest["path"].is_monotonic_increasing
