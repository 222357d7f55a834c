from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipelines.config import load_params
from pipelines.train import predict_proba, save_model, train_model, use_mixed_precision

pytestmark = pytest.mark.model
REPO = Path(__file__).resolve().parents[2]


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """FAKE images are brighter: a signal a few steps of training can pick up."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.integers(0, 160, (n, 32, 32, 3)).astype(np.uint8)
    x[y == 1] += 90
    return x, y


def test_training_module_imports_nothing_heavy() -> None:
    # The GPU machine has JAX and keras but no TensorFlow, MLflow, Prefect or pydantic.
    code = (
        "import sys, pipelines.train, pipelines.images, pipelines.backbones;"
        "bad = {'tensorflow', 'mlflow', 'prefect', 'pydantic', 'keras', 'great_expectations'} & set(sys.modules);"
        "print(sorted(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"


def test_frozen_phase_leaves_pretrained_backbone_untouched() -> None:
    params = load_params(
        None,
        [
            "train.backbone=efficientnet_lite0",
            "train.image_size=32",
            "train.epochs=1",
            "train.freeze_backbone_epochs=1",
            "train.batch_size=16",
        ],
    ).train
    x, y = _data(48, 0)
    xv, yv = _data(16, 1)
    result = train_model(x, y, xv, yv, params, verbose=0)
    backbone = result.model.get_layer("efficientnet_lite0")
    from pipelines.backbones import build_backbone

    fresh = build_backbone(result.backbone, 32, bn_momentum=params.bn_momentum)
    for trained_w, fresh_w in zip(backbone.get_weights(), fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(trained_w, fresh_w)
    head = result.model.get_layer("probability_fake").get_weights()[0]
    assert np.abs(head).sum() > 0
    assert result.epochs_run == 1 and len(result.history["val_loss"]) == 1


def test_from_scratch_training_learns_and_round_trips_through_save(tmp_path: Path) -> None:
    params = load_params(
        None,
        [
            "train.weights=none",
            "train.backbone=efficientnet_lite0",
            "train.image_size=32",
            "train.epochs=3",
            "train.batch_size=16",
            "train.learning_rate=0.003",
            "train.mixed_precision=off",
        ],
    ).train
    x, y = _data(64, 2)
    xv, yv = _data(32, 3)
    result = train_model(x, y, xv, yv, params, verbose=0)
    assert result.backbone.weights == "none" and result.mixed_precision is False
    assert len(result.history["loss"]) == result.epochs_run <= 3
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert 1 <= result.best_epoch <= result.epochs_run
    p = predict_proba(result.model, xv)
    assert p.shape == (32,) and ((p >= 0) & (p <= 1)).all()
    path = save_model(result.model, tmp_path / "m.keras")
    import keras

    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(predict_proba(loaded, xv), p, atol=1e-5)
    assert getattr(loaded, "optimizer", None) is None  # saved without optimizer state


def test_mixed_precision_follows_the_setting() -> None:
    assert use_mixed_precision("on") is True
    assert use_mixed_precision("off") is False
    assert use_mixed_precision("auto") is False  # no GPU on the test machines


def test_empty_split_is_a_clear_error() -> None:
    params = load_params(None).train
    x, y = _data(4, 0)
    with pytest.raises(ValueError, match="non-empty training and validation"):
        train_model(x, y, x[:0], y[:0], params)
