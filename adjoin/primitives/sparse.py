"""The sparse primitives: y = A x and x = A⁻¹ b for A stored on a static sparsity pattern.

The stored values ``data`` are the differentiable operand; the pattern (a
:class:`SparsePattern`: indices, indptr, shape) is a static parameter, so cotangents of
A live on the pattern. ``sparse_solve`` factors A with SciPy's sparse LU (``splu``); the
factorization is a second output of the primitive, so the tangent solve and the
transposed solve of the vjp reuse it (``sparse_lu_solve``) with no cache.

User code reaches these through ``adjoin.linalg`` (:class:`adjoin.linalg.SparseMatrix`,
scipy.sparse matrices as pytrees, ``linear_solve``).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from adjoin.core.avals import ShapedArray
from adjoin.core.primitive import Primitive
from adjoin.core.trace import Tracer, dtype_of, shape_of, trace_stack
from adjoin.primitives import lax
from adjoin.primitives.linalg import SingularMatrixError


class SparsePattern:
    """The static part of a sparse matrix: format, shape and index arrays (hashable).

    Entry k of ``data`` sits at (``row[k]``, ``col[k]``); duplicates add up (COO).
    """

    __slots__ = ("fmt", "shape", "row", "col", "indices", "indptr", "cls", "_hash",
                 "__weakref__")

    def __init__(self, fmt, shape, row, col, indices=None, indptr=None, cls=None):
        self.fmt, self.shape, self.cls = fmt, tuple(int(s) for s in shape), cls
        self.row = np.asarray(row, dtype=np.int64)
        self.col = np.asarray(col, dtype=np.int64)
        self.indices, self.indptr = indices, indptr
        self._hash = None

    @staticmethod
    def of(A):
        """The pattern of a scipy.sparse matrix (CSR, CSC or COO) or of an
        ``adjoin.linalg.SparseMatrix`` (anything whose ``pattern`` is a SparsePattern)."""
        if isinstance(getattr(A, "pattern", None), SparsePattern):
            return A.pattern
        fmt = A.format
        if fmt == "csr":
            row = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
            return SparsePattern("csr", A.shape, row, A.indices, A.indices.copy(),
                                 A.indptr.copy(), type(A))
        if fmt == "csc":
            col = np.repeat(np.arange(A.shape[1]), np.diff(A.indptr))
            return SparsePattern("csc", A.shape, A.indices, col, A.indices.copy(),
                                 A.indptr.copy(), type(A))
        if fmt == "coo":
            return SparsePattern("coo", A.shape, A.row.copy(), A.col.copy(), cls=type(A))
        raise TypeError(f"adjoin differentiates CSR, CSC and COO sparse matrices; convert the "
                        f"{fmt.upper()} matrix with .tocsr() first")

    @property
    def nnz(self):
        return self.row.size

    @property
    def T(self):
        """The pattern of the transpose (same data order)."""
        m, n = self.shape
        if self.fmt == "csr":
            return SparsePattern("csc", (n, m), self.col, self.row, self.indices, self.indptr)
        if self.fmt == "csc":
            return SparsePattern("csr", (n, m), self.col, self.row, self.indices, self.indptr)
        return SparsePattern("coo", (n, m), self.col, self.row)

    def block_diagonal(self, k):
        """The pattern of the block-diagonal matrix of k copies (data stacked, (k·nnz,))."""
        m, n = self.shape
        off = np.arange(k)[:, None]
        return SparsePattern("coo", (k * m, k * n), (self.row + off * m).ravel(),
                             (self.col + off * n).ravel())

    def matrix(self, data):
        """The scipy.sparse matrix with these values (concrete ``data``)."""
        data = np.asarray(data)
        if self.fmt == "csr":
            return sp.csr_matrix((data, self.indices, self.indptr), shape=self.shape)
        if self.fmt == "csc":
            return sp.csc_matrix((data, self.indices, self.indptr), shape=self.shape)
        return sp.coo_matrix((data, (self.row, self.col)), shape=self.shape)

    def rebuild(self, data):
        """A scipy.sparse object of the original class holding ``data``."""
        cls = self.cls or sp.csr_matrix
        data = np.asarray(data)
        if self.fmt in ("csr", "csc"):
            return cls((data, self.indices.copy(), self.indptr.copy()), shape=self.shape)
        return cls((data, (self.row.copy(), self.col.copy())), shape=self.shape)

    def _key(self):
        return (self.fmt, self.shape, self.cls, self.row.tobytes(), self.col.tobytes())

    def __hash__(self):
        if self._hash is None:
            self._hash = hash(self._key())
        return self._hash

    def __eq__(self, other):
        if self is other:
            return True
        return (isinstance(other, SparsePattern) and hash(self) == hash(other)
                and self._key() == other._key())

    def __repr__(self):
        return f"SparsePattern({self.fmt}, shape={self.shape}, nnz={self.nnz})"


def _flat_cols(x):
    """(n, ...) -> (n, k) for scipy, and the trailing shape."""
    x = np.asarray(x)
    return x.reshape(x.shape[0], -1), x.shape[1:]


# =====================================================================================
# sparse_matvec: y = A x
# =====================================================================================

def _matvec_impl(data, x, pattern):
    A = pattern.matrix(data)
    cols, rest = _flat_cols(x)
    y = A @ cols
    return np.asarray(y).reshape((pattern.shape[0],) + rest)


def _matvec_shape(data, x, pattern):
    if data.shape != (pattern.nnz,):
        raise ValueError(f"sparse_matvec: {pattern.nnz} stored values expected, got data of "
                         f"shape {data.shape}")
    if len(x.shape) < 1 or x.shape[0] != pattern.shape[1]:
        raise ValueError(f"sparse_matvec: the matrix of shape {pattern.shape} cannot multiply "
                         f"an array of shape {x.shape}")
    return ShapedArray((pattern.shape[0],) + tuple(x.shape[1:]),
                       np.result_type(data.dtype, x.dtype))


# y = A x: ẏ = A(ḋata) x + A ẋ
def _matvec_jvp(primals, tangents, pattern):
    data, x = primals
    td, x_dot = tangents
    y = sparse_matvec_p.bind(data, x, pattern=pattern)
    out = None
    if td is not None:
        out = sparse_matvec_p.bind(td, x, pattern=pattern)
    if x_dot is not None:
        out_dot = sparse_matvec_p.bind(data, x_dot, pattern=pattern)
        out = out_dot if out is None else out + out_dot
    if out is not None and dtype_of(out) != dtype_of(y):
        out = lax.astype(out, dtype_of(y))
    return y, out


def _data_cotangent(g, x, pattern):
    """data̅_k = Σ ȳ[row_k, ...]·x[col_k, ...] (summed over trailing axes)."""
    prod = g[pattern.row] * x[pattern.col]
    if len(shape_of(prod)) > 1:
        prod = lax.sum(prod, axis=tuple(range(1, len(shape_of(prod)))))
    return prod


# x̄ = Aᵀȳ ; data̅_k = ȳ[row_k]·x[col_k]
def _matvec_vjp(needs, out_bar, y, data, x, pattern):
    data_bar = lax.real_like(_data_cotangent(out_bar, x, pattern), data) if needs[0] else None
    x_bar = None
    if needs[1]:
        x_bar = lax.real_like(sparse_matvec_p.bind(data, out_bar, pattern=pattern.T), x)
    return data_bar, x_bar


def _matvec_batch(vals, dims, pattern):
    data, x = vals
    dd, dx = dims
    if dd is None:
        # one matrix, a batch of vectors: the batch becomes a trailing column axis
        x = lax.moveaxis(x, dx, -1)
        return sparse_matvec_p.bind(data, x, pattern=pattern), len(shape_of(x)) - 1
    # a batch of matrices: one block-diagonal matrix
    data = lax.moveaxis(data, dd, 0)
    k = shape_of(data)[0]
    if dx is None:
        x = lax.broadcast_to(x, (k,) + tuple(shape_of(x)))
    else:
        x = lax.moveaxis(x, dx, 0)
    s = shape_of(x)
    y = sparse_matvec_p.bind(lax.reshape(data, (-1,)), lax.reshape(x, (k * s[1],) + s[2:]),
                             pattern=pattern.block_diagonal(k))
    return lax.reshape(y, (k, pattern.shape[0]) + s[2:]), 0


def _matvec_cost(data, x, pattern):
    k = int(np.prod(x.shape[1:], dtype=np.int64))
    return 2 * pattern.nnz * k


sparse_matvec_p = Primitive("sparse_matvec", _matvec_impl, shape=_matvec_shape,
                            jvp=_matvec_jvp, vjp=_matvec_vjp, batch=_matvec_batch,
                            cost=_matvec_cost)


def sparse_matvec(data, x, pattern):
    """A x for the sparse matrix with values ``data`` on ``pattern``."""
    if not trace_stack:
        return _matvec_impl(data, x, pattern)
    return sparse_matvec_p.bind(data, x, pattern=pattern)


# =====================================================================================
# sparse_solve: [x, factorization] = sparse_solve(A, b) by sparse LU, and sparse_lu_solve: a
# solve with given factors
# =====================================================================================

class SparseLU:
    """A SuperLU factorization of a square sparse matrix: an output of ``sparse_solve`` (so
    the derivative rules receive it with the solution) and the static parameter of
    ``sparse_lu_solve``. Not an array: it has no ``shape`` or ``dtype`` of its own (a staged
    one has the abstract value ``ShapedArray((), object)``)."""

    __slots__ = ("lu", "matrix_shape", "matrix_dtype", "__weakref__")

    def __init__(self, lu, shape, dtype):
        self.lu, self.matrix_shape, self.matrix_dtype = lu, tuple(shape), np.dtype(dtype)

    def solve(self, b, trans):
        cols, rest = _flat_cols(b)
        dtype = np.result_type(self.matrix_dtype, cols.dtype, np.float64)
        if dtype.kind == "c" and self.matrix_dtype.kind != "c":
            x = (self.lu.solve(np.ascontiguousarray(cols.real), trans=trans)
                 + 1j * self.lu.solve(np.ascontiguousarray(cols.imag), trans=trans))
        else:
            x = self.lu.solve(np.ascontiguousarray(cols.astype(dtype, copy=False)), trans=trans)
        return np.asarray(x, dtype).reshape(b.shape)

    def __repr__(self):
        return f"SparseLU(shape={self.matrix_shape}, dtype={self.matrix_dtype})"


#: the abstract value of a staged SparseLU
_FACTOR_AVAL = ShapedArray((), object)


def _factor(data, pattern):
    A = pattern.matrix(data).tocsc()
    try:
        lu = spla.splu(A)
    except RuntimeError as e:
        raise SingularMatrixError(
            f"sparse solve: the matrix is singular ({e}), so the system has no unique solution. "
            "Regularize it (A + εI) or use an iterative least-squares method.") from None
    return SparseLU(lu, pattern.shape, A.dtype)


def _trans(t):
    return "T" if t else "N"


def _solve_impl(data, b, pattern, trans):
    factor = _factor(data, pattern)
    return [factor.solve(np.asarray(b), _trans(trans)), factor]


def _solve_shape(data, b, pattern, trans):
    m, n = pattern.shape
    if m != n:
        raise ValueError(f"sparse solve: the matrix must be square, got shape {pattern.shape}")
    if len(b.shape) < 1 or b.shape[0] != n:
        raise ValueError(f"sparse solve: the right-hand side of shape {b.shape} does not match "
                         f"the matrix of shape {pattern.shape}")
    return [ShapedArray(b.shape, np.result_type(data.dtype, b.dtype, np.float64)), _FACTOR_AVAL]


def _solve_with_factor(data, factor, rhs, pattern, trans):
    """op(A)⁻¹ rhs with the factorization the primal solve returned. When the values of A
    are traced (higher order) or the factorization is not concrete (staging), a solve with
    A itself, which differentiates with respect to A; otherwise the factors are reused."""
    if isinstance(data, Tracer) or not isinstance(factor, SparseLU):
        return sparse_solve_p.bind(data, rhs, pattern=pattern, trans=trans)[0]
    return sparse_lu_solve_p.bind(rhs, factor=factor, trans=trans)


def _op_matvec(data, v, pattern, trans):
    return sparse_matvec_p.bind(data, v, pattern=pattern.T if trans else pattern)


# x = op(A)⁻¹b: ẋ = op(A)⁻¹(ḃ − op(Ȧ) x)    (the primal's LU factors; they get no tangent)
def _solve_jvp(primals, tangents, pattern, trans):
    data, b = primals
    data_dot, b_dot = tangents
    x, factor = outs = sparse_solve_p.bind(data, b, pattern=pattern, trans=trans)
    rhs = b_dot
    if data_dot is not None:
        ax = _op_matvec(data_dot, x, pattern, trans)
        rhs = -ax if rhs is None else rhs - ax
    if rhs is None:
        return outs, [None, None]
    out_dot = _solve_with_factor(data, factor, rhs, pattern, trans)
    if dtype_of(out_dot) != dtype_of(x):
        out_dot = lax.astype(out_dot, dtype_of(x))
    return outs, [out_dot, None]


# λ = op(A)⁻ᵀ x̄ (the primal's factors, transposed) ; b̄ = λ ; data̅ = −λxᵀ on the pattern
def _solve_vjp(needs, out_bar, outs, data, b, pattern, trans):
    x, factor = outs
    lam = _solve_with_factor(data, factor, out_bar[0], pattern, 1 - trans)
    gd = None
    if needs[0]:
        gd = -(_data_cotangent(x, lam, pattern) if trans else _data_cotangent(lam, x, pattern))
        gd = lax.real_like(gd, data)
    b_bar = lax.real_like(lam, b) if needs[1] else None
    return gd, b_bar


def _solve_batch(vals, dims, pattern, trans):
    data, b = vals
    dd, db = dims
    if dd is None:
        b = lax.moveaxis(b, db, -1)
        return (sparse_solve_p.bind(data, b, pattern=pattern, trans=trans),
                [len(shape_of(b)) - 1, None])
    data = lax.moveaxis(data, dd, 0)
    k = shape_of(data)[0]
    b = lax.broadcast_to(b, (k,) + tuple(shape_of(b))) if db is None else lax.moveaxis(b, db, 0)
    s = shape_of(b)
    x, factor = sparse_solve_p.bind(lax.reshape(data, (-1,)),
                                    lax.reshape(b, (k * s[1],) + s[2:]),
                                    pattern=pattern.block_diagonal(k), trans=trans)
    return [lax.reshape(x, s), factor], [0, None]


def _solve_cost(data, b, pattern, trans):
    k = int(np.prod(b.shape[1:], dtype=np.int64))
    # a rough model (fill-in unknown): factorization ~ 20·nnz, two triangular solves per column
    return 20 * pattern.nnz + 4 * pattern.nnz * k


sparse_solve_p = Primitive("sparse_solve", _solve_impl, shape=_solve_shape, jvp=_solve_jvp,
                           vjp=_solve_vjp, batch=_solve_batch, cost=_solve_cost,
                           multiple_results=True)


# x = op(A)⁻¹ b with the factors of A given (constant): ẋ = op(A)⁻¹ ḃ ; b̄ = op(A)⁻ᵀ x̄
def _lu_solve_impl(b, factor, trans):
    return factor.solve(np.asarray(b), _trans(trans))


def _lu_solve_jvp(primals, tangents, factor, trans):
    out = sparse_lu_solve_p.bind(primals[0], factor=factor, trans=trans)
    x_dot = tangents[0]
    if x_dot is None:
        return out, None
    return out, sparse_lu_solve_p.bind(x_dot, factor=factor, trans=trans)


def _lu_solve_vjp(needs, out_bar, out, b, factor, trans):
    return (lax.real_like(sparse_lu_solve_p.bind(out_bar, factor=factor, trans=1 - trans), b),)


def _lu_solve_batch(vals, dims, factor, trans):
    b = lax.moveaxis(vals[0], dims[0], -1)
    return sparse_lu_solve_p.bind(b, factor=factor, trans=trans), len(shape_of(b)) - 1


sparse_lu_solve_p = Primitive(
    "sparse_lu_solve", _lu_solve_impl,
    shape=lambda b, factor, trans: ShapedArray(
        b.shape, np.result_type(factor.matrix_dtype, b.dtype, np.float64)),
    jvp=_lu_solve_jvp, vjp=_lu_solve_vjp, batch=_lu_solve_batch,
    cost=lambda b, factor, trans: 4 * int(np.prod(b.shape)) * 10)


def sparse_solve(data, b, pattern, trans=0):
    """x = A⁻¹b (or A⁻ᵀb with trans=1) by sparse LU for values ``data`` on ``pattern``."""
    if not trace_stack:
        return _solve_impl(data, b, pattern, trans)[0]
    return sparse_solve_p.bind(data, b, pattern=pattern, trans=trans)[0]
