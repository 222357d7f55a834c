"""Read a PyTorch state dict saved in torch's legacy (pre-zip) format with numpy alone, without torch.

The legacy format is a sequence of pickles: magic number, protocol version, sys_info, the main object
(tensors refer to storages through persistent ids), the list of storage keys; then, for each key in that
order, an 8-byte little-endian element count followed by the storage's raw bytes. Only a fixed allow-list of
globals is resolved, so a malicious file cannot make the unpickler import or call anything else.
"""

from __future__ import annotations

import collections
import pickle
import struct
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["TorchFormatError", "read_torch_legacy"]

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001

# Typed storage classes (as pickled by torch) -> element dtype on disk. bfloat16 has no numpy dtype: it is
# read as raw uint16 and widened to float32 afterwards (exact: a bfloat16 is the top half of a float32).
_STORAGE_DTYPES: dict[str, np.dtype[Any]] = {
    "DoubleStorage": np.dtype("<f8"),
    "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"),
    "BFloat16Storage": np.dtype("<u2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
    "ComplexFloatStorage": np.dtype("<c8"),
    "ComplexDoubleStorage": np.dtype("<c16"),
}


class TorchFormatError(ValueError):
    """The file is not a torch legacy-format file this reader understands."""


@dataclass(frozen=True)
class _StorageType:
    """Stand-in for a `torch.XStorage` class: only its name and element dtype matter."""

    name: str
    dtype: np.dtype[Any]


@dataclass
class _Storage:
    """A storage declared by a persistent id; its bytes are read after the main pickle."""

    key: str
    type: _StorageType
    numel: int
    data: np.ndarray | None = None
    # Very old files: a storage that is a slice (element offset) of a root storage.
    view_of: tuple[_Storage, int] | None = None

    def array(self) -> np.ndarray:
        if self.view_of is not None:
            root, offset = self.view_of
            return root.array()[offset : offset + self.numel]
        if self.data is None:
            raise TorchFormatError(f"storage {self.key!r} has no data in the file")
        return self.data


@dataclass(frozen=True)
class _LazyTensor:
    """A tensor whose storage bytes are not read yet (they follow the main pickle in the file)."""

    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any, *_: Any) -> _LazyTensor:
    # Signature of torch._utils._rebuild_tensor_v2; requires_grad, hooks and metadata do not matter here.
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError(f"tensor rebuilt from a {type(storage).__name__}, expected a storage")
    return _LazyTensor(storage, int(storage_offset), tuple(map(int, size)), tuple(map(int, stride)))


def _rebuild_parameter(data: Any, *_: Any) -> Any:
    # A Parameter is just its tensor once gradients do not matter.
    return data


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name, dtype) for name, dtype in _STORAGE_DTYPES.items()},
}


