"""adjoin.numpy: reshaping, transposing, broadcasting, joining, splitting and padding.

The shape functions that rules use too are defined one layer down
(:mod:`adjoin.primitives.lax`) and re-exported here; ``concatenate`` and ``stack`` are
in :mod:`adjoin.numpy._sequences` (``array`` needs them), ``take`` in
:mod:`adjoin.numpy._indexing`.
"""
from __future__ import annotations

import builtins as _builtins

import numpy as np

from adjoin.core.axes import normalize_axis, normalize_axis_index
from adjoin.core.trace import shape_of
from adjoin.numpy._indexing import take
from adjoin.numpy._sequences import _any_foreign, _asarray, concatenate
from adjoin.primitives.lax import (broadcast_to, flip, moveaxis, reshape,  # noqa: F401
                                   swapaxes, transpose)
from adjoin.primitives.structural import (concatenate_p, diagonal_p,  # noqa: F401
                                          diagonal_scatter_p, pad_p, repeat_p, roll_p, tril_p,
                                          triu_p)
# imported under private names, so that ``from adjoin.numpy._shape import *`` (in
# adjoin/numpy/__init__.py) leaves them out: adjoin.numpy's where and sum are other functions
from adjoin.core.trace import Tracer as _Tracer, dtype_of as _dtype_of
from adjoin.core.trace import trace_stack as _trace_stack
from adjoin.backends import is_foreign as _foreign
from adjoin.primitives.indexing import slice_p as _slice_p
from adjoin.primitives.lax import astype as _astype, sum as _sum, where as _where

_bmin, _bmax = _builtins.min, _builtins.max


def ravel(a):
    """``numpy.ravel``."""
    return reshape(a, (-1,))


permute_dims = transpose


def matrix_transpose(a):
    return swapaxes(a, -1, -2)


def expand_dims(a, axis):
    """``numpy.expand_dims``."""
    s = shape_of(a)
    nd = len(s) + (len(axis) if isinstance(axis, (tuple, list)) else 1)
    axes = normalize_axis(axis, nd)
    it = iter(s)
    return reshape(a, tuple(1 if i in axes else next(it) for i in range(nd)))


def squeeze(a, axis=None):
    """``numpy.squeeze``."""
    s = shape_of(a)
    if axis is None:
        axes = tuple(i for i, n in enumerate(s) if n == 1)
    else:
        axes = normalize_axis(axis, len(s))
        for i in axes:
            if s[i] != 1:
                raise ValueError(f"cannot squeeze axis {i} of size {s[i]} (shape {s})")
    return reshape(a, tuple(n for i, n in enumerate(s) if i not in axes))


# --- joining, splitting, tiling -------------------------------------------------------------

def atleast_1d(*arys):
    """``numpy.atleast_1d``."""
    out = [a if len(shape_of(a)) >= 1 else reshape(_asarray(a), (1,)) for a in arys]
    return out[0] if len(out) == 1 else out


def atleast_2d(*arys):
    """``numpy.atleast_2d``."""
    out = []
    for a in arys:
        a = _asarray(a)
        s = shape_of(a)
        out.append(a if len(s) >= 2 else reshape(a, (1,) * (2 - len(s)) + s))
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys):
    """``numpy.atleast_3d``: (N,) → (1, N, 1), (M, N) → (M, N, 1)."""
    out = []
    for a in arys:
        a = _asarray(a)
        s = shape_of(a)
        if len(s) == 0:
            a = reshape(a, (1, 1, 1))
        elif len(s) == 1:
            a = reshape(a, (1, s[0], 1))
        elif len(s) == 2:
            a = reshape(a, s + (1,))
        out.append(a)
    return out[0] if len(out) == 1 else out


def vstack(tup, dtype=None):
    """``numpy.vstack``."""
    if not _trace_stack and not _any_foreign(tup):  # other backends: through the primitives
        return np.vstack(tup, dtype=dtype)
    return concatenate([atleast_2d(a) for a in tup], axis=0, dtype=dtype)


row_stack = vstack


def hstack(tup, dtype=None):
    """``numpy.hstack``."""
    if not _trace_stack and not _any_foreign(tup):  # other backends: through the primitives
        return np.hstack(tup, dtype=dtype)
    arrs = [atleast_1d(a) for a in tup]
    return concatenate(arrs, axis=0 if len(shape_of(arrs[0])) == 1 else 1, dtype=dtype)


