"""Axis arguments as NumPy reads them: normalization, keepdims shapes, shifts.

Plain functions of integers and shapes, shared by every layer that takes an
``axis=`` argument (the primitives' rules, adjoin.numpy, adjoin.scipy).
"""
from __future__ import annotations

from typing import Iterable, Sequence


def normalize_axis(axis: int | Sequence[int] | None, ndim: int, name: str = "axis") -> tuple:
    """``axis`` (None, int or sequence, negatives allowed) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(normalize_axis_index(a, ndim, name) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"repeated {name} in {axis}")
        return tuple(sorted(axes))
    return (normalize_axis_index(axis, ndim, name),)


def normalize_axis_index(axis: int, ndim: int, name: str = "axis") -> int:
    """One axis index in ``[0, ndim)`` (negatives count from the end); 0 for a 0-d array."""
    axis = int(axis)
    if not -ndim <= axis < max(ndim, 1) or (ndim == 0 and axis not in (0, -1)):
        raise ValueError(f"{name} {axis} is out of bounds for an array of dimension {ndim}")
    return axis % ndim if ndim else 0


def keepdims_shape(shape: Sequence[int], axes: Iterable[int]) -> tuple:
    """The shape of a reduction over ``axes`` with keepdims=True."""
    axes = set(axes)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def shift_axes(axes: Iterable[int], by: int = 1) -> tuple:
    """Each axis moved by ``by`` (past a batch axis inserted in front)."""
    return tuple(a + by for a in axes)


def drop_axis(shape: Sequence[int], axis: int | None) -> tuple:
    """``shape`` without axis ``axis`` (a batch axis; None: unbatched, shape unchanged)."""
    shape = tuple(shape)
    return shape if axis is None else shape[:axis] + shape[axis + 1:]
