"""adjoin.numpy: indexing ``x[idx]`` and functional updates ``x.at[idx].set(y)``.

Every NumPy index (ints, slices with any step, ellipsis, newaxis, integer arrays,
boolean masks, in any combination) is reduced to three primitives: a basic
``slice``, a ``transpose`` that brings the axes indexed by arrays to the front,
and a ``gather`` on those leading axes. NumPy's placement rule for the
broadcast index dimensions (in place when the array indices are adjacent, in
front otherwise) is applied with one more transpose. Updates use the adjoint
primitives (``slice_scatter``, ``scatter_add``, ``scatter_set``). ``take`` and
``take_along_axis`` are indexing too and live here.

This module sits below the shape functions of adjoin.numpy (``pad`` gathers with
``take``): it builds on :mod:`adjoin.primitives.lax`, the elementwise functions and
``_sequences`` only.
"""
from __future__ import annotations

import numpy as np

from adjoin.backends import is_foreign as _foreign, to_numpy
from adjoin.core.axes import normalize_axis_index
from adjoin.core.trace import (ConcretizationError, Tracer, concrete_value, dtype_of, shape_of,
                               trace_stack)
from adjoin.numpy._elementwise import maximum, minimum, negative, power, reciprocal
from adjoin.numpy._sequences import _asarray
from adjoin.primitives.indexing import (basic_result_shape, gather_p, is_identity_index,
                                        normalize_basic, scatter_add_p, scatter_set_p, slice_p,
                                        slice_scatter_p, to_numpy_index)
from adjoin.primitives.lax import astype, broadcast_to, reshape, transpose, where

__all__ = ["_getitem", "_IndexUpdateHelper", "take", "take_along_axis"]


# --- parsing ----------------------------------------------------------------------------------

class _Adv:
    """An integer index array (concrete or traced) in the parsed index."""
    __slots__ = ("arr",)

    def __init__(self, arr):
        self.arr = arr


def _mask_indices(mask, axis, shape):
    m = np.asarray(mask)
    if tuple(m.shape) != tuple(shape[axis:axis + m.ndim]):
        raise IndexError(f"boolean index of shape {m.shape} does not match the indexed axes "
                         f"{tuple(shape[axis:axis + m.ndim])} (from axis {axis})")
    return [_Adv(i) for i in np.nonzero(m)]


