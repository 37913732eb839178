"""Structural primitives: reshape, broadcast, transpose ("Array Manipulations" table).

All are linear: ż = op(ẋ), and the pullback is the adjoint structural map
(reshape back, sum over broadcast axes, inverse permutation).
"""
from __future__ import annotations

import numpy as np

from adjoin import backends as _backends
from adjoin.core.avals import ShapedArray
from adjoin.core.lowering import Lowering, same_aval
from adjoin.core.primitive import Primitive
from adjoin.core.trace import dtype_of, shape_of
from adjoin.primitives import lax
from adjoin.primitives._axes import batch_axis_to_front
from adjoin.primitives._families import unbroadcast


def _free(*avals, **params):
    return 0


def _forward_same_aval(ins, out, params, value_of, is_known):
    """jit forwards a reshape or broadcast to the input's own shape: the identity."""
    return ins[0] if same_aval(ins[0], out) else None


# z = reshape(x, s): ż = reshape(ẋ, s) ; x̄ = reshape(z̄, shape(x))
reshape_p = Primitive(
    "reshape", lambda x, shape: np.reshape(x, shape),
    shape=lambda a, shape: ShapedArray(shape, a.dtype),
    jvp=lambda primals, tangents, shape: (
        reshape_p.bind(primals[0], shape=shape),
        None if tangents[0] is None else reshape_p.bind(tangents[0], shape=shape)),
    vjp=lambda needs, out_bar, out, x, shape: (reshape_p.bind(out_bar, shape=shape_of(x)),),
    batch=lambda vals, dims, shape: (
        reshape_p.bind(batch_axis_to_front(vals[0], dims[0]),
                       shape=(shape_of(vals[0])[dims[0]],) + tuple(shape)), 0),
    cost=_free, saves=(False, False),
    lowering=Lowering(shape_only=True, view=True, forward=_forward_same_aval))


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
    vjp=lambda needs, out_bar, out, x, shape: (unbroadcast(out_bar, x),),
    batch=_broadcast_batch,
    cost=_free, saves=(False, False),
    lowering=Lowering(shape_only=True, view=True, elementwise=True,
                      forward=_forward_same_aval))


# z = transpose(x, p): ż = transpose(ẋ, p) ; x̄ = transpose(z̄, p⁻¹)
transpose_p = Primitive(
    "transpose", lambda x, axes: np.transpose(x, axes),
    shape=lambda a, axes: ShapedArray(tuple(a.shape[i] for i in axes), a.dtype),
    jvp=lambda primals, tangents, axes: (
        transpose_p.bind(primals[0], axes=axes),
        None if tangents[0] is None else transpose_p.bind(tangents[0], axes=axes)),
    vjp=lambda needs, out_bar, out, x, axes: (
        transpose_p.bind(out_bar, axes=tuple(int(i) for i in np.argsort(axes))),),
    batch=lambda vals, dims, axes: (
        transpose_p.bind(vals[0], axes=_batched_perm(axes, dims[0])), 0),
    cost=_free, saves=(False, False),
    lowering=Lowering(
        shape_only=True, view=True,
        forward=lambda ins, out, params, value_of, is_known: (
            ins[0] if same_aval(ins[0], out)
            and tuple(params["axes"]) == tuple(range(out.aval.ndim)) else None)))


def _batched_perm(axes, d):
    """The permutation of a batched array (batch axis d) that applies ``axes`` per example
    and puts the batch axis first."""
    per_example = [i for i in range(len(axes) + 1) if i != d]
    return (d,) + tuple(per_example[a] for a in axes)


def _real_like(g, x):
    """A real input gets the real part of a complex cotangent."""
    if dtype_of(g).kind == "c" and dtype_of(x).kind != "c":
        return lax.real(g)
    return g


def _linear_jvp(prim):
    """jvp of a linear one-argument primitive: ż = op(ẋ)."""
    def jvp(primals, tangents, **params):
        out = prim.bind(primals[0], **params)
        return out, None if tangents[0] is None else prim.bind(tangents[0], **params)
    return jvp


# z = concatenate([x_1, ..., x_m], axis): ż = concatenate([ẋ_1, ..., ẋ_m]) (zero blocks for
# symbolic zeros) ; x̄_i = z̄[..., off_i : off_i + n_i, ...] along the axis
def _concat_shape(*avals, axis):
    first = avals[0]
    for a in avals[1:]:
        if len(a.shape) != len(first.shape) or any(
                m != n for i, (m, n) in enumerate(zip(a.shape, first.shape)) if i != axis):
            raise ValueError(f"concatenate: all input dimensions except axis {axis} must match; "
                             f"got shapes {[x.shape for x in avals]}")
    shape = list(first.shape)
    shape[axis] = sum(a.shape[axis] for a in avals)
    return ShapedArray(shape, np.result_type(*[a.dtype for a in avals]))


