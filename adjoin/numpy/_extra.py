"""adjoin.numpy: sorting, order statistics, differences and integrals, assembling arrays,
and the everyday elementwise and testing functions (issue 12).

Everything here is composed from existing primitives where that is exact (copysign from
signbit and where, heaviside from comparisons, sort from the ``argsort`` primitive and a
gather, quantiles from sort and linear interpolation); new primitives (``argsort``,
``argpartition``, ``searchsorted`` in adjoin/primitives/sorting.py, ``fmod`` and
``logaddexp2`` in adjoin/primitives/elementwise.py) have all six rules. Derivative
conventions where there is a choice (ties in sort and quantiles, knots of interp) are in
docs/derivative-conventions.md.

This module sits on top of the other adjoin.numpy modules (it imports them all).
"""
from __future__ import annotations

import builtins

import numpy as np

from adjoin.backends import is_foreign as _foreign
from adjoin.core.axes import normalize_axis_index
from adjoin.core.trace import Tracer, concrete_value, dtype_of, shape_of, trace_stack
from adjoin.numpy import _blas, _elementwise as _el, _reductions as _red, _shape as _sh
from adjoin.numpy._indexing import _getitem, _IndexUpdateHelper, take, take_along_axis
from adjoin.numpy._sequences import _asarray, concatenate, stack
from adjoin.primitives import elementwise as _e
from adjoin.primitives.lax import astype, broadcast_to, moveaxis, reshape, transpose
from adjoin.primitives.sorting import argpartition_p, argsort_p, searchsorted_p
from adjoin.primitives.special import i0_p

__all__ = ["sort", "argsort", "partition", "argpartition", "searchsorted", "diff", "ediff1d",
           "gradient", "interp", "trapezoid", "median", "percentile", "quantile", "cov",
           "corrcoef", "nanmax", "nanmin", "nanprod", "nanvar", "nanstd", "nanmedian",
           "nanargmax", "nanargmin", "select", "piecewise", "nan_to_num", "append", "insert",
           "delete", "block", "r_", "c_", "rollaxis", "fabs", "copysign", "fmod", "heaviside",
           "logaddexp2", "i0", "allclose", "isclose", "iscomplex", "isreal", "isrealobj",
           "iscomplexobj", "real_if_close", "linspace", "logspace", "geomspace", "at",
           "isposinf", "isneginf"]


def _traced(*xs) -> bool:
    """True when ``xs`` hold a traced value (under a transformation) or another backend's
    array: then the primitives (whose impls follow the backend), else NumPy's function."""
    if trace_stack:
        return builtins.any(isinstance(x, Tracer) or _foreign(x) for x in xs)
    for x in xs:
        if type(x) is not np.ndarray and _foreign(x):
            return True
    return False


def _inexact(a):
    return a if dtype_of(a).kind in "fc" else astype(a, np.float64)


def _axis_last(a, axis):
    """(a with ``axis`` moved last, the normalized axis); axis None flattens."""
    a = _asarray(a)
    if axis is None:
        return reshape(a, (-1,)), None
    nd = len(shape_of(a))
    axis = normalize_axis_index(axis, nd)
    return (a if axis == nd - 1 else moveaxis(a, axis, -1)), axis


def _restore(out, axis):
    return out if axis is None or axis == len(shape_of(out)) - 1 else moveaxis(out, -1, axis)


# --- sorting ------------------------------------------------------------------------------------

def _is_stable(kind, stable):
    if stable is not None:
        return bool(stable)
    return kind in ("stable", "mergesort")


def argsort(a, axis=-1, kind=None, order=None, *, stable=None, descending=False):
    """``numpy.argsort`` (``kind="stable"`` or ``stable=True``: ties in index order).
    Integer output: no derivative."""
    if order is not None:
        raise NotImplementedError("argsort: order= (structured arrays) is not supported")
    st = _is_stable(kind, stable) or descending
    if not _traced(a):
        k = "stable" if st else None
        if descending:
            return np.argsort(-np.asarray(a), axis=axis, kind=k)
        return np.argsort(a, axis=axis, kind=k)
    a, ax = _axis_last(a, axis)
    x = -a if descending else a
    p = argsort_p.bind(x, axis=len(shape_of(a)) - 1, stable=st)
    return _restore(p, ax)


def sort(a, axis=-1, kind=None, order=None, *, stable=None, descending=False):
    """``numpy.sort``, differentiable: sort(x) = take_along_axis(x, argsort(x)), so each
    output's cotangent goes to the entry it came from (at ties, the entry NumPy's argsort
    puts there; with ``kind="stable"``/``stable=True`` the first in index order: a valid
    subgradient either way, see docs/derivative-conventions.md). ``axis=None`` sorts the
    flattened array."""
    if order is not None:
        raise NotImplementedError("sort: order= (structured arrays) is not supported")
    st = _is_stable(kind, stable) or descending
    if not _traced(a):
        if descending:
            return -np.sort(-np.asarray(a), axis=axis, kind="stable")
        return np.sort(a, axis=axis, kind="stable" if st else None)
    a, ax = _axis_last(a, axis)
    p = argsort_p.bind(-a if descending else a, axis=len(shape_of(a)) - 1, stable=st)
    return _restore(take_along_axis(a, p, -1), ax)


