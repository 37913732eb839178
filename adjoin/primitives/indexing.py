"""Indexing primitives: basic slicing, gather, and the scatters that are their adjoints.

* ``slice`` — basic indexing ``x[idx]`` with ints, slices (any step) and newaxis.
  The index is a static, hashable, *normalized* tuple (see :func:`normalize_basic`):
  one entry per input axis or inserted axis, each ``int`` (non-negative),
  ``("s", start, length, step)`` or ``None`` (newaxis).
* ``slice_scatter`` — its adjoint: ``zeros(shape)`` with ``z[idx] = g``.
* ``gather`` — advanced indexing on the *leading* k axes: ``x[i_1, ..., i_k]`` with
  integer index arrays (positional, non-differentiable arguments, broadcast together
  to B). Output shape: ``B + x.shape[k:]``. ``adjoin.numpy`` reduces every NumPy
  index (ints, slices, ellipsis, newaxis, boolean masks, arrays anywhere) to
  ``slice``, ``transpose`` and ``gather``.
* ``scatter_add`` — ``z = x; z[i_1..i_k] += u`` with repeated indices accumulating
  (``np.add.at``); ``u`` has the gather layout ``B + x.shape[k:]``.
* ``scatter_set`` — ``z = x; z[i_1..i_k] = u`` (with repeated indices the last
  write wins, as in NumPy).
"""
from __future__ import annotations

import numpy as np

from adjoin import backends as _backends
from adjoin.core.avals import ShapedArray
from adjoin.core.primitive import Primitive
from adjoin.core.trace import dtype_of, shape_of
from adjoin.primitives import lax
from adjoin.primitives._axes import batch_axis_to_front


def _free(*avals, **params):
    return 0


# --- basic index normalization -------------------------------------------------------

def _to_slice(entry):
    """A normalized slice entry ("s", start, length, step) as a Python slice."""
    _, start, length, step = entry
    stop = start + length * step
    if stop < 0:
        stop = None
    return slice(start, stop, step)


def to_numpy_index(idx):
    """The normalized static index as a tuple NumPy understands."""
    return tuple(_to_slice(e) if isinstance(e, tuple) else e for e in idx)


def normalize_basic(idx, shape):
    """Normalize a basic index (ints, slices, None, Ellipsis) for an array of ``shape``.

    Returns a hashable tuple with one entry per axis of ``x`` (plus the inserted
    newaxes), every slice written as ``("s", start, length, step)``.
    """
    if not isinstance(idx, tuple):
        idx = (idx,)
    n_ell = sum(1 for e in idx if e is Ellipsis)
    if n_ell > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    n_used = sum(1 for e in idx if e is not None and e is not Ellipsis)
    if n_used > len(shape):
        raise IndexError(f"too many indices for array: array is {len(shape)}-dimensional, "
                         f"but {n_used} were indexed")
    out, axis = [], 0
    for e in idx:
        if e is Ellipsis:
            for _ in range(len(shape) - n_used):
                out.append(("s", 0, shape[axis], 1))
                axis += 1
        elif e is None:
            out.append(None)
        elif isinstance(e, slice):
            start, stop, step = e.indices(shape[axis])
            out.append(("s", start, len(range(start, stop, step)), step))
            axis += 1
        else:
            i = int(e)
            n = shape[axis]
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for axis {axis} with size {n}")
            out.append(i % n)
            axis += 1
    while axis < len(shape):
        out.append(("s", 0, shape[axis], 1))
        axis += 1
    return tuple(out)


def basic_result_shape(idx):
    return tuple(1 if e is None else e[2] for e in idx if not isinstance(e, int))


def is_identity_index(idx, shape):
    return len(idx) == len(shape) and all(
        isinstance(e, tuple) and e[1] == 0 and e[2] == n and e[3] == 1
        for e, n in zip(idx, shape))


def _full(n):
    return ("s", 0, n, 1)


