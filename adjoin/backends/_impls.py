"""Array-API implementations of the primitives, for backends on which the NumPy impl fails.

NumPy's ufuncs and array functions already dispatch to Dask and CuPy arrays (NEP 13 and
NEP 18), so on those backends most primitives run their NumPy impl unchanged and stay on
the backend. A library without those protocols (array-api-strict, and any array-API
library) makes the NumPy impl raise; :func:`adjoin.backends.impl_fallback` then calls the
entry here, written with the namespace ``xp`` of the arguments only (array API 2024.12).

Each entry is ``fn(xp, *args, **params)`` with the primitive's own arguments and params.
NumPy arrays among the arguments (constants of a rule) are moved to the other arguments'
backend first.
"""
from __future__ import annotations

import numpy as np

from adjoin.backends import BACKEND_IMPLS, NAMESPACE_IMPLS, _device_kw, _dtype_for, is_numpy


def _like(xp, args):
    ref = next((a for a in args if not is_numpy(a) and hasattr(a, "shape")), None)
    return ref


def _lift(xp, args):
    """NumPy arrays (not Python scalars) among args as arrays of ``xp``."""
    ref = _like(xp, args)
    out = []
    for a in args:
        if isinstance(a, np.ndarray) or (isinstance(a, np.generic) and not isinstance(a, (float, complex))):
            a = xp.asarray(np.asarray(a), **_device_kw(xp, ref))
        elif isinstance(a, (np.float64, np.complex128)):
            a = a.item()
        out.append(a)
    return out


def _promote_bools(xp, args):
    """NumPy promotes a boolean array with a Python number (``b != 0``, ``b + 1``); the
    array API refuses: such a boolean array becomes int64 (float64 beside a float)."""
    scalars = [a for a in args if type(a) in (int, float)]
    if not scalars:
        return args
    to = xp.float64 if any(type(a) is float for a in scalars) else xp.int64
    return [xp.astype(a, to) if hasattr(a, "dtype") and xp.isdtype(a.dtype, "bool") else a
            for a in args]


def _elementwise(xp_name):
    def fn(xp, *args):
        return getattr(xp, xp_name)(*_promote_bools(xp, _lift(xp, args)))
    return fn


# names that differ between NumPy and the array API
_SAME = """sin cos tan sinh cosh tanh exp expm1 log log2 log10 log1p sqrt square negative real
imag conj abs sign floor ceil trunc isnan isfinite isinf signbit logical_not equal not_equal
less less_equal greater greater_equal logical_and logical_or logical_xor floor_divide add
subtract multiply divide maximum minimum hypot logaddexp matmul""".split()
_RENAMED = {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh",
            "arccosh": "acosh", "arctanh": "atanh", "arctan2": "atan2", "power": "pow",
            "float_power": "pow", "mod": "remainder", "rint": "round"}
for _n in _SAME:
    NAMESPACE_IMPLS[_n] = _elementwise(_n)
for _n, _m in _RENAMED.items():
    NAMESPACE_IMPLS[_n] = _elementwise(_m)


def _reg(name):
    def deco(fn):
        NAMESPACE_IMPLS[name] = fn
        return fn
    return deco


# NumPy takes real input in real/imag/conj and numbers in the logical functions; the array
# API takes complex and boolean input only
def _is_complex(xp, x):
    return hasattr(x, "dtype") and xp.isdtype(x.dtype, "complex floating")


def _bool(xp, x):
    if hasattr(x, "dtype") and not xp.isdtype(x.dtype, "bool"):
        return x != 0
    return x


@_reg("real")
def _real(xp, x):
    x, = _lift(xp, (x,))
    return xp.real(x) if _is_complex(xp, x) else x


@_reg("imag")
def _imag(xp, x):
    x, = _lift(xp, (x,))
    return xp.imag(x) if _is_complex(xp, x) else xp.zeros_like(x)


@_reg("conj")
def _conj(xp, x):
    x, = _lift(xp, (x,))
    return xp.conj(x) if _is_complex(xp, x) else x


@_reg("logical_not")
def _logical_not(xp, x):
    x, = _lift(xp, (x,))
    return xp.logical_not(_bool(xp, x))


def _logical(name):
    def fn(xp, x, y):
        x, y = _lift(xp, (x, y))
        return getattr(xp, name)(_bool(xp, x), _bool(xp, y))
    return fn


for _n in ("logical_and", "logical_or", "logical_xor"):
    NAMESPACE_IMPLS[_n] = _logical(_n)


