"""Abstract values: what staging knows about an array (its shape and dtype).

Also the two dtype questions every transformation asks: :func:`is_inexact` (does a
value carry a tangent?) and :func:`zero_tangent` (the concrete zero tangent of a value).
"""
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


def is_inexact(x: Any) -> bool:
    """Whether ``x`` has a real or complex floating dtype: whether it carries a tangent.

    ``x`` is an array, a Python or NumPy scalar, a tracer, an abstract value or a dtype (an
    ``np.dtype`` or a scalar type such as ``np.float32``; not a dtype's name). This is the one
    test for "differentiable dtype" in adjoin: transformations use it to decide which values
    get tangents and cotangents, rules to decide whether a derivative exists. Integers and
    booleans are not inexact (their derivatives are symbolic zeros).

    When not to use it: to ask whether a value is *complex* (for conjugations and real
    parts), test ``dtype_of(x).kind == "c"``.
    """
    t = type(x)
    if t is float or t is complex or t is np.float64:  # the common cases first: reverse
        return True                                     # mode asks once per operation
    if t is np.ndarray:
        return x.dtype.kind in "fc"
    if isinstance(x, (np.dtype, type)):
        return np.dtype(x).kind in "fc"
    return dtype_of(x).kind in "fc"


def zero_tangent(x: Any) -> np.ndarray:
    """Concrete zeros for the tangent or cotangent of ``x``: x's shape, x's dtype when it is
    inexact, float64 otherwise (an integer or boolean input gets float64 zeros).

    ``x`` is an array, a scalar, a tracer or an abstract value. Use it where a symbolic zero
    (None) must become an array: a gradient with respect to an input that nothing depends
    on, a tangent handed to a user's rule. When not to use it: for zeros that must keep an
    integer dtype (a loop carry, a branch output), use ``np.zeros(shape, dtype)``.
    """
    dt = dtype_of(x)
    dt = dt if dt.kind in "fc" else np.float64
    t = type(x)
    if t is not np.ndarray and _foreign_zeros is not None and not isinstance(x, (ShapedArray, np.generic)):
        z = _foreign_zeros(x, dt)  # an array of another backend (Dask, CuPy): zeros there
        if z is not None:
            return z
    return np.zeros(shape_of(x), dt)


#: ``fn(x, dtype)``: zeros of x's shape on x's backend, or None for values that are not
#: arrays of another backend; installed by adjoin.backends (the layer above)
_foreign_zeros = None


def set_foreign_zeros(fn) -> None:
    """Install the backends' zeros for :func:`zero_tangent` (done by ``adjoin.backends``)."""
    global _foreign_zeros
    _foreign_zeros = fn


__all__ = ["ShapedArray", "aval_of", "is_inexact", "zero_tangent", "Tracer"]