def _kth(kth, n):
    ks = np.atleast_1d(np.asarray(kth, dtype=np.intp))
    ks = np.where(ks < 0, ks + n, ks)
    if np.any((ks < 0) | (ks >= n)):
        raise ValueError(f"kth {kth} out of bounds for an axis of length {n}")
    return tuple(int(k) for k in ks)


def argpartition(a, kth, axis=-1, kind="introselect", order=None):
    """``numpy.argpartition``. Integer output: no derivative."""
    if not _traced(a):
        return np.argpartition(a, kth, axis=axis)
    a, ax = _axis_last(a, axis)
    p = argpartition_p.bind(a, kth=_kth(kth, shape_of(a)[-1]), axis=len(shape_of(a)) - 1)
    return _restore(p, ax)


def partition(a, kth, axis=-1, kind="introselect", order=None):
    """``numpy.partition``, differentiable like ``sort`` (each output's cotangent goes to the
    entry it came from). The order inside the two parts is NumPy's (unspecified)."""
    if not _traced(a):
        return np.partition(a, kth, axis=axis)
    a, ax = _axis_last(a, axis)
    p = argpartition_p.bind(a, kth=_kth(kth, shape_of(a)[-1]), axis=len(shape_of(a)) - 1)
    return _restore(take_along_axis(a, p, -1), ax)


def searchsorted(a, v, side="left", sorter=None):
    """``numpy.searchsorted`` (a 1-D and sorted, or sorted by ``sorter``). Integer output."""
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if not _traced(a, v, sorter):
        return np.searchsorted(a, v, side=side, sorter=sorter)
    if sorter is not None:
        a = take(a, sorter)
    if len(shape_of(a)) != 1:
        raise ValueError(f"searchsorted: a must be 1-D, got shape {shape_of(a)}")
    return searchsorted_p.bind(a, v, side=side, batch=0)


# --- order statistics ------------------------------------------------------------------------------

_METHODS = ("linear", "lower", "higher", "nearest", "midpoint")


def _quantile_sorted(s, q, method):
    """Quantiles ``q`` (concrete or traced, in [0, 1]) of ``s``, sorted along its last axis;
    the q axes go in front (NumPy's layout)."""
    n = shape_of(s)[-1]
    if n == 0:
        raise ValueError("quantile of an empty axis")
    q_shape = tuple(shape_of(q))
    qf = reshape(q, (-1,)) if q_shape else reshape(q, (1,))
    pos = qf * (n - 1)
    if isinstance(pos, Tracer):
        lo = astype(_el.clip(_el.floor(pos), 0, n - 1), np.intp)
    else:
        lo = np.clip(np.floor(np.asarray(pos)), 0, n - 1).astype(np.intp)
    hi = _el.minimum(lo + 1, n - 1)
    t = pos - lo
    if method == "lower":
        idx, t = lo, None
    elif method == "higher":
        idx, t = astype(_el.ceil(pos), np.intp) if isinstance(pos, Tracer) else \
            np.ceil(np.asarray(pos)).astype(np.intp), None
    elif method == "nearest":  # NumPy rounds half to even
        idx, t = astype(_el.rint(pos), np.intp) if isinstance(pos, Tracer) else \
            np.rint(np.asarray(pos)).astype(np.intp), None
    elif method == "midpoint":
        t = _el.where(_el.equal(lo, hi), 0.0, 0.5) if isinstance(lo, Tracer) else \
            np.where(lo == hi, 0.0, 0.5)
    elif method != "linear":
        raise ValueError(f"quantile: method must be one of {_METHODS}, got {method!r}")
    if t is None:
        out = take(s, idx, axis=-1)
    else:
        a_lo, a_hi = take(s, lo, axis=-1), take(s, hi, axis=-1)
        out = a_lo + t * (a_hi - a_lo)
    out = moveaxis(out, -1, 0)
    return reshape(out, q_shape + tuple(shape_of(out)[1:]))


def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
             keepdims=False, *, weights=None, interpolation=None):
    """``numpy.quantile`` (methods linear, lower, higher, nearest, midpoint), differentiable in
    ``a`` and in ``q`` (linear/midpoint): between the two order statistics it interpolates,
    the derivative is the interpolation weight (ties: see docs/derivative-conventions.md)."""
    if out is not None or weights is not None:
        raise NotImplementedError("quantile: out= and weights= are not supported")
    method = interpolation or method
    if not _traced(a, q):
        return np.quantile(a, q, axis=axis, method=method, keepdims=keepdims)
    a = _inexact(_asarray(a))
    nd = len(shape_of(a))
    axes = tuple(range(nd)) if axis is None else tuple(
        normalize_axis_index(ax, nd) for ax in np.atleast_1d(axis))
    rest = [i for i in range(nd) if i not in axes]
    moved = transpose(a, rest + list(axes)) if rest + list(axes) != list(range(nd)) else a
    moved = reshape(moved, tuple(shape_of(a)[i] for i in rest) + (-1,))
    res = _quantile_sorted(sort(moved, axis=-1), q, method)
    if keepdims:
        q_nd = len(shape_of(q))
        shp = shape_of(res)[:q_nd] + tuple(1 if i in axes else shape_of(a)[i] for i in range(nd))
        res = reshape(res, shp)
    return res


