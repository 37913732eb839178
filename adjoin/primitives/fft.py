"""FFT primitives: fft, ifft (complex to complex), rfft (real to half spectrum), irfft.

Each transforms over a tuple of ``axes`` (one axis for fft, several for fftn) with
NumPy's ``norm`` ("backward", "ortho", "forward"). All are linear. Complex numbers
follow JAX's convention: the vjp is the plain transpose of the jvp for the bilinear
pairing Re(Σ a·b) (rule-tables.md, note F); a real input gets a real cotangent.

With c the norm's scale (backward: 1 for the forward transform and 1/N for the
inverse; ortho: 1/√N; forward: 1/N and 1), ``swap(norm)`` exchanges backward and
forward, so that a transform with norm ``swap(norm)`` has the scale of the opposite
direction.
"""
from __future__ import annotations

import numpy as np

from adjoin import backends as _backends
from adjoin.core.avals import ShapedArray
from adjoin.core.primitive import Primitive
from adjoin.core.trace import dtype_of, shape_of
from adjoin.primitives import lax

_SWAP = {"backward": "forward", "ortho": "ortho", "forward": "backward"}


def _complex_dtype(dtype):
    dtype = np.dtype(dtype)
    return np.dtype(np.complex64) if dtype in (np.float32, np.complex64) else np.dtype(np.complex128)


def _real_dtype(dtype):
    dtype = np.dtype(dtype)
    return np.dtype(np.float32) if dtype in (np.float32, np.complex64) else np.dtype(np.float64)


def _fft_cost(shape, axes, factor=5.0):
    """5 N log₂ N per transform of N points (the classical radix-2 count), for every
    transform along the axes (sizes of the other axes multiply)."""
    size = int(np.prod(shape, dtype=np.int64))
    n = int(np.prod([shape[a] for a in axes], dtype=np.int64))
    if n <= 1 or size == 0:
        return 0
    return int(factor * size * np.log2(n))


def _batch_rule(prim):
    def batch(vals, dims, axes, **params):
        x, d = vals[0], dims[0]
        x = x if d == 0 else lax.moveaxis(x, d, 0)
        return prim.bind(x, axes=tuple(a + 1 for a in axes), **params), 0
    return batch


def _as_real_cotangent(g, x):
    return lax.real(g) if dtype_of(x).kind != "c" and dtype_of(g).kind == "c" else g


# --- fft / ifft ----------------------------------------------------------------------------------
# z = F x (F the DFT matrix over the axes, scaled by the norm): ż = F ẋ.
# F is symmetric, so the transpose is the same transform: x̄ = Fᵀ z̄ = F z̄ (same norm);
# Re of it for a real x. (PyTorch's conjugate convention would give conj(F conj(z̄)).)
def _c2c(name, np_fn):
    prim = Primitive(name, lambda x, axes, norm: np_fn(x, axes=axes, norm=norm))
    prim.def_rules(
        shape=lambda a, axes, norm: ShapedArray(a.shape, _complex_dtype(a.dtype)),
        jvp=lambda primals, tangents, axes, norm: (
            prim.bind(primals[0], axes=axes, norm=norm),
            None if tangents[0] is None else prim.bind(tangents[0], axes=axes, norm=norm)),
        vjp=lambda needs, out_bar, out, x, axes, norm: (
            _as_real_cotangent(prim.bind(out_bar, axes=axes, norm=norm), x),),
        batch=_batch_rule(prim),
        cost=lambda a, axes, norm: _fft_cost(a.shape, axes))
    return prim


fft_p = _c2c("fft", np.fft.fftn)
ifft_p = _c2c("ifft", np.fft.ifftn)


def _half_weights(n_last, m):
    """m_k along the halved axis: 1 at k = 0 and (N even) at the Nyquist index N/2, 2 between
    (the number of full-spectrum entries each half-spectrum entry stands for)."""
    w = np.full(m, 2.0)
    w[0] = 1.0
    if n_last % 2 == 0:
        w[-1] = 1.0
    return w


def _along_last(w, ndim, axis):
    shape = [1] * ndim
    shape[axis] = w.shape[0]
    return w.reshape(shape)


