from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pipelines.images import ImageDecodeError, decode_image_bytes


def _png(mode: str, size: tuple[int, int] = (16, 16)) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color=128 if mode == "L" else (10, 20, 30)).save(buf, format="PNG")
    return buf.getvalue()


def test_decode_resizes_and_keeps_colours() -> None:
    arr = decode_image_bytes(_png("RGB"), 32)
    assert arr.shape == (32, 32, 3) and arr.dtype == np.uint8
    assert tuple(arr[5, 5]) == (10, 20, 30)


def test_non_rgb_mode_is_converted_only_when_allowed() -> None:
    assert decode_image_bytes(_png("L"), 16, convert_modes=True).shape == (16, 16, 3)
    with pytest.raises(ImageDecodeError, match="mode L is not RGB"):
        decode_image_bytes(_png("L"), 16, convert_modes=False, name="x.png")


def test_garbage_and_truncated_bytes_name_the_input() -> None:
    with pytest.raises(ImageDecodeError, match="doc.jpg: cannot decode"):
        decode_image_bytes(b"hello, not an image", 16, name="doc.jpg")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(buf, "JPEG")
    with pytest.raises(ImageDecodeError, match="cut.jpg"):
        decode_image_bytes(buf.getvalue()[:200], 16, name="cut.jpg")