def _float(xp, x):
    if hasattr(x, "dtype") and not xp.isdtype(x.dtype, ("real floating", "complex floating")):
        return xp.astype(x, xp.float64)
    return x


@_reg("exp2")
def _exp2(xp, x):
    x, = _lift(xp, (x,))
    return xp.pow(2.0, _float(xp, x))


@_reg("cbrt")
def _cbrt(xp, x):
    x, = _lift(xp, (x,))
    return xp.sign(x) * xp.pow(xp.abs(x), 1.0 / 3.0)


@_reg("reciprocal")
def _reciprocal(xp, x):
    x, = _lift(xp, (x,))
    return 1.0 / _float(xp, x)


@_reg("sinc")
def _sinc(xp, x):
    x, = _lift(xp, (x,))
    y = np.pi * xp.where(x == 0, 1.0e-300, x)
    return xp.where(x == 0, 1.0, xp.sin(y) / y)


@_reg("logaddexp2")
def _logaddexp2(xp, x, y):
    x, y = _lift(xp, (x, y))
    ln2 = float(np.log(2.0))
    return xp.logaddexp(x * ln2, y * ln2) / ln2


@_reg("fmod")
def _fmod(xp, x, y):
    x, y = _lift(xp, (x, y))
    return x - xp.trunc(x / y) * y


@_reg("fmax")
def _fmax(xp, x, y):
    x, y = _lift(xp, (x, y))
    return xp.where(xp.isnan(y), x, xp.where(xp.isnan(x), y, xp.maximum(x, y)))


@_reg("fmin")
def _fmin(xp, x, y):
    x, y = _lift(xp, (x, y))
    return xp.where(xp.isnan(y), x, xp.where(xp.isnan(x), y, xp.minimum(x, y)))


@_reg("xlogy")
def _xlogy(xp, x, y):
    x, y = _lift(xp, (x, y))
    return xp.where(x == 0, 0.0 * y, x * xp.log(xp.where(x == 0, 1.0, y)))


@_reg("xlog1py")
def _xlog1py(xp, x, y):
    x, y = _lift(xp, (x, y))
    return xp.where(x == 0, 0.0 * y, x * xp.log1p(xp.where(x == 0, 0.0, y)))


@_reg("round")
def _round(xp, x, decimals=0):
    x, = _lift(xp, (x,))
    if decimals == 0:
        return xp.round(x)
    s = 10.0 ** decimals
    return xp.round(x * s) / s


@_reg("where")
def _where(xp, c, x, y):
    c, x, y = _lift(xp, (c, x, y))
    if not hasattr(x, "shape") and not hasattr(y, "shape"):  # the standard wants one array
        x = xp.asarray(x, **_device_kw(xp, c))
    return xp.where(c, x, y)


@_reg("astype")
def _astype(xp, x, dtype):
    x, = _lift(xp, (x,))
    return xp.astype(x, _dtype_for(xp, dtype))


# --- reductions --------------------------------------------------------------------------

def _reduction(xp_name):
    def fn(xp, x, axes, keepdims):
        x, = _lift(xp, (x,))
        if xp_name in ("sum", "prod") and xp.isdtype(x.dtype, "bool"):
            x = xp.astype(x, xp.int64)  # NumPy counts booleans; the array API wants numbers
        return getattr(xp, xp_name)(x, axis=axes, keepdims=keepdims)
    return fn


for _n in ("sum", "max", "min", "prod"):
    NAMESPACE_IMPLS[_n] = _reduction(_n)


@_reg("argmax")
def _argmax(xp, x, axis, keepdims):
    x, = _lift(xp, (x,))
    return xp.argmax(x, axis=axis, keepdims=keepdims)


@_reg("argmin")
def _argmin(xp, x, axis, keepdims):
    x, = _lift(xp, (x,))
    return xp.argmin(x, axis=axis, keepdims=keepdims)


@_reg("cumsum")
def _cumsum(xp, x, axis, reverse):
    x, = _lift(xp, (x,))
    if reverse:
        return xp.flip(xp.cumulative_sum(xp.flip(x, axis=axis), axis=axis), axis=axis)
    return xp.cumulative_sum(x, axis=axis)


@_reg("cumprod")
def _cumprod(xp, x, axis):
    x, = _lift(xp, (x,))
    return xp.cumulative_prod(x, axis=axis)


