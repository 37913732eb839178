"""The N-d full convolution of SciPy's signal processing, one primitive:

    z[k] = Σ_n x[n] w[k − n]       (every axis; z has N + K − 1 entries per axis)

``method`` ('direct', 'fft', 'auto') is passed to ``scipy.signal.convolve``, which does the
work in C (direct) or with FFTs. The other modes are slices of this one (the slice's
transpose pads with zeros), and correlation is convolution with the reversed (conjugated)
kernel, so adjoin.scipy.signal needs no other primitive.

Rules (the convolution is bilinear; complex values follow JAX's convention, no conjugation):

    ż = conv(ẋ, w) + conv(x, ẇ)
    x̄[n] = Σ_k z̄[k] w[k − n] = conv(z̄, flip(w))[K − 1 : K − 1 + N]
    w̄[m] = Σ_k z̄[k] x[k − m] = conv(z̄, flip(x))[N − 1 : N − 1 + K]

both again full convolutions (sliced), so every derivative is differentiable again.
"""
from __future__ import annotations

import numpy as np
import scipy.signal as _ss

from adjoin.core.avals import ShapedArray
from adjoin.core.primitive import Primitive
from adjoin.core.trace import dtype_of, shape_of
from adjoin.primitives import lax
from adjoin.primitives.structural import concatenate_p

__all__ = ["convolve_full_p"]


def _impl(x, w, method):
    x, w = np.asarray(x), np.asarray(w)
    dtype = np.result_type(x.dtype, w.dtype, np.float64)
    return np.asarray(_ss.convolve(x.astype(dtype, copy=False), w.astype(dtype, copy=False),
                                   mode="full", method=method), dtype)


def _shape(x, w, method):
    if len(x.shape) != len(w.shape) or not x.shape:
        raise ValueError(f"convolve: x of shape {x.shape} and w of shape {w.shape} need the "
                         "same number (≥ 1) of axes")
    if 0 in x.shape or 0 in w.shape:
        raise ValueError(f"convolve: the inputs cannot be empty (shapes {x.shape}, {w.shape})")
    return ShapedArray(tuple(a + b - 1 for a, b in zip(x.shape, w.shape)),
                       np.result_type(x.dtype, w.dtype, np.float64))


def _flip(x):
    return lax.flip(x, tuple(range(len(shape_of(x)))))


def _window(z, starts, sizes):
    return lax.static_slice(z, tuple(("s", int(s), int(n), 1) for s, n in zip(starts, sizes)))


def _jvp(primals, tangents, method):
    x, w = primals
    x_dot, w_dot = tangents
    out = convolve_full_p.bind(x, w, method=method)
    out_dot = None
    if x_dot is not None:
        out_dot = convolve_full_p.bind(x_dot, w, method=method)
    if w_dot is not None:
        t = convolve_full_p.bind(x, w_dot, method=method)
        out_dot = t if out_dot is None else out_dot + t
    return out, out_dot


def _real_if(g, like):
    return lax.real(g) if dtype_of(g).kind == "c" and dtype_of(like).kind != "c" else g


def _vjp(needs, out_bar, out, x, w, method):
    sx, sw = shape_of(x), shape_of(w)
    x_bar = w_bar = None
    if needs[0]:
        full = convolve_full_p.bind(out_bar, _flip(w), method=method)
        x_bar = _real_if(_window(full, [k - 1 for k in sw], sx), x)
    if needs[1]:
        full = convolve_full_p.bind(out_bar, _flip(x), method=method)
        w_bar = _real_if(_window(full, [n - 1 for n in sx], sw), w)
    return x_bar, w_bar


def _batch(vals, dims, method):
    """A batch axis in front; an unbatched operand gets a size-1 axis there (the full
    convolution along it is then the batch itself); both batched: one convolution each."""
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
    if dx is None or dw is None:
        return convolve_full_p.bind(x, w, method=method), 0
    b = shape_of(x)[0]
    outs = []
    for i in range(b):
        xi = lax.static_slice(x, (("s", i, 1, 1),) + tuple(("s", 0, n, 1) for n in shape_of(x)[1:]))
        wi = lax.static_slice(w, (("s", i, 1, 1),) + tuple(("s", 0, n, 1) for n in shape_of(w)[1:]))
        outs.append(convolve_full_p.bind(xi, wi, method=method))     # (1, ...) each
    return (outs[0] if b == 1 else concatenate_p.bind(*outs, axis=0)), 0


def _cost(x, w, method):
    n, k = int(np.prod(x.shape)), int(np.prod(w.shape))
    out = int(np.prod([a + b - 1 for a, b in zip(x.shape, w.shape)]))
    direct = 2 * n * k
    fft = 3 * 5 * out * max(1, int(np.log2(max(out, 2)))) + 6 * out
    return {"direct": direct, "fft": fft}.get(method, min(direct, fft))


convolve_full_p = Primitive("convolve_full", _impl, shape=_shape, jvp=_jvp, vjp=_vjp,
                            batch=_batch, cost=_cost, saves=(True, False))
