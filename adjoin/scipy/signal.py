"""adjoin.scipy.signal: :func:`convolve` and :func:`correlate` (SciPy's N-d semantics),
differentiable in both inputs.

One primitive (adjoin/primitives/signal.py): the N-d convolution in modes 'full' and
'valid', computed by ``scipy.signal.convolve`` with the ``method`` given ('direct', 'fft', or
'auto': SciPy's choice from the sizes, also for the derivatives' convolutions); 'same' is a
slice of 'full' and correlation is convolution with the reversed, conjugated kernel. The derivatives are
convolutions again (bilinear: the cotangent of one input is the correlation of the output's
cotangent with the other input), so the methods differ in cost only: direct O(N·K), fft
O(N log N).
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin.core.lazy_import import lazy_module
from adjoin.core.trace import dtype_of, shape_of, trace_stack
from adjoin.primitives import signal as _signal

_ss = lazy_module("scipy.signal")  # 1.2 s to import: loaded at the first convolution

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


def _mode_window(mode, s1, s2):
    """The (start, size) of the mode's window in the full convolution, per axis."""
    full = [a + b - 1 for a, b in zip(s1, s2)]
    if mode == "full":
        return [0] * len(s1), full
    if mode == "same":
        return [(f - a) // 2 for f, a in zip(full, s1)], list(s1)
    return ([min(a, b) - 1 for a, b in zip(s1, s2)],
            [abs(a - b) + 1 for a, b in zip(s1, s2)])


def _convolve(in1, in2, mode, method, s1, s2):
    """The primitive in mode 'full' or 'valid' (in1 the larger), 'same' a window of 'full'."""
    if mode != "same":
        return _signal.convolve_p.bind(in1, in2, mode=mode, method=method)
    full = _signal.convolve_p.bind(in1, in2, mode="full", method=method)
    starts, sizes = _mode_window(mode, s1, s2)
    return full[tuple(slice(st, st + n) for st, n in zip(starts, sizes))]


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
    return _convolve(in1, in2, mode, method, s1, s2)


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
