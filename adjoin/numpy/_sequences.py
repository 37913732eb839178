"""adjoin.numpy: arrays built from sequences (asarray, array, stack, concatenate).

These four belong together because they call each other: ``array`` of a nested list
with traced entries stacks them, ``stack`` concatenates, and ``concatenate`` turns
its non-array inputs into arrays first. Everything they need is one layer down
(:mod:`adjoin.primitives.lax` and the ``concatenate`` primitive), so the shape,
indexing and reduction modules of adjoin.numpy can build on them.

Use :func:`_asarray` inside adjoin.numpy where an argument may be a list or a Python
scalar and a traced value must pass through untouched; users call ``asarray``.
"""
from __future__ import annotations

import numpy as np

from adjoin.backends import is_foreign as _foreign
from adjoin.core.axes import normalize_axis_index
from adjoin.core.trace import Tracer, dtype_of, shape_of, trace_stack
from adjoin.primitives.lax import astype, reshape
from adjoin.primitives.structural import concatenate_p

__all__ = ["array", "asarray", "asanyarray", "concatenate", "concat", "stack"]


_nd = np.ndarray
_PLAIN = (float, int, complex, bool, np.ndarray)


def _any_foreign(seq):
    """True if an entry of ``seq`` is another backend's array (Dask, CuPy, array-API): the
    NumPy fast paths send those through the primitives. One type test per NumPy entry."""
    for a in seq:
        if type(a) is not _nd and _foreign(a):
            return True
    return False


def _has_tracer(obj):
    """A traced value, or another backend's array, among nested lists/tuples: then the
    sequence is stacked (derivatives flow, the backend is kept) instead of np.asarray."""
    if type(obj) in _PLAIN:
        return False
    if isinstance(obj, (list, tuple)):
        return any(_has_tracer(o) for o in obj)
    return isinstance(obj, Tracer) or _foreign(obj)


def _build(obj):
    """Nested lists/tuples with traced leaves as one array (stacked, so derivatives flow)."""
    if isinstance(obj, (list, tuple)):
        if not _has_tracer(obj):
            return np.asarray(obj)
        parts = [_build(o) for o in obj]
        shapes = {shape_of(p) for p in parts}
        if len(shapes) != 1:
            raise ValueError(f"array: the nested sequence is ragged (shapes "
                             f"{[shape_of(p) for p in parts]}); all entries of a level "
                             "must have the same shape")
        return stack(parts)
    return obj


def array(object, dtype=None, copy=True, ndmin=0, **kwargs):  # noqa: A002
    """``numpy.array``; nested lists/tuples may contain traced values (they are stacked,
    so derivatives flow through)."""
    if not _has_tracer(object):
        return np.array(object, dtype=dtype, copy=copy, ndmin=ndmin, **kwargs)
    out = _build(object)  # (another backend's array itself is returned by _build as it is)
    if dtype is not None and np.dtype(dtype) != dtype_of(out):
        out = astype(out, dtype)
    nd = len(shape_of(out))
    if ndmin > nd:
        out = reshape(out, (1,) * (ndmin - nd) + tuple(shape_of(out)))
    return out


def asarray(a, dtype=None, **kwargs):
    """``numpy.asarray``; traced values (and lists of them) stay traced, other backends'
    arrays stay on their backend."""
    if type(a) is _nd or not _has_tracer(a):
        return np.asarray(a, dtype=dtype, **kwargs)
    return array(a, dtype=dtype)


asanyarray = asarray


def _asarray(a):
    """Traced values and other backends' arrays as they are; anything else as a NumPy
    array."""
    if isinstance(a, (Tracer, np.ndarray)) or _foreign(a):
        return a
    return asarray(a)


def concatenate(arrays, axis=0, dtype=None):
    """``numpy.concatenate`` (axis=None flattens the inputs first)."""
    arrays = list(arrays)
    if not trace_stack:
        for a in arrays:  # (inline: no call per NumPy array)
            if type(a) is not _nd and _foreign(a):
                break  # another backend's array: through the primitives
        else:
            return np.concatenate(arrays, axis=axis, dtype=dtype)
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    arrays = [_asarray(a) for a in arrays]
    if axis is None:
        arrays = [reshape(a, (-1,)) for a in arrays]
        axis = 0
    nd = len(shape_of(arrays[0]))
    if nd == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    for a in arrays:
        if len(shape_of(a)) != nd:
            raise ValueError(f"concatenate: all inputs must have the same number of dimensions; "
                             f"got shapes {[shape_of(x) for x in arrays]}")
    axis = normalize_axis_index(axis, nd)
    if dtype is not None:
        arrays = [astype(a, dtype) for a in arrays]
    if len(arrays) == 1:
        return arrays[0]
    return concatenate_p.bind(*arrays, axis=axis)


concat = concatenate


def stack(arrays, axis=0, dtype=None):
    """``numpy.stack``: join along a new axis."""
    arrays = list(arrays)
    if not trace_stack:
        for a in arrays:  # (inline: no call per NumPy array)
            if type(a) is not _nd and _foreign(a):
                break  # another backend's array: through the primitives
        else:
            return np.stack(arrays, axis=axis, dtype=dtype)
    if not arrays:
        raise ValueError("need at least one array to stack")
    arrays = [_asarray(a) for a in arrays]
    shapes = {shape_of(a) for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"stack: all input arrays must have the same shape; got "
                         f"{[shape_of(a) for a in arrays]}")
    s = tuple(shape_of(arrays[0]))
    axis = normalize_axis_index(axis, len(s) + 1)
    with_axis = s[:axis] + (1,) + s[axis:]
    return concatenate([reshape(a, with_axis) for a in arrays], axis=axis, dtype=dtype)