def _parse(idx, shape):
    """The index as a list of entries: None, slice, or _Adv (ints and arrays), with the
    ellipsis expanded. Boolean masks become integer arrays (np.nonzero)."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    entries = []
    for e in idx:
        if e is None or e is Ellipsis or isinstance(e, slice):
            entries.append(e)
        elif isinstance(e, (bool, np.bool_)):
            raise IndexError("indexing with a Python bool is not supported; use a boolean "
                             "array of the indexed shape")
        elif isinstance(e, (int, np.integer)):
            entries.append(int(e))
        elif isinstance(e, Tracer) or _foreign(e):
            if dtype_of(e).kind == "b" and not isinstance(e, Tracer):
                entries.append(("mask", to_numpy(e)))
            elif dtype_of(e).kind == "b":
                try:
                    entries.append(("mask", np.asarray(concrete_value(e))))
                except ConcretizationError:
                    raise IndexError(
                        "a boolean mask that is traced (under vmap or make_graph) has no "
                        "concrete value, and the size of x[mask] depends on it. Use "
                        "adjoin.numpy.where(mask, x, 0) (or a fill value) instead of x[mask]."
                    ) from None
            elif dtype_of(e).kind in "iu":
                entries.append(_Adv(e))
            else:
                raise IndexError(f"arrays used as indices must be of integer (or boolean) type, "
                                 f"got {dtype_of(e)}")
        else:
            a = np.asarray(e)
            if a.dtype == object:
                raise IndexError(f"unsupported index {e!r}")
            if a.dtype.kind == "b":
                entries.append(("mask", a))
            elif a.dtype.kind in "iu" or (a.size == 0 and isinstance(e, (list, tuple))):
                a = a.astype(np.intp) if a.dtype.kind not in "iu" else a
                entries.append(int(a) if a.ndim == 0 else _Adv(a))
            else:
                raise IndexError(f"arrays used as indices must be of integer (or boolean) "
                                 f"type, got {a.dtype}")
    used = sum(e[1].ndim if isinstance(e, tuple) else 1
               for e in entries if e is not None and e is not Ellipsis)
    if sum(e is Ellipsis for e in entries) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if used > len(shape):
        raise IndexError(f"too many indices for array: array is {len(shape)}-dimensional, but "
                         f"{used} were indexed")
    out, axis = [], 0
    for e in entries:
        if e is Ellipsis:
            for _ in range(len(shape) - used):
                out.append(slice(None))
                axis += 1
        elif e is None:
            out.append(None)
        elif isinstance(e, tuple):  # boolean mask
            adv = _mask_indices(e[1], axis, shape)
            out.extend(adv)
            axis += e[1].ndim
        else:
            out.append(e)
            axis += 1
    while axis < len(shape):
        out.append(slice(None))
        axis += 1
    return out


def _plan(x, idx):
    """Reduce an index to (basic index, perm, index arrays, placement).

    ``x[idx] == moveB(gather(transpose(x[basic], perm), *arrays))``; ``adv_pos`` is the
    axis where NumPy puts the broadcast index dimensions (0 when they go in front).
    Returns None for the adv part when the index is basic.
    """
    shape = shape_of(x)
    entries = _parse(idx, shape)
    has_adv = any(isinstance(e, _Adv) for e in entries)
    if not has_adv:
        return normalize_basic(tuple(entries), shape), None
    # ints are advanced indices when arrays are present
    entries = [_Adv(np.asarray(e, np.intp)) if isinstance(e, int) else e for e in entries]
    basic, adv_axes, arrays, positions, yaxis = [], [], [], [], 0
    for k, e in enumerate(entries):
        if isinstance(e, _Adv):
            basic.append(slice(None))
            adv_axes.append(yaxis)
            arrays.append(e.arr)
            positions.append(k)
            yaxis += 1
        else:
            basic.append(e)
            yaxis += 1
    nidx = normalize_basic(tuple(basic), shape)
    y_nd = len(basic_result_shape(nidx))
    others = [i for i in range(y_nd) if i not in adv_axes]
    perm = tuple(adv_axes) + tuple(others)
    adjacent = positions == list(range(positions[0], positions[0] + len(positions)))
    return nidx, (perm, arrays, adv_axes[0] if adjacent else 0)


def _index_shape(arrays):
    return np.broadcast_shapes(*[shape_of(a) for a in arrays])


def _check_bounds(arrays, shape):
    for a, n in zip(arrays, shape):
        if isinstance(a, np.ndarray) and a.size:
            lo, hi = int(a.min()), int(a.max())
            if lo < -n or hi >= n:
                bad = hi if hi >= n else lo
                raise IndexError(f"index {bad} is out of bounds for an axis of size {n}")


def _b_to(nb, pos, nd):
    """Permutation moving the first nb axes (B) to position ``pos``."""
    rest = list(range(nb, nd))
    return tuple(rest[:pos]) + tuple(range(nb)) + tuple(rest[pos:])


def _getitem(x, idx):
    """``x[idx]`` with NumPy's semantics, differentiable in x."""
    if not trace_stack and type(x) is np.ndarray:
        return x[idx]
    if not isinstance(x, Tracer) and not isinstance(x, np.ndarray) and not _foreign(x):
        x = np.asarray(x)
        if not trace_stack:
            return x[idx]
    # traced values, and other backends' arrays (whose own indexing differs from NumPy's):
    # through the primitives
    nidx, adv = _plan(x, idx)
    y = x if is_identity_index(nidx, shape_of(x)) else slice_p.bind(x, idx=nidx)
    if adv is None:
        return y
    perm, arrays, pos = adv
    _check_bounds(arrays, [shape_of(y)[p] for p in perm])
    out = gather_p.bind(transpose(y, perm), *arrays)
    if pos:
        nb = len(_index_shape(arrays))
        out = transpose(out, _b_to(nb, pos, len(shape_of(out))))
    return out


# --- take (NumPy's indexing routines) -------------------------------------------------------

