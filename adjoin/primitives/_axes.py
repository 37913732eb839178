"""Axis bookkeeping shared by the reduction and shape primitives."""
from __future__ import annotations

from adjoin.core.trace import shape_of


def normalize_axis(axis, ndim, name="axis"):
    """``axis`` (None, int or sequence, negatives allowed) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(normalize_axis_index(a, ndim, name) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"repeated {name} in {axis}")
        return tuple(sorted(axes))
    return (normalize_axis_index(axis, ndim, name),)


def normalize_axis_index(axis, ndim, name="axis"):
    axis = int(axis)
    if not -ndim <= axis < max(ndim, 1) or (ndim == 0 and axis not in (0, -1)):
        raise ValueError(f"{name} {axis} is out of bounds for an array of dimension {ndim}")
    return axis % ndim if ndim else 0


def keepdims_shape(shape, axes):
    """The shape of a reduction over ``axes`` with keepdims=True."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def batch_axis_to_front(x, d):
    """Move batch axis ``d`` of ``x`` to position 0 (adjoin op, so it is traceable)."""
    import adjoin.numpy as anp
    return x if d == 0 else anp.moveaxis(x, d, 0)


def shift_axes(axes, by=1):
    return tuple(a + by for a in axes)


def ndim_of(x):
    return len(shape_of(x))
