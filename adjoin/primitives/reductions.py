"""Reductions: sums, products, extrema, cumulative sums and products, softmax.

Axes are static parameters (a sorted tuple of non-negative ints); ``keepdims``
is handled by the primitive so that pullbacks can broadcast back.
"""
from __future__ import annotations

import numpy as np

from adjoin import backends as _backends
from adjoin.core.avals import ShapedArray
from adjoin.core.axes import keepdims_shape, shift_axes
from adjoin.core.lowering import Lowering, same_aval
from adjoin.core.primitive import Primitive
from adjoin.core.trace import dtype_of, shape_of
from adjoin.primitives import lax
from adjoin.primitives._axes import batch_axis_to_front


def _reduced_shape(shape, axes, keepdims):
    if keepdims:
        return keepdims_shape(shape, axes)
    return tuple(n for i, n in enumerate(shape) if i not in axes)


_DTYPES = {}


def _result_dtype(fn, dtype):
    """The dtype NumPy's reduction ``fn`` gives for input ``dtype`` (bool/int sums promote)."""
    key = (fn, dtype)
    hit = _DTYPES.get(key)
    if hit is None:
        hit = _DTYPES[key] = np.asarray(fn(np.ones((1,), dtype), axis=0)).dtype
    return hit


def _reduction_shape(a, axes, keepdims):
    return ShapedArray(_reduced_shape(a.shape, axes, keepdims), _result_dtype(np.sum, a.dtype))


def _same_dtype_reduction_shape(a, axes, keepdims):
    return ShapedArray(_reduced_shape(a.shape, axes, keepdims), a.dtype)


def _reduction_batch(prim):
    def batch(vals, dims, axes, keepdims):
        x = batch_axis_to_front(vals[0], dims[0])
        return prim.bind(x, axes=shift_axes(axes), keepdims=keepdims), 0
    return batch


def expand_reduced(g, x_shape, axes, keepdims):
    """Bring the cotangent of a reduction back to the input's shape (broadcast)."""
    if not keepdims:
        g = lax.reshape(g, keepdims_shape(x_shape, axes))
    return lax.broadcast_to(g, x_shape)


# z = Σ_axes x: ż = Σ_axes ẋ ; x̄ = broadcast(z̄)
sum_p = Primitive(
    "sum", lambda x, axes, keepdims: np.sum(x, axis=axes, keepdims=keepdims),
    shape=_reduction_shape,
    jvp=lambda primals, tangents, axes, keepdims: (
        sum_p.bind(primals[0], axes=axes, keepdims=keepdims),
        None if tangents[0] is None else sum_p.bind(tangents[0], axes=axes, keepdims=keepdims)),
    vjp=lambda needs, out_bar, out, x, axes, keepdims: (
        expand_reduced(out_bar, shape_of(x), axes, keepdims),),
    cost=lambda a, axes, keepdims: a.size,
    saves=(False, False),  # the vjp needs x's shape only
    # a sum over no axes is the identity (on 0-d values too)
    lowering=Lowering(
        shape_only=True,
        forward=lambda ins, out, params, value_of, is_known: (
            ins[0] if same_aval(ins[0], out) and tuple(params["axes"]) == () else None)))
sum_p.def_rules(batch=_reduction_batch(sum_p))


def _cast_real(g, x):
    """A real input gets the real part of a complex cotangent."""
    if dtype_of(g).kind == "c" and dtype_of(x).kind != "c":
        return lax.real(g)
    return g


# --- shifts along an axis (used by the cumulative-product scan) ---------------------------

def _shift(a, s, axis, fill_one):
    """a shifted by s ≥ 1 towards higher indices along ``axis``; the first s entries are
    0 (or 1 with ``fill_one``). Linear in ``a`` (plus a constant for fill_one)."""
    shape = shape_of(a)
    n = shape[axis]
    s = min(s, n)
    idx = tuple(("s", 0, n - s, 1) if i == axis else ("s", 0, m, 1) for i, m in enumerate(shape))
    widths = tuple((s, 0) if i == axis else (0, 0) for i in range(len(shape)))
    out = lax.pad(lax.static_slice(a, idx), widths)
    if fill_one:
        mask = _backends.zeros(shape, dtype_of(a), like=a)  # on a's backend
        mask[(slice(None),) * axis + (slice(0, s),)] = 1
        out = out + mask
    return out


def _unshift(a, s, axis):
    """The adjoint of ``_shift(·, s, axis, False)``: shift towards lower indices, zero fill."""
    shape = shape_of(a)
    n = shape[axis]
    s = min(s, n)
    idx = tuple(("s", s, n - s, 1) if i == axis else ("s", 0, m, 1) for i, m in enumerate(shape))
    widths = tuple((0, s) if i == axis else (0, 0) for i in range(len(shape)))
    return lax.pad(lax.static_slice(a, idx), widths)