# --- rfft -----------------------------------------------------------------------------------------
# z = R F x (x real, R keeps the first m = N//2 + 1 entries along the last axis): ż = rfft(ẋ).
# x̄_n = c·Re Σ_k z̄_k e^{−2πi k·n/N} = c·Re(fftn(pad(z̄, to N))) for any N (odd or even).
# Written without padding: Re(a e^{−iθ}) = Re(conj(a) e^{iθ}), and irfftn(y) adds each interior
# half-spectrum entry twice (as y and as its mirror), so
#   x̄ = irfftn(conj(z̄) / m_k, s=N, norm=swap(norm)),   m_k = 1 at DC (and Nyquist, N even), else 2.
def _rfft_impl(x, axes, norm):
    if np.iscomplexobj(x):
        raise TypeError("rfft: the input must be real (use fft for complex input)")
    return np.fft.rfftn(x, axes=axes, norm=norm)


def _rfft_shape(a, axes, norm):
    if a.dtype.kind == "c":
        raise TypeError("rfft: the input must be real (use fft for complex input)")
    s = list(a.shape)
    s[axes[-1]] = s[axes[-1]] // 2 + 1
    return ShapedArray(tuple(s), _complex_dtype(a.dtype))


def _rfft_vjp(needs, out_bar, out, x, axes, norm):
    sx = shape_of(x)
    last = axes[-1]
    n_last = sx[last]
    w = _half_weights(n_last, n_last // 2 + 1)
    weights = _backends.asarray_like(_along_last(1.0 / w, len(sx), last), like=out_bar)
    y = lax.conj(out_bar) * weights
    return (irfft_p.bind(y, axes=axes, lengths=tuple(sx[a] for a in axes), norm=_SWAP[norm]),)


rfft_p = Primitive(
    "rfft", _rfft_impl, shape=_rfft_shape,
    jvp=lambda primals, tangents, axes, norm: (
        rfft_p.bind(primals[0], axes=axes, norm=norm),
        None if tangents[0] is None else rfft_p.bind(tangents[0], axes=axes, norm=norm)),
    vjp=_rfft_vjp,
    cost=lambda a, axes, norm: _fft_cost(a.shape, axes, 2.5))
rfft_p.def_rules(batch=_batch_rule(rfft_p))


# --- irfft ----------------------------------------------------------------------------------------
# z = irfftn(y, s) (real): z_n = c·Σ_k m_k Re(y_k e^{2πi k·n/N}) over the half spectrum (the
# imaginary parts at DC and Nyquist are ignored, as NumPy does). ż = irfft(ẏ).
# Transpose for Re(ȳ·ẏ): ȳ_k = c·m_k Σ_n z̄_n e^{+2πi k·n/N} = m_k·conj(rfftn(z̄, norm=swap(norm)))
# (z̄ real). For odd N the factor 2 covers k = 1 … (N−1)/2; for even N, k = 1 … N/2 − 1.
def _irfft_shape(a, axes, lengths, norm):
    s = list(a.shape)
    for ax, n in zip(axes, lengths):
        s[ax] = n
    return ShapedArray(tuple(s), _real_dtype(a.dtype))


def _irfft_impl(y, axes, lengths, norm):
    return np.fft.irfftn(y, s=lengths, axes=axes, norm=norm)


def _irfft_vjp(needs, out_bar, out, y, axes, lengths, norm):
    sy = shape_of(y)
    last = axes[-1]
    w = _half_weights(lengths[-1], sy[last])
    y_bar = lax.conj(rfft_p.bind(out_bar, axes=axes, norm=_SWAP[norm]))
    y_bar = y_bar * _backends.asarray_like(_along_last(w, len(sy), last), like=out_bar)
    return (_as_real_cotangent(y_bar, y),)


irfft_p = Primitive(
    "irfft", _irfft_impl, shape=_irfft_shape,
    jvp=lambda primals, tangents, axes, lengths, norm: (
        irfft_p.bind(primals[0], axes=axes, lengths=lengths, norm=norm),
        None if tangents[0] is None
        else irfft_p.bind(tangents[0], axes=axes, lengths=lengths, norm=norm)),
    vjp=_irfft_vjp,
    cost=lambda a, axes, lengths, norm: _fft_cost(_irfft_shape(a, axes, lengths, norm).shape,
                                                  axes, 2.5))
irfft_p.def_rules(batch=_batch_rule(irfft_p))
