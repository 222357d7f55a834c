from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()


def _dataset(root: Path, per_class: int = 60) -> Path:
    rng = np.random.default_rng(0)
    for label in ("REAL", "FAKE"):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(root / label / f"{i}.jpg")
    return root


def test_every_command_has_help() -> None:
    for command in (
        [],
        ["data"],
        ["data", "import"],
        ["validate"],
        ["train"],
        ["run"],
        ["evaluate"],
        ["predict"],
    ):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        assert "Usage" in result.output


def test_unknown_set_key_is_a_clear_error_with_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "--data", str(tmp_path), "--set", "train.epochz=3"])
    assert result.exit_code == 2
    assert "unknown key train.epochz" in result.output


@pytest.mark.parametrize("command", ["train", "validate"])
def test_missing_data_dir_is_named_before_anything_starts(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [command, "--data", "nowhere"])
    assert result.exit_code == 1
    assert "data directory not found:" in result.output and "nowhere" in result.output
    assert not (tmp_path / ".mlflow").exists()  # no MLflow run was created for it


def test_error_messages_with_brackets_are_printed_verbatim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["validate", "--data", "run[/x]"])
    assert result.exit_code == 1
    assert "data directory not found: run[/x]" in result.output


def test_predict_names_every_undecodable_file_before_loading_a_model(tmp_path: Path) -> None:
    good = _dataset(tmp_path / "d", per_class=1)
    (tmp_path / "notes.jpg").write_text("not an image")
    (tmp_path / "empty.png").write_bytes(b"")
    result = runner.invoke(
        app, ["predict", str(good), str(tmp_path / "notes.jpg"), str(tmp_path / "empty.png"), "--model", "x.keras"]
    )
    assert result.exit_code == 1
    assert "2 file(s) are not decodable" in result.output
    assert "notes.jpg" in result.output and "empty.png" in result.output
    assert "model file not found" not in result.output  # inputs are checked first


def test_evaluate_on_one_class_fails_before_loading_the_model(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "data", per_class=2)
    shutil.rmtree(data / "FAKE")
    result = runner.invoke(app, ["evaluate", "--model", "missing.keras", "--data", str(data)])
    assert result.exit_code == 1
    assert "needs images of both classes" in result.output


def test_validate_passes_clean_data_and_writes_reports(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "data")
    result = runner.invoke(app, ["validate", "--data", str(data), "--reports", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r" / "validation.json").read_text())
    assert report["success"] is True
    assert (tmp_path / "r" / "validation.html").is_file()


def test_validate_fails_defective_data_naming_the_file(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "data")
    (data / "FAKE" / "notes.jpg").write_text("this is text, not a JPEG")
    result = runner.invoke(app, ["validate", "--data", str(data), "--reports", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert "FAKE/notes.jpg" in result.output
    assert json.loads((tmp_path / "r" / "validation.json").read_text())["success"] is False


def test_evaluate_rejects_missing_model_file(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "data", per_class=2)
    result = runner.invoke(app, ["evaluate", "--model", str(tmp_path / "m.keras"), "--data", str(data)])
    assert result.exit_code == 1
    assert "model file not found" in result.output


def test_predict_rejects_missing_path(tmp_path: Path) -> None:
    result = runner.invoke(app, ["predict", str(tmp_path / "nope.jpg"), "--model", "x.keras"])
    assert result.exit_code == 1
    assert "no such file or folder" in result.output


def test_data_import_reports_what_it_skipped(tmp_path: Path) -> None:
    # CIFAKE's own layout: train/ and test/, each with REAL/ and FAKE/; only train/ is imported.
    for split in ("train", "test"):
        _dataset(tmp_path / "src" / split, per_class=3)
    result = runner.invoke(app, ["data", "import", str(tmp_path / "src"), "--dest", str(tmp_path / "d"), "--no-dvc"])
    assert result.exit_code == 0, result.output
    assert "imported 3 REAL + 3 FAKE" in result.output
    assert "note:" in result.output and "test/" in result.output
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["FAKE", "REAL"]