def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False, *, weights=None, interpolation=None):
    """``numpy.percentile``: quantile(a, q / 100)."""
    if not _traced(a, q):
        return np.percentile(a, q, axis=axis, method=interpolation or method,
                             keepdims=keepdims)
    return quantile(a, _el.divide(q, 100.0) if isinstance(q, Tracer) else np.asarray(q) / 100.0,
                    axis=axis, method=method, keepdims=keepdims, interpolation=interpolation)


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """``numpy.median``: the 0.5-quantile (the mean of the two middle entries for an even
    count, each getting half of the cotangent)."""
    if not _traced(a):
        return np.median(a, axis=axis, keepdims=keepdims)
    return quantile(a, 0.5, axis=axis, keepdims=keepdims)


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """``numpy.nanmedian``: NaNs sort last (as +∞), and the median of each slice reads its
    first k entries, k the count of non-NaN ones (NaN for an all-NaN slice). NaN entries
    get a zero derivative."""
    if not _traced(a):
        return np.nanmedian(a, axis=axis, keepdims=keepdims)
    a = _inexact(_asarray(a))
    a_, ax = _axis_last(a, axis)
    nan = _el.isnan(a_)
    srt = sort(_el.where(nan, np.inf, a_), axis=-1)
    k = _red.sum(astype(_el.logical_not(nan), np.intp), axis=-1, keepdims=True)
    lo = _el.maximum(_el.floor_divide(k - 1, 2), 0)
    hi = _el.maximum(_el.floor_divide(k, 2), 0)
    hi = _el.minimum(hi, shape_of(a_)[-1] - 1)
    v = 0.5 * (take_along_axis(srt, lo, -1) + take_along_axis(srt, hi, -1))
    v = _el.where(_el.equal(k, 0), np.nan, v)
    v = reshape(v, shape_of(v)[:-1])
    if keepdims:
        nd = len(shape_of(a))
        keep = [1 if (axis is None or i == normalize_axis_index(axis, nd)) else n
                for i, n in enumerate(shape_of(a))]
        v = reshape(v, tuple(keep))
    return v


# --- nan-reductions ----------------------------------------------------------------------------

def _nan_extremum(a, axis, keepdims, fill, red, npfn):
    if not _traced(a):
        return npfn(a, axis=axis, keepdims=keepdims)
    nan = _el.isnan(a)
    out = red(_el.where(nan, fill, a), axis=axis, keepdims=keepdims)
    all_nan = _red.all(nan, axis=axis, keepdims=keepdims)
    return _el.where(all_nan, np.nan, out)


