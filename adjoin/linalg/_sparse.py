"""Differentiable sparse matrices: the stored values are the differentiable part.

- ``scipy.sparse`` CSR, CSC and COO matrices (and arrays) are pytree nodes: their stored
  values ``data`` are the one child, the sparsity pattern (indices, indptr, shape) is static
  aux data. ``grad(f)(A)`` therefore returns a sparse matrix of cotangents *on the same
  pattern*; inside a transformation the node unflattens to a :class:`SparseMatrix` (traced
  ``data`` plus the static pattern).
- ``sparse_matvec``: y = A x (x of shape (n,) or (n, ...)), and ``sparse_solve``: x = A⁻¹b
  by SciPy's sparse LU: primitives in ``adjoin/primitives/sparse.py``, re-exported here.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

import adjoin.numpy as anp
from adjoin.core.pytree import register_pytree_node
from adjoin.core.trace import Tracer, dtype_of, shape_of
from adjoin.primitives.sparse import SparsePattern, sparse_matvec


class SparseMatrix:
    """A sparse matrix whose stored values may be traced: ``data`` plus a static pattern.

    What a scipy.sparse matrix becomes inside a transformation. Supports ``A @ x``
    (x a vector or a matrix), ``x @ A`` for vectors, ``.T``, ``.todense()`` and
    ``.to_scipy()`` (concrete data only).
    """

    __array_priority__ = 100

    def __init__(self, data, pattern: SparsePattern):
        self.data, self.pattern = data, pattern

    @staticmethod
    def from_scipy(A):
        if isinstance(A, SparseMatrix):
            return A
        pattern = SparsePattern.of(A)
        return SparseMatrix(A.data, pattern)

    shape = property(lambda self: self.pattern.shape)
    dtype = property(lambda self: dtype_of(self.data))
    nnz = property(lambda self: self.pattern.nnz)
    ndim = 2

    @property
    def T(self):
        return SparseMatrix(self.data, self.pattern.T)

    def __matmul__(self, x):
        return sparse_matvec(self.data, x, self.pattern)

    def dot(self, x):
        return self @ x

    def __rmatmul__(self, x):
        if len(shape_of(x)) != 1:
            return anp.swapaxes(self.T @ anp.swapaxes(x, -1, -2), -1, -2)
        return self.T @ x

    def todense(self):
        """The dense matrix (entries off the pattern are 0; duplicates add up)."""
        return self @ np.eye(self.shape[1])

    toarray = todense

    def to_scipy(self):
        return self.pattern.rebuild(self.data)

    def __repr__(self):
        return f"SparseMatrix(shape={self.shape}, nnz={self.nnz}, data={self.data!r})"


def _flatten_sparse(A):
    return [A.data], SparsePattern.of(A)


def _unflatten_sparse(pattern, children):
    data, = children
    if isinstance(data, Tracer) or data is None or not isinstance(data, (np.ndarray, np.generic)):
        return SparseMatrix(data, pattern)
    return pattern.rebuild(data)


for _cls in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix,
             getattr(sp, "csr_array", None), getattr(sp, "csc_array", None),
             getattr(sp, "coo_array", None)):
    if _cls is not None:
        register_pytree_node(_cls, _flatten_sparse, _unflatten_sparse)

register_pytree_node(SparseMatrix, lambda A: ([A.data], A.pattern),
                     lambda pattern, children: SparseMatrix(children[0], pattern))


def as_sparse(A):
    """(data, pattern) of a scipy.sparse matrix or a SparseMatrix, else None."""
    if isinstance(A, SparseMatrix):
        return A.data, A.pattern
    if sp.issparse(A):
        if A.format not in ("csr", "csc", "coo"):
            A = A.tocsr()
        return A.data, SparsePattern.of(A)
    return None
