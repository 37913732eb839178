"""The function layer that derivative rules call: adjoin's ``lax``.

Rules are written with adjoin operations, so that every rule can itself be
differentiated, batched and staged. They cannot call the user-facing
``adjoin.numpy`` namespace, which sits one layer above the primitives (it imports
them); as in JAX, where rules call ``jax.lax`` and ``jax.numpy`` is built on top of
it, they call the functions here. Each one binds a primitive, with NumPy's
conventions for the arguments (negative axes, ``-1`` in shapes, Python scalars), and
``adjoin.numpy`` re-exports the shape functions defined here rather than repeating
them.

Only what rules need lives here; the rest of NumPy's API is in ``adjoin.numpy``.
Primitives are reached through their modules at call time (``_elementwise.sqrt_p``),
because those modules import this one while they are being defined.

When not to use it: in user code and in layers above the primitives (solvers,
control flow, physics), use ``adjoin.numpy``, which has the whole API and fast paths.
"""
from __future__ import annotations

import numpy as np

from adjoin import backends as _backends
from adjoin.core.axes import normalize_axis, normalize_axis_index
from adjoin.core.trace import dtype_of, shape_of, trace_stack
from adjoin.primitives import elementwise as _elementwise
from adjoin.primitives import indexing as _indexing
from adjoin.primitives import reductions as _reductions
from adjoin.primitives import structural as _structural

__all__ = ["reshape", "broadcast_to", "transpose", "moveaxis", "swapaxes", "flip", "where",
           "astype", "sum", "zeros_like", "ones_like", "real", "real_like", "imag", "conj", "sqrt", "exp",
           "log", "sin", "cos", "sinh", "cosh", "sign", "isnan", "power", "equal",
           "floor_divide", "resolve_shape", "static_slice", "pad", "scatter_add"]


# --- shapes ----------------------------------------------------------------------------------

def resolve_shape(shape, size):
    """``shape`` as a tuple of ints, with a ``-1`` resolved for an array of ``size`` elements."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
        if shape.count(-1) > 1 or known == 0 or size % known:
            raise ValueError(f"cannot reshape an array of size {size} into shape {shape}")
        shape = tuple(size // known if s == -1 else s for s in shape)
    if int(np.prod(shape, dtype=np.int64)) != size:
        raise ValueError(f"cannot reshape an array of size {size} into shape {shape}")
    return shape


def reshape(a, newshape=None, order="C", *, shape=None):
    """``numpy.reshape`` (C order)."""
    if order != "C":
        raise NotImplementedError("adjoin.numpy.reshape supports order='C' only")
    target = shape if shape is not None else newshape
    if not trace_stack:
        try:
            return np.reshape(a, target)
        except Exception:  # another backend's array: through the primitive (backends)
            pass
    s = shape_of(a)
    target = resolve_shape(target, int(np.prod(s, dtype=np.int64)))
    if target == s:
        return a
    return _structural.reshape_p.bind(a, shape=target)


def broadcast_to(a, shape):
    """``numpy.broadcast_to``; the pullback sums over the broadcast axes."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if not trace_stack:
        try:
            return np.broadcast_to(a, shape)
        except Exception:  # another backend's array: through the primitive (backends)
            pass
    if shape_of(a) == shape:
        return a
    np.broadcast_shapes(shape_of(a), shape)  # raises a clear error for incompatible shapes
    return _structural.broadcast_to_p.bind(a, shape=shape)


def transpose(a, axes=None):
    """``numpy.transpose``: reverses the axes by default."""
    if not trace_stack:
        try:
            return np.transpose(a, axes)
        except Exception:  # another backend's array: through the primitive (backends)
            pass
    nd = len(shape_of(a))
    axes = tuple(range(nd))[::-1] if axes is None else tuple(
        normalize_axis_index(i, nd) for i in axes)
    if sorted(axes) != list(range(nd)):
        raise ValueError(f"axes {axes} are not a permutation of the {nd} axes")
    if axes == tuple(range(nd)):
        return a
    return _structural.transpose_p.bind(a, axes=axes)


def moveaxis(a, source, destination):
    """``numpy.moveaxis``."""
    nd = len(shape_of(a))
    src = [normalize_axis_index(s, nd) for s in np.atleast_1d(source)]
    dst = [normalize_axis_index(d, nd) for d in np.atleast_1d(destination)]
    if len(src) != len(dst):
        raise ValueError("source and destination need the same number of axes")
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, order)


