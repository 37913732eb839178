"""adjoin.scipy.signal: :func:`convolve` and :func:`correlate` (SciPy's N-d semantics),
differentiable in both inputs.

``method='direct'`` is the N-d convolution primitive (adjoin/primitives/conv.py) on one
channel; ``'fft'`` is a product of (real) FFTs of the zero-padded inputs; ``'auto'`` picks one
as SciPy's ``choose_conv_method`` does from the shapes. Both methods have the same derivatives
(the convolution is bilinear: the cotangent of one input is the correlation of the output's
cotangent with the other input), they differ in cost: direct O(N·K), fft O(N log N).
"""
from __future__ import annotations

import numpy as np
import scipy.signal as _ss

import adjoin.numpy as anp
from adjoin.core.trace import dtype_of, shape_of, trace_stack
from adjoin.primitives.conv import conv_p

__all__ = ["convolve", "correlate", "choose_conv_method"]

_MODES = ("full", "same", "valid")
_METHODS = ("auto", "direct", "fft")


def _check(in1, in2, mode, method, name):
    if mode not in _MODES:
        raise ValueError(f"{name}: mode must be one of {_MODES}, got {mode!r}")
    if method not in _METHODS:
        raise ValueError(f"{name}: method must be one of {_METHODS}, got {method!r}")
    s1, s2 = shape_of(in1), shape_of(in2)
    if len(s1) != len(s2):
        raise ValueError(f"{name}: in1 (shape {s1}) and in2 (shape {s2}) should have the same "
                         "number of dimensions")
    if 0 in s1 or 0 in s2:
        raise ValueError(f"{name}: the inputs cannot be empty (shapes {s1} and {s2})")
    return s1, s2


def _swap_needed(mode, s1, s2, name):
    """SciPy's rule for 'valid': one input must be at least as large as the other in every
    dimension; the larger goes first."""
    if mode != "valid":
        return False
    ok1 = all(a >= b for a, b in zip(s1, s2))
    ok2 = all(b >= a for a, b in zip(s1, s2))
    if not (ok1 or ok2):
        raise ValueError(f"{name}: for 'valid' mode, one input must be at least as large as the "
                         f"other in every dimension (shapes {s1} and {s2})")
    return not ok1


def choose_conv_method(in1, in2, mode="full", measure=False):
    """``scipy.signal.choose_conv_method`` from the shapes and dtypes only ('direct' or
    'fft'; ``measure`` is not supported on traced values)."""
    if measure:
        if trace_stack:
            raise NotImplementedError("choose_conv_method: measure=True needs concrete arrays")
        return _ss.choose_conv_method(in1, in2, mode=mode, measure=True)
    a = np.zeros(shape_of(in1), dtype_of(in1))
    b = np.zeros(shape_of(in2), dtype_of(in2))
    return _ss.choose_conv_method(a, b, mode=mode)


def _centered(x, starts, sizes):
    return x[tuple(slice(s, s + n) for s, n in zip(starts, sizes))]


def _mode_window(mode, s1, s2):
    """The (start, size) of the mode's window in the full convolution, per axis."""
    full = [a + b - 1 for a, b in zip(s1, s2)]
    if mode == "full":
        return [0] * len(s1), full
    if mode == "same":
        return [(f - a) // 2 for f, a in zip(full, s1)], list(s1)
    return ([min(a, b) - 1 for a, b in zip(s1, s2)],
            [abs(a - b) + 1 for a, b in zip(s1, s2)])


def _convolve_direct(in1, in2, mode, s1, s2):
    """The convolution as the correlation primitive with the flipped kernel, padded so that
    the primitive's output is the mode's window."""
    starts, sizes = _mode_window(mode, s1, s2)
    # full convolution index f = i + (K − 1) − lo, so the window's start needs lo = K − 1 − start
    pads = tuple((b - 1 - st, n + st - a) for a, b, st, n in zip(s1, s2, starts, sizes))
    nd = len(s1)
    w = anp.flip(in2, axis=tuple(range(nd)))
    out = conv_p.bind(anp.reshape(in1, (1, 1) + tuple(s1)), anp.reshape(w, (1, 1) + tuple(s2)),
                      strides=(1,) * nd, padding=pads, lhs_dilation=(1,) * nd,
                      rhs_dilation=(1,) * nd, groups=1)
    return anp.reshape(out, tuple(sizes))


def _convolve_fft(in1, in2, mode, s1, s2):
    """The convolution as a product of FFTs of the inputs zero-padded to the full size."""
    full = tuple(a + b - 1 for a, b in zip(s1, s2))
    axes = tuple(range(len(s1)))
    if dtype_of(in1).kind != "c" and dtype_of(in2).kind != "c":
        out = anp.fft.irfftn(anp.fft.rfftn(in1, full, axes) * anp.fft.rfftn(in2, full, axes),
                             full, axes)
    else:
        out = anp.fft.ifftn(anp.fft.fftn(in1, full, axes) * anp.fft.fftn(in2, full, axes),
                            full, axes)
    starts, sizes = _mode_window(mode, s1, s2)
    return _centered(out, starts, sizes)


def convolve(in1, in2, mode="full", method="auto"):
    """``scipy.signal.convolve``: the N-d convolution (in1 ∗ in2)[k] = Σ_n in1[n] in2[k − n].

    ``mode``: 'full' (size N1 + N2 − 1), 'same' (in1's size, centered on 'full'), 'valid'
    (the points that need no padding; the larger input first). ``method``: 'direct', 'fft'
    or 'auto' (SciPy's choice from the shapes). Differentiable in both inputs; the fft
    method's values differ from direct ones by rounding (~1e-15 relative to the largest).
    When not to use it: a learned CNN layer with channels, strides or dilation is
    ``adjoin.nn.conv_general``.
    """
    if not trace_stack:
        return _ss.convolve(in1, in2, mode=mode, method=method)
    s1, s2 = _check(in1, in2, mode, method, "convolve")
    if len(s1) == 0:
        return in1 * in2
    if _swap_needed(mode, s1, s2, "convolve"):
        in1, in2, s1, s2 = in2, in1, s2, s1
    if method == "auto":
        method = choose_conv_method(in1, in2, mode)
    if method == "fft":
        return _convolve_fft(in1, in2, mode, s1, s2)
    return _convolve_direct(in1, in2, mode, s1, s2)


def _reverse_conj(x):
    x = anp.flip(x, axis=tuple(range(len(shape_of(x)))))
    return anp.conj(x) if dtype_of(x).kind == "c" else x


def correlate(in1, in2, mode="full", method="auto"):
    """``scipy.signal.correlate``: the N-d cross-correlation z[k] = Σ_l in1[l] conj(in2[l − k])
    (shifted so that 'full' starts at the largest negative lag), = convolve(in1,
    flip(conj(in2))). Modes and methods as :func:`convolve` ('valid' with in2 the larger:
    SciPy's reversed, conjugated result). Differentiable in both inputs."""
    if not trace_stack:
        return _ss.correlate(in1, in2, mode=mode, method=method)
    s1, s2 = _check(in1, in2, mode, method, "correlate")
    if len(s1) == 0:
        return in1 * (anp.conj(in2) if dtype_of(in2).kind == "c" else in2)
    if _swap_needed(mode, s1, s2, "correlate"):
        return _reverse_conj(correlate(in2, in1, mode, method))
    return convolve(in1, _reverse_conj(in2), mode, method)
