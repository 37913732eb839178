"""adjoin.numpy.fft: ``numpy.fft``, differentiable.

Built on four primitives (``adjoin/primitives/fft.py``): fft, ifft, rfft, irfft, each
over a tuple of axes. ``n`` / ``s`` zero-pad or truncate the input first (pad and
slicing, both differentiable). Derivatives follow JAX's complex convention: the vjp of
``fft`` is ``fft`` (the transpose, not the conjugate transpose); real inputs get real
cotangents.
"""
from __future__ import annotations

import numpy as np

from adjoin.backends import is_foreign as _foreign
from adjoin.core.axes import normalize_axis_index
from adjoin.core.trace import dtype_of, shape_of, trace_stack
from adjoin.numpy._elementwise import conj
from adjoin.numpy._shape import pad, roll
from adjoin.primitives import fft as _f

__all__ = ["fft", "ifft", "rfft", "irfft", "fftn", "ifftn", "rfftn", "irfftn", "fft2", "ifft2",
           "rfft2", "irfft2", "hfft", "ihfft", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]

fftfreq = np.fft.fftfreq
rfftfreq = np.fft.rfftfreq

_NORMS = ("backward", "ortho", "forward")


def _norm(norm):
    norm = "backward" if norm is None else norm
    if norm not in _NORMS:
        raise ValueError(f"norm must be one of {_NORMS} or None, got {norm!r}")
    return norm


def _resize(x, axis, n):
    """Zero-pad or truncate ``x`` along ``axis`` to length ``n`` (as numpy.fft does with n)."""
    s = shape_of(x)
    if n < 1:
        raise ValueError(f"invalid number of data points ({n}) specified")
    if s[axis] == n:
        return x
    if s[axis] > n:
        idx = (slice(None),) * axis + (slice(0, n), Ellipsis)  # (the array API: a full index)
        return x[idx]
    width = [(0, 0)] * len(s)
    width[axis] = (0, n - s[axis])
    return pad(x, width)


def _axes_and_sizes(x, s, axes, name):
    nd = len(shape_of(x))
    if axes is None:
        axes = tuple(range(nd)) if s is None else tuple(range(nd - len(s), nd))
    else:
        axes = tuple(normalize_axis_index(a, nd) for a in axes)
    if s is not None and len(s) != len(axes):
        raise ValueError(f"{name}: s {tuple(s)} and axes {axes} must have the same length")
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: repeated axes {axes} are not supported")
    return axes, (None if s is None else tuple(int(n) for n in s))


def _np_axes(s, axes):
    """NumPy's default axes for a given s (the last len(s)), passed explicitly."""
    return tuple(range(-len(s), 0)) if axes is None and s is not None else axes


def _c2c(prim, x, s, axes, norm):
    if s is not None:
        for a, n in zip(axes, s):
            x = _resize(x, a, n)
    if not axes:
        return x
    return prim.bind(x, axes=axes, norm=_norm(norm))


def fft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.fft``: ż = fft(ẋ), x̄ = fft(z̄) (JAX convention)."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.fft.fft(a, n, axis, norm)
    axis = normalize_axis_index(axis, len(shape_of(a)))
    return _c2c(_f.fft_p, a, None if n is None else (n,), (axis,), norm)


def ifft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.ifft``: ż = ifft(ẋ), x̄ = ifft(z̄)."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.fft.ifft(a, n, axis, norm)
    axis = normalize_axis_index(axis, len(shape_of(a)))
    return _c2c(_f.ifft_p, a, None if n is None else (n,), (axis,), norm)


def fftn(a, s=None, axes=None, norm=None):
    """``numpy.fft.fftn``."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.fft.fftn(a, s, _np_axes(s, axes), norm)
    axes, s = _axes_and_sizes(a, s, axes, "fftn")
    return _c2c(_f.fft_p, a, s, axes, norm)


def ifftn(a, s=None, axes=None, norm=None):
    """``numpy.fft.ifftn``."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.fft.ifftn(a, s, _np_axes(s, axes), norm)
    axes, s = _axes_and_sizes(a, s, axes, "ifftn")
    return _c2c(_f.ifft_p, a, s, axes, norm)


