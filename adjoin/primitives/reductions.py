"""Reductions: sums, products, extrema, cumulative sums and products, softmax.

Axes are static parameters (a sorted tuple of non-negative ints); ``keepdims``
is handled by the primitive so that pullbacks can broadcast back.
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin.core.avals import ShapedArray
from adjoin.core.primitive import Primitive
from adjoin.core.trace import shape_of
from adjoin.primitives._axes import batch_axis_to_front, keepdims_shape, shift_axes


def _reduced_shape(shape, axes, keepdims):
    if keepdims:
        return keepdims_shape(shape, axes)
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _reduction_shape(a, axes, keepdims):
    return ShapedArray(_reduced_shape(a.shape, axes, keepdims), a.dtype)


def _reduction_batch(prim):
    def batch(vals, dims, axes, keepdims):
        x = batch_axis_to_front(vals[0], dims[0])
        return prim.bind(x, axes=shift_axes(axes), keepdims=keepdims), 0
    return batch


def expand_reduced(g, x_shape, axes, keepdims):
    """Bring the cotangent of a reduction back to the input's shape (broadcast)."""
    if not keepdims:
        g = anp.reshape(g, keepdims_shape(x_shape, axes))
    return anp.broadcast_to(g, x_shape)


# z = Σ_axes x: ż = Σ_axes ẋ ; x̄ = broadcast(z̄)
sum_p = Primitive(
    "sum", lambda x, axes, keepdims: np.sum(x, axis=axes, keepdims=keepdims),
    shape=_reduction_shape,
    jvp=lambda primals, tangents, axes, keepdims: (
        sum_p.bind(primals[0], axes=axes, keepdims=keepdims),
        None if tangents[0] is None else sum_p.bind(tangents[0], axes=axes, keepdims=keepdims)),
    vjp=lambda needs, g, out, x, axes, keepdims: (
        expand_reduced(g, shape_of(x), axes, keepdims),),
    cost=lambda a, axes, keepdims: a.size)
sum_p.def_rules(batch=_reduction_batch(sum_p))
