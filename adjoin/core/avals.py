"""Abstract values: what staging knows about an array (its shape and dtype)."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from adjoin.core.trace import Tracer, dtype_of, shape_of


class ShapedArray:
    """The shape and dtype of an array, without its values."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape: Iterable[int], dtype: Any) -> None:
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __eq__(self, other):
        return (isinstance(other, ShapedArray) and self.shape == other.shape
                and self.dtype == other.dtype)

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def str_short(self) -> str:
        dims = ",".join(map(str, self.shape))
        return f"{_DTYPE_SHORT.get(self.dtype.name, self.dtype.name)}[{dims}]"

    __repr__ = str_short

    def dummy(self) -> np.ndarray:
        """A zero-stride array of this shape and dtype (costs no memory)."""
        return np.broadcast_to(np.zeros((), self.dtype), self.shape)


_DTYPE_SHORT = {"float64": "f64", "float32": "f32", "complex128": "c128", "complex64": "c64",
                "int64": "i64", "int32": "i32", "bool": "bool"}


def aval_of(x: Any) -> ShapedArray:
    """The abstract value of a concrete array, a Python scalar or a tracer."""
    if isinstance(x, ShapedArray):
        return x
    return ShapedArray(shape_of(x), dtype_of(x))


def is_float_dtype(dtype: Any) -> bool:
    """Whether ``dtype`` is a real or complex floating dtype."""
    return np.issubdtype(dtype, np.inexact)


__all__ = ["ShapedArray", "aval_of", "is_float_dtype", "Tracer"]