@_reg("softmax")
def _softmax(xp, x, axes):
    x, = _lift(xp, (x,))
    m = xp.max(x, axis=axes, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0.0)
    e = xp.exp(x - m)
    return e / xp.sum(e, axis=axes, keepdims=True)


@_reg("argsort")
def _argsort(xp, x, axis, stable):
    x, = _lift(xp, (x,))
    return xp.argsort(x, axis=axis, stable=bool(stable))


@_reg("searchsorted")
def _searchsorted(xp, a, v, side, batch):
    a, v = _lift(xp, (a, v))
    if not hasattr(v, "shape"):
        v = xp.asarray(v, dtype=a.dtype, **_device_kw(xp, a))
    if batch:
        from adjoin.backends import BackendError, unsupported_message
        raise BackendError(unsupported_message(xp.__name__, "searchsorted",
                                               "batched sorted arrays"))
    return xp.searchsorted(a, v, side=side)


# --- structural ----------------------------------------------------------------------------

@_reg("reshape")
def _reshape(xp, x, shape):
    x, = _lift(xp, (x,))
    return xp.reshape(x, tuple(shape))


@_reg("broadcast_to")
def _broadcast_to(xp, x, shape):
    x, = _lift(xp, (x,))
    return xp.broadcast_to(x, tuple(shape))


@_reg("transpose")
def _transpose(xp, x, axes):
    x, = _lift(xp, (x,))
    return xp.permute_dims(x, tuple(range(x.ndim))[::-1] if axes is None else tuple(axes))


@_reg("concatenate")
def _concatenate(xp, *xs, axis):
    return xp.concat(_lift(xp, xs), axis=axis)


@_reg("flip")
def _flip(xp, x, axes):
    x, = _lift(xp, (x,))
    return xp.flip(x, axis=axes)


@_reg("roll")
def _roll(xp, x, shifts, axes):
    x, = _lift(xp, (x,))
    return xp.roll(x, shift=shifts, axis=axes)


@_reg("pad")
def _pad(xp, x, widths):
    x, = _lift(xp, (x,))
    shape = tuple(n + int(lo) + int(hi) for n, (lo, hi) in zip(x.shape, widths))
    z = xp.zeros(shape, dtype=x.dtype, **_device_kw(xp, x))
    z[tuple(slice(int(lo), int(lo) + n) for n, (lo, _) in zip(x.shape, widths))] = x
    return z


def _diag_index(shape, offset, axis1, axis2):
    """Flat indices of the diagonal entries of the last two axes after moving axis1/axis2."""
    n1, n2 = shape[axis1], shape[axis2]
    L = max(0, min(n1 - max(-offset, 0), n2 - max(offset, 0)))
    r = np.arange(L) + max(-offset, 0)
    c = np.arange(L) + max(offset, 0)
    return r * n2 + c, L


def _to_last_two(xp, x, axis1, axis2):
    nd = x.ndim
    a1, a2 = axis1 % nd, axis2 % nd
    rest = [i for i in range(nd) if i not in (a1, a2)]
    return xp.permute_dims(x, tuple(rest) + (a1, a2)), rest, a1, a2


@_reg("diagonal")
def _diagonal(xp, x, offset, axis1, axis2):
    x, = _lift(xp, (x,))
    m, rest, a1, a2 = _to_last_two(xp, x, axis1, axis2)
    flat, L = _diag_index(x.shape, offset, a1, a2)
    lead = m.shape[:-2]
    m = xp.reshape(m, lead + (m.shape[-2] * m.shape[-1],))
    return xp.take(m, xp.asarray(flat, **_device_kw(xp, x)), axis=m.ndim - 1)


@_reg("diagonal_scatter")
def _diagonal_scatter(xp, g, offset, axis1, axis2, shape):
    # zeros with g on the diagonal: the flattened last two axes gathered from [0, g]
    # (a placement map: entry 1 + j on the j-th diagonal position, 0 elsewhere)
    g, = _lift(xp, (g,))
    nd = len(shape)
    a1, a2 = axis1 % nd, axis2 % nd
    rest = [i for i in range(nd) if i not in (a1, a2)]
    flat, L = _diag_index(shape, offset, a1, a2)
    lead = tuple(shape[i] for i in rest)
    n1, n2 = shape[a1], shape[a2]
    pos = np.zeros(n1 * n2, np.int64)
    pos[flat] = np.arange(1, L + 1)
    zero = xp.zeros(lead + (1,), dtype=g.dtype, **_device_kw(xp, g))
    z = xp.take(xp.concat([zero, g], axis=-1), xp.asarray(pos, **_device_kw(xp, g)),
                axis=len(lead))
    z = xp.reshape(z, lead + (n1, n2))
    perm = rest + [a1, a2]
    return xp.permute_dims(z, tuple(int(i) for i in np.argsort(perm)))


