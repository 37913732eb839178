"""adjoin.numpy: reshaping, transposing and broadcasting."""
from __future__ import annotations

import numpy as np

from adjoin.core.trace import _stack, shape_of
from adjoin.primitives._axes import normalize_axis, normalize_axis_index
from adjoin.primitives.structural import broadcast_to_p, reshape_p, transpose_p


def _resolve_shape(shape, size):
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
    if not _stack:
        return np.reshape(a, target)
    s = shape_of(a)
    target = _resolve_shape(target, int(np.prod(s, dtype=np.int64)))
    if target == s:
        return a
    return reshape_p.bind(a, shape=target)


def ravel(a):
    """``numpy.ravel``."""
    return reshape(a, (-1,))


def broadcast_to(a, shape):
    """``numpy.broadcast_to``; the pullback sums over the broadcast axes."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if not _stack:
        return np.broadcast_to(a, shape)
    if shape_of(a) == shape:
        return a
    np.broadcast_shapes(shape_of(a), shape)  # raises a clear error for incompatible shapes
    return broadcast_to_p.bind(a, shape=shape)


def transpose(a, axes=None):
    """``numpy.transpose``: reverses the axes by default."""
    nd = len(shape_of(a))
    axes = tuple(range(nd))[::-1] if axes is None else tuple(
        normalize_axis_index(i, nd) for i in axes)
    if sorted(axes) != list(range(nd)):
        raise ValueError(f"axes {axes} are not a permutation of the {nd} axes")
    if not _stack:
        return np.transpose(a, axes)
    if axes == tuple(range(nd)):
        return a
    return transpose_p.bind(a, axes=axes)


permute_dims = transpose


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


def matrix_transpose(a):
    return swapaxes(a, -1, -2)


def expand_dims(a, axis):
    """``numpy.expand_dims``."""
    s = shape_of(a)
    nd = len(s) + (len(axis) if isinstance(axis, (tuple, list)) else 1)
    axes = normalize_axis(axis, nd)
    it = iter(s)
    return reshape(a, tuple(1 if i in axes else next(it) for i in range(nd)))


def squeeze(a, axis=None):
    """``numpy.squeeze``."""
    s = shape_of(a)
    if axis is None:
        axes = tuple(i for i, n in enumerate(s) if n == 1)
    else:
        axes = normalize_axis(axis, len(s))
        for i in axes:
            if s[i] != 1:
                raise ValueError(f"cannot squeeze axis {i} of size {s[i]} (shape {s})")
    return reshape(a, tuple(n for i, n in enumerate(s) if i not in axes))
