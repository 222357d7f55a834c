"""The GX data suite: each defect fails (or warns) with the offending path in the report; clean data passes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from rich.console import Console

from pipelines.config import ValidateParams
from pipelines.manifest import build_manifest
from pipelines.validate import (
    ValidationReport,
    check_split_leakage,
    data_version,
    render_table,
    validate_manifest,
    write_reports,
)

pytestmark = pytest.mark.data

N_PER_CLASS = 4
PARAMS = ValidateParams(min_per_class=3)


def make_image(path: Path, seed: int, size: tuple[int, int] = (32, 32), mode: str = "RGB", fmt: str = "JPEG") -> Path:
    """A tiny noise image: random pixels so every seed gives different bytes (and hash)."""
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "L": 1}[mode]
    pixels = rng.integers(0, 256, size=(size[1], size[0], channels), dtype=np.uint8)
    img = Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode=mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format=fmt)
    return path


def make_clean(root: Path) -> Path:
    for i in range(N_PER_CLASS):
        make_image(root / "REAL" / f"r{i}.jpg", seed=i)
        make_image(root / "FAKE" / f"f{i}.jpg", seed=100 + i)
    return root


def checks(found: list) -> dict[str, list[str]]:
    return {c.check: c.examples for c in found}


def test_clean_dataset_passes(tmp_path: Path) -> None:
    manifest = build_manifest(make_clean(tmp_path))
    report = validate_manifest(manifest, PARAMS)
    assert report.success, report.failures
    assert report.failures == [] and report.warnings == []
    assert report.n_images == 2 * N_PER_CLASS and report.n_duplicates_dropped == 0
    assert len(report.clean_manifest) == 2 * N_PER_CLASS
    json.dumps(report.gx_results, allow_nan=False)  # strictly JSON-able
    n_expectations = sum(len(part["results"]) for part in report.gx_results.values())
    assert n_expectations >= 11


def _truncated(root: Path) -> str:
    data = (root / "REAL" / "r0.jpg").read_bytes()
    (root / "REAL" / "r0.jpg").write_bytes(data[: len(data) // 2])
    return "REAL/r0.jpg"


def _zero_byte(root: Path) -> str:
    (root / "FAKE" / "f1.jpg").write_bytes(b"")
    return "FAKE/f1.jpg"


def _text_as_jpg(root: Path) -> str:
    (root / "FAKE" / "notes.jpg").write_text("not an image")
    return "FAKE/notes.jpg"


def _unknown_folder(root: Path) -> str:
    make_image(root / "cats" / "c0.jpg", seed=500)
    return "cats/c0.jpg"


def _both_labels(root: Path) -> str:
    shutil.copyfile(root / "REAL" / "r2.jpg", root / "FAKE" / "zz.jpg")
    return "FAKE/zz.jpg"


def _imbalance(root: Path) -> str:
    for i in range(3):  # 7 REAL vs 4 FAKE: ratio 1.75 > 1.5
        make_image(root / "REAL" / f"extra{i}.jpg", seed=600 + i)
    return "REAL"


def _too_few(root: Path) -> str:
    for i in range(2):  # 2 FAKE left, min 3 (ratio 2.0 fails too, naming the larger class: REAL)
        (root / "FAKE" / f"f{i}.jpg").unlink()
    return "FAKE"


def _grayscale(root: Path) -> str:
    make_image(root / "REAL" / "r1.jpg", seed=1, mode="L")
    return "REAL/r1.jpg"


def _wrong_size(root: Path) -> str:
    make_image(root / "FAKE" / "f3.jpg", seed=103, size=(16, 16))
    return "FAKE/f3.jpg"


def _huge(root: Path) -> str:
    make_image(root / "FAKE" / "f2.jpg", seed=102, size=(600, 40))
    return "FAKE/f2.jpg"


def _bmp(root: Path) -> str:
    make_image(root / "REAL" / "r3.bmp", seed=3, fmt="BMP")
    (root / "REAL" / "r3.jpg").unlink()
    return "REAL/r3.bmp"


# (make the defect -> offending path, checks that must fail, the checks whose examples name that path)
DEFECTS: list[tuple[Callable[[Path], str], set[str], set[str]]] = [
    (_truncated, {"undecodable"}, {"undecodable"}),
    (_zero_byte, {"non_image"}, {"non_image"}),
    (_text_as_jpg, {"non_image"}, {"non_image"}),
    (_unknown_folder, {"unknown_class"}, {"unknown_class"}),
    (_both_labels, {"cross_label_duplicate"}, {"cross_label_duplicate"}),
    (_imbalance, {"class_ratio"}, {"class_ratio"}),
    (_too_few, {"class_min_count", "class_ratio"}, {"class_min_count"}),
    (_grayscale, {"mode"}, {"mode"}),
    (_wrong_size, {"width", "height"}, {"width", "height"}),
    (_huge, {"width"}, {"width"}),
    (_bmp, {"format"}, {"format"}),
]


@pytest.mark.parametrize(("defect", "expected", "naming"), DEFECTS, ids=[d.__name__.strip("_") for d, _, _ in DEFECTS])
def test_defect_fails_with_offending_path(
    tmp_path: Path, defect: Callable[[Path], str], expected: set[str], naming: set[str]
) -> None:
    root = make_clean(tmp_path / "data")
    offending = defect(root)

    report = validate_manifest(build_manifest(root), PARAMS)

    assert not report.success
    failed = checks(report.failures)
    assert set(failed) == expected, report.failures
    for check in naming:
        assert offending in failed[check], (check, failed[check])
    for found in report.failures:
        assert found.severity == "error" and found.n_failed >= 1
        assert found.expectation.startswith("expect_")


def test_same_image_under_both_labels_names_both_paths(tmp_path: Path) -> None:
    root = make_clean(tmp_path)
    shutil.copyfile(root / "REAL" / "r2.jpg", root / "FAKE" / "zz.jpg")
    report = validate_manifest(build_manifest(root), PARAMS)
    assert set(checks(report.failures)["cross_label_duplicate"]) == {"REAL/r2.jpg", "FAKE/zz.jpg"}


def test_descriptions_say_what_was_found(tmp_path: Path) -> None:
    root = make_clean(tmp_path)
    _truncated(root)
    _unknown_folder(root)
    make_image(root / "loose.jpg", seed=700)  # a file at the root: no class folder at all
    report = validate_manifest(build_manifest(root), PARAMS)
    text = {f.check: f.description for f in report.failures}
    assert "truncated ×1" in text["undecodable"]
    assert "cats" in text["unknown_class"]
    assert "loose.jpg" in checks(report.failures)["unknown_class"]


def test_other_modes_warn_when_converted(tmp_path: Path) -> None:
    root = make_clean(tmp_path)
    _grayscale(root)
    report = validate_manifest(build_manifest(root), PARAMS.model_copy(update={"convert_modes": True}))
    assert report.success
    assert checks(report.warnings) == {"mode": ["REAL/r1.jpg"]}
    assert report.warnings[0].severity == "warning" and "L ×1" in report.warnings[0].description


def test_within_class_duplicates_are_dropped(tmp_path: Path) -> None:
    root = make_clean(tmp_path)
    clean_version = data_version(build_manifest(root))
    shutil.copyfile(root / "FAKE" / "f0.jpg", root / "FAKE" / "f0_copy.jpg")
    shutil.copyfile(root / "FAKE" / "f0.jpg", root / "FAKE" / "f0_copy2.jpg")

    report = validate_manifest(build_manifest(root), PARAMS)

    assert report.success, report.failures
    assert report.n_duplicates_dropped == 2
    warned = checks(report.warnings)
    assert set(warned) == {"within_class_duplicate"}
    assert "FAKE/f0_copy.jpg" in warned["within_class_duplicate"]
    kept = report.clean_manifest["path"].tolist()
    assert "FAKE/f0.jpg" in kept and "FAKE/f0_copy.jpg" not in kept and "FAKE/f0_copy2.jpg" not in kept
    assert report.n_images == 2 * N_PER_CLASS + 2 and len(kept) == 2 * N_PER_CLASS
    # The kept data is exactly the original data: same version.
    assert data_version(report.clean_manifest) == clean_version


def test_empty_data_fails_on_class_counts(tmp_path: Path) -> None:
    report = validate_manifest(build_manifest(tmp_path), PARAMS)
    assert not report.success
    assert set(checks(report.failures)["class_min_count"]) == {"REAL", "FAKE"}


def test_manifest_without_columns_is_rejected() -> None:
    with pytest.raises(ValueError, match="sha256"):
        validate_manifest(pd.DataFrame({"path": ["a.jpg"]}), PARAMS)


def test_data_version_is_a_content_hash(tmp_path: Path) -> None:
    manifest = build_manifest(make_clean(tmp_path))
    version = data_version(manifest)
    assert len(version) == 64 and int(version, 16) >= 0
    assert data_version(manifest.sample(frac=1.0, random_state=1)) == version  # row order does not matter
    relabelled = manifest.copy()
    relabelled.loc[0, "label"] = "FAKE" if relabelled.loc[0, "label"] == "REAL" else "REAL"
    assert data_version(relabelled) != version
    changed = manifest.copy()
    changed.loc[0, "sha256"] = "0" * 64
    assert data_version(changed) != version


def test_reports_are_written_and_escaped(tmp_path: Path) -> None:
    root = make_clean(tmp_path / "data")
    make_image(root / "odd" / "<b>&x.jpg", seed=800)
    report = validate_manifest(build_manifest(root), PARAMS)

    json_path, html_path = write_reports(report, tmp_path / "reports")

    payload = json.loads(json_path.read_text())
    assert payload["success"] is False
    assert payload["failures"][0]["check"] == "unknown_class"
    assert payload["failures"][0]["examples"] == ["odd/<b>&x.jpg"]
    assert payload["data_version"] == data_version(report.clean_manifest)
    assert "manifest" in payload["gx_results"]
    page = html_path.read_text()
    assert "odd/&lt;b&gt;&amp;x.jpg" in page and "<b>&x" not in page
    assert "FAILED" in page and "<script" not in page


def test_render_table_lists_failed_checks_with_paths(tmp_path: Path) -> None:
    root = make_clean(tmp_path)
    _truncated(root)
    report = validate_manifest(build_manifest(root), PARAMS)
    console = Console(record=True, width=200)
    console.print(render_table(report))
    text = console.export_text()
    assert "undecodable" in text and "REAL/r0.jpg" in text and "FAILED" in text


def _split_frame(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["path", "label", "sha256", "split"])


def test_split_leakage() -> None:
    ok = _split_frame(
        [
            ("REAL/a.jpg", "REAL", "aa", "train"),
            ("REAL/b.jpg", "REAL", "bb", "test"),
            ("FAKE/c.jpg", "FAKE", "cc", "validation"),
        ]
    )
    report = check_split_leakage(ok)
    assert isinstance(report, ValidationReport) and report.success

    leaky = _split_frame([*ok.itertuples(index=False, name=None), ("FAKE/d.jpg", "FAKE", "aa", "test")])
    report = check_split_leakage(leaky)
    assert not report.success
    assert set(checks(report.failures)["split_leakage"]) == {"REAL/a.jpg", "FAKE/d.jpg"}


def test_real_sample_passes(cifake_sample: Path) -> None:
    report = validate_manifest(build_manifest(cifake_sample), ValidateParams())
    assert report.success, report.failures
    assert report.n_images == 4000
    assert len(report.clean_manifest) == 4000 - report.n_duplicates_dropped
