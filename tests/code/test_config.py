from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import ConfigError, Params, load_params

REPO = Path(__file__).resolve().parents[2]


def test_repository_params_file_loads_and_matches_embedded_defaults() -> None:
    params = load_params(REPO / "params.yaml")
    assert params == Params(), "params.yaml and the embedded defaults have drifted apart"
    assert params.validation.min_per_class == 50
    assert params.train.backbone == "auto"


def test_missing_default_file_uses_embedded_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_params("params.yaml") == Params()


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")


def test_unknown_key_in_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("train:\n  epochs: 3\n  epoch: 4\n")
    with pytest.raises(ConfigError, match=r"train\.epoch: unknown key"):
        load_params(path)


def test_unknown_section_in_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("trian:\n  epochs: 3\n")
    with pytest.raises(ConfigError, match="trian: unknown key"):
        load_params(path)


def test_wrong_type_names_key_and_value(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("train:\n  epochs: many\n")
    with pytest.raises(ConfigError, match=r"train\.epochs.*'many'"):
        load_params(path)


def test_split_fractions_must_sum_to_one(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("split:\n  train: 0.8\n  validation: 0.2\n  test: 0.2\n")
    with pytest.raises(ConfigError, match="must be 1.0"):
        load_params(path)


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_params(listy)


def test_overrides_are_typed_and_validated() -> None:
    params = load_params(None, ["train.epochs=3", "train.augment_flip=false", "validate.allowed_modes=[RGB, L]"])
    assert params.train.epochs == 3
    assert params.train.augment_flip is False
    assert params.validation.allowed_modes == ("RGB", "L")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.epochz=3", "unknown key train.epochz"),
        ("tran.epochs=3", "unknown section 'tran'"),
        ("train.epochs", "expected section.key=value"),
        ("epochs=3", "must be section.key"),
        ("train.epochs=-1", "greater than or equal to 1"),
        ("train.backbone=resnet", "train.backbone"),
        ("data.dir=", "empty value"),
    ],
)
def test_bad_overrides_fail_clearly(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_params(None, [override])


def test_params_are_frozen_and_flatten_for_mlflow() -> None:
    params = load_params(None)
    with pytest.raises(Exception, match="frozen"):
        params.train.epochs = 5  # type: ignore[misc]
    flat = params.flat()
    assert flat["train.epochs"] == params.train.epochs
    assert flat["validate.min_per_class"] == 50


def test_yaml_on_off_words_are_not_booleans_for_mixed_precision(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("train:\n  mixed_precision: off\n")
    assert load_params(path).train.mixed_precision == "off"
    assert load_params(None, ["train.mixed_precision=on"]).train.mixed_precision == "on"