def dstack(tup):
    """``numpy.dstack``."""
    if not _trace_stack and not _any_foreign(tup):  # other backends: through the primitives
        return np.dstack(tup)
    return concatenate([atleast_3d(a) for a in tup], axis=2)


def column_stack(tup):
    """``numpy.column_stack``: 1-D inputs become columns."""
    if not _trace_stack and not _any_foreign(tup):  # other backends: through the primitives
        return np.column_stack(tup)
    arrs = []
    for a in tup:
        a = _asarray(a)
        s = shape_of(a)
        arrs.append(reshape(a, (s[0], 1)) if len(s) == 1 else atleast_2d(a))
    return concatenate(arrs, axis=1)


def _slice_axis(a, axis, start, stop):
    s = shape_of(a)
    idx = tuple(("s", start, stop - start, 1) if i == axis else ("s", 0, n, 1)
                for i, n in enumerate(s))
    return _slice_p.bind(a, idx=idx)


def array_split(ary, indices_or_sections, axis=0):
    """``numpy.array_split`` (returns a list)."""
    if not _trace_stack and not _foreign(ary):  # other backends: through the primitives
        return np.array_split(ary, indices_or_sections, axis=axis)
    s = shape_of(ary)
    axis = normalize_axis_index(axis, len(s))
    n = s[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0:
            raise ValueError("number of sections must be larger than 0")
        q, r = divmod(n, k)
        sizes = [q + 1] * r + [q] * (k - r)
        bounds = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    else:
        cuts = [int(i) for i in indices_or_sections]
        bounds = [0] + cuts + [n]
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        lo = _bmin(_bmax(lo + n if lo < 0 else lo, 0), n)
        hi = _bmin(_bmax(hi + n if hi < 0 else hi, 0), n)
        out.append(_slice_axis(ary, axis, lo, _bmax(hi, lo)))
    return out


def split(ary, indices_or_sections, axis=0):
    """``numpy.split``: equal sections must divide the axis."""
    if not _trace_stack and not _foreign(ary):  # other backends: through the primitives
        return np.split(ary, indices_or_sections, axis=axis)
    if isinstance(indices_or_sections, (int, np.integer)):
        n = shape_of(ary)[normalize_axis_index(axis, len(shape_of(ary)))]
        if n % int(indices_or_sections):
            raise ValueError("array split does not result in an equal division; use "
                             "array_split for unequal sections")
    return array_split(ary, indices_or_sections, axis)


def hsplit(ary, indices_or_sections):
    if not _trace_stack and not _foreign(ary):  # other backends: through the primitives
        return np.hsplit(ary, indices_or_sections)
    return split(ary, indices_or_sections, axis=0 if len(shape_of(ary)) == 1 else 1)


def vsplit(ary, indices_or_sections):
    if not _trace_stack and not _foreign(ary):  # other backends: through the primitives
        return np.vsplit(ary, indices_or_sections)
    if len(shape_of(ary)) < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions")
    return split(ary, indices_or_sections, axis=0)


def dsplit(ary, indices_or_sections):
    if not _trace_stack and not _foreign(ary):  # other backends: through the primitives
        return np.dsplit(ary, indices_or_sections)
    if len(shape_of(ary)) < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return split(ary, indices_or_sections, axis=2)


def tile(A, reps):
    """``numpy.tile`` as broadcast + reshape (the pullback sums the copies)."""
    if not _trace_stack and not _foreign(A):  # other backends: through the primitives
        return np.tile(A, reps)
    A = _asarray(A)
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    s = shape_of(A)
    d = _bmax(len(s), len(reps))
    s = (1,) * (d - len(s)) + tuple(s)
    reps = (1,) * (d - len(reps)) + reps
    a = reshape(A, tuple(x for n in s for x in (1, n)))
    a = broadcast_to(a, tuple(x for r, n in zip(reps, s) for x in (r, n)))
    return reshape(a, tuple(r * n for r, n in zip(reps, s)))


def repeat(a, repeats, axis=None):
    """``numpy.repeat`` with static repeats (an int or one per entry)."""
    if not _trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.repeat(a, repeats, axis=axis)
    a = _asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axis_index(axis, len(shape_of(a)))
    r = np.asarray(repeats)
    if r.ndim == 0 or r.size == 1:
        repeats = int(r.reshape(()))
    else:
        if r.shape != (shape_of(a)[axis],):
            raise ValueError(f"repeat: {r.size} repeats for an axis of length "
                             f"{shape_of(a)[axis]}")
        repeats = tuple(int(i) for i in r)
    if isinstance(repeats, int) and repeats < 0 or not isinstance(repeats, int) and \
            _bmin(repeats) < 0:
        raise ValueError("repeat: negative repeats")
    return repeat_p.bind(a, repeats=repeats, axis=axis)


# --- flips, rolls, padding --------------------------------------------------------------------

def fliplr(m):
    if len(shape_of(m)) < 2:
        raise ValueError("fliplr: input must be at least 2-d")
    return flip(m, 1)


def flipud(m):
    if len(shape_of(m)) < 1:
        raise ValueError("flipud: input must be at least 1-d")
    return flip(m, 0)


def rot90(m, k=1, axes=(0, 1)):
    """``numpy.rot90`` by flips and transposes."""
    if not _trace_stack and not _foreign(m):  # other backends: through the primitives
        return np.rot90(m, k, axes)
    k %= 4
    a0, a1 = axes
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, a0), a1)
    if k == 1:
        return swapaxes(flip(m, a1), a0, a1)
    return flip(swapaxes(m, a0, a1), a1)


