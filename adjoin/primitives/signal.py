"""The N-d convolution of SciPy's signal processing, one primitive in two modes:

    full:  z[k] = Σ_n x[n] w[k − n]              (N + K − 1 entries per axis)
    valid: z[k] = Σ_m x[k + K − 1 − m] w[m]      (N − K + 1 entries; x at least w's size)

``method`` ('direct', 'fft', 'auto') is passed to ``scipy.signal.convolve``, which does the
work in C (direct) or with FFTs. 'same' is a slice of 'full', and correlation is
convolution with the reversed (conjugated) kernel, so adjoin.scipy.signal needs no other
primitive.

Rules (bilinear; complex values follow JAX's convention, no conjugation), with
conv_v = the valid mode and conv_f = the full one:

    ż = conv(ẋ, w) + conv(x, ẇ)                               (the same mode)
    full:  x̄ = conv_v(z̄, flip(w)),  w̄ = conv_v(z̄, flip(x))
    valid: x̄ = conv_f(z̄, flip(w)),  w̄ = flip(conv_v(x, flip(z̄)))

each of cost O(N·K) (direct), so the gradient costs about twice the primal, and each is
the primitive again: differentiable to any order.
"""
from __future__ import annotations

import numpy as np

from adjoin.core.avals import ShapedArray
from adjoin.core.lazy_import import lazy_module
from adjoin.core.primitive import Primitive
from adjoin.core.trace import shape_of
from adjoin.primitives import lax
from adjoin.primitives._families import bilinear_jvp
from adjoin.primitives.structural import concatenate_p

_ss = lazy_module("scipy.signal")  # 1.2 s to import: loaded at the first convolution

__all__ = ["convolve_p"]


def _impl(x, w, mode, method):
    x, w = np.asarray(x), np.asarray(w)
    dtype = np.result_type(x.dtype, w.dtype, np.float64)
    return np.asarray(_ss.convolve(x.astype(dtype, copy=False), w.astype(dtype, copy=False),
                                   mode=mode, method=method), dtype)


def _shape(x, w, mode, method):
    if len(x.shape) != len(w.shape) or not x.shape:
        raise ValueError(f"convolve: x of shape {x.shape} and w of shape {w.shape} need the "
                         "same number (≥ 1) of axes")
    if 0 in x.shape or 0 in w.shape:
        raise ValueError(f"convolve: the inputs cannot be empty (shapes {x.shape}, {w.shape})")
    dtype = np.result_type(x.dtype, w.dtype, np.float64)
    if mode == "full":
        return ShapedArray(tuple(a + b - 1 for a, b in zip(x.shape, w.shape)), dtype)
    if any(a < b for a, b in zip(x.shape, w.shape)):
        raise ValueError(f"convolve (valid): x of shape {x.shape} must be at least as large as "
                         f"w of shape {w.shape} in every axis")
    return ShapedArray(tuple(a - b + 1 for a, b in zip(x.shape, w.shape)), dtype)


def _flip(x):
    return lax.flip(x, tuple(range(len(shape_of(x)))))


def _vjp(needs, out_bar, out, x, w, mode, method):
    x_bar = w_bar = None
    if mode == "full":
        if needs[0]:
            x_bar = convolve_p.bind(out_bar, _flip(w), mode="valid", method=method)
        if needs[1]:
            w_bar = convolve_p.bind(out_bar, _flip(x), mode="valid", method=method)
    else:
        if needs[0]:
            x_bar = convolve_p.bind(out_bar, _flip(w), mode="full", method=method)
        if needs[1]:
            w_bar = _flip(convolve_p.bind(x, _flip(out_bar), mode="valid", method=method))
    return (None if x_bar is None else lax.real_like(x_bar, x),
            None if w_bar is None else lax.real_like(w_bar, w))


def _batch(vals, dims, mode, method):
    """A batch axis in front; an unbatched operand gets a size-1 axis there (the convolution
    along it is then the batch itself: full, or valid with x batched); otherwise (both
    batched, or valid with only w batched) one convolution per example."""
    x, w = vals
    dx, dw = dims
    if dx is not None and dx != 0:
        x = lax.moveaxis(x, dx, 0)
    if dw is not None and dw != 0:
        w = lax.moveaxis(w, dw, 0)
    if dx is None:
        x = lax.reshape(x, (1,) + shape_of(x))
    if dw is None:
        w = lax.reshape(w, (1,) + shape_of(w))
    p = dict(mode=mode, method=method)
    if dw is None or (dx is None and mode == "full"):
        return convolve_p.bind(x, w, **p), 0
    b = shape_of(w)[0]
    if dx is None:
        x = lax.broadcast_to(x, (b,) + shape_of(x)[1:])
    outs = []
    for i in range(b):
        xi = lax.static_slice(x, (("s", i, 1, 1),) + tuple(("s", 0, n, 1) for n in shape_of(x)[1:]))
        wi = lax.static_slice(w, (("s", i, 1, 1),) + tuple(("s", 0, n, 1) for n in shape_of(w)[1:]))
        outs.append(convolve_p.bind(xi, wi, **p))     # (1, ...) each
    return (outs[0] if b == 1 else concatenate_p.bind(*outs, axis=0)), 0


def _cost(x, w, mode, method):
    k = int(np.prod(w.shape))
    out = int(np.prod([a + b - 1 for a, b in zip(x.shape, w.shape)]))
    direct = 2 * k * (out if mode == "full" else int(np.prod(
        [a - b + 1 for a, b in zip(x.shape, w.shape)])))
    fft = 3 * 5 * out * max(1, int(np.log2(max(out, 2)))) + 6 * out
    return {"direct": direct, "fft": fft}.get(method, min(direct, fft))


convolve_p = Primitive("convolve", _impl, shape=_shape, vjp=_vjp,
                       batch=_batch, cost=_cost, saves=(True, False))
# ż = convolve(ẋ, w) + convolve(x, ẇ): bilinear
convolve_p.def_rules(jvp=bilinear_jvp(convolve_p))