def _scan_levels(x, axis):
    """The partial products of the Hillis–Steele scan: p_0 = x,
    p_{l+1} = p_l ⊙ shift₁(p_l, 2^l). Returns [(p_l, shift₁(p_l, 2^l), 2^l)]."""
    n = shape_of(x)[axis]
    levels, p, s = [], x, 1
    while s < n:
        a = _shift(p, s, axis, True)
        levels.append((p, a, s))
        p = p * a
        s *= 2
    return levels


# z = max_axes x (min likewise): with w = [x = z] / #ties (ties split evenly, as JAX does):
# ż = Σ_axes w ⊙ ẋ ; x̄ = w ⊙ broadcast(z̄)
def _extremum(name, impl):
    prim = Primitive(name, lambda x, axes, keepdims: impl(x, axis=axes, keepdims=keepdims),
                     shape=_same_dtype_reduction_shape,
                     cost=lambda a, axes, keepdims: a.size)

    def weights(x, out, axes, keepdims):
        hit = lax.equal(x, expand_reduced(out, shape_of(x), axes, keepdims))
        hit = lax.astype(hit, dtype_of(x))
        return hit / sum_p.bind(hit, axes=axes, keepdims=True)

    def jvp(primals, tangents, axes, keepdims):
        x, = primals
        out = prim.bind(x, axes=axes, keepdims=keepdims)
        if tangents[0] is None:
            return out, None
        w = weights(x, out, axes, keepdims)
        return out, sum_p.bind(w * tangents[0], axes=axes, keepdims=keepdims)

    def vjp(needs, out_bar, out, x, axes, keepdims):
        w = weights(x, out, axes, keepdims)
        return (w * expand_reduced(out_bar, shape_of(x), axes, keepdims),)

    prim.def_rules(jvp=jvp, vjp=vjp, batch=_reduction_batch(prim))
    return prim


max_p = _extremum("max", np.max)
min_p = _extremum("min", np.min)


# z = Π_axes x. With P_i = Π_{j≠i} x_j (exclusive products from both sides, so zeros are
# handled exactly): ż = Σ_axes P ⊙ ẋ ; x̄ = P ⊙ broadcast(z̄)
def _prod_partials(x, axes):
    """P_i = Π_{j≠i} x_j over ``axes``, without dividing by x."""
    shape = shape_of(x)
    nd = len(shape)
    others = tuple(i for i in range(nd) if i not in axes)
    perm = others + tuple(axes)
    n = int(np.prod([shape[i] for i in axes], dtype=np.int64))
    flat_shape = tuple(shape[i] for i in others) + (n,)
    xt = lax.reshape(lax.transpose(x, perm), flat_shape)
    ax = len(flat_shape) - 1
    left = _shift(cumprod_p.bind(xt, axis=ax), 1, ax, True)
    xr = lax.flip(xt, ax)
    right = lax.flip(_shift(cumprod_p.bind(xr, axis=ax), 1, ax, True), ax)
    part = lax.reshape(left * right, tuple(shape[i] for i in perm))
    return lax.transpose(part, tuple(int(i) for i in np.argsort(perm)))


def _prod_jvp(primals, tangents, axes, keepdims):
    x, = primals
    out = prod_p.bind(x, axes=axes, keepdims=keepdims)
    if tangents[0] is None:
        return out, None
    return out, sum_p.bind(_prod_partials(x, axes) * tangents[0], axes=axes, keepdims=keepdims)


def _prod_vjp(needs, out_bar, out, x, axes, keepdims):
    spread = expand_reduced(out_bar, shape_of(x), axes, keepdims)
    return (_cast_real(_prod_partials(x, axes) * spread, x),)


prod_p = Primitive(
    "prod", lambda x, axes, keepdims: np.prod(x, axis=axes, keepdims=keepdims),
    shape=lambda a, axes, keepdims: ShapedArray(_reduced_shape(a.shape, axes, keepdims),
                                                _result_dtype(np.prod, a.dtype)),
    jvp=_prod_jvp, vjp=_prod_vjp, cost=lambda a, axes, keepdims: a.size)
prod_p.def_rules(batch=_reduction_batch(prod_p))


def _axis_batch(prim):
    def batch(vals, dims, axis, **params):
        x = batch_axis_to_front(vals[0], dims[0])
        return prim.bind(x, axis=axis + 1, **params), 0
    return batch


# z = cumsum(x, axis) (reverse: sums from the end): ż = cumsum(ẋ) ;
# x̄ = cumsum(z̄, reverse = not reverse) (the transpose of a lower-triangular ones matrix)
def _cumsum_impl(x, axis, reverse):
    if reverse:
        return np.flip(np.cumsum(np.flip(x, axis), axis), axis)
    return np.cumsum(x, axis)


