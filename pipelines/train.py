"""Training step: an EfficientNet backbone plus a sigmoid head, fitted on numpy arrays.

Imports only keras, numpy and the project's own pure modules, so the same code runs on the TensorFlow
backend here and on JAX on a GPU machine that has no TensorFlow.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines.backbones import BackboneChoice, build_backbone, resolve_backbone

if TYPE_CHECKING:
    import keras

    # Only for annotations: the GPU machine runs this module with keras/numpy/pillow and no pydantic.
    from pipelines.config import TrainParams


@dataclass
class TrainResult:
    model: keras.Model
    backbone: BackboneChoice
    history: dict[str, list[float]]
    best_epoch: int
    epochs_run: int
    seconds: float
    train_images_per_second: float
    mixed_precision: bool
    keras_backend: str
    devices: list[str] = field(default_factory=list)


def gpu_present() -> bool:
    import keras

    try:
        return bool(keras.distribution.list_devices("gpu"))
    except Exception:  # backends without the distribution API, or no GPU runtime
        return False


def use_mixed_precision(setting: str) -> bool:
    return setting == "on" or (setting == "auto" and gpu_present())


def build_classifier(backbone: keras.Model, image_size: int, dropout: float, augment_flip: bool) -> keras.Model:
    """uint8/float pixels 0..255 in, probability of FAKE out (float32 even under mixed precision)."""
    import keras

    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = keras.layers.RandomFlip("horizontal", name="augment_flip")(inputs) if augment_flip else inputs
    x = backbone(x)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="probability_fake")(x)
    return keras.Model(inputs, outputs, name="realeyez_classifier")


class _EpochTimer:
    """Wall time of each epoch, for the images/s figure (the first epoch includes graph compilation)."""

    def __init__(self) -> None:
        import keras

        timer = self

        class _Callback(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                timer._start = time.perf_counter()

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                timer.seconds.append(time.perf_counter() - timer._start)

        self.seconds: list[float] = []
        self._start = 0.0
        self.callback = _Callback()


def _compile(model: keras.Model, params: TrainParams, decay_steps: int = 0) -> None:
    import keras

    lr: float | keras.optimizers.schedules.LearningRateSchedule = params.learning_rate
    if params.lr_schedule == "cosine" and decay_steps > 0:
        # Decays to 0 over the fine-tuning phase: late epochs then polish instead of bouncing around.
        lr = keras.optimizers.schedules.CosineDecay(params.learning_rate, decay_steps=decay_steps)
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=lr, weight_decay=params.weight_decay),
        loss="binary_crossentropy",
        metrics=["accuracy", keras.metrics.AUC(name="auc")],
    )


def train_model(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    params: TrainParams,
    *,
    callbacks: Sequence[Any] = (),
    verbose: int | str = "auto",
) -> TrainResult:
    """Fit the classifier; returns it with the best validation-loss weights restored.

    With pretrained weights the backbone is frozen for `freeze_backbone_epochs` first, so the random head
    does not wreck the ImageNet features with large early gradients; then everything is fine-tuned.
    """
    import keras

    if len(x_train) == 0 or len(x_val) == 0:
        raise ValueError("training needs a non-empty training and validation split")
    keras.utils.set_random_seed(params.seed)
    mixed = use_mixed_precision(params.mixed_precision)
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if mixed else "float32")
    try:
        choice = resolve_backbone(params.backbone, params.weights)
        backbone = build_backbone(choice, params.image_size, bn_momentum=params.bn_momentum)
        model = build_classifier(backbone, params.image_size, params.dropout, params.augment_flip)
    finally:
        # The policy only matters while layers are created; reset so later builds are not affected.
        keras.mixed_precision.set_global_policy("float32")

    y_train = np.asarray(y_train, dtype="float32").reshape(-1, 1)
    y_val = np.asarray(y_val, dtype="float32").reshape(-1, 1)
    timer = _EpochTimer()
    history: dict[str, list[float]] = {}
    start = time.perf_counter()

    def fit(epochs: int, initial_epoch: int, extra: list[Any]) -> None:
        h = model.fit(
            x_train,
            y_train,
            validation_data=(x_val, y_val),
            batch_size=params.batch_size,
            epochs=epochs,
            initial_epoch=initial_epoch,
            shuffle=True,
            callbacks=[timer.callback, *callbacks, *extra],
            verbose=verbose,
        )
        for key, values in h.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)

    pretrained = choice.weights != "none"
    frozen = min(params.freeze_backbone_epochs, params.epochs) if pretrained else 0
    if frozen:
        backbone.trainable = False
        _compile(model, params)
        fit(frozen, 0, [])
        backbone.trainable = True
    stopper = None
    if params.epochs > frozen:
        steps_per_epoch = int(np.ceil(len(x_train) / params.batch_size))
        _compile(model, params, decay_steps=steps_per_epoch * (params.epochs - frozen))
        stopper = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=params.early_stopping_patience, restore_best_weights=True
        )
        fit(params.epochs, frozen, [stopper])

    # The epoch whose weights the model now holds: EarlyStopping restores the best of the fine-tuning phase.
    if stopper is not None and stopper.best_weights is not None:
        best_epoch = int(stopper.best_epoch) + 1
    else:
        best_epoch = len(history.get("loss", []))
    # Steady-state speed: skip the first epoch of each phase, which includes tracing/compilation.
    steady = timer.seconds[1:] if len(timer.seconds) > 1 else timer.seconds
    ips = len(x_train) / float(np.median(steady)) if steady else 0.0
    return TrainResult(
        model=model,
        backbone=choice,
        history=history,
        best_epoch=best_epoch,
        epochs_run=len(timer.seconds),
        seconds=time.perf_counter() - start,
        train_images_per_second=ips,
        mixed_precision=mixed,
        keras_backend=keras.backend.backend(),
    )


def predict_proba(model: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Probability of FAKE for each image, shape (N,)."""
    if len(images) == 0:
        return np.zeros((0,), dtype=np.float32)
    return np.asarray(model.predict(images, batch_size=batch_size, verbose=0), dtype=np.float32).reshape(-1)


def save_model(model: keras.Model, path: Path) -> Path:
    """Save weights and architecture without optimizer state (~16 MB instead of ~49 MB for B0)."""
    import keras

    path.parent.mkdir(parents=True, exist_ok=True)
    keras.Model(model.inputs, model.outputs, name=model.name).save(path)
    return path