@_reg("triu")
def _triu(xp, x, k):
    x, = _lift(xp, (x,))
    return xp.triu(x, k=k)


@_reg("tril")
def _tril(xp, x, k):
    x, = _lift(xp, (x,))
    return xp.tril(x, k=k)


@_reg("repeat")
def _repeat(xp, x, repeats, axis):
    x, = _lift(xp, (x,))
    if axis is None:
        x, axis = xp.reshape(x, (-1,)), 0
    if isinstance(repeats, (int, np.integer)):
        return xp.repeat(x, int(repeats), axis=axis)
    # one count per entry (Dask repeats by an int only): a take with the repeated indices
    idx = np.repeat(np.arange(x.shape[axis]), np.asarray(repeats, np.int64))
    return xp.take(x, xp.asarray(idx, **_device_kw(xp, x)), axis=axis)


# --- indexing ----------------------------------------------------------------------------
# The array API has basic indexing (ints, slices with in-range bounds) and integer-array
# indexing of whole arrays, but no NumPy index arrays, no in-place fancy assignment, and
# Dask indexes with one index array at a time. So: basic slices without the newaxes (added
# back by a reshape), gathers as one ``take`` with linear indices, and scatters written
# functionally as ``take`` from [0, updates] (a placement map) and ``where``.

def _basic(idx):
    """A normalized basic index (("s", start, length, step), ints, None) as Python slices
    with in-range bounds and without the newaxes, and the shape with the newaxes."""
    out, shape = [], []
    for e in idx:
        if e is None:
            shape.append(1)
        elif isinstance(e, tuple):
            _, start, n, step = e
            if n == 0:
                out.append(slice(start, start, step))
            else:
                stop = start + (n - 1) * step + (1 if step > 0 else -1)
                out.append(slice(start, None if stop < 0 else stop, step))
            shape.append(n)
        else:
            out.append(e)
    return tuple(out), tuple(shape)


@_reg("slice")
def _slice(xp, x, idx):
    x, = _lift(xp, (x,))
    index, shape = _basic(idx)
    y = x[index]
    return y if tuple(y.shape) == shape else xp.reshape(y, shape)


@_reg("slice_scatter")
def _slice_scatter(xp, g, idx, shape):
    g, = _lift(xp, (g,))
    index, _ = _basic(idx)
    z = xp.zeros(tuple(shape), dtype=g.dtype, **_device_kw(xp, g))
    region = tuple(e[2] for e in idx if isinstance(e, tuple))  # the region without newaxes
    z[index] = g if tuple(g.shape) == region else xp.reshape(g, region)
    return z


def _size(shape):
    return int(np.prod(shape, dtype=np.int64))


def _numpy_indices(idx):
    return all(isinstance(i, (np.ndarray, np.generic, int)) for i in idx)


def _linear(idx, lead):
    """NumPy index arrays (broadcast against each other, negative entries allowed) as the
    1-D linear indices into the flattened axes ``lead``, and the broadcast shape."""
    b = np.broadcast_shapes(*[np.shape(i) for i in idx])
    flat = [np.broadcast_to(np.asarray(i, np.int64), b).reshape(-1) % n for i, n in zip(idx, lead)]
    lin = np.ravel_multi_index(flat, lead) if flat else np.zeros(0, np.int64)
    return lin.astype(np.int64), b


def _linear_xp(xp, ref, idx, lead):
    """As :func:`_linear` for index arrays of the backend (computed there)."""
    idx = [xp.asarray(np.asarray(i, np.int64), **_device_kw(xp, ref)) if is_numpy(i) else i
           for i in idx]
    idx = xp.broadcast_arrays(*idx)
    b = tuple(idx[0].shape)
    lin = None
    stride = 1
    for i, n in zip(idx[::-1], lead[::-1]):
        term = xp.remainder(xp.astype(i, xp.int64), n) * stride
        lin = term if lin is None else lin + term
        stride *= n
    return xp.reshape(lin, (-1,)), b


def _ints(xp, a, ref):
    return xp.asarray(a, dtype=xp.int64, **_device_kw(xp, ref))


