"""adjoin.linalg: the algebra level's linear solves (dense, sparse, matrix-free).

SciPy's calling conventions: the functions return the solution array (with
``return_info=True`` also a :class:`~adjoin.implicit.SolveInfo`: iterations, residual).

- direct: :func:`solve` (LU, factors reused by the derivatives), :func:`solve_triangular`,
  :func:`cho_factor` / :func:`cho_solve`, :func:`lstsq`;
- any operator (dense, ``scipy.sparse``, ``LinearOperator``, a function ``matvec(x)``):
  :func:`linear_solve` and the Krylov methods :func:`cg`, :func:`bicgstab`, :func:`gmres`,
  :func:`minres`, differentiated as ``diff=`` says (``ad.Implicit()`` by default,
  ``ad.Unroll()``, ``ad.Truncated(k)``, ``ad.OneStep()``);
- differentiable sparse matrices: scipy.sparse CSR/CSC/COO matrices are pytrees whose
  stored values are the differentiable leaves (:class:`SparseMatrix` inside transformations).
"""
from adjoin.implicit.info import NonFiniteError, NotConvergedError, SolveInfo  # noqa: F401
from adjoin.linalg._api import cho_factor, cho_solve, lstsq, solve, solve_triangular  # noqa: F401
from adjoin.linalg._linear_solve import bicgstab, cg, gmres, linear_solve, minres  # noqa: F401
from adjoin.linalg._operators import apply_operator  # noqa: F401
from adjoin.linalg._sparse import SparseMatrix  # noqa: F401
from adjoin.primitives.sparse import SparsePattern, sparse_matvec, sparse_solve  # noqa: F401

__all__ = ["solve", "solve_triangular", "cho_factor", "cho_solve", "lstsq", "linear_solve",
           "cg", "bicgstab", "gmres", "minres", "SparseMatrix", "SparsePattern",
           "sparse_matvec", "sparse_solve", "apply_operator", "SolveInfo", "NotConvergedError",
           "NonFiniteError"]
