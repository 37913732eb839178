"""adjoin.numpy: reductions (sums, products, extrema, statistics, cumulative ops)."""
from __future__ import annotations

import builtins

import numpy as np

from adjoin.backends import is_foreign as _foreign
from adjoin.core.avals import is_inexact
from adjoin.core.axes import normalize_axis, normalize_axis_index
from adjoin.core.trace import dtype_of, shape_of, trace_stack
from adjoin.numpy._elementwise import (conj, equal, greater, isnan, logical_not, maximum, minimum,
                                       not_equal, real, sqrt, where)
from adjoin.numpy._sequences import concatenate
from adjoin.primitives.lax import astype, broadcast_to, reshape
from adjoin.primitives.lax import sum  # noqa: A004  (defined where rules call it)
from adjoin.primitives.reductions import (argmax_p, argmin_p, cumprod_p, cumsum_p, max_p,
                                          min_p, prod_p, sum_p)

__all__ = ["sum", "mean", "prod", "max", "min", "amax", "amin", "var", "std", "cumsum",
           "cumprod", "argmax", "argmin", "any", "all", "average", "count_nonzero", "ptp",
           "nansum", "nanmean", "product", "cumulative_sum", "cumulative_prod"]


def _axes(a, axis):
    return normalize_axis(axis, len(shape_of(a)))


def _count(a, axes):
    s = shape_of(a)
    return int(np.prod([s[i] for i in axes], dtype=np.int64))


def prod(a, axis=None, dtype=None, keepdims=False):
    """``numpy.prod``; the derivative uses products of the other entries (exact at zeros)."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.prod(a, axis=axis, dtype=dtype, keepdims=keepdims)
    axes = _axes(a, axis)
    if dtype is not None:
        a = astype(a, dtype)
    return prod_p.bind(a, axes=axes, keepdims=bool(keepdims))


product = prod


def _extremum(prim, npfn, a, axis, keepdims, initial, what):
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        kw = {} if initial is None else {"initial": initial}
        return npfn(a, axis=axis, keepdims=keepdims, **kw)
    axes = _axes(a, axis)
    if _count(a, axes) == 0 and initial is None:
        raise ValueError(f"zero-size array to reduction operation {what} which has no identity; "
                         "pass initial=")
    out = prim.bind(a, axes=axes, keepdims=bool(keepdims))
    if initial is not None:
        out = (maximum if prim is max_p else minimum)(out, initial)
    return out


def max(a, axis=None, keepdims=False, initial=None):  # noqa: A001
    """``numpy.max``; the derivative goes to the maximal entries (ties split evenly)."""
    return _extremum(max_p, np.max, a, axis, keepdims, initial, "maximum")


def min(a, axis=None, keepdims=False, initial=None):  # noqa: A001
    """``numpy.min``; the derivative goes to the minimal entries (ties split evenly)."""
    return _extremum(min_p, np.min, a, axis, keepdims, initial, "minimum")


amax, amin = max, min


def ptp(a, axis=None, keepdims=False):
    """``numpy.ptp``: max − min."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.ptp(a, axis=axis, keepdims=keepdims)
    return max(a, axis, keepdims) - min(a, axis, keepdims)


def _float(a):
    return a if is_inexact(a) else astype(a, np.float64)


def mean(a, axis=None, dtype=None, keepdims=False):
    """``numpy.mean``."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.mean(a, axis=axis, dtype=dtype, keepdims=keepdims)
    axes = _axes(a, axis)
    a = astype(a, dtype) if dtype is not None else _float(a)
    n = _count(a, axes)
    return sum_p.bind(a, axes=axes, keepdims=bool(keepdims)) / (n if n else np.nan)


def var(a, axis=None, dtype=None, ddof=0, keepdims=False):
    """``numpy.var``: mean(|a − mean(a)|²)·N/(N − ddof)."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)
    axes = _axes(a, axis)
    a = astype(a, dtype) if dtype is not None else _float(a)
    d = a - sum_p.bind(a, axes=axes, keepdims=True) / builtins.max(_count(a, axes), 1)
    if dtype_of(d).kind == "c":
        sq = real(d * conj(d))
    else:
        sq = d * d
    denom = _count(a, axes) - ddof
    return sum_p.bind(sq, axes=axes, keepdims=bool(keepdims)) / (denom if denom > 0 else np.nan)


