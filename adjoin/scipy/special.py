"""adjoin.scipy.special: logsumexp, softmax, log_softmax, expit, logit, xlogy, xlog1py.

All compose from adjoin.numpy (softmax is its own primitive, with the lecture's rule).
"""
from __future__ import annotations

import scipy.special as _ss

import adjoin.numpy as anp
from adjoin.core.axes import normalize_axis
from adjoin.core.trace import shape_of, trace_stack
from adjoin.primitives.reductions import softmax_p

__all__ = ["logsumexp", "softmax", "log_softmax", "expit", "logit", "xlogy", "xlog1py"]


def _finite_max(a, axes):
    """max over axes (keepdims), replaced by 0 where it is not finite (all −inf, or inf).

    Its derivative cancels in logsumexp (m + log Σ exp(a − m)), so no stop_gradient is
    needed; the rule of max (ties split) keeps that cancellation exact.
    """
    m = anp.max(a, axis=axes, keepdims=True)
    return anp.where(anp.isfinite(m), m, 0.0)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """``scipy.special.logsumexp``: log Σ b·exp(a), computed stably; its derivative in a
    is softmax (weighted by b)."""
    if not trace_stack:
        return _ss.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign)
    axes = normalize_axis(axis, len(shape_of(a)))
    if b is not None:
        a, b = anp.broadcast_arrays(a, b)
    m = _finite_max(a, axes)
    e = anp.exp(a - m)
    if b is not None:
        e = e * b
    s = anp.sum(e, axis=axes, keepdims=True)
    if return_sign:
        sign = anp.sign(s)
        s = anp.abs(s)
    out = anp.log(s) + m
    if not keepdims:
        out = anp.squeeze(out, axis=axes)
        if return_sign:
            sign = anp.squeeze(sign, axis=axes)
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
    """``scipy.special.xlogy``: x·log(y), 0 where x = 0 (also its derivative in y)."""
    if not trace_stack:
        return _ss.xlogy(x, y)
    zero = anp.equal(x, 0)
    safe_y = anp.where(zero, 1.0, y)
    return anp.where(zero, 0.0, x * anp.log(safe_y))


def xlog1py(x, y):
    """``scipy.special.xlog1py``: x·log1p(y), 0 where x = 0."""
    if not trace_stack:
        return _ss.xlog1py(x, y)
    zero = anp.equal(x, 0)
    safe_y = anp.where(zero, 0.0, y)
    return anp.where(zero, 0.0, x * anp.log1p(safe_y))
