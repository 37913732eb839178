"""Sorting primitives: ``argsort``, ``argpartition`` and ``searchsorted``.

All three return integer positions, so their derivative is zero (a permutation or a bin
index is locally constant in the values). The differentiable functions are built on them
in ``adjoin.numpy``: ``sort(x) = take_along_axis(x, argsort(x))`` carries the cotangent back
to the entry each output came from (at ties, to the one NumPy's argsort puts there,
or with ``stable=True`` the first in index order: see docs/derivative-conventions.md), ``partition`` likewise, and ``interp`` reads its
interval from ``searchsorted``. Keeping the permutation a primitive of its own (rather
than a differentiable ``sort``) means one O(n log n) sort per call and O(n) gathers in the
derivatives.
"""
from __future__ import annotations

import numpy as np

from adjoin import backends as _backends
from adjoin.core.avals import ShapedArray
from adjoin.core.primitive import Primitive
from adjoin.core.trace import shape_of
from adjoin.primitives import lax


def _to_front(x, d):
    return x if d in (None, 0) else lax.moveaxis(x, d, 0)


def _sort_cost(a, **params):
    n = a.shape[params["axis"]] if a.shape else 1
    return int(a.size * max(1.0, np.log2(max(n, 2))))


# p = argsort(x, axis) (``stable``: equal values keep their index order; otherwise NumPy's
# default introsort, 3x faster on 10⁵ floats): ṗ = 0, x̄ = 0 (integer output)
def _argsort_impl(x, axis, stable):
    if type(x) is not np.ndarray:  # other backends: their own impls (no silent np.asarray)
        _backends.require_numpy("argsort", x)
    return np.argsort(x, axis=axis, kind="stable" if stable else None)


argsort_p = Primitive(
    "argsort", _argsort_impl,
    shape=lambda a, axis, stable: ShapedArray(a.shape, np.intp),
    jvp=lambda primals, tangents, axis, stable: (
        argsort_p.bind(primals[0], axis=axis, stable=stable), None),
    vjp=lambda needs, out_bar, out, x, axis, stable: (None,),
    batch=lambda vals, dims, axis, stable: (
        argsort_p.bind(_to_front(vals[0], dims[0]), axis=axis + 1, stable=stable), 0),
    cost=_sort_cost)


# p = argpartition(x, kth, axis): ṗ = 0, x̄ = 0 (integer output)
argpartition_p = Primitive(
    "argpartition", lambda x, kth, axis: np.argpartition(x, kth, axis=axis),
    shape=lambda a, kth, axis: ShapedArray(a.shape, np.intp),
    jvp=lambda primals, tangents, kth, axis: (
        argpartition_p.bind(primals[0], kth=kth, axis=axis), None),
    vjp=lambda needs, out_bar, out, x, kth, axis: (None,),
    batch=lambda vals, dims, kth, axis: (
        argpartition_p.bind(_to_front(vals[0], dims[0]), kth=kth, axis=axis + 1), 0),
    cost=lambda a, kth, axis: a.size)


# i = searchsorted(a, v, side) for a sorted along its last axis; with leading batch axes
# (``batch``) each row of a is searched for the matching row of v. Integer output: zero
# derivative in a and in v.
def _searchsorted_impl(a, v, side, batch):
    if not batch:
        return np.searchsorted(a, v, side=side)
    a = np.asarray(a)
    v = np.asarray(v)
    lead = a.shape[:batch]
    out = np.empty(v.shape, np.intp)
    for i in np.ndindex(*lead):
        out[i] = np.searchsorted(a[i], v[i], side=side)
    return out


def _searchsorted_shape(a, v, side, batch):
    if len(a.shape) != batch + 1:
        raise ValueError(f"searchsorted: a must be 1-D, got shape {a.shape[batch:]}")
    return ShapedArray(v.shape, np.intp)


def _searchsorted_batch(vals, dims, side, batch):
    a, v = vals
    da, dv = dims
    size = shape_of(a)[da] if da is not None else shape_of(v)[dv]
    a = _to_front(a, da) if da is not None else lax.broadcast_to(a, (size,) + shape_of(a))
    v = _to_front(v, dv) if dv is not None else lax.broadcast_to(v, (size,) + shape_of(v))
    # v's example axes after the batch axes must line up with a's batch axes
    return searchsorted_p.bind(a, v, side=side, batch=batch + 1), 0


searchsorted_p = Primitive(
    "searchsorted", _searchsorted_impl, shape=_searchsorted_shape,
    jvp=lambda primals, tangents, side, batch: (
        searchsorted_p.bind(*primals, side=side, batch=batch), None),
    vjp=lambda needs, out_bar, out, a, v, side, batch: (None, None),
    batch=_searchsorted_batch,
    cost=lambda a, v, side, batch: int(v.size * max(1.0, np.log2(max(a.shape[-1], 2)))))