def std(a, axis=None, dtype=None, ddof=0, keepdims=False):
    """``numpy.std``: sqrt(var).

    Over axes of total size 1 (or axis=()) std is identically 0 (NaN for ddof ≥ 1), and so
    is var: var is returned, with its derivative 0, where sqrt'(0) = inf would give
    0·inf = NaN. Elsewhere the derivative at var = 0 is NaN, as in JAX (std is not
    differentiable there).
    """
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.std(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)
    v = var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)
    return v if _count(a, _axes(a, axis)) == 1 else sqrt(v)


def _cum_axis(a, axis):
    """(array, axis) for a cumulative op: axis=None flattens, as NumPy does."""
    if axis is None:
        return reshape(a, (-1,)), 0
    return a, normalize_axis_index(axis, len(shape_of(a)))


def cumsum(a, axis=None, dtype=None):
    """``numpy.cumsum`` (axis=None: of the flattened array)."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.cumsum(a, axis=axis, dtype=dtype)
    a, ax = _cum_axis(a, axis)
    if dtype is not None:
        a = astype(a, dtype)
    return cumsum_p.bind(a, axis=ax, reverse=False)


def cumprod(a, axis=None, dtype=None):
    """``numpy.cumprod`` (axis=None: of the flattened array); exact derivative at zeros."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.cumprod(a, axis=axis, dtype=dtype)
    a, ax = _cum_axis(a, axis)
    if dtype is not None:
        a = astype(a, dtype)
    return cumprod_p.bind(a, axis=ax)


def _cumulative(name, cum, initial, x, axis, dtype, include_initial):
    """NumPy 2's cumulative_sum / cumulative_prod on the traced path: ``cum`` along one axis
    (a 0-d array counts as 1-D; axis=None only for 1-D input), with the identity ``initial``
    prepended along that axis when ``include_initial`` (the output axis is one longer).
    The prepended entry is a constant, so its derivative is 0."""
    nd = len(shape_of(x))
    if nd == 0:
        x, nd = reshape(x, (1,)), 1
    if axis is None:
        if nd > 1:
            raise ValueError(f"{name}: for arrays with more than one dimension the axis "
                             f"argument is required (got shape {shape_of(x)})")
        axis = 0
    axis = normalize_axis_index(axis, nd)
    out = cum(x, axis, dtype)
    if not include_initial:
        return out
    first = list(shape_of(out))
    first[axis] = 1
    return concatenate([np.full(first, initial, dtype_of(out)), out], axis=axis)


def cumulative_sum(x, axis=None, dtype=None, include_initial=False):
    """``numpy.cumulative_sum`` (NumPy 2): ``include_initial=True`` prepends a 0 along the
    axis. Linear: its derivative is cumulative_sum of the tangent (0 for the initial 0)."""
    if not trace_stack and not _foreign(x):  # other backends: through the primitives
        return np.cumulative_sum(x, axis=axis, dtype=dtype, include_initial=include_initial)
    return _cumulative("cumulative_sum", cumsum, 0, x, axis, dtype, include_initial)


def cumulative_prod(x, axis=None, dtype=None, include_initial=False):
    """``numpy.cumulative_prod`` (NumPy 2): ``include_initial=True`` prepends a 1 along the
    axis. The derivative is cumprod's (exact at zeros), 0 for the initial 1."""
    if not trace_stack and not _foreign(x):  # other backends: through the primitives
        return np.cumulative_prod(x, axis=axis, dtype=dtype, include_initial=include_initial)
    return _cumulative("cumulative_prod", cumprod, 1, x, axis, dtype, include_initial)


