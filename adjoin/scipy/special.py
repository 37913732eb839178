"""adjoin.scipy.special: logsumexp, softmax, log_softmax, expit, logit, xlogy, xlog1py.

All compose from adjoin.numpy, except three primitives: softmax (with the lecture's
rule) and xlogy / xlog1py (derivatives that are right at x = 0).
"""
from __future__ import annotations

import numpy as np
import scipy.special as _ss

import adjoin.numpy as anp
from adjoin.core.axes import normalize_axis
from adjoin.core.trace import shape_of, trace_stack
from adjoin.primitives.elementwise import xlog1py_p, xlogy_p
from adjoin.primitives.reductions import softmax_p

__all__ = ["logsumexp", "softmax", "log_softmax", "expit", "logit", "xlogy", "xlog1py"]


def _finite_max(a, axes):
    """max over axes (keepdims), replaced by 0 where it is not finite (all −inf, or inf).

    Its derivative cancels in logsumexp (m + log Σ exp(a − m)), so no stop_gradient is
    needed; the rule of max (ties split) keeps that cancellation exact.
    """
    m = anp.max(a, axis=axes, keepdims=True)
    return anp.where(anp.isfinite(m), m, 0.0)


def _lse_axes(axis, ndim):
    """The reduced axes: normalize_axis, except that a 0-d array takes axis 0 or −1 (or a
    tuple of them) and has no axis to reduce, as in NumPy and SciPy."""
    if ndim == 0 and axis is not None:
        for ax in (axis if isinstance(axis, (tuple, list)) else (axis,)):
            if int(ax) not in (0, -1):
                raise ValueError(f"logsumexp: axis {ax} is out of bounds for a 0-d array")
        return ()
    return normalize_axis(axis, ndim)


def _reduced_shape(shape, axes, keepdims):
    """The shape of a NumPy reduction over ``axes`` (NumPy's keepdims rule)."""
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """``scipy.special.logsumexp``: log Σ b·exp(a) over ``axis``, computed stably; its
    derivative in a is softmax (weighted by b).

    The result has NumPy's reduction shape (keepdims keeps the reduced axes as size 1); SciPy
    returns shape (1,) instead of () for a 0-d input with keepdims=True or axis=(), adjoin
    returns () (as NumPy's reductions and JAX do). A negative sum without return_sign is
    NaN, as in SciPy.
    """
    if not trace_stack:
        out = _ss.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign)
        shape = np.shape(a) if b is None else np.broadcast_shapes(np.shape(a), np.shape(b))
        want = _reduced_shape(shape, _lse_axes(axis, len(shape)), keepdims)
        fix = lambda v: v if np.shape(v) == want else np.reshape(v, want)
        return (fix(out[0]), fix(out[1])) if return_sign else fix(out)
    if b is not None:
        a, b = anp.broadcast_arrays(a, b)
    axes = _lse_axes(axis, len(shape_of(a)))
    m = _finite_max(a, axes)
    e = anp.exp(a - m)
    if b is not None:
        e = e * b
    s = anp.sum(e, axis=axes, keepdims=True)
    if return_sign:
        sign = anp.sign(s)
        s = anp.abs(s)
    elif b is not None:
        s = anp.where(s < 0, np.nan, s)     # log of a negative sum: NaN (without a warning)
    with np.errstate(divide="ignore"):      # log 0 = −inf is the answer (all a = −inf, or b = 0)
        out = anp.log(s) + m
    if not keepdims:
        out = anp.reshape(out, _reduced_shape(shape_of(out), axes, False))
        if return_sign:
            sign = anp.reshape(sign, shape_of(out))
    return (out, sign) if return_sign else out


def softmax(x, axis=None):
    """``scipy.special.softmax``: exp(x) / Σ exp(x) over ``axis`` (None: all axes).
    ż = z ⊙ ẋ − z (zᵀẋ)."""
    if not trace_stack:
        return _ss.softmax(x, axis=axis)
    return softmax_p.bind(x, axes=normalize_axis(axis, len(shape_of(x))))


def log_softmax(x, axis=None):
    """``scipy.special.log_softmax``: x − logsumexp(x), stably."""
    if not trace_stack:
        return _ss.log_softmax(x, axis=axis)
    axes = normalize_axis(axis, len(shape_of(x)))
    shifted = x - _finite_max(x, axes)
    return shifted - anp.log(anp.sum(anp.exp(shifted), axis=axes, keepdims=True))


def expit(x):
    """``scipy.special.expit``: 1/(1 + e^{−x}) = (1 + tanh(x/2))/2 (stable for all x)."""
    if not trace_stack:
        return _ss.expit(x)
    return 0.5 * anp.tanh(0.5 * x) + 0.5


def logit(p):
    """``scipy.special.logit``: log(p/(1 − p))."""
    if not trace_stack:
        return _ss.logit(p)
    return anp.log(p) - anp.log1p(-p)


def xlogy(x, y):
    """``scipy.special.xlogy``: x·log(y), 0 where x = 0 (primitive 'xlogy').

    ∂/∂x = log y and ∂/∂y = x/y, also at x = 0 (JAX's convention): grad at (0, 2) is
    (log 2, 0); ∂/∂y is 0 at x = 0 even where y = 0.
    """
    if not trace_stack:
        return _ss.xlogy(x, y)
    return xlogy_p.bind(x, y)


def xlog1py(x, y):
    """``scipy.special.xlog1py``: x·log1p(y), 0 where x = 0 (primitive 'xlog1py').

    ∂/∂x = log1p(y) and ∂/∂y = x/(1 + y), also at x = 0 (∂/∂y is then 0, even at y = −1).
    """
    if not trace_stack:
        return _ss.xlog1py(x, y)
    return xlog1py_p.bind(x, y)