def roll(a, shift, axis=None):
    """``numpy.roll`` (axis=None rolls the flattened array)."""
    if not _trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.roll(a, shift, axis)
    if axis is None:
        s = shape_of(a)
        return reshape(roll(ravel(a), shift, 0), s)
    shifts = np.atleast_1d(np.asarray(shift)).tolist()
    axes = [normalize_axis_index(x, len(shape_of(a))) for x in np.atleast_1d(axis).tolist()]
    if len(shifts) == 1 and len(axes) > 1:
        shifts = shifts * len(axes)
    if len(axes) == 1 and len(shifts) > 1:
        axes = axes * len(shifts)
    if len(shifts) != len(axes):
        raise ValueError("roll: shift and axis must have the same length")
    return roll_p.bind(a, shifts=tuple(int(x) for x in shifts), axes=tuple(axes))


def _pad_widths(pad_width, nd):
    w = np.asarray(pad_width, dtype=np.int64)
    if w.ndim == 0:
        w = np.full((nd, 2), int(w))
    elif w.shape == (1,):
        w = np.full((nd, 2), int(w[0]))
    elif w.shape == (2,):
        w = np.tile(w, (nd, 1))
    elif w.shape == (1, 2):
        w = np.tile(w[0], (nd, 1))
    if w.shape != (nd, 2):
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit an array of dimension {nd}")
    if (w < 0).any():
        raise ValueError("pad: negative pad widths are not allowed")
    return tuple((int(lo), int(hi)) for lo, hi in w)


def pad(array, pad_width, mode="constant", constant_values=0):
    """``numpy.pad`` for modes constant (any scalar value, differentiable too), edge,
    reflect, symmetric and wrap (the last four as gathers with static indices)."""
    if not _trace_stack and not _foreign(array):  # other backends: through the primitives
        if mode == "constant":
            return np.pad(array, pad_width, mode, constant_values=constant_values)
        return np.pad(array, pad_width, mode)
    array = _asarray(array)
    s = shape_of(array)
    widths = _pad_widths(pad_width, len(s))
    if mode == "constant":
        if np.ndim(constant_values) != 0 and not isinstance(constant_values, _Tracer):
            cv = np.asarray(constant_values)
            if np.all(cv == cv.flat[0]):
                constant_values = cv.flat[0]
            else:
                raise NotImplementedError("pad: per-axis constant_values are not supported; "
                                          "pad once per axis instead")
        out = pad_p.bind(array, widths=widths)
        if isinstance(constant_values, _Tracer) or constant_values != 0:
            mask = np.pad(np.zeros(s, dtype=bool), widths, constant_values=True)
            out = _where(mask, constant_values, out)
            if _dtype_of(out) != _dtype_of(array) and not isinstance(constant_values, _Tracer):
                out = _astype(out, _dtype_of(array))
        return out
    if mode not in ("edge", "reflect", "symmetric", "wrap"):
        raise NotImplementedError(f"pad: mode {mode!r} is not supported; use constant, edge, "
                                  "reflect, symmetric or wrap")
    out = array
    for ax, (lo, hi) in enumerate(widths):
        if lo == 0 and hi == 0:
            continue
        if s[ax] == 0:
            raise ValueError(f"pad: can't extend the empty axis {ax} with mode {mode!r}")
        idx = np.pad(np.arange(s[ax]), (lo, hi), mode=mode)
        out = take(out, idx, axis=ax)
    return out