def swapaxes(a, axis1, axis2):
    """``numpy.swapaxes``."""
    nd = len(shape_of(a))
    order = list(range(nd))
    i, j = normalize_axis_index(axis1, nd), normalize_axis_index(axis2, nd)
    order[i], order[j] = order[j], order[i]
    return transpose(a, order)


def flip(m, axis=None):
    """``numpy.flip``."""
    if not trace_stack:
        try:
            return np.flip(m, axis)
        except Exception:  # another backend's array: through the primitive (backends)
            pass
    axes = normalize_axis(axis, len(shape_of(m)))
    return _structural.flip_p.bind(m, axes=axes) if axes else m


def static_slice(x, idx):
    """``x`` sliced by ``idx``, one ``("s", start, size, step)`` per axis (the slice
    primitive's own index form)."""
    return _indexing.slice_p.bind(x, idx=idx)


def pad(x, widths):
    """``x`` padded with zeros: ``widths`` is one ``(before, after)`` per axis."""
    return _structural.pad_p.bind(x, widths=widths)


def scatter_add(x, updates, *idx):
    """``x`` with ``updates`` added at the integer indices ``idx`` (repeats accumulate)."""
    return _indexing.scatter_add_p.bind(x, updates, *idx)


# --- selection, casts, sums, constants --------------------------------------------------------

def where(condition, x, y):
    """``numpy.where(condition, x, y)``: elementwise selection (differentiable in x and y)."""
    return _elementwise.where_p.bind(condition, x, y)


def astype(x, dtype):
    """``x.astype(dtype)``; the cotangent is converted back to x's dtype."""
    return _elementwise.astype_p.bind(x, dtype=np.dtype(dtype))


def sum(a, axis=None, dtype=None, keepdims=False):  # noqa: A001
    """``numpy.sum``."""
    if not trace_stack:
        try:
            return np.sum(a, axis=axis, dtype=dtype, keepdims=keepdims)
        except Exception:  # another backend's array: through the primitive (backends)
            pass
    axes = normalize_axis(axis, len(shape_of(a)))
    if dtype is not None:
        a = astype(a, dtype)
    return _reductions.sum_p.bind(a, axes=axes, keepdims=bool(keepdims))


def zeros_like(a, dtype=None, shape=None):
    """``numpy.zeros_like`` on a's backend (works on traced values: their shape, dtype and
    the backend of the value they trace are used)."""
    return _backends.zeros(shape_of(a) if shape is None else shape, dtype or dtype_of(a), like=a)


def ones_like(a, dtype=None, shape=None):
    """``numpy.ones_like`` on a's backend (see zeros_like)."""
    return _backends.full(shape_of(a) if shape is None else shape, 1, dtype or dtype_of(a), like=a)


# --- elementwise functions -----------------------------------------------------------------

def real(x):
    return _elementwise.real_p.bind(x)


def real_like(g, like):
    """``g``, or its real part when ``like`` is real: the cotangent of a real input is real
    (a rule whose pullback goes through complex values, FFTs or complex operands)."""
    return real(g) if dtype_of(g).kind == "c" and dtype_of(like).kind != "c" else g


def imag(x):
    return _elementwise.imag_p.bind(x)


def conj(x):
    return _elementwise.conj_p.bind(x)


def sqrt(x):
    return _elementwise.sqrt_p.bind(x)


def exp(x):
    return _elementwise.exp_p.bind(x)


def log(x):
    return _elementwise.log_p.bind(x)


def sin(x):
    return _elementwise.sin_p.bind(x)


def cos(x):
    return _elementwise.cos_p.bind(x)


def sinh(x):
    return _elementwise.sinh_p.bind(x)


def cosh(x):
    return _elementwise.cosh_p.bind(x)


def sign(x):
    return _elementwise.sign_p.bind(x)


def isnan(x):
    return _elementwise.isnan_p.bind(x)


def power(x, y):
    return _elementwise.power_p.bind(x, y)


def equal(x, y):
    return _elementwise.equal_p.bind(x, y)


def floor_divide(x, y):
    return _elementwise.floor_divide_p.bind(x, y)
