"""The registered model: an `mlflow.pyfunc` wrapper that takes base64 image bytes and returns labels.

MLflow does not decode base64 for us (mlflow/mlflow#11170), so the wrapper does, with the same decoder the
training data went through (`pipelines.images`).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

INPUT_COLUMN = "image"
OUTPUT_COLUMNS = ("label", "probability_fake", "model_version")


class RealEyezModel(mlflow.pyfunc.PythonModel):
    """model_config: image_size, threshold, model_version. Artifacts: keras_model.

    Served images of any PIL mode (L, RGBA, P, CMYK) are converted to RGB: `validate.convert_modes` is a
    policy for training data, not a reason to refuse a user's grayscale upload.
    """

    def load_context(self, context: Any) -> None:
        import keras

        self._model = keras.saving.load_model(context.artifacts["keras_model"], compile=False)
        config = context.model_config or {}
        self._size = int(config["image_size"])
        self._threshold = float(config.get("threshold", 0.5))
        self._version = str(config.get("model_version", ""))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        from pipelines.images import decode_image_bytes

        if not isinstance(model_input, pd.DataFrame) or INPUT_COLUMN not in model_input.columns:
            cols = list(model_input.columns) if isinstance(model_input, pd.DataFrame) else type(model_input).__name__
            raise ValueError(f"input must be a DataFrame with a column {INPUT_COLUMN!r} of base64 images; got {cols}")
        images = np.empty((len(model_input), self._size, self._size, 3), dtype=np.uint8)
        for i, value in enumerate(model_input[INPUT_COLUMN]):
            data = _b64decode(value, row=i)
            images[i] = decode_image_bytes(data, self._size, convert_modes=True, name=f"row {i}")
        if len(images):
            p_fake = np.asarray(self._model.predict(images, batch_size=256, verbose=0), dtype=np.float64).reshape(-1)
        else:
            p_fake = np.zeros((0,), dtype=np.float64)
        return pd.DataFrame(
            {
                "label": np.where(p_fake >= self._threshold, "FAKE", "REAL"),
                "probability_fake": p_fake,
                "model_version": [self._version] * len(p_fake),
            }
        )


def _b64decode(value: Any, row: int) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if not isinstance(value, str):
        raise ValueError(f"row {row}: {INPUT_COLUMN!r} must be a base64 string, got {type(value).__name__}")
    try:
        # `base64 FILE` in a shell wraps lines at 76 characters: whitespace is not part of the data.
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"row {row}: {INPUT_COLUMN!r} is not valid base64: {exc}") from exc


def encode_image(data: bytes) -> str:
    """Client helper: image bytes -> the base64 string the model expects."""
    return base64.b64encode(data).decode("ascii")