# --- diagonals and triangles -----------------------------------------------------------------

def diagonal(a, offset=0, axis1=0, axis2=1):
    """``numpy.diagonal`` (the diagonal is the last axis of the result)."""
    if not _trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.diagonal(a, offset, axis1, axis2)
    nd = len(shape_of(a))
    if nd < 2:
        raise ValueError("diagonal requires an array of at least two dimensions")
    a1, a2 = normalize_axis_index(axis1, nd, "axis1"), normalize_axis_index(axis2, nd, "axis2")
    if a1 == a2:
        raise ValueError("diagonal: axis1 and axis2 cannot be the same")
    return diagonal_p.bind(a, offset=int(offset), axis1=a1, axis2=a2)


def trace(a, offset=0, axis1=0, axis2=1, dtype=None):
    """``numpy.trace``: the sum of the diagonal."""
    if not _trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.trace(a, offset, axis1, axis2, dtype)
    return _sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


def diag(v, k=0):
    """``numpy.diag``: a 1-D input becomes a (k-shifted) diagonal matrix, a 2-D input
    gives its k-th diagonal."""
    if not _trace_stack and not _foreign(v):  # other backends: through the primitives
        return np.diag(v, k)
    v = _asarray(v)
    s = shape_of(v)
    if len(s) == 1:
        n = s[0] + abs(int(k))
        return diagonal_scatter_p.bind(v, offset=int(k), axis1=0, axis2=1, shape=(n, n))
    if len(s) == 2:
        return diagonal(v, k)
    raise ValueError("diag: input must be 1-d or 2-d")


def diagflat(v, k=0):
    return diag(ravel(v), k)


def _tri(prim, npfn, m, k):
    if not _trace_stack and not _foreign(m):  # other backends: through the primitives
        return npfn(m, k)
    m = _asarray(m)
    s = shape_of(m)
    if len(s) == 0:
        raise ValueError("triu/tril: input must be at least 1-d")
    if len(s) == 1:
        m = broadcast_to(m, (s[0], s[0]))
    return prim.bind(m, k=int(k))


def triu(m, k=0):
    """``numpy.triu`` (on the last two axes)."""
    return _tri(triu_p, np.triu, m, k)


def tril(m, k=0):
    """``numpy.tril`` (on the last two axes)."""
    return _tri(tril_p, np.tril, m, k)


# --- broadcasting helpers ---------------------------------------------------------------------

def broadcast_arrays(*args):
    """``numpy.broadcast_arrays`` (returns a list)."""
    if not _trace_stack and not _any_foreign(args):  # other backends: through the primitives
        return list(np.broadcast_arrays(*args))
    shape = np.broadcast_shapes(*[shape_of(a) for a in args])
    return [broadcast_to(_asarray(a), shape) for a in args]


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """``numpy.meshgrid`` (differentiable in the coordinate vectors)."""
    if not _trace_stack and not _any_foreign(xi):  # other backends: through the primitives
        return list(np.meshgrid(*xi, copy=copy, sparse=sparse, indexing=indexing))
    if indexing not in ("xy", "ij"):
        raise ValueError("meshgrid: indexing must be 'xy' or 'ij'")
    xs = [ravel(_asarray(x)) for x in xi]
    nd = len(xs)
    shapes = []
    for i, x in enumerate(xs):
        s = [1] * nd
        s[i] = shape_of(x)[0]
        shapes.append(s)
    if indexing == "xy" and nd > 1:
        for s in shapes:
            s[0], s[1] = s[1], s[0]
    out = [reshape(x, tuple(s)) for x, s in zip(xs, shapes)]
    if sparse:
        return out
    full = tuple(int(np.max([s[d] for s in shapes])) for d in range(nd))
    return [broadcast_to(o, full) for o in out]