def fft2(a, s=None, axes=(-2, -1), norm=None):
    return fftn(a, s, axes, norm)


def ifft2(a, s=None, axes=(-2, -1), norm=None):
    return ifftn(a, s, axes, norm)


def _real_input(a, name):
    if dtype_of(a).kind == "c":
        raise TypeError(f"{name}: the input must be real (NumPy would discard the imaginary "
                        "part); use fft/fftn for complex input")


def rfftn(a, s=None, axes=None, norm=None):
    """``numpy.fft.rfftn``: the last axis is halved to N//2 + 1.
    x̄ = Re(fftn(z̄ zero-padded to the full spectrum)) (any N, odd or even)."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.fft.rfftn(a, s, _np_axes(s, axes), norm)
    _real_input(a, "rfftn")
    axes, s = _axes_and_sizes(a, s, axes, "rfftn")
    if s is not None:
        for ax, n in zip(axes, s):
            a = _resize(a, ax, n)
    if not axes:
        raise ValueError("rfftn: at least one axis is needed")
    return _f.rfft_p.bind(a, axes=axes, norm=_norm(norm))


def rfft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.rfft``."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.fft.rfft(a, n, axis, norm)
    return rfftn(a, None if n is None else (n,), (axis,), norm)


def rfft2(a, s=None, axes=(-2, -1), norm=None):
    return rfftn(a, s, axes, norm)


def irfftn(a, s=None, axes=None, norm=None):
    """``numpy.fft.irfftn``: real output of lengths ``s`` (default 2(m − 1) on the last axis).
    ȳ_k = m_k·conj(rfftn(z̄)) with m_k = 2 for the interior half-spectrum entries."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.fft.irfftn(a, s, _np_axes(s, axes), norm)
    axes, s = _axes_and_sizes(a, s, axes, "irfftn")
    if not axes:
        raise ValueError("irfftn: at least one axis is needed")
    sa = shape_of(a)
    lengths = list(s) if s is not None else [sa[ax] for ax in axes]
    if s is None:
        lengths[-1] = 2 * (sa[axes[-1]] - 1)
    if lengths[-1] < 1:
        raise ValueError(f"irfftn: invalid number of data points ({lengths[-1]}) specified")
    for ax, n in zip(axes[:-1], lengths[:-1]):
        a = _resize(a, ax, n)
    a = _resize(a, axes[-1], lengths[-1] // 2 + 1)
    return _f.irfft_p.bind(a, axes=axes, lengths=tuple(lengths), norm=_norm(norm))


def irfft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.irfft``."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.fft.irfft(a, n, axis, norm)
    return irfftn(a, None if n is None else (n,), (axis,), norm)


def irfft2(a, s=None, axes=(-2, -1), norm=None):
    return irfftn(a, s, axes, norm)


def hfft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.hfft``: irfft(conj(a)) with the opposite normalization."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.fft.hfft(a, n, axis, norm)
    return irfft(conj(a), n, axis, _f._SWAP[_norm(norm)])


def ihfft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.ihfft``: conj(rfft(a)) with the opposite normalization."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.fft.ihfft(a, n, axis, norm)
    return conj(rfft(a, n, axis, _f._SWAP[_norm(norm)]))


def _shift(x, axes, sign):
    s = shape_of(x)
    if axes is None:
        axes = tuple(range(len(s)))
    elif isinstance(axes, (int, np.integer)):
        axes = (int(axes),)
    axes = tuple(normalize_axis_index(a, len(s)) for a in axes)
    shifts = tuple((s[a] // 2) if sign > 0 else -(s[a] // 2) for a in axes)
    return roll(x, shifts, axes)


def fftshift(x, axes=None):
    """``numpy.fft.fftshift`` (a roll: its derivative rolls back)."""
    if not trace_stack and not _foreign(x):  # other backends: through the primitives
        return np.fft.fftshift(x, axes)
    return _shift(x, axes, +1)


def ifftshift(x, axes=None):
    """``numpy.fft.ifftshift``."""
    if not trace_stack and not _foreign(x):  # other backends: through the primitives
        return np.fft.ifftshift(x, axes)
    return _shift(x, axes, -1)