@_reg("gather")
def _gather(xp, x, *idx):
    # z = x[i_1, ..., i_k] = take(reshape(x, (M,) + rest), linear(i), axis 0)
    x, = _lift(xp, (x,))
    k = len(idx)
    lead, rest = tuple(x.shape[:k]), tuple(x.shape[k:])
    if _numpy_indices(idx):
        lin, b = _linear(idx, lead)
        lin = _ints(xp, lin, x)
    else:
        lin, b = _linear_xp(xp, x, idx, lead)
    flat = xp.reshape(x, (_size(lead),) + rest)
    return xp.reshape(xp.take(flat, lin, axis=0), b + rest)


def _scatter_operands(xp, x, u, idx):
    """x and u lifted and promoted to one dtype, flattened over the indexed axes."""
    x, u = _lift(xp, (x, u))
    if not hasattr(x, "shape"):
        x = xp.asarray(x, **_device_kw(xp, u))
    if not hasattr(u, "shape"):
        u = xp.asarray(u, **_device_kw(xp, x))
    dt = xp.result_type(x, u)
    x, u = xp.astype(x, dt), xp.astype(u, dt)
    k = len(idx)
    lead, rest = tuple(x.shape[:k]), tuple(x.shape[k:])
    m = _size(tuple(u.shape[:u.ndim - len(rest)]))
    return x, xp.reshape(x, (_size(lead),) + rest), xp.reshape(u, (m,) + rest), lead, rest


def _place(xp, uf, pos, rest):
    """Row j of the result is row pos[j] − 1 of ``uf`` (0 where pos[j] = 0), and the mask
    pos > 0 shaped to broadcast against it: a functional ``z[targets] = uf``."""
    zero = xp.zeros((1,) + rest, dtype=uf.dtype, **_device_kw(xp, uf))
    placed = xp.take(xp.concat([zero, uf], axis=0), pos, axis=0)
    return placed, xp.reshape(pos > 0, (pos.shape[0],) + (1,) * len(rest))


def _layers(lin):
    """Positions of the updates in layers with distinct targets: layer r holds the r-th
    occurrence of each target, so applying the layers in turn adds in NumPy's order."""
    order = np.argsort(lin, kind="stable")
    sk = lin[order]
    if not sk.size:
        return []
    start = np.r_[0, np.nonzero(np.diff(sk))[0] + 1]
    rank = np.empty_like(order)
    rank[order] = np.arange(sk.size) - np.repeat(start, np.diff(np.r_[start, sk.size]))
    return [np.nonzero(rank == r)[0] for r in range(int(rank.max()) + 1)]


def _one_hot_targets(xp, ref, lin, M):
    """(M, m) booleans: row t marks the updates that target t (backend index arrays)."""
    rows = xp.arange(M, dtype=xp.int64, **_device_kw(xp, ref))
    return xp.reshape(rows, (M, 1)) == xp.reshape(lin, (1, lin.shape[0]))


@_reg("scatter_add")
def _scatter_add(xp, x, u, *idx):
    # z = x; z[i] += u, repeated targets in NumPy's order (np.add.at): layer by layer, each
    # layer's updates placed at their distinct targets and added where placed
    x, xf, uf, lead, rest = _scatter_operands(xp, x, u, idx)
    M = _size(lead)
    if _numpy_indices(idx):
        lin, _ = _linear(idx, lead)
        for layer in _layers(lin):
            pos = np.zeros(M, np.int64)
            pos[lin[layer]] = np.arange(1, layer.size + 1)
            placed, mask = _place(xp, xp.take(uf, _ints(xp, layer, x), axis=0), _ints(xp, pos, x), rest)
            xf = xp.where(mask, xf + placed, xf)
        return xp.reshape(xf, tuple(x.shape))
    # index arrays on the backend: a one-hot (M, m) matrix product (O(M·m) memory)
    lin, _ = _linear_xp(xp, x, idx, lead)
    hot = _one_hot_targets(xp, x, lin, M)
    summed = xp.astype(hot, uf.dtype) @ xp.reshape(uf, (uf.shape[0], _size(rest)))
    mask = xp.reshape(xp.any(hot, axis=1), (M,) + (1,) * len(rest))
    xf = xp.where(mask, xf + xp.reshape(summed, (M,) + rest), xf)
    return xp.reshape(xf, tuple(x.shape))