def _arg(prim, npfn, a, axis, keepdims):
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return npfn(a, axis=axis, keepdims=keepdims)
    if axis is None:
        nd = len(shape_of(a))
        out = prim.bind(reshape(a, (-1,)), axis=0, keepdims=False)
        return reshape(out, (1,) * nd) if keepdims else out
    return prim.bind(a, axis=normalize_axis_index(axis, len(shape_of(a))), keepdims=bool(keepdims))


def argmax(a, axis=None, keepdims=False):
    """``numpy.argmax`` (integer output, not differentiable)."""
    return _arg(argmax_p, np.argmax, a, axis, keepdims)


def argmin(a, axis=None, keepdims=False):
    """``numpy.argmin`` (integer output, not differentiable)."""
    return _arg(argmin_p, np.argmin, a, axis, keepdims)


def _nonzero_count(a, axis, keepdims):
    nz = astype(not_equal(a, 0), np.int64)
    return sum_p.bind(nz, axes=_axes(a, axis), keepdims=bool(keepdims))


def count_nonzero(a, axis=None, *, keepdims=False):
    """``numpy.count_nonzero``."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.count_nonzero(a, axis=axis, keepdims=keepdims)
    return _nonzero_count(a, axis, keepdims)


def any(a, axis=None, keepdims=False):  # noqa: A001
    """``numpy.any`` (boolean, not differentiable)."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.any(a, axis=axis, keepdims=keepdims)
    return greater(_nonzero_count(a, axis, keepdims), 0)


def all(a, axis=None, keepdims=False):  # noqa: A001
    """``numpy.all`` (boolean, not differentiable)."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.all(a, axis=axis, keepdims=keepdims)
    n = _count(a, _axes(a, axis))
    return equal(_nonzero_count(a, axis, keepdims), n)


def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """``numpy.average``: Σ w·a / Σ w (differentiable in a and the weights)."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.average(a, axis=axis, weights=weights, returned=returned, keepdims=keepdims)
    if weights is None:
        out = mean(a, axis=axis, keepdims=keepdims)
        if returned:
            return out, np.full(shape_of(out), float(_count(a, _axes(a, axis))))
        return out
    sa, sw = shape_of(a), shape_of(weights)
    if sa != sw:
        if axis is None:
            raise TypeError("average: axis must be given when the shapes of a and weights "
                            "differ")
        if isinstance(axis, (tuple, list)) or len(sw) != 1:
            raise TypeError("average: 1-D weights need an int axis; otherwise weights must "
                            "have the shape of a")
        ax = normalize_axis_index(axis, len(sa))
        if sw[0] != sa[ax]:
            raise ValueError(f"average: length of weights {sw[0]} differs from the length "
                             f"{sa[ax]} of axis {axis}")
        weights = reshape(weights, tuple(sw[0] if i == ax else 1 for i in range(len(sa))))
    a, weights = _float(a), _float(weights)
    wsum = sum(broadcast_to(weights, shape_of(a)) if shape_of(weights) != shape_of(a)
               else weights, axis=axis, keepdims=keepdims)
    out = sum(a * weights, axis=axis, keepdims=keepdims) / wsum
    return (out, wsum) if returned else out


def nansum(a, axis=None, dtype=None, keepdims=False):
    """``numpy.nansum``: NaNs count as zero (and get a zero derivative)."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.nansum(a, axis=axis, dtype=dtype, keepdims=keepdims)
    return sum(where(isnan(a), 0.0, a), axis=axis, dtype=dtype, keepdims=keepdims)


def nanmean(a, axis=None, dtype=None, keepdims=False):
    """``numpy.nanmean``: the mean of the entries that are not NaN."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.nanmean(a, axis=axis, dtype=dtype, keepdims=keepdims)
    n = sum(astype(logical_not(isnan(a)), np.float64), axis=axis, keepdims=keepdims)
    return nansum(a, axis=axis, dtype=dtype, keepdims=keepdims) / n