def _concat_jvp(primals, tangents, axis):
    out = concatenate_p.bind(*primals, axis=axis)
    if all(out_dot is None for out_dot in tangents):
        return out, None
    ts = [_backends.zeros(shape_of(p), dtype_of(out), like=out) if out_dot is None else out_dot
          for p, out_dot in zip(primals, tangents)]
    return out, concatenate_p.bind(*ts, axis=axis)


def _concat_vjp(needs, out_bar, out, *xs, axis):
    s_bar, off = [], 0
    full = shape_of(out_bar)
    for need, x in zip(needs, xs):
        n = shape_of(x)[axis]
        if need:
            idx = tuple(("s", off, n, 1) if i == axis else ("s", 0, m, 1)
                        for i, m in enumerate(full))
            s_bar.append(_real_like(lax.static_slice(out_bar, idx), x))
        else:
            s_bar.append(None)
        off += n
    return tuple(s_bar)


def _concat_batch(vals, dims, axis):
    n = next(shape_of(v)[d] for v, d in zip(vals, dims) if d is not None)
    moved = [lax.broadcast_to(v, (n,) + tuple(shape_of(v))) if d is None
             else batch_axis_to_front(v, d) for v, d in zip(vals, dims)]
    return concatenate_p.bind(*moved, axis=axis + 1), 0


concatenate_p = Primitive(
    "concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis),
    shape=_concat_shape, jvp=_concat_jvp, vjp=_concat_vjp, batch=_concat_batch, cost=_free,
    saves=(False, False))


def _front_batch(prim, axes_params=()):
    """Batch rule for ops with static axis params: batch axis to the front, axes + 1."""
    def batch(vals, dims, **params):
        x = batch_axis_to_front(vals[0], dims[0])
        for name in axes_params:
            v = params[name]
            params[name] = tuple(a + 1 for a in v) if isinstance(v, tuple) else v + 1
        return prim.bind(x, **params), 0
    return batch


# z = flip(x, axes): ż = flip(ẋ) ; x̄ = flip(z̄) (a flip is its own adjoint)
flip_p = Primitive(
    "flip", lambda x, axes: np.flip(x, axes),
    shape=lambda a, axes: ShapedArray(a.shape, a.dtype),
    vjp=lambda needs, out_bar, out, x, axes: (flip_p.bind(out_bar, axes=axes),),
    cost=_free, saves=(False, False))
flip_p.def_rules(jvp=_linear_jvp(flip_p), batch=_front_batch(flip_p, ("axes",)))


# z = roll(x, shifts, axes): ż = roll(ẋ, shifts) ; x̄ = roll(z̄, −shifts)
roll_p = Primitive(
    "roll", lambda x, shifts, axes: (np.roll(x, shifts, axes) if type(x) is np.ndarray
                                     else _backends.roll(x, shifts, axes)),  # Dask: chunks kept
    shape=lambda a, shifts, axes: ShapedArray(a.shape, a.dtype),
    vjp=lambda needs, out_bar, out, x, shifts, axes: (
        roll_p.bind(out_bar, shifts=tuple(-s for s in shifts), axes=axes),),
    cost=_free, saves=(False, False))
roll_p.def_rules(jvp=_linear_jvp(roll_p), batch=_front_batch(roll_p, ("axes",)))


# z = pad(x, ((lo_i, hi_i))) with zeros: ż = pad(ẋ) ; x̄ = z̄[lo_i : lo_i + n_i] (a slice)
def _pad_vjp(needs, out_bar, out, x, widths):
    idx = tuple(("s", lo, n, 1) for (lo, _), n in zip(widths, shape_of(x)))
    return (lax.static_slice(out_bar, idx),)


pad_p = Primitive(
    "pad", lambda x, widths: np.pad(x, widths),
    shape=lambda a, widths: ShapedArray(
        tuple(n + lo + hi for n, (lo, hi) in zip(a.shape, widths)), a.dtype),
    vjp=_pad_vjp,
    batch=lambda vals, dims, widths: (
        pad_p.bind(batch_axis_to_front(vals[0], dims[0]), widths=((0, 0),) + widths), 0),
    cost=_free, saves=(False, False))
pad_p.def_rules(jvp=_linear_jvp(pad_p))


# z = diagonal(x, offset, axis1, axis2) (diagonal moved to the last axis):
# ż = diagonal(ẋ) ; x̄ = diagonal_scatter(z̄) (zeros with z̄ on that diagonal)
def _diag_len(n1, n2, offset):
    return max(0, min(n1 - max(-offset, 0), n2 - max(offset, 0)))


