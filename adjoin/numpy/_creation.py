"""adjoin.numpy: array creation (constants: no derivative flows into them)."""
from __future__ import annotations

import numpy as np

from adjoin.core.trace import Tracer, dtype_of, shape_of
from adjoin.primitives.lax import ones_like, zeros_like  # noqa: F401

zeros = np.zeros
ones = np.ones
full = np.full
empty = np.empty
eye = np.eye
identity = np.identity
arange = np.arange
linspace = np.linspace
logspace = np.logspace
geomspace = np.geomspace
meshgrid_numpy = np.meshgrid
tri = np.tri


def full_like(a, fill_value, dtype=None, shape=None):
    return np.full(shape_of(a) if shape is None else shape, fill_value, dtype or dtype_of(a))


def empty_like(a, dtype=None, shape=None):
    return np.empty(shape_of(a) if shape is None else shape, dtype or dtype_of(a))


def shape(a):
    return shape_of(a)


def ndim(a):
    return len(shape_of(a))


def size(a):
    return int(np.prod(shape_of(a), dtype=np.int64))


def result_type(*args):
    return np.result_type(*[dtype_of(a) if isinstance(a, Tracer) else a for a in args])


def _has_tracer(obj):
    if isinstance(obj, Tracer):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_has_tracer(o) for o in obj)
    return False


def _build(obj):
    """Nested lists/tuples with traced leaves as one array (stacked, so derivatives flow)."""
    if isinstance(obj, (list, tuple)):
        if not _has_tracer(obj):
            return np.asarray(obj)
        from adjoin.numpy._shape import stack
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
    out = _build(object)
    if dtype is not None and np.dtype(dtype) != dtype_of(out):
        from adjoin.numpy._elementwise import astype
        out = astype(out, dtype)
    nd = len(shape_of(out))
    if ndmin > nd:
        from adjoin.numpy._shape import reshape
        out = reshape(out, (1,) * (ndmin - nd) + tuple(shape_of(out)))
    return out


def asarray(a, dtype=None, **kwargs):
    """``numpy.asarray``; traced values (and lists of them) stay traced."""
    if not _has_tracer(a):
        return np.asarray(a, dtype=dtype, **kwargs)
    return array(a, dtype=dtype)


asanyarray = asarray