@_reg("scatter_set")
def _scatter_set(xp, x, u, *idx):
    # z = x; z[i] = u, the last write winning at a repeated target (as NumPy's z[i] = u)
    x, xf, uf, lead, rest = _scatter_operands(xp, x, u, idx)
    M = _size(lead)
    if _numpy_indices(idx):
        lin, _ = _linear(idx, lead)
        pos = np.zeros(M, np.int64)
        pos[lin] = np.arange(1, lin.size + 1)  # NumPy's assignment: the last one stays
        pos = _ints(xp, pos, x)
    else:
        lin, _ = _linear_xp(xp, x, idx, lead)
        hot = _one_hot_targets(xp, x, lin, M)
        ids = xp.reshape(xp.arange(1, lin.shape[0] + 1, dtype=xp.int64, **_device_kw(xp, x)),
                         (1, lin.shape[0]))
        pos = xp.max(xp.where(hot, ids, 0), axis=1)
    placed, mask = _place(xp, uf, pos, rest)
    return xp.reshape(xp.where(mask, placed, xf), tuple(x.shape))


# --- linear algebra and FFT ---------------------------------------------------------------

@_reg("einsum")
def _einsum(xp, *operands, subscripts):
    operands = _lift(xp, operands)
    if hasattr(xp, "einsum"):
        return xp.einsum(subscripts, *operands)
    return _einsum_by_broadcasting(xp, subscripts, operands)


def _einsum_by_broadcasting(xp, subscripts, operands):
    """einsum without ``einsum`` (the array API has none), for canonical explicit subscripts
    ("ij,jk->ik": no ellipsis): a repeated label in one operand takes its diagonal, then
    every operand is laid out along all labels (size 1 where it lacks one), the operands
    are multiplied by broadcasting and the labels not in the output summed. Memory: the
    product of all label sizes (fine for the small contractions of derivative rules)."""
    ins, out = subscripts.split("->")
    specs = ins.split(",")
    arrays = [a if hasattr(a, "shape") else xp.asarray(a) for a in operands]
    dt = xp.result_type(*arrays)
    labels = list(out) + [c for c in dict.fromkeys("".join(specs)) if c not in out]
    size, laid = {}, []
    for spec, a in zip(specs, arrays):
        a = xp.astype(a, dt)
        while len(set(spec)) < len(spec):  # a repeated label: its diagonal, as the last axis
            c = next(c for c in spec if spec.count(c) > 1)
            i = spec.index(c)
            j = spec.index(c, i + 1)
            a = _diagonal(xp, a, 0, i, j)
            spec = "".join(l for k, l in enumerate(spec) if k not in (i, j)) + c
        for c, n in zip(spec, a.shape):
            size[c] = n
        a = xp.permute_dims(a, tuple(spec.index(c) for c in labels if c in spec))
        laid.append(xp.reshape(a, tuple(size[c] if c in spec else 1 for c in labels)))
    prod = laid[0]
    for a in laid[1:]:
        prod = prod * a
    prod = xp.broadcast_to(prod, tuple(size[c] for c in labels))
    if len(labels) > len(out):
        prod = xp.sum(prod, axis=tuple(range(len(out), len(labels))))
    return prod


def _linalg(name):
    def fn(xp, *args, **params):
        return getattr(xp.linalg, name)(*_lift(xp, args), **params)
    return fn


# solve's outputs are [X, LU factors, pivots] on NumPy (its rules reuse the factors); a
# backend without LU factor objects returns [X, A, None]: the "factors" are A itself, and
# lu_solve with pivots None solves with A (a new factorization per solve)
@_reg("solve")
def _solve(xp, a, b):
    a, b = _lift(xp, (a, b))
    return [xp.linalg.solve(a, b), a, None]


@_reg("lu_solve")
def _lu_solve(xp, lu, piv, b, trans):
    if piv is not None:
        from adjoin.backends import BackendError, unsupported_message
        raise BackendError(unsupported_message(
            xp.__name__, "lu_solve", "LU factors with pivots: pass the matrix to solve instead"))
    a, b = _lift(xp, (lu, b))
    if trans == 2:
        a = xp.conj(a)
    if trans:
        a = xp.matrix_transpose(a)
    return xp.linalg.solve(a, b)


@_reg("inv")
def _inv(xp, a):
    return xp.linalg.inv(*_lift(xp, (a,)))


@_reg("det")
def _det(xp, a):
    return xp.linalg.det(*_lift(xp, (a,)))


@_reg("slogdet")
def _slogdet(xp, a):
    r = xp.linalg.slogdet(*_lift(xp, (a,)))
    return [r[0], r[1]]