# z = x[idx] (basic): ż = ẋ[idx] ; x̄ = slice_scatter(z̄) (zeros with z̄ written at idx)
def _slice_impl(x, idx):
    return (x if type(x) is np.ndarray else _backends.asarray_like(x))[to_numpy_index(idx)]


slice_p = Primitive(
    "slice", _slice_impl,
    shape=lambda a, idx: ShapedArray(basic_result_shape(idx), a.dtype),
    jvp=lambda primals, tangents, idx: (
        slice_p.bind(primals[0], idx=idx),
        None if tangents[0] is None else slice_p.bind(tangents[0], idx=idx)),
    vjp=lambda needs, out_bar, out, x, idx: (
        slice_scatter_p.bind(out_bar, idx=idx, shape=tuple(shape_of(x))),),
    batch=lambda vals, dims, idx: (
        slice_p.bind(batch_axis_to_front(vals[0], dims[0]),
                     idx=(_full(shape_of(vals[0])[dims[0]]),) + idx), 0),
    cost=_free, saves=(False, False))


# z = zeros(shape); z[idx] = g: ż = slice_scatter(ġ) ; ḡ = z̄[idx]
def _slice_scatter_impl(g, idx, shape):
    z = _backends.zeros(shape, dtype_of(g), like=g)  # on g's backend
    z[to_numpy_index(idx)] = g
    return z


slice_scatter_p = Primitive(
    "slice_scatter", _slice_scatter_impl,
    shape=lambda a, idx, shape: ShapedArray(shape, a.dtype),
    jvp=lambda primals, tangents, idx, shape: (
        slice_scatter_p.bind(primals[0], idx=idx, shape=shape),
        None if tangents[0] is None else slice_scatter_p.bind(tangents[0], idx=idx, shape=shape)),
    vjp=lambda needs, out_bar, out, x, idx, shape: (slice_p.bind(out_bar, idx=idx),),
    batch=lambda vals, dims, idx, shape: (
        slice_scatter_p.bind(batch_axis_to_front(vals[0], dims[0]),
                             idx=(_full(shape_of(vals[0])[dims[0]]),) + idx,
                             shape=(shape_of(vals[0])[dims[0]],) + tuple(shape)), 0),
    cost=_free, saves=(False, False))


# --- gather / scatter ------------------------------------------------------------------

def _index_shape(idx_avals):
    return np.broadcast_shapes(*[a.shape for a in idx_avals]) if idx_avals else ()


def _check_int(avals, what):
    for a in avals:
        if a.dtype.kind not in "iu":
            raise IndexError(f"{what}: index arrays must be integers, got dtype {a.dtype}. "
                             "Boolean masks are converted with numpy.nonzero by "
                             "adjoin.numpy's indexing; use integer arrays here.")


def _gather_shape(a, *idx):
    _check_int(idx, "gather")
    if len(idx) > len(a.shape):
        raise IndexError(f"gather: {len(idx)} index arrays for a {len(a.shape)}-d array")
    return ShapedArray(_index_shape(idx) + tuple(a.shape[len(idx):]), a.dtype)


def _batch_size(vals, dims):
    for v, d in zip(vals, dims):
        if d is not None:
            return shape_of(v)[d]
    raise AssertionError("batch rule called without a batched argument")


def _to_front_or_broadcast(v, d, n):
    """Value with the batch axis in front (an unbatched one is broadcast to size n)."""
    if d is None:
        return lax.broadcast_to(v, (n,) + tuple(shape_of(v)))
    return batch_axis_to_front(v, d)


def _batched_indices(idx, idims, n):
    """Index arrays for the batched problem: an iota for the batch axis, then the
    per-example index arrays (batched ones with the batch axis in front, aligned so
    that they broadcast to (n,) + B)."""
    shapes = [shape_of(i) if d is None else shape_of(i)[:d] + shape_of(i)[d + 1:]
              for i, d in zip(idx, idims)]
    rank = len(np.broadcast_shapes(*shapes)) if shapes else 0
    out = [np.arange(n).reshape((n,) + (1,) * rank)]
    for i, d, s in zip(idx, idims, shapes):
        if d is None:
            out.append(i)
        else:
            i = batch_axis_to_front(i, d)
            out.append(lax.reshape(i, (n,) + (1,) * (rank - len(s)) + tuple(s)))
    return out