cumsum_p = Primitive(
    "cumsum", _cumsum_impl,
    shape=lambda a, axis, reverse: ShapedArray(a.shape, _result_dtype(np.cumsum, a.dtype)),
    jvp=lambda primals, tangents, axis, reverse: (
        cumsum_p.bind(primals[0], axis=axis, reverse=reverse),
        None if tangents[0] is None else cumsum_p.bind(tangents[0], axis=axis, reverse=reverse)),
    vjp=lambda needs, out_bar, out, x, axis, reverse: (
        _cast_real(cumsum_p.bind(out_bar, axis=axis, reverse=not reverse), x),),
    batch=None, cost=lambda a, axis, reverse: a.size)
cumsum_p.def_rules(batch=_axis_batch(cumsum_p))


# z = cumprod(x, axis), differentiated through the log-depth scan
#   p_{l+1} = p_l ⊙ a_l,  a_l = shift₁(p_l, 2^l)   (shift₁: shift along the axis, fill 1)
# so that zeros need no division: the tangent follows t_{l+1} = t_l ⊙ a_l + p_l ⊙ shift₀(t_l),
# and the cotangent runs the transposed recursion t̄_l = t̄_{l+1} ⊙ a_l + shift₀ᵀ(t̄_{l+1} ⊙ p_l).
def _cumprod_jvp(primals, tangents, axis):
    x, = primals
    out = cumprod_p.bind(x, axis=axis)
    x_dot = tangents[0]
    if x_dot is None:
        return out, None
    for p, a, s in _scan_levels(x, axis):
        x_dot = x_dot * a + p * _shift(x_dot, s, axis, False)
    return out, x_dot


def _cumprod_vjp(needs, out_bar, out, x, axis):
    for p, a, s in reversed(_scan_levels(x, axis)):
        out_bar = out_bar * a + _unshift(out_bar * p, s, axis)
    return (_cast_real(out_bar, x),)


cumprod_p = Primitive(
    "cumprod", lambda x, axis: np.cumprod(x, axis),
    shape=lambda a, axis: ShapedArray(a.shape, _result_dtype(np.cumprod, a.dtype)),
    jvp=_cumprod_jvp, vjp=_cumprod_vjp,
    cost=lambda a, axis: a.size)
cumprod_p.def_rules(batch=_axis_batch(cumprod_p))


# argmax / argmin over one axis: integer output, zero derivative
def _arg_prim(name, impl):
    prim = Primitive(
        name, lambda x, axis, keepdims: impl(x, axis=axis, keepdims=keepdims),
        shape=lambda a, axis, keepdims: ShapedArray(
            _reduced_shape(a.shape, (axis,), keepdims), np.intp),
        jvp=lambda primals, tangents, axis, keepdims: (
            prim.bind(primals[0], axis=axis, keepdims=keepdims), None),
        vjp=lambda needs, out_bar, out, x, axis, keepdims: (None,),
        cost=lambda a, axis, keepdims: a.size)
    prim.def_rules(batch=_axis_batch(prim))
    return prim


argmax_p = _arg_prim("argmax", np.argmax)
argmin_p = _arg_prim("argmin", np.argmin)


# z = softmax(x) over axes: z = exp(x − max x) / Σ exp(x − max x)
# ż = z ⊙ ẋ − z (zᵀẋ) ; x̄ = z̄ ⊙ z − z (z̄ᵀz)   (inner products along the axes)
def _softmax_impl(x, axes):
    m = np.max(x, axis=axes, keepdims=True) if np.size(x) else 0.0
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axes, keepdims=True)


def _softmax_jvp(primals, tangents, axes):
    x, = primals
    z = softmax_p.bind(x, axes=axes)
    x_dot = tangents[0]
    if x_dot is None:
        return z, None
    return z, z * x_dot - z * sum_p.bind(z * x_dot, axes=axes, keepdims=True)


def _softmax_vjp(needs, out_bar, z, x, axes):
    gz = out_bar * z
    return (_cast_real(gz - z * sum_p.bind(gz, axes=axes, keepdims=True), x),)


softmax_p = Primitive(
    "softmax", _softmax_impl,
    shape=lambda a, axes: ShapedArray(a.shape, np.result_type(a.dtype, np.float64)
                                      if a.dtype.kind in "biu" else a.dtype),
    jvp=_softmax_jvp, vjp=_softmax_vjp,
    batch=lambda vals, dims, axes: (
        softmax_p.bind(batch_axis_to_front(vals[0], dims[0]), axes=shift_axes(axes)), 0),
    cost=lambda a, axes: (10 + 4) * a.size)