@_reg("cholesky")
def _cholesky(xp, a):
    return xp.linalg.cholesky(*_lift(xp, (a,)))


@_reg("eigh")
def _eigh(xp, a):
    a, = _lift(xp, (a,))
    a = 0.5 * (a + xp.conj(xp.matrix_transpose(a)))
    w, v = xp.linalg.eigh(a)
    return [w, v]


@_reg("svd")
def _svd(xp, a):
    return xp.linalg.svdvals(*_lift(xp, (a,)))


@_reg("svd_uv")
def _svd_uv(xp, a):
    u, s, vh = xp.linalg.svd(*_lift(xp, (a,)), full_matrices=False)
    return [u, s, vh]


@_reg("qr")
def _qr(xp, a):
    q, r = xp.linalg.qr(*_lift(xp, (a,)), mode="reduced")
    return [q, r]


@_reg("pinv")
def _pinv(xp, a, rcond, hermitian):
    a, = _lift(xp, (a,))
    return xp.linalg.pinv(a) if rcond is None else xp.linalg.pinv(a, rtol=rcond)


def _complex(xp, x):
    """The array API's complex FFTs take complex input only (NumPy promotes real input)."""
    if not xp.isdtype(x.dtype, "complex floating"):
        return xp.astype(x, xp.complex128 if x.dtype == xp.float64 else xp.complex64)
    return x


def _fft(name):
    def fn(xp, x, axes, norm):
        x, = _lift(xp, (x,))
        if name != "rfftn":
            x = _complex(xp, x)
        return getattr(xp.fft, name)(x, axes=axes, norm=norm or "backward")
    return fn


NAMESPACE_IMPLS["fft"] = _fft("fftn")
NAMESPACE_IMPLS["ifft"] = _fft("ifftn")
NAMESPACE_IMPLS["rfft"] = _fft("rfftn")


@_reg("irfft")
def _irfft(xp, y, axes, lengths, norm):
    y, = _lift(xp, (y,))
    y = _complex(xp, y)
    return xp.fft.irfftn(y, s=lengths, axes=axes, norm=norm or "backward")


# --- Dask ----------------------------------------------------------------------------------------
# dask.array.fft transforms along axes held in one chunk: rechunk those axes (the other axes
# keep their chunks), then transform.

def _dask_fft(name):
    def fn(xp, x, axes, norm, lengths=None):
        import dask.array as da
        axes = tuple(range(x.ndim)) if axes is None else tuple(axes)
        x = x.rechunk({a % x.ndim: -1 for a in axes})
        f = getattr(da.fft, name)
        if lengths is not None:
            return f(x, s=lengths, axes=axes, norm=norm)
        return f(x, axes=axes, norm=norm)
    return fn


BACKEND_IMPLS["dask"] = {
    "fft": _dask_fft("fftn"), "ifft": _dask_fft("ifftn"), "rfft": _dask_fft("rfftn"),
    "irfft": lambda xp, y, axes, lengths, norm: _dask_fft("irfftn")(xp, y, axes, norm, lengths),
}


# Dense matrix functions on Dask: dask.array.linalg factors only some chunkings (LU needs
# square chunks, QR and SVD tall-and-skinny or short-and-fat ones). Each matrix is one
# chunk here instead (the two matrix axes rechunked, batch axes keep theirs) and NumPy's
# function runs per chunk (dask.array.apply_gufunc): lazy, any shape, batches included.
# Large matrices need memory for one whole matrix per task.

def _float_of(dtype):
    d = np.dtype(dtype)
    return d if d.kind in "fc" else np.dtype(np.float64)


def _real_of(dtype):
    return np.finfo(_float_of(dtype)).dtype


def _herm(a):
    return 0.5 * (a + np.conj(np.swapaxes(a, -1, -2)))


def _dask_matrix(fn, signature, dtypes, sizes=None):
    """A Dask impl running ``fn`` on whole matrices; ``dtypes(a)`` the output dtypes (a tuple
    for several outputs, returned as a list), ``sizes(a)`` the sizes of new core dims."""
    def impl(xp, a, **params):
        import dask.array as da
        dt = dtypes(a)
        # meta given (not inferred by calling fn on empty arrays, which warns for slogdet)
        meta = (tuple(np.empty((0,), d) for d in dt) if isinstance(dt, tuple)
                else np.empty((0,), dt))
        out = da.apply_gufunc(lambda m: fn(m, **params), signature, a, meta=meta,
                              output_sizes=sizes(a) if sizes else None, allow_rechunk=True)
        return list(out) if isinstance(dt, tuple) else out
    return impl