class _ForbiddenGlobal(pickle.UnpicklingError):
    """The pickle asked for a global outside the allow-list."""


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the allow-listed globals; storages come back as `_Storage` placeholders."""

    def __init__(self, file: IO[bytes], storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self._storages = storages

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise _ForbiddenGlobal(
                f"refusing to load global {module}.{name}: only tensors, typed storages and "
                "OrderedDict are allowed in a state dict"
            ) from None

    def persistent_load(self, pid: Any) -> _Storage:
        # ("storage", storage_type, root_key, location, numel, view_metadata) as written by torch.save.
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        _, storage_type, root_key, _location, numel, view_metadata = pid
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unknown storage type {storage_type!r}")
        root_key = str(root_key)
        root = self._storages.get(root_key)
        if root is None:
            root = self._storages[root_key] = _Storage(root_key, storage_type, int(numel))
        elif root.type != storage_type:
            raise pickle.UnpicklingError(f"storage {root_key!r} used with two types")
        if view_metadata is None:
            return root
        view_key, offset, view_size = view_metadata
        return _Storage(str(view_key), root.type, int(view_size), view_of=(root, int(offset)))


def _load_pickle(unpickler: pickle.Unpickler, path: Path, what: str) -> Any:
    try:
        return unpickler.load()
    except _ForbiddenGlobal as exc:
        raise TorchFormatError(f"{path}: {exc}") from exc
    # A garbage file can make the unpickler fail in many ways; all mean "not a file we understand".
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
    ) as exc:
        raise TorchFormatError(
            f"{path}: not a torch legacy-format (pre-zip) file: cannot unpickle the {what} "
            f"({type(exc).__name__}: {exc})"
        ) from exc


def _read_storage_bytes(file: IO[bytes], path: Path, storage: _Storage) -> None:
    header = file.read(8)
    if len(header) != 8:
        raise TorchFormatError(f"{path}: file truncated before the data of storage {storage.key!r}")
    (count,) = struct.unpack("<q", header)
    if count != storage.numel:
        raise TorchFormatError(
            f"{path}: storage {storage.key!r} holds {count} elements, the pickle declared {storage.numel}"
        )
    nbytes = count * storage.type.dtype.itemsize
    raw = file.read(nbytes)
    if len(raw) != nbytes:
        raise TorchFormatError(f"{path}: file truncated inside the data of storage {storage.key!r}")
    storage.data = np.frombuffer(raw, dtype=storage.type.dtype)


def _materialise(tensor: _LazyTensor, path: Path, name: str) -> np.ndarray:
    """Apply storage offset, shape and strides (in elements); return an owned, C-contiguous, native array."""
    flat = tensor.storage.array()
    size, stride, offset = tensor.size, tensor.stride, tensor.offset
    if len(size) != len(stride):
        raise TorchFormatError(f"{path}: tensor {name!r} has size {size} but stride {stride}")
    if min((*size, *stride, offset), default=0) < 0:
        raise TorchFormatError(f"{path}: tensor {name!r} has a negative size, stride or offset")
    if 0 in size:
        out = np.empty(size, dtype=flat.dtype)
    else:
        last = offset + sum((n - 1) * st for n, st in zip(size, stride, strict=True))
        if last >= flat.size:
            raise TorchFormatError(
                f"{path}: tensor {name!r} (offset {offset}, size {size}, stride {stride}) reaches element "
                f"{last} of a storage of {flat.size}"
            )
        view = np.lib.stride_tricks.as_strided(
            flat[offset:], shape=size, strides=tuple(st * flat.itemsize for st in stride), writeable=False
        )
        out = np.array(view, order="C")
    if tensor.storage.type.name == "BFloat16Storage":
        return (out.astype(np.uint32) << 16).view(np.float32)
    return out.astype(out.dtype.newbyteorder("="), copy=False)


def read_torch_legacy(path: str | PathLike[str]) -> dict[str, np.ndarray]:
    """Read a legacy-format torch state dict (name -> tensor) into numpy arrays, without torch."""
    path = Path(path)
    with path.open("rb") as file:
        head = file.read(4)
        if head.startswith(b"PK"):
            raise TorchFormatError(
                f"{path}: is torch's zip format (torch >= 1.6 default); this reader handles only the legacy "
                "format (save with torch.save(..., _use_new_zipfile_serialization=False))"
            )
        file.seek(0)
        storages: dict[str, _Storage] = {}
        unpickler = _RestrictedUnpickler(file, storages)
        magic = _load_pickle(unpickler, path, "magic number")
        if magic != LEGACY_MAGIC_NUMBER:
            raise TorchFormatError(f"{path}: not a torch legacy-format (pre-zip) file: wrong magic number")
        version = _load_pickle(unpickler, path, "protocol version")
        if version != LEGACY_PROTOCOL_VERSION:
            raise TorchFormatError(f"{path}: unsupported torch legacy protocol version {version!r}")
        sys_info = _load_pickle(unpickler, path, "sys_info")
        if not (isinstance(sys_info, dict) and sys_info.get("little_endian", True)):
            # The storage bytes are in the writer's byte order; all torch builds in use are little-endian.
            raise TorchFormatError(f"{path}: written on a big-endian machine, which is not supported")
        obj = _load_pickle(unpickler, path, "state dict")
        keys = _load_pickle(unpickler, path, "storage key list")
        if not isinstance(keys, list):
            raise TorchFormatError(f"{path}: storage key list is a {type(keys).__name__}")
        for key in keys:
            storage = storages.get(str(key))
            if storage is None:
                raise TorchFormatError(f"{path}: storage {key!r} listed but never referenced")
            _read_storage_bytes(file, path, storage)

    if not isinstance(obj, dict):
        raise TorchFormatError(f"{path}: holds a {type(obj).__name__}, expected a state dict")
    result: dict[str, np.ndarray] = {}
    for name, value in obj.items():
        if not (isinstance(name, str) and isinstance(value, _LazyTensor)):
            raise TorchFormatError(f"{path}: entry {name!r} is a {type(value).__name__}, expected a tensor")
        result[name] = _materialise(value, path, name)
    return result
