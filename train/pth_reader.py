"""Read a PyTorch checkpoint (``torch.save`` of a state dict) into numpy, without torch.

Both of PyTorch's formats are read: the legacy one (a run of pickles followed by the raw
storages, each prefixed by its int64 element count) and the zip one (``<dir>/data.pkl``
plus one ``<dir>/data/<key>`` entry per storage). Only the globals a state dict needs are
allowed in the pickles, so a checkpoint cannot run code while it is read.
"""

import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _Storage:
    """A storage named by the pickle; its bytes arrive later (legacy) or from the zip."""

    def __init__(self, dtype: np.dtype, numel: int) -> None:
        self.dtype, self.numel = dtype, numel
        self.data: np.ndarray | None = None


class _StorageView:
    """A slice of a root storage (legacy checkpoints of very old PyTorch versions)."""

    def __init__(self, root: _Storage, offset: int, numel: int) -> None:
        self.root, self.offset, self.numel = root, offset, numel

    @property
    def data(self) -> np.ndarray | None:
        root = self.root.data
        return None if root is None else root[self.offset : self.offset + self.numel]


class _LazyTensor:
    """What ``_rebuild_tensor_v2`` returns until the storage bytes have been read."""

    def __init__(
        self, storage: _Storage | _StorageView, offset: int, size: tuple, stride: tuple
    ) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def numpy(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise pickle.UnpicklingError("a tensor refers to a storage the file does not hold")
        size, stride = tuple(int(n) for n in self.size), tuple(int(s) for s in self.stride)
        if 0 in size:
            return np.zeros(size, data.dtype)
        last = self.offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
        if self.offset < 0 or min(stride, default=0) < 0 or last >= data.size:
            raise pickle.UnpicklingError(f"tensor of size {size} runs past its storage")
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :], size, [s * data.itemsize for s in stride], writeable=False
        )
        return np.array(view, order="C")  # an owned, C-contiguous copy


def _rebuild_tensor(
    storage: _Storage, offset: int, size: tuple, stride: tuple, *_: Any
) -> _LazyTensor:
    """Stands in for ``torch._utils._rebuild_tensor(_v2)``; the extra arguments are grad state."""
    return _LazyTensor(storage, offset, size, stride)


def _rebuild_parameter(data: _LazyTensor, *_: Any) -> _LazyTensor:
    """Stands in for ``torch._utils._rebuild_parameter``: a Parameter is its tensor."""
    return data


class _CheckpointUnpickler(pickle.Unpickler):
    """Maps the few torch globals of a state dict to the stand-ins above; refuses the rest."""

    _GLOBALS = {
        ("collections", "OrderedDict"): OrderedDict,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    }

    def __init__(self, file: BinaryIO, storage_for: Any = None) -> None:
        super().__init__(file)
        self._storage_for = storage_for

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in _STORAGE_DTYPES:
            return np.dtype(_STORAGE_DTYPES[name])
        if (module, name) in self._GLOBALS:
            return self._GLOBALS[module, name]
        raise pickle.UnpicklingError(f"unsupported global {module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        if self._storage_for is None or not isinstance(pid, tuple) or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        return self._storage_for(*pid[1:])


def _materialise(obj: Any) -> Any:
    """Replace every lazy tensor inside dicts, lists and tuples by its numpy array."""
    if isinstance(obj, _LazyTensor):
        return obj.numpy()
    if isinstance(obj, dict):
        return type(obj)((key, _materialise(value)) for key, value in obj.items())
    if isinstance(obj, list | tuple):
        return type(obj)(_materialise(value) for value in obj)
    return obj


def _read_legacy(f: BinaryIO) -> Any:
    if _CheckpointUnpickler(f).load() != _LEGACY_MAGIC:
        raise pickle.UnpicklingError("not a PyTorch checkpoint (no legacy magic number)")
    _CheckpointUnpickler(f).load()  # protocol version
    sys_info = _CheckpointUnpickler(f).load()
    if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
        raise pickle.UnpicklingError("big-endian checkpoints are not supported")

    storages: dict[str, _Storage] = {}

    def storage_for(
        dtype: np.dtype, key: str, _location: str, numel: int, view: tuple | None = None
    ) -> _Storage | _StorageView:
        root = storages.setdefault(key, _Storage(dtype, numel))
        if view is None:
            return root
        _view_key, offset, view_numel = view
        return _StorageView(root, offset, view_numel)

    obj = _CheckpointUnpickler(f, storage_for).load()
    for key in _CheckpointUnpickler(f).load():
        storage = storages.get(key)
        header = f.read(8)
        if storage is None or len(header) != 8:
            raise pickle.UnpicklingError(f"storage {key!r} is missing or unexpected")
        (numel,) = struct.unpack("<q", header)
        nbytes = numel * storage.dtype.itemsize
        raw = f.read(nbytes)
        if numel != storage.numel or len(raw) != nbytes:
            raise pickle.UnpicklingError(f"storage {key!r} is truncated or of the wrong size")
        storage.data = np.frombuffer(raw, storage.dtype)
    return _materialise(obj)


def _read_zip(archive: zipfile.ZipFile) -> Any:
    pickles = [name for name in archive.namelist() if name.endswith("/data.pkl")]
    if len(pickles) != 1:
        raise pickle.UnpicklingError("zip checkpoint without exactly one <dir>/data.pkl")
    prefix = pickles[0][: -len("data.pkl")]
    byteorder = prefix + "byteorder"
    if byteorder in archive.namelist() and archive.read(byteorder).strip() != b"little":
        raise pickle.UnpicklingError("big-endian checkpoints are not supported")

    storages: dict[str, _Storage] = {}

    def storage_for(dtype: np.dtype, key: str, _location: str, numel: int) -> _Storage:
        if key not in storages:
            storage = storages[key] = _Storage(dtype, numel)
            storage.data = np.frombuffer(archive.read(f"{prefix}data/{key}"), dtype)
        return storages[key]

    return _materialise(
        _CheckpointUnpickler(io.BytesIO(archive.read(pickles[0])), storage_for).load()
    )


def read_pth(path: Path | str) -> dict[str, np.ndarray]:
    """Every tensor of a PyTorch state-dict checkpoint, by its key, as a numpy array.

    A checkpoint that wraps its state dict as ``{"state_dict": ...}`` or ``{"model": ...}``
    is unwrapped. Raises ``ValueError`` naming the file for anything it cannot read.
    """
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                obj = _read_zip(archive)
        else:
            with path.open("rb") as f:
                obj = _read_legacy(f)
    except (OSError, EOFError, KeyError, TypeError, ValueError, pickle.UnpicklingError) as e:
        raise ValueError(f"cannot read PyTorch checkpoint {path}: {e}") from e
    for wrapper in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict):
        raise ValueError(f"{path} holds a {type(obj).__name__}, not a state dict")
    tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, np.ndarray)}
    if not tensors:
        raise ValueError(f"{path} holds no tensors")
    return tensors