def take(a, indices, axis=None, mode=None):
    """``numpy.take`` (integer indices, static or a non-differentiable traced array)."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.take(a, indices, axis=axis, mode=mode)
    if mode not in (None, "raise"):
        raise NotImplementedError("take: only mode='raise' is supported")
    a = _asarray(a)
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    axis = normalize_axis_index(axis, len(shape_of(a)))
    if not isinstance(indices, Tracer) and not _foreign(indices):
        indices = np.asarray(indices)
        if indices.dtype.kind not in "iu":
            raise IndexError(f"take: indices must be integers, got dtype {indices.dtype}")
    return _getitem(a, (slice(None),) * axis + (indices,))


def take_along_axis(arr, indices, axis):
    """``numpy.take_along_axis``."""
    if not trace_stack and not _foreign(arr) and not _foreign(indices):  # other backends:
        return np.take_along_axis(arr, indices, axis)                     # the primitives
    arr = _asarray(arr)
    if axis is None:
        arr, axis = reshape(arr, (-1,)), 0
    s = shape_of(arr)
    nd = len(s)
    axis = normalize_axis_index(axis, nd)
    if len(shape_of(indices)) != nd:
        raise ValueError("take_along_axis: indices and arr must have the same number of "
                         "dimensions")
    idx = []
    for d in range(nd):
        if d == axis:
            idx.append(indices)
        else:
            shp = [1] * nd
            shp[d] = s[d]
            idx.append(np.arange(s[d]).reshape(shp))
    return _getitem(arr, tuple(idx))


# --- functional updates --------------------------------------------------------------------------

def _duplicate_layers(arrays, shape):
    """For concrete index arrays: the positions (into the flattened broadcast index) of
    each layer of updates such that no layer repeats a target. None when there are no
    repeats (or the indices are traced)."""
    if any(isinstance(a, Tracer) for a in arrays):
        return None
    b = _index_shape(arrays)
    flat = [np.broadcast_to(a, b).reshape(-1) % n for a, n in zip(arrays, shape)]
    key = np.ravel_multi_index(flat, shape[:len(arrays)]) if flat else np.zeros(0, np.intp)
    order = np.argsort(key, kind="stable")
    sk = key[order]
    start = np.r_[0, np.nonzero(np.diff(sk))[0] + 1] if sk.size else np.zeros(0, np.intp)
    rank = np.empty_like(order)
    run = np.arange(sk.size) - np.repeat(start, np.diff(np.r_[start, sk.size]))
    rank[order] = run
    if not sk.size or rank.max() == 0:
        return None
    return [np.nonzero(rank == r)[0] for r in range(int(rank.max()) + 1)]


def _scatter_mul(w, u, arrays):
    """w with w[arrays] *= u (repeated indices multiply in turn)."""
    ones = np.ones(shape_of(w), np.result_type(dtype_of(w), dtype_of(u)))
    layers = _duplicate_layers(arrays, shape_of(w))
    if layers is None:
        return w * scatter_set_p.bind(ones, u, *arrays)
    b = _index_shape(arrays)
    nb = len(b)
    rest = shape_of(u)[nb:]
    m = int(np.prod(b, dtype=np.int64))
    u_flat = reshape(u, (m,) + tuple(rest))
    flat = [np.broadcast_to(a, b).reshape(-1) for a in arrays]
    factor = None
    for sel in layers:
        f = scatter_set_p.bind(ones, gather_p.bind(u_flat, sel), *[a[sel] for a in flat])
        factor = f if factor is None else factor * f
    return w * factor


def _combine(op):
    """x[idx] = op(x[idx], y) for the .at[] updates min, max and power."""
    return {"min": minimum, "max": maximum, "power": power}[op]


def _scatter_combine(w, u, arrays, fn):
    """w with w[arrays] = fn(w[arrays], u), repeated indices applied in turn (np.minimum.at)."""
    layers = _duplicate_layers(arrays, shape_of(w))
    if layers is None:
        return scatter_set_p.bind(w, fn(gather_p.bind(w, *arrays), u), *arrays)
    b = _index_shape(arrays)
    rest = shape_of(u)[len(b):]
    m = int(np.prod(b, dtype=np.int64))
    u_flat = reshape(u, (m,) + tuple(rest))
    flat = [np.broadcast_to(a, b).reshape(-1) for a in arrays]
    for sel in layers:
        at = [a[sel] for a in flat]
        w = scatter_set_p.bind(w, fn(gather_p.bind(w, *at), gather_p.bind(u_flat, sel)), *at)
    return w


def _update(x, idx, y, op):
    if not isinstance(x, Tracer) and not isinstance(x, np.ndarray) and not _foreign(x):
        x = np.asarray(x)
    xshape = shape_of(x)
    nidx, adv = _plan(x, idx)
    ident = is_identity_index(nidx, xshape)
    if op in ("min", "max", "power") and adv is None:
        return _update(x, idx, _combine(op)(_getitem(x, idx), y), "set")
    if adv is None:
        target = basic_result_shape(nidx)
        yb = broadcast_to(y, target)
        if ident:
            w_new = {"set": lambda: yb, "add": lambda: x + yb, "multiply": lambda: x * yb}[op]()
            if op == "set" and dtype_of(w_new) != dtype_of(x):
                w_new = _cast(w_new, x)
            return broadcast_to(w_new, xshape)
        mask = _mask(xshape, nidx)
        placed = slice_scatter_p.bind(yb, idx=nidx, shape=xshape)
        if op == "set":
            return where(mask, placed, x)
        if op == "add":
            return x + placed
        return x * where(mask, placed, np.ones((), dtype_of(placed)))
    perm, arrays, pos = adv
    w = x if ident else slice_p.bind(x, idx=nidx)
    wshape = shape_of(w)
    _check_bounds(arrays, [wshape[p] for p in perm])
    wt = transpose(w, perm)
    b = _index_shape(arrays)
    nb = len(b)
    g_shape = tuple(b) + tuple(shape_of(wt)[len(arrays):])
    if pos:
        np_shape = tuple(shape_of(wt)[len(arrays):][:pos]) + tuple(b) + \
            tuple(shape_of(wt)[len(arrays):][pos:])
        yb = broadcast_to(y, np_shape)
        yg = transpose(yb, tuple(int(i) for i in np.argsort(_b_to(nb, pos, len(np_shape)))))
    else:
        yg = broadcast_to(y, g_shape)
    if op == "add":
        wt_new = scatter_add_p.bind(wt, yg, *arrays)
    elif op == "set":
        wt_new = scatter_set_p.bind(wt, yg, *arrays)
    elif op in ("min", "max", "power"):
        wt_new = _scatter_combine(wt, yg, arrays, _combine(op))
    else:
        wt_new = _scatter_mul(wt, yg, arrays)
    w_new = transpose(wt_new, tuple(int(i) for i in np.argsort(perm)))
    if ident:
        return w_new
    return where(_mask(xshape, nidx), slice_scatter_p.bind(w_new, idx=nidx, shape=xshape), x)


def _cast(v, x):
    return astype(v, dtype_of(x))


def _mask(shape, nidx):
    m = np.zeros(shape, bool)
    m[to_numpy_index(nidx)] = True
    return m


class _IndexUpdateRef:
    __slots__ = ("x", "idx")

    def __init__(self, x, idx):
        self.x, self.idx = x, idx

    def get(self, **kwargs):
        """``x[idx]``."""
        return _getitem(self.x, self.idx)

    def set(self, y, **kwargs):
        """``x`` with ``x[idx] = y`` (repeated indices: the last write wins, as in NumPy)."""
        return _update(self.x, self.idx, y, "set")

    def add(self, y, **kwargs):
        """``x`` with ``x[idx] += y``; repeated indices accumulate (``np.add.at``)."""
        return _update(self.x, self.idx, y, "add")

    def subtract(self, y, **kwargs):
        return _update(self.x, self.idx, negative(y), "add")

    def multiply(self, y, **kwargs):
        """``x`` with ``x[idx] *= y``; repeated indices multiply (``np.multiply.at``)."""
        return _update(self.x, self.idx, y, "multiply")

    mul = multiply

    def divide(self, y, **kwargs):
        """``x`` with ``x[idx] /= y`` (repeated indices divide in turn)."""
        return _update(self.x, self.idx, reciprocal(y), "multiply")

    def min(self, y, **kwargs):
        """``x`` with ``x[idx] = minimum(x[idx], y)``; repeated indices take the minimum of
        all (``np.minimum.at``)."""
        return _update(self.x, self.idx, y, "min")

    def max(self, y, **kwargs):
        """``x`` with ``x[idx] = maximum(x[idx], y)`` (``np.maximum.at``)."""
        return _update(self.x, self.idx, y, "max")

    def power(self, y, **kwargs):
        """``x`` with ``x[idx] **= y``; repeated indices apply in turn (``np.power.at``)."""
        return _update(self.x, self.idx, y, "power")

    def __repr__(self):
        return f"_IndexUpdateRef({self.x!r}, {self.idx!r})"


class _IndexUpdateHelper:
    """``x.at[idx]``: functional, differentiable index updates (JAX's ``.at``)."""
    __slots__ = ("x",)

    def __init__(self, x):
        self.x = x

    def __getitem__(self, idx):
        return _IndexUpdateRef(self.x, idx)