# z = x[i_1, ..., i_k]: ż = ẋ[i] ; x̄ = scatter_add(zeros(x.shape), z̄, i)
def _gather_impl(x, *idx):
    if type(x) is not np.ndarray:
        # other backends' fancy indexing is not NumPy's (Dask takes one index array and
        # places an int beside an array differently; the array API takes no NumPy index
        # arrays): their namespace implementation (adjoin.backends._impls) instead
        _backends.require_numpy("gather", x)
        x = np.asarray(x)
    return x[tuple(idx)]


def _gather_jvp(primals, tangents):
    x, *idx = primals
    out = gather_p.bind(x, *idx)
    return out, None if tangents[0] is None else gather_p.bind(tangents[0], *idx)


def _gather_vjp(needs, out_bar, out, x, *idx):
    zeros = _backends.zeros(shape_of(x), dtype_of(out_bar), like=out_bar)
    x_bar = scatter_add_p.bind(zeros, out_bar, *idx)
    if dtype_of(x_bar).kind == "c" and dtype_of(x).kind != "c":
        x_bar = lax.real(x_bar)
    return (x_bar,) + (None,) * len(idx)


def _gather_batch(vals, dims):
    x, *idx = vals
    xd, *idims = dims
    k = len(idx)
    if all(d is None for d in idims):
        # batch axis of x just after the indexed axes: it lands after B in the output
        x = lax.moveaxis(x, xd, k) if xd != k else x
        return gather_p.bind(x, *idx), len(_index_shape([ShapedArray(shape_of(i), np.int64)
                                                          for i in idx]))
    n = _batch_size(vals, dims)
    x = _to_front_or_broadcast(x, xd, n)
    return gather_p.bind(x, *_batched_indices(idx, idims, n)), 0


gather_p = Primitive("gather", _gather_impl, shape=_gather_shape, jvp=_gather_jvp,
                     vjp=_gather_vjp, batch=_gather_batch, cost=_free,
                     saves=(True, False))  # the vjp reads the indices, not the output


def _scatter_shape(name):
    def shape(a, u, *idx):
        _check_int(idx, name)
        want = _index_shape(idx) + tuple(a.shape[len(idx):])
        if tuple(u.shape) != want:
            raise ValueError(f"{name}: updates have shape {u.shape} but the indexed region "
                             f"has shape {want}")
        return ShapedArray(a.shape, np.result_type(a.dtype, u.dtype))
    return shape


def _scatter_batch(prim):
    def batch(vals, dims):
        x, u, *idx = vals
        xd, ud, *idims = dims
        n = _batch_size(vals, dims)
        k = len(idx)
        if all(d is None for d in idims):
            x = _to_front_or_broadcast(x, xd, n)
            u = _to_front_or_broadcast(u, ud, n)
            nb = len(shape_of(u)) - 1 - (len(shape_of(x)) - 1 - k)
            return prim.bind(lax.moveaxis(x, 0, k), lax.moveaxis(u, 0, nb), *idx), k
        x = _to_front_or_broadcast(x, xd, n)
        u = _to_front_or_broadcast(u, ud, n)
        return prim.bind(x, u, *_batched_indices(idx, idims, n)), 0
    return batch


# z = x; z[i] += u (repeated indices accumulate): ż = ẋ + scatter_add(0, u̇, i) ;
# x̄ = z̄ ; ū = z̄[i] (gather)
def _scatter_add_impl(x, u, *idx):
    if type(x) is not np.ndarray or type(u) is not np.ndarray:
        _backends.require_numpy("scatter_add", x, u)  # no silent np.array of a Dask array
    z = np.array(x, dtype=np.result_type(x, u), copy=True)
    np.add.at(z, tuple(idx), u)
    return z


