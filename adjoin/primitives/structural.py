"""Structural primitives: reshape, broadcast, transpose ("Array Manipulations" table).

All are linear: ż = op(ẋ), and the pullback is the adjoint structural map
(reshape back, sum over broadcast axes, inverse permutation).
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin.core.avals import ShapedArray
from adjoin.core.primitive import Primitive
from adjoin.core.trace import shape_of
from adjoin.primitives._axes import batch_axis_to_front
from adjoin.primitives._families import unbroadcast


def _free(*avals, **params):
    return 0


# z = reshape(x, s): ż = reshape(ẋ, s) ; x̄ = reshape(z̄, shape(x))
reshape_p = Primitive(
    "reshape", lambda x, shape: np.reshape(x, shape),
    shape=lambda a, shape: ShapedArray(shape, a.dtype),
    jvp=lambda primals, tangents, shape: (
        reshape_p.bind(primals[0], shape=shape),
        None if tangents[0] is None else reshape_p.bind(tangents[0], shape=shape)),
    vjp=lambda needs, g, out, x, shape: (reshape_p.bind(g, shape=shape_of(x)),),
    batch=lambda vals, dims, shape: (
        reshape_p.bind(batch_axis_to_front(vals[0], dims[0]),
                       shape=(shape_of(vals[0])[dims[0]],) + tuple(shape)), 0),
    cost=_free)


# z = broadcast_to(x, s): ż = broadcast_to(ẋ, s) ; x̄ = sum of z̄ over the broadcast axes
def _broadcast_batch(vals, dims, shape):
    x, d = vals[0], dims[0]
    x = batch_axis_to_front(x, d)
    s = shape_of(x)
    missing = len(shape) - (len(s) - 1)
    if missing:
        x = reshape_p.bind(x, shape=s[:1] + (1,) * missing + s[1:])
    return broadcast_to_p.bind(x, shape=(s[0],) + tuple(shape)), 0


broadcast_to_p = Primitive(
    "broadcast_to", lambda x, shape: np.broadcast_to(x, shape),
    shape=lambda a, shape: ShapedArray(shape, a.dtype),
    jvp=lambda primals, tangents, shape: (
        broadcast_to_p.bind(primals[0], shape=shape),
        None if tangents[0] is None else broadcast_to_p.bind(tangents[0], shape=shape)),
    vjp=lambda needs, g, out, x, shape: (unbroadcast(g, x),),
    batch=_broadcast_batch,
    cost=_free)


# z = transpose(x, p): ż = transpose(ẋ, p) ; x̄ = transpose(z̄, p⁻¹)
transpose_p = Primitive(
    "transpose", lambda x, axes: np.transpose(x, axes),
    shape=lambda a, axes: ShapedArray(tuple(a.shape[i] for i in axes), a.dtype),
    jvp=lambda primals, tangents, axes: (
        transpose_p.bind(primals[0], axes=axes),
        None if tangents[0] is None else transpose_p.bind(tangents[0], axes=axes)),
    vjp=lambda needs, g, out, x, axes: (
        transpose_p.bind(g, axes=tuple(int(i) for i in np.argsort(axes))),),
    batch=lambda vals, dims, axes: (
        transpose_p.bind(vals[0], axes=_batched_perm(axes, dims[0])), 0),
    cost=_free)


def _batched_perm(axes, d):
    """The permutation of a batched array (batch axis d) that applies ``axes`` per example
    and puts the batch axis first."""
    per_example = [i for i in range(len(axes) + 1) if i != d]
    return (d,) + tuple(per_example[a] for a in axes)