def _diagonal_shape(a, offset, axis1, axis2):
    rest = tuple(n for i, n in enumerate(a.shape) if i not in (axis1, axis2))
    return ShapedArray(rest + (_diag_len(a.shape[axis1], a.shape[axis2], offset),), a.dtype)


def _diagonal_scatter_impl(g, offset, axis1, axis2, shape):
    if type(g) is not np.ndarray:  # other backends: their namespace implementation
        _backends.require_numpy("diagonal_scatter", g)
    z = np.zeros(shape, dtype_of(g))
    zm = np.moveaxis(z, (axis1, axis2), (-2, -1))  # a view: writes go to z
    L = shape_of(g)[-1]
    r = np.arange(L) + max(-offset, 0)
    c = np.arange(L) + max(offset, 0)
    zm[..., r, c] = g
    return z


diagonal_p = Primitive(
    "diagonal", lambda x, offset, axis1, axis2: np.diagonal(x, offset, axis1, axis2).copy(),
    shape=_diagonal_shape,
    vjp=lambda needs, out_bar, out, x, offset, axis1, axis2: (
        diagonal_scatter_p.bind(out_bar, offset=offset, axis1=axis1, axis2=axis2,
                                shape=tuple(shape_of(x))),),
    cost=_free)
diagonal_p.def_rules(jvp=_linear_jvp(diagonal_p),
                     batch=_front_batch(diagonal_p, ("axis1", "axis2")))

# the adjoint of diagonal: z = zeros(shape), diagonal(z) = g. ż = diagonal_scatter(ġ) ;
# ḡ = diagonal(z̄)
diagonal_scatter_p = Primitive(
    "diagonal_scatter", _diagonal_scatter_impl,
    shape=lambda a, offset, axis1, axis2, shape: ShapedArray(shape, a.dtype),
    vjp=lambda needs, out_bar, out, x, offset, axis1, axis2, shape: (
        diagonal_p.bind(out_bar, offset=offset, axis1=axis1, axis2=axis2),),
    batch=lambda vals, dims, offset, axis1, axis2, shape: (
        diagonal_scatter_p.bind(batch_axis_to_front(vals[0], dims[0]), offset=offset,
                                axis1=axis1 + 1, axis2=axis2 + 1,
                                shape=(shape_of(vals[0])[dims[0]],) + tuple(shape)), 0),
    cost=_free)
diagonal_scatter_p.def_rules(jvp=_linear_jvp(diagonal_scatter_p))


# z = triu(x, k) / tril(x, k) on the last two axes = x ⊙ M (a fixed 0/1 mask):
# ż = triu(ẋ, k) ; x̄ = triu(z̄, k) (a mask is its own adjoint)
def _tri_prim(name, impl):
    prim = Primitive(name, lambda x, k: impl(x, k),
                     shape=lambda a, k: ShapedArray(a.shape, a.dtype), cost=_free)
    prim.def_rules(jvp=_linear_jvp(prim),
                   vjp=lambda needs, out_bar, out, x, k: (prim.bind(out_bar, k=k),),
                   batch=_front_batch(prim))
    return prim


triu_p = _tri_prim("triu", np.triu)
tril_p = _tri_prim("tril", np.tril)


# z = repeat(x, r, axis): ż = repeat(ẋ, r) ; x̄_i = Σ of z̄ over the r_i copies of entry i
# (uniform r: reshape to (..., n, r, ...) and sum; otherwise a scatter-add along the axis)
def _repeat_shape(a, repeats, axis):
    shape = list(a.shape)
    shape[axis] = repeats * shape[axis] if isinstance(repeats, int) else sum(repeats)
    return ShapedArray(shape, a.dtype)


def _repeat_vjp(needs, out_bar, out, x, repeats, axis):
    s = shape_of(x)
    if isinstance(repeats, int):
        out_bar = reshape_p.bind(out_bar, shape=s[:axis + 1] + (repeats,) + s[axis + 1:])
        return (lax.sum(out_bar, axis=axis + 1),)
    seg = np.repeat(np.arange(s[axis]), repeats)
    gm = lax.moveaxis(out_bar, axis, 0)
    zeros = _backends.zeros((s[axis],) + s[:axis] + s[axis + 1:], dtype_of(gm), like=gm)
    return (lax.moveaxis(lax.scatter_add(zeros, gm, seg), 0, axis),)


repeat_p = Primitive(
    "repeat", lambda x, repeats, axis: np.repeat(x, repeats, axis),
    shape=_repeat_shape, vjp=_repeat_vjp, cost=_free)
repeat_p.def_rules(jvp=_linear_jvp(repeat_p), batch=_front_batch(repeat_p, ("axis",)))