def _scatter_add_jvp(primals, tangents):
    x, u, *idx = primals
    x_dot, u_dot = tangents[:2]
    out = scatter_add_p.bind(x, u, *idx)
    if u_dot is None:
        return out, None if x_dot is None else _cast_like(x_dot, out)
    if x_dot is None:
        x_dot = _backends.zeros(shape_of(x), dtype_of(out), like=u_dot)
    return out, scatter_add_p.bind(x_dot, u_dot, *idx)


def _cast_like(t, out):
    if dtype_of(out).kind == "c" and dtype_of(t).kind != "c":
        return lax.astype(t, dtype_of(out))
    return t


def _scatter_add_vjp(needs, out_bar, out, x, u, *idx):
    x_bar = lax.real_like(out_bar, x) if needs[0] else None
    u_bar = lax.real_like(gather_p.bind(out_bar, *idx), u) if needs[1] else None
    return (x_bar, u_bar) + (None,) * len(idx)


scatter_add_p = Primitive("scatter_add", _scatter_add_impl, shape=_scatter_shape("scatter_add"),
                          jvp=_scatter_add_jvp, vjp=_scatter_add_vjp,
                          cost=lambda a, u, *idx: u.size)
scatter_add_p.def_rules(batch=_scatter_batch(scatter_add_p))


# z = x; z[i] = u (last write wins): ż = scatter_set(ẋ, u̇, i) ;
# x̄ = z̄ with zeros at i ; ū = z̄[i] ⊙ [this update is the one that was written]
def _scatter_set_impl(x, u, *idx):
    if type(x) is not np.ndarray or type(u) is not np.ndarray:
        _backends.require_numpy("scatter_set", x, u)  # no silent np.array of a Dask array
    z = np.array(x, dtype=np.result_type(x, u), copy=True)
    z[tuple(idx)] = u
    return z


def _scatter_set_jvp(primals, tangents):
    x, u, *idx = primals
    x_dot, u_dot = tangents[:2]
    out = scatter_set_p.bind(x, u, *idx)
    if x_dot is None and u_dot is None:
        return out, None
    if x_dot is None:
        x_dot = _backends.zeros(shape_of(x), dtype_of(out), like=u_dot)
    if u_dot is None:
        u_dot = _backends.zeros(shape_of(u), dtype_of(out), like=x_dot)
    return out, scatter_set_p.bind(x_dot, u_dot, *idx)


def _winners(u_shape, x_shape, idx):
    """1 where an update is the one that ends up written (repeated indices: the last)."""
    k = len(idx)
    b = _index_shape([ShapedArray(shape_of(i), np.int64) for i in idx])
    ids = np.arange(int(np.prod(b, dtype=np.int64)), dtype=np.int64).reshape(b)
    buf = scatter_set_p.bind(np.full(tuple(x_shape[:k]), -1, np.int64), ids, *idx)
    won = lax.equal(gather_p.bind(buf, *idx), ids)
    return lax.reshape(won, tuple(b) + (1,) * (len(u_shape) - len(b)))


def _scatter_set_vjp(needs, out_bar, out, x, u, *idx):
    x_bar = u_bar = None
    if needs[0]:
        zeros_u = _backends.zeros(shape_of(u), dtype_of(out_bar), like=out_bar)
        x_bar = lax.real_like(scatter_set_p.bind(out_bar, zeros_u, *idx), x)
    if needs[1]:
        u_bar = gather_p.bind(out_bar, *idx)
        u_bar = lax.where(_winners(shape_of(u), shape_of(x), idx), u_bar,
                          np.zeros((), dtype_of(u_bar)))
        u_bar = lax.real_like(u_bar, u)
    return (x_bar, u_bar) + (None,) * len(idx)


scatter_set_p = Primitive("scatter_set", _scatter_set_impl, shape=_scatter_shape("scatter_set"),
                          jvp=_scatter_set_jvp, vjp=_scatter_set_vjp, cost=_free)
scatter_set_p.def_rules(batch=_scatter_batch(scatter_set_p))
