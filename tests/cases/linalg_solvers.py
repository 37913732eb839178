"""Sweep cases for adjoin.linalg's primitives: solve_triangular, sparse_matvec, sparse_solve,
sparse_lu_solve, linear_operator."""
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import adjoin.numpy as anp
from adjoin.linalg import SparsePattern, apply_operator, solve_triangular, sparse_matvec
from adjoin.primitives.sparse import _factor, sparse_lu_solve_p, sparse_solve
from tests.cases import Case

_EYE4 = 4.0 * np.eye(4)


def _tri(lower, trans=0, unit=False):
    return lambda a, b: solve_triangular(a + _EYE4, b, trans=trans, lower=lower,
                                         unit_diagonal=unit)


# a 5×5 CSR pattern with a full diagonal (so a dominant diagonal makes it invertible)
_S = sp.csr_matrix(np.eye(5) + np.eye(5, k=1) + np.eye(5, k=-2) + np.eye(5, k=3))
_CSR = SparsePattern.of(_S)
_COO = SparsePattern.of(sp.coo_matrix(np.eye(4) + np.eye(4, k=-1)))
_DIAG = (_CSR.row == _CSR.col).astype(float)


def _sparse_values(rng, shape=(5,)):
    return (rng.uniform(-1, 1, _CSR.nnz) + 4.0 * _DIAG, rng.normal(size=shape))


_OP = spla.aslinearoperator(np.random.default_rng(7).normal(size=(3, 4)))
_FACTOR = _factor(_S.data * 0.5 + 3.0 * _DIAG, _CSR)


CASES = [
    Case("solve_triangular lower", _tri(True), [((4, 4), (4, 2)), ((4, 4), (4,)),
                                                ((2, 4, 4), (4, 3))],
         primitives=("solve_triangular",), domain=(-1.0, 1.0)),
    Case("solve_triangular upper trans", _tri(False, 1), [((4, 4), (4, 2))],
         primitives=("solve_triangular",), domain=(-1.0, 1.0), complex=True),
    Case("solve_triangular unit diagonal", _tri(True, 0, True), [((4, 4), (4, 1))],
         primitives=("solve_triangular",), domain=(-1.0, 1.0)),
    Case("sparse_matvec csr", lambda d, x: sparse_matvec(d, x, _CSR),
         [((_CSR.nnz,), (5,)), ((_CSR.nnz,), (5, 2))], primitives=("sparse_matvec",),
         complex=True),
    Case("sparse_matvec coo transposed", lambda d, x: sparse_matvec(d, x, _COO.T),
         [((_COO.nnz,), (4,))], primitives=("sparse_matvec",)),
    Case("sparse_solve", lambda d, b: sparse_solve(d, b, _CSR),
         [_sparse_values, lambda rng: _sparse_values(rng, (5, 2))],
         primitives=("sparse_solve", "sparse_lu_solve", "sparse_matvec")),
    Case("sparse_solve transposed", lambda d, b: sparse_solve(d, b, _CSR, trans=1),
         [_sparse_values], primitives=("sparse_solve",)),
    Case("sparse_lu_solve", lambda b: sparse_lu_solve_p.bind(b, factor=_FACTOR, trans=0),
         [((5,),), ((5, 3),)], primitives=("sparse_lu_solve",)),
    Case("linear_operator", lambda x: apply_operator(_OP, x), [((4,),), ((4, 2),)],
         primitives=("linear_operator",)),
    Case("linear_operator via anp", lambda x: anp.sin(apply_operator(_OP, x)), [((4,),)],
         primitives=("linear_operator",)),
]