def nanmax(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """``numpy.nanmax``: NaNs are ignored (and get a zero derivative); an all-NaN slice
    gives NaN."""
    return _nan_extremum(a, axis, keepdims, -np.inf, _red.max, np.nanmax)


def nanmin(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """``numpy.nanmin``: NaNs are ignored (and get a zero derivative)."""
    return _nan_extremum(a, axis, keepdims, np.inf, _red.min, np.nanmin)


def nanargmax(a, axis=None, out=None, *, keepdims=False):
    """``numpy.nanargmax`` (integer output)."""
    if not _traced(a):
        return np.nanargmax(a, axis=axis, keepdims=keepdims)
    return _red.argmax(_el.where(_el.isnan(a), -np.inf, a), axis=axis, keepdims=keepdims)


def nanargmin(a, axis=None, out=None, *, keepdims=False):
    """``numpy.nanargmin`` (integer output)."""
    if not _traced(a):
        return np.nanargmin(a, axis=axis, keepdims=keepdims)
    return _red.argmin(_el.where(_el.isnan(a), np.inf, a), axis=axis, keepdims=keepdims)


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False):
    """``numpy.nanprod``: NaNs count as one."""
    if not _traced(a):
        return np.nanprod(a, axis=axis, dtype=dtype, keepdims=keepdims)
    return _red.prod(_el.where(_el.isnan(a), 1.0, a), axis=axis, dtype=dtype, keepdims=keepdims)


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """``numpy.nanvar``: the variance of the entries that are not NaN (they get a zero
    derivative; the deviations of NaN entries are zeroed before squaring, so no NaN
    reaches the gradient)."""
    if not _traced(a):
        return np.nanvar(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)
    nan = _el.isnan(a)
    n = _red.sum(astype(_el.logical_not(nan), np.float64), axis=axis, keepdims=True)
    m = _red.nanmean(a, axis=axis, keepdims=True)
    d = _el.where(nan, 0.0, _el.where(nan, 0.0, a) - m)
    sq = _el.real(d * _el.conj(d)) if dtype_of(a).kind == "c" else d * d
    v = _red.sum(sq, axis=axis, keepdims=True) / (n - ddof)
    return v if keepdims else _sh.squeeze(v, axis=axis) if axis is not None else reshape(v, ())


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """``numpy.nanstd``: √nanvar."""
    if not _traced(a):
        return np.nanstd(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)
    return _el.sqrt(nanvar(a, axis=axis, ddof=ddof, keepdims=keepdims))


# --- covariance ------------------------------------------------------------------------------------

def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *,
        dtype=None):
    """``numpy.cov`` (with fweights/aweights), differentiable in the data and the weights."""
    if not _traced(m, y, fweights, aweights):
        return np.cov(m, y, rowvar=rowvar, bias=bias, ddof=ddof, fweights=fweights,
                      aweights=aweights, dtype=dtype)
    X = _sh.atleast_2d(_inexact(_asarray(m)))
    if not rowvar and shape_of(X)[0] != 1:
        X = transpose(X)
    if y is not None:
        Y = _sh.atleast_2d(_inexact(_asarray(y)))
        if not rowvar and shape_of(Y)[0] != 1:
            Y = transpose(Y)
        X = concatenate([X, Y], axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    w = None
    if fweights is not None:
        w = _inexact(_asarray(fweights))
    if aweights is not None:
        aw = _inexact(_asarray(aweights))
        w = aw if w is None else w * aw
    avg, w_sum = _red.average(X, axis=1, weights=w, returned=True)
    w_sum = reshape(w_sum, (-1,))[0] if shape_of(w_sum) else w_sum
    if w is None:
        fact = shape_of(X)[1] - ddof
    elif ddof == 0:
        fact = w_sum
    elif aweights is None:
        fact = w_sum - ddof
    else:
        fact = w_sum - ddof * _red.sum(w * aw) / w_sum
    Xc = X - reshape(avg, (-1, 1))
    Xw = Xc if w is None else Xc * w
    c = _blas.matmul(Xc, _el.conj(transpose(Xw))) / fact
    return _sh.squeeze(c)


def corrcoef(x, y=None, rowvar=True, *, dtype=None):
    """``numpy.corrcoef``: cov / (σ σᵀ), real parts clipped to [−1, 1] as NumPy does."""
    if not _traced(x, y):
        return np.corrcoef(x, y, rowvar=rowvar)
    c = cov(x, y, rowvar=rowvar)
    if len(shape_of(c)) == 0:
        return c / c
    d = _sh.diagonal(c)
    sd = _el.sqrt(_el.real(d))
    c = c / reshape(sd, (-1, 1))
    c = c / reshape(sd, (1, -1))
    if dtype_of(c).kind == "c":
        return _el.clip(_el.real(c), -1, 1) + 1j * _el.clip(_el.imag(c), -1, 1)
    return _el.clip(c, -1, 1)


# --- differences, gradients, integrals ---------------------------------------------------------

def _along(a, axis, start, stop):
    nd = len(shape_of(a))
    return _getitem(a, (slice(None),) * axis + (slice(start, stop),) + (slice(None),) * (nd - axis - 1))


def diff(a, n=1, axis=-1, prepend=None, append=None):
    """``numpy.diff``: n-th forward differences (linear)."""
    if not _traced(a, prepend, append):
        kw = {k: v for k, v in (("prepend", prepend), ("append", append)) if v is not None}
        return np.diff(a, n=n, axis=axis, **kw)
    a = _asarray(a)
    nd = len(shape_of(a))
    axis = normalize_axis_index(axis, nd)
    parts = []
    for extra in (prepend,):
        if extra is not None:
            parts.append(_edge(extra, a, axis))
    parts.append(a)
    if append is not None:
        parts.append(_edge(append, a, axis))
    if len(parts) > 1:
        a = concatenate(parts, axis=axis)
    for _ in range(int(n)):
        a = _along(a, axis, 1, None) - _along(a, axis, None, -1)
    return a


def _edge(v, a, axis):
    v = _asarray(v)
    if len(shape_of(v)) == 0:
        s = list(shape_of(a))
        s[axis] = 1
        return broadcast_to(v, tuple(s))
    return v


def ediff1d(ary, to_end=None, to_begin=None):
    """``numpy.ediff1d``: differences of the flattened array, with optional ends."""
    if not _traced(ary, to_end, to_begin):
        return np.ediff1d(ary, to_end=to_end, to_begin=to_begin)
    d = diff(reshape(_asarray(ary), (-1,)))
    parts = [reshape(_asarray(to_begin), (-1,))] if to_begin is not None else []
    parts.append(d)
    if to_end is not None:
        parts.append(reshape(_asarray(to_end), (-1,)))
    return concatenate(parts) if len(parts) > 1 else d


def _gradient_axis(f, h, axis, edge_order):
    """Second-order central differences inside, first or second order at the edges, for a
    scalar spacing h or coordinates h (1-D, the length of the axis)."""
    n = shape_of(f)[axis]
    if n < edge_order + 1:
        raise ValueError("Shape of array too small to calculate a numerical gradient, at "
                         "least (edge_order + 1) elements are required.")
    sl = lambda a, b: _along(f, axis, a, b)  # noqa: E731
    nd = len(shape_of(f))

    def col(v):  # a 1-D coefficient array along ``axis``
        shp = [1] * nd
        shp[axis] = -1
        return reshape(v, tuple(shp))

    if len(shape_of(h)) == 0:
        inner = (sl(2, None) - sl(None, -2)) / (2.0 * h)
        if edge_order == 1:
            first = (sl(1, 2) - sl(0, 1)) / h
            last = (sl(n - 1, n) - sl(n - 2, n - 1)) / h
        else:
            first = (-1.5 * sl(0, 1) + 2.0 * sl(1, 2) - 0.5 * sl(2, 3)) / h
            last = (0.5 * sl(n - 3, n - 2) - 2.0 * sl(n - 2, n - 1) + 1.5 * sl(n - 1, n)) / h
    else:
        if shape_of(h) != (n,):
            raise ValueError(f"gradient: coordinates of length {shape_of(h)} do not match the "
                             f"axis of length {n}")
        dx = diff(h)
        d1, d2 = _getitem(dx, slice(None, -1)), _getitem(dx, slice(1, None))
        a = -d2 / (d1 * (d1 + d2))
        b = (d2 - d1) / (d1 * d2)
        c = d1 / (d2 * (d1 + d2))
        inner = col(a) * sl(None, -2) + col(b) * sl(1, -1) + col(c) * sl(2, None)
        if edge_order == 1:
            first = (sl(1, 2) - sl(0, 1)) / dx[0]
            last = (sl(n - 1, n) - sl(n - 2, n - 1)) / dx[-1]
        else:
            h1, h2 = dx[0], dx[1]
            first = (-(2.0 * h1 + h2) / (h1 * (h1 + h2)) * sl(0, 1)
                     + (h1 + h2) / (h1 * h2) * sl(1, 2) - h1 / (h2 * (h1 + h2)) * sl(2, 3))
            h1, h2 = dx[-2], dx[-1]
            last = (h2 / (h1 * (h1 + h2)) * sl(n - 3, n - 2) - (h2 + h1) / (h1 * h2)
                    * sl(n - 2, n - 1) + (2.0 * h2 + h1) / (h2 * (h1 + h2)) * sl(n - 1, n))
    return concatenate([first, inner, last], axis=axis)


def gradient(f, *varargs, axis=None, edge_order=1):
    """``numpy.gradient``: second-order accurate central differences in the interior, first
    (``edge_order=1``) or second order one-sided differences at the boundaries; spacings as
    scalars or coordinate arrays. Linear in f; differentiable in the spacings too."""
    if not _traced(f, *varargs):
        return np.gradient(f, *varargs, axis=axis, edge_order=edge_order)
    if edge_order not in (1, 2):
        raise ValueError("gradient: edge_order must be 1 or 2")
    f = _inexact(_asarray(f))
    nd = len(shape_of(f))
    axes = list(range(nd)) if axis is None else [
        normalize_axis_index(a, nd) for a in np.atleast_1d(axis)]
    if not varargs:
        spacing = [1.0] * len(axes)
    elif len(varargs) == 1 and len(shape_of(varargs[0])) == 0:
        spacing = list(varargs) * len(axes)
    elif len(varargs) == len(axes):
        spacing = list(varargs)
    else:
        raise TypeError("gradient: invalid number of spacing arguments")
    out = [_gradient_axis(f, h, ax, edge_order) for h, ax in zip(spacing, axes)]
    return out[0] if len(out) == 1 else out


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """``numpy.trapezoid``: Σ (y_{i+1} + y_i)/2 · Δx_i (linear in y; differentiable in x)."""
    if not _traced(y, x, dx):
        return np.trapezoid(y, x=x, dx=dx, axis=axis)
    y = _asarray(y)
    nd = len(shape_of(y))
    axis = normalize_axis_index(axis, nd)
    if x is None:
        d = dx
    else:
        x = _asarray(x)
        if len(shape_of(x)) == 1:
            d = diff(x)
            shp = [1] * nd
            shp[axis] = -1
            d = reshape(d, tuple(shp))
        else:
            d = diff(x, axis=axis)
    mid = (_along(y, axis, 1, None) + _along(y, axis, None, -1)) * 0.5
    return _red.sum(d * mid, axis=axis)


def interp(x, xp, fp, left=None, right=None, period=None):
    """``numpy.interp``: piecewise-linear interpolation (xp increasing). Differentiable in x
    (the slope of its interval; at a knot, the interval to its right), in fp and in xp.
    ``left``/``right``: the values outside [xp₀, xp₋₁] (default fp₀, fp₋₁: constant, zero
    derivative in x there). ``period``: xp and x are taken modulo the period."""
    if not _traced(x, xp, fp, left, right, period):
        return np.interp(x, xp, fp, left=left, right=right, period=period)
    xp, fp = _inexact(_asarray(xp)), _asarray(fp)
    x = _inexact(_asarray(x))
    if len(shape_of(xp)) != 1 or shape_of(xp) != shape_of(fp)[:1] or len(shape_of(fp)) != 1:
        raise ValueError("interp: xp and fp must be 1-D sequences of the same length")
    if period is not None:
        if period == 0:
            raise ValueError("interp: period must be a non-zero value")
        period = _el.abs(period)
        left = right = None
        x = _el.mod(x, period)
        xp = _el.mod(xp, period)
        order = argsort(xp)
        xp, fp = take(xp, order), take(fp, order)
        xp = concatenate([_getitem(xp, slice(-1, None)) - period, xp,
                          _getitem(xp, slice(0, 1)) + period])
        fp = concatenate([_getitem(fp, slice(-1, None)), fp, _getitem(fp, slice(0, 1))])
    n = shape_of(xp)[0]
    if n == 1:
        out = broadcast_to(fp[0], shape_of(x)) + 0.0 * x
    else:
        i = _el.clip(searchsorted(xp, x, side="right") - 1, 0, n - 2)
        x0, x1 = take(xp, i), take(xp, i + 1)
        f0, f1 = take(fp, i), take(fp, i + 1)
        t = (x - x0) / (x1 - x0)
        out = f0 + t * (f1 - f0)
    lo = fp[0] if left is None else left
    hi = fp[-1] if right is None else right
    out = _el.where(_el.less(x, xp[0]), lo, out)
    out = _el.where(_el.greater(x, xp[-1]), hi, out)
    return out


# --- selection and assembly ---------------------------------------------------------------------

def select(condlist, choicelist, default=0):
    """``numpy.select``: the first true condition's choice (differentiable in the choices)."""
    if len(condlist) != len(choicelist):
        raise ValueError("select: list of cases must be same length as list of conditions")
    if not _traced(*condlist, *choicelist, default):
        return np.select(condlist, choicelist, default)
    out = default
    for c, v in zip(reversed(list(condlist)), reversed(list(choicelist))):
        out = _el.where(c, v, out)
    return out


def piecewise(x, condlist, funclist, *args, **kw):
    """``numpy.piecewise``, evaluating every function on the whole of x and selecting with
    where (shapes stay static): a function undefined outside its piece gives NaN/∞ there,
    which is discarded, but its *derivative* would be NaN — write such functions with the
    double where (see ``ad.debug_nans``). Later conditions win, as in NumPy."""
    if not _traced(x, *(c for c in (condlist if isinstance(condlist, (list, tuple))
                                    else [condlist]))):
        return np.piecewise(x, condlist, funclist, *args, **kw)
    x = _asarray(x)
    if not isinstance(condlist, (list, tuple)) or (
            len(condlist) and len(shape_of(condlist[0])) == 0 and len(shape_of(x)) > 0):
        condlist = [condlist]
    n = len(condlist)
    if len(funclist) not in (n, n + 1):
        raise ValueError(f"piecewise: with {n} condition(s), {n} or {n + 1} functions are "
                         f"needed, got {len(funclist)}")
    conds = list(condlist)
    if len(funclist) == n + 1:
        anyc = conds[0]
        for c in conds[1:]:
            anyc = _el.logical_or(anyc, c)
        conds.append(_el.logical_not(anyc))
    out = _el.multiply(x, 0.0) if dtype_of(x).kind in "fc" else np.zeros(shape_of(x))
    for c, f in zip(conds, funclist):
        v = f(x, *args, **kw) if callable(f) else f
        out = _el.where(c, v, out)
    return out


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """``numpy.nan_to_num``: derivative 1 at finite entries, 0 at the replaced ones."""
    if not _traced(x):
        return np.nan_to_num(x, copy=copy, nan=nan, posinf=posinf, neginf=neginf)
    if dtype_of(x).kind == "c":
        return (nan_to_num(_el.real(x), nan=nan, posinf=posinf, neginf=neginf)
                + 1j * nan_to_num(_el.imag(x), nan=nan, posinf=posinf, neginf=neginf))
    if dtype_of(x).kind != "f":
        return x
    fi = np.finfo(dtype_of(x))
    hi = fi.max if posinf is None else posinf
    lo = fi.min if neginf is None else neginf
    out = _el.where(_el.isnan(x), nan, x)
    out = _el.where(_el.logical_and(_el.isinf(x), _el.greater(x, 0)), hi, out)
    return _el.where(_el.logical_and(_el.isinf(x), _el.less(x, 0)), lo, out)


def _placeholders(tree):
    """Replace traced leaves of a nested list by index markers: (values with zeros at the
    traced places, markers with 1 + the flat position in the traced data, traced data)."""
    traced = []
    offset = [0]

    def values(t):
        if isinstance(t, list):
            return [values(e) for e in t]
        if isinstance(t, tuple):
            return tuple(values(e) for e in t)
        if isinstance(t, Tracer):
            return np.zeros(shape_of(t), dtype_of(t))
        return t

    def markers(t):
        if isinstance(t, list):
            return [markers(e) for e in t]
        if isinstance(t, tuple):
            return tuple(markers(e) for e in t)
        if isinstance(t, Tracer):
            size = int(np.prod(shape_of(t), dtype=np.int64))
            m = (offset[0] + 1 + np.arange(size, dtype=np.float64)).reshape(shape_of(t))
            offset[0] += size
            traced.append(t)
            return m
        if isinstance(t, (np.ndarray, np.generic, int, float, complex, bool)):
            return np.zeros(np.shape(t))
        if isinstance(t, slice):  # r_[1:4] makes a range: constant entries
            return np.zeros(np.r_[t].shape)
        return t

    return values(tree), markers(tree), traced


def _assemble(npfn, tree):
    """``npfn`` (np.block, np.r_.__getitem__, ...) applied to a nested list that may hold
    traced values: NumPy places index markers, and the result gathers the traced entries
    (exact: a permutation and a selection, differentiable through the gather)."""
    vals, marks, traced = _placeholders(tree)
    base = npfn(vals)
    where_ = np.asarray(npfn(marks))
    if not traced:
        return base
    flat = concatenate([reshape(t, (-1,)) for t in traced]) if len(traced) > 1 else \
        reshape(traced[0], (-1,))
    idx = where_.astype(np.intp)
    sel = idx > 0
    gathered = take(flat, np.where(sel, idx - 1, 0))
    dt = np.result_type(np.asarray(base).dtype, dtype_of(flat))
    return _el.where(sel, astype(gathered, dt), np.asarray(base, dt))


def block(arrays):
    """``numpy.block``: assemble nested lists of blocks (traced blocks welcome)."""
    if not _traced(*_leaves(arrays)):
        return np.block(arrays)
    return _assemble(np.block, arrays)


def _leaves(tree):
    if isinstance(tree, (list, tuple)):
        return [x for t in tree for x in _leaves(t)]
    return [tree]


class _Concatenator:
    """``r_`` and ``c_``: NumPy's index-expression concatenation, with traced pieces."""

    def __init__(self, np_obj, name):
        self._np, self._name = np_obj, name

    def __getitem__(self, key):
        items = list(key) if isinstance(key, tuple) else [key]
        if not _traced(*items):
            return self._np[key]
        return _assemble(lambda its: self._np[tuple(its)], items)

    def __repr__(self):
        return f"adjoin.numpy.{self._name}"


r_ = _Concatenator(np.r_, "r_")
c_ = _Concatenator(np.c_, "c_")


def _index_map(a, fn):
    """Apply a NumPy reshuffling ``fn(indices)`` of an array's entries to a traced ``a``."""
    a = _asarray(a)
    idx = fn(np.arange(int(np.prod(shape_of(a), dtype=np.int64))).reshape(shape_of(a)))
    return take(reshape(a, (-1,)), idx)


def append(arr, values, axis=None):
    """``numpy.append``: concatenation (flattened when axis is None)."""
    if not _traced(arr, values):
        return np.append(arr, values, axis=axis)
    arr, values = _asarray(arr), _asarray(values)
    if axis is None:
        return concatenate([reshape(arr, (-1,)), reshape(values, (-1,))])
    return concatenate([arr, values], axis=axis)


def insert(arr, obj, values, axis=None):
    """``numpy.insert`` (obj concrete: positions decide the shape). The values broadcast as
    NumPy's do: the result gathers from the entries of arr and values."""
    if not _traced(arr, values):
        return np.insert(arr, obj, values, axis=axis)
    obj = concrete_value(obj)
    arr, values = _asarray(arr), _asarray(values)
    n = int(np.prod(shape_of(arr), dtype=np.int64))
    k = int(np.prod(shape_of(values), dtype=np.int64))
    ia = np.arange(n).reshape(shape_of(arr))
    iv = (n + np.arange(k)).reshape(shape_of(values))
    idx = np.insert(ia, obj, iv, axis=axis)
    src = concatenate([reshape(arr, (-1,)), reshape(astype(values, dtype_of(arr))
                                                    if dtype_of(values) != dtype_of(arr)
                                                    else values, (-1,))])
    return take(src, idx)


def delete(arr, obj, axis=None):
    """``numpy.delete`` (obj concrete)."""
    if not _traced(arr):
        return np.delete(arr, obj, axis=axis)
    obj = concrete_value(obj)
    return _index_map(arr, lambda i: np.delete(i, obj, axis=axis))


def rollaxis(a, axis, start=0):
    """``numpy.rollaxis`` (prefer moveaxis)."""
    if not _traced(a):
        return np.rollaxis(a, axis, start)
    nd = len(shape_of(a))
    axis = normalize_axis_index(axis, nd)
    if start < 0:
        start += nd
    if not 0 <= start <= nd:
        raise np.exceptions.AxisError(f"rollaxis: start {start} out of range for {nd} axes")
    if axis < start:
        start -= 1
    if axis == start:
        return a
    return moveaxis(a, axis, start)


# --- elementwise -------------------------------------------------------------------------------

def fabs(x):
    """``numpy.fabs``: |x| for real x (see abs for the derivative at 0)."""
    if dtype_of(x).kind == "c":
        raise TypeError("fabs is not defined for complex values; use abs")
    return _el.abs(x)


def copysign(x1, x2):
    """``numpy.copysign``: |x1| with the sign bit of x2; ∂/∂x1 = ±1 (+1 where the sign bits
    agree), ∂/∂x2 = 0."""
    if not _traced(x1, x2):
        return np.copysign(x1, x2)
    x1 = _inexact(_asarray(x1))
    same = _el.equal(_el.signbit(x1), _el.signbit(x2))
    return _el.where(same, x1, _el.negative(x1))


def fmod(x1, x2):
    """``numpy.fmod`` (the sign of x1): ∂/∂x1 = 1, ∂/∂x2 = −trunc(x1/x2)."""
    if not trace_stack and not _foreign(x1) and not _foreign(x2):  # others: the primitives
        return np.fmod(x1, x2)
    return _e.fmod_p.bind(x1, x2)


def logaddexp2(x1, x2):
    """``numpy.logaddexp2``: log₂(2^x1 + 2^x2)."""
    if not trace_stack and not _foreign(x1) and not _foreign(x2):  # others: the primitives
        return np.logaddexp2(x1, x2)
    return _e.logaddexp2_p.bind(x1, x2)


def heaviside(x1, x2):
    """``numpy.heaviside``: 0 for x1 < 0, x2 at x1 = 0, 1 for x1 > 0 (NaN for NaN); zero
    derivative in x1, derivative 1 in x2 where x1 = 0."""
    if not _traced(x1, x2):
        return np.heaviside(x1, x2)
    x1 = _inexact(_asarray(x1))
    step = _el.where(_el.greater(x1, 0), 1.0, 0.0)
    out = _el.where(_el.equal(x1, 0), x2, step)
    return _el.where(_el.isnan(x1), x1, out)


def i0(x):
    """``numpy.i0``, the modified Bessel function of order 0: I₀' = I₁."""
    if not trace_stack and not _foreign(x):  # others: the primitives
        return np.i0(x)
    return i0_p.bind(x)


def isposinf(x):
    return _el.logical_and(_el.isinf(x), _el.greater(x, 0))


def isneginf(x):
    return _el.logical_and(_el.isinf(x), _el.less(x, 0))


# --- tests ------------------------------------------------------------------------------------------

def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``numpy.isclose``: |a − b| ≤ atol + rtol·|b| (infinities equal only to themselves)."""
    if not _traced(a, b):
        return np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    a, b = _inexact(_asarray(a)), _inexact(_asarray(b))
    fin = _el.logical_and(_el.isfinite(a), _el.isfinite(b))
    close = _el.less_equal(_el.abs(a - b), atol + rtol * _el.abs(b))
    out = _el.where(fin, close, _el.equal(a, b))
    if equal_nan:
        out = _el.logical_or(out, _el.logical_and(_el.isnan(a), _el.isnan(b)))
    return out


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``numpy.allclose``: a Python bool without transformations, a boolean 0-d array when
    traced (``bool(...)`` of it needs concrete values: not under jit)."""
    if not _traced(a, b):
        return np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    return _red.all(isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def iscomplex(x):
    """``numpy.iscomplex``: Im x ≠ 0 (False for real dtypes)."""
    if dtype_of(x).kind != "c":
        return np.zeros(shape_of(x), bool)
    return _el.not_equal(_el.imag(x), 0)


def isreal(x):
    """``numpy.isreal``: Im x = 0."""
    if dtype_of(x).kind != "c":
        return np.ones(shape_of(x), bool)
    return _el.equal(_el.imag(x), 0)


def iscomplexobj(x):
    return dtype_of(x).kind == "c"


def isrealobj(x):
    return dtype_of(x).kind != "c"


def real_if_close(a, tol=100):
    """``numpy.real_if_close``: the real part when every imaginary part is below tol machine
    epsilons (decided on concrete values: not under jit)."""
    if not _traced(a):
        return np.real_if_close(a, tol=tol)
    if dtype_of(a).kind != "c":
        return a
    t = tol * np.finfo(dtype_of(a)).eps if tol > 1 else tol
    if bool(np.all(np.abs(np.imag(concrete_value(a))) < t)):
        return _el.real(a)
    return a


# --- ranges with traced endpoints -------------------------------------------------------------------

def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *,
             device=None):
    """``numpy.linspace``; differentiable in start and stop: start + (stop − start)·k/div."""
    if not _traced(start, stop):
        return np.linspace(start, stop, num=num, endpoint=endpoint, retstep=retstep,
                           dtype=dtype, axis=axis)
    num = int(num)
    if num < 0:
        raise ValueError(f"linspace: number of samples, {num}, must be non-negative")
    div = (num - 1) if endpoint else num
    start, stop = _inexact(_asarray(start)), _inexact(_asarray(stop))
    delta = stop - start
    shp = np.broadcast_shapes(shape_of(start), shape_of(stop))
    k = np.arange(num, dtype=np.float64).reshape((-1,) + (1,) * len(shp))
    if div > 0:
        step = delta / div
        y = start + k * step
        if endpoint and num > 1:
            y = concatenate([_getitem(y, slice(None, -1)),
                             reshape(broadcast_to(stop, shp), (1,) + shp)], axis=0)
    else:
        step = np.nan * delta
        y = start + k * delta
    if axis != 0:
        y = moveaxis(y, 0, axis)
    if dtype is not None:
        y = astype(y, dtype)
    return (y, step) if retstep else y


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """``numpy.logspace``: base ** linspace(start, stop) (differentiable in start, stop, base)."""
    if not _traced(start, stop, base):
        return np.logspace(start, stop, num=num, endpoint=endpoint, base=base, dtype=dtype,
                           axis=axis)
    y = linspace(start, stop, num=num, endpoint=endpoint, axis=axis)
    if len(shape_of(base)):
        base = _sh.expand_dims(base, axis)
    out = _el.power(base, y)
    return astype(out, dtype) if dtype is not None else out


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """``numpy.geomspace`` for positive (or both negative) endpoints: exp(linspace(log
    start, log stop)), with the endpoints exact."""
    if not _traced(start, stop):
        return np.geomspace(start, stop, num=num, endpoint=endpoint, dtype=dtype, axis=axis)
    start, stop = _inexact(_asarray(start)), _inexact(_asarray(stop))
    sign = _el.sign(start)
    y = sign * _el.exp(linspace(_el.log(_el.abs(start)), _el.log(_el.abs(stop)), num=num,
                                endpoint=endpoint, axis=0))
    num = int(num)
    if num > 0:  # exact endpoints, as NumPy
        y = concatenate([reshape(broadcast_to(start, shape_of(y)[1:]), (1,) + shape_of(y)[1:]),
                         _getitem(y, slice(1, None))], axis=0)
        if endpoint and num > 1:
            y = concatenate([_getitem(y, slice(None, -1)),
                             reshape(broadcast_to(stop, shape_of(y)[1:]),
                                     (1,) + shape_of(y)[1:])], axis=0)
    if axis != 0:
        y = moveaxis(y, 0, axis)
    return astype(y, dtype) if dtype is not None else y


# --- functional updates on any array ----------------------------------------------------------------

def at(x):
    """``at(x)[idx].set(v)`` (also .add, .multiply, .min, .max, .power, .divide, .get): the
    functional index update of ``x.at[idx]``, for *any* array. Use it in functions that must
    also run outside every transformation: plain NumPy arrays have no ``.at`` attribute,
    traced values do."""
    return _IndexUpdateHelper(x if isinstance(x, Tracer) else np.asarray(x))