def _k(a):
    return {"k": min(a.shape[-2], a.shape[-1])}


def _dask_solve(xp, a, b):
    # [X, A, None]: the "factors" are A itself (as for the array-API solve above)
    import dask.array as da
    dt = np.result_type(_float_of(a.dtype), b.dtype)
    return [da.apply_gufunc(np.linalg.solve, "(n,n),(n,k)->(n,k)", a, b,
                            meta=np.empty((0,), dt), allow_rechunk=True), a, None]


def _dask_lu_solve(xp, lu, piv, b, trans):
    if piv is not None:
        return NAMESPACE_IMPLS["lu_solve"](xp, lu, piv, b, trans)  # (its clear error)
    a = xp.conj(lu) if trans == 2 else lu
    return _dask_solve(xp, xp.matrix_transpose(a) if trans else a, b)[0]


BACKEND_IMPLS["dask"].update({
    "solve": _dask_solve, "lu_solve": _dask_lu_solve,
    "inv": _dask_matrix(np.linalg.inv, "(n,n)->(n,n)", lambda a: _float_of(a.dtype)),
    "det": _dask_matrix(np.linalg.det, "(n,n)->()", lambda a: _float_of(a.dtype)),
    "slogdet": _dask_matrix(lambda m: tuple(np.linalg.slogdet(m)), "(n,n)->(),()",
                            lambda a: (_float_of(a.dtype), _real_of(a.dtype))),
    # cholesky and eigh factor ½(A + Aᴴ), as their NumPy impls do
    "cholesky": _dask_matrix(lambda m: np.linalg.cholesky(_herm(m)), "(n,n)->(n,n)",
                             lambda a: _float_of(a.dtype)),
    "eigh": _dask_matrix(lambda m: tuple(np.linalg.eigh(_herm(m))), "(n,n)->(n),(n,n)",
                         lambda a: (_real_of(a.dtype), _float_of(a.dtype))),
    "svd": _dask_matrix(lambda m: np.linalg.svd(m, compute_uv=False), "(m,n)->(k)",
                        lambda a: _real_of(a.dtype), _k),
    "svd_uv": _dask_matrix(lambda m: tuple(np.linalg.svd(m, full_matrices=False)),
                           "(m,n)->(m,k),(k),(k,n)",
                           lambda a: (_float_of(a.dtype), _real_of(a.dtype), _float_of(a.dtype)),
                           _k),
    "qr": _dask_matrix(lambda m: tuple(np.linalg.qr(m, mode="reduced")), "(m,n)->(m,k),(k,n)",
                       lambda a: (_float_of(a.dtype), _float_of(a.dtype)), _k),
    "pinv": _dask_matrix(lambda m, rcond, hermitian: np.linalg.pinv(m, rcond=rcond,
                                                                     hermitian=hermitian),
                         "(m,n)->(n,m)", lambda a: _float_of(a.dtype)),
})


def _dask_per_matrix(signature, dtypes):
    """A Dask impl that runs the primitive's own NumPy impl on whole matrices (one chunk
    each, as :func:`_dask_matrix`): for functions only SciPy/NumPy have (eig, expm). The
    dispatch passes the primitive (``wants_primitive``)."""
    def impl(xp, prim, a, **params):
        def one(m, **p):
            out = prim.impl(m, **p)
            return tuple(out) if isinstance(out, list) else out
        return _dask_matrix(one, signature, dtypes)(xp, a, **params)
    impl.wants_primitive = True
    return impl


def _complex_of(dtype):
    return np.result_type(_float_of(dtype), np.complex64)


BACKEND_IMPLS["dask"].update({
    "eig": _dask_per_matrix("(n,n)->(n),(n,n)",
                            lambda a: (_complex_of(a.dtype), _complex_of(a.dtype))),
    "expm": _dask_per_matrix("(n,n)->(n,n)", lambda a: _float_of(a.dtype)),
})


def _dask_argsort(xp, x, axis, stable):
    # Dask has no sort: the sorted axis in one chunk, NumPy's argsort per chunk
    x = x.rechunk({axis % x.ndim: -1})
    return x.map_blocks(np.argsort, axis=axis, kind="stable" if stable else None,
                        dtype=np.intp)


BACKEND_IMPLS["dask"]["argsort"] = _dask_argsort
