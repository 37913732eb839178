"""``linear_solve`` and the Krylov shortcuts ``cg``, ``bicgstab``, ``gmres``, ``minres``:
x = A⁻¹b for any kind of A, differentiated as ``diff=`` says.

The solver describes itself and :func:`adjoin.implicit.solve` applies the strategy:

- a direct method (LU, Cholesky, sparse LU) is a :class:`~adjoin.implicit.DirectSolver`:
  exact, its derivatives reuse its factorization whatever the strategy;
- a Krylov method is an :class:`~adjoin.implicit.IterativeSolver` written with adjoin
  operations (:mod:`adjoin.implicit.krylov`), whose implicit rule is the ``linear_solve``
  primitive: the tangent and transposed solves are linear solves with the same operator
  (:mod:`adjoin.implicit.linear`), configurable with ``diff=Implicit(linear_solver=...,
  tol=..., preconditioner=...)``.

Stopping: each system (each vmap example) stops when ‖b − A x‖ ≤ max(tol·‖b‖, atol)
(:mod:`adjoin.implicit.iterative`).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from adjoin.backends import is_array as _is_array
from adjoin.core.trace import ConcretizationError, Tracer, concrete_value, dtype_of, shape_of
from adjoin.implicit import krylov
from adjoin.implicit.info import SolveInfo, check_finite
from adjoin.implicit.iterative import stopped, stopping_threshold, worst
from adjoin.implicit.linear import LinearOptions, bind_linear_solve
from adjoin.implicit.problem import DirectSolver
from adjoin.implicit.strategies import DiffStrategy, solve
from adjoin.linalg._api import cho_factor, cho_solve
from adjoin.linalg._operators import as_function, as_operator, kind_of
from adjoin.linalg._sparse import as_sparse
from adjoin.primitives.sparse import sparse_solve

import adjoin.numpy as anp

__all__ = ["linear_solve", "cg", "bicgstab", "gmres", "minres"]

DIRECT = ("lu", "cholesky", "splu")
ITERATIVE = tuple(krylov.SOLVERS)


def _choose(method, kind, symmetric):
    if method != "auto":
        return method
    if kind == "dense":
        return "lu"
    if kind == "sparse":
        return "splu"
    return "cg" if symmetric else "gmres"


def _constant(x):
    """A preconditioner does not change the solution: its values are used as constants (a
    value batched by vmap keeps its examples)."""
    if not isinstance(x, Tracer):
        return x
    try:
        return concrete_value(x)
    except ConcretizationError:
        return x


def _direct(A, b, method, kind):
    if kind in ("operator", "callable"):
        raise ValueError(f"linear_solve: method='{method}' needs a matrix (dense or sparse); "
                         "for a LinearOperator or a function use an iterative method "
                         "('gmres', 'bicgstab', 'cg', 'minres')")
    if kind == "sparse" or method == "splu":
        if kind != "sparse":
            raise ValueError("linear_solve: method='splu' needs a scipy.sparse matrix")
        data, pattern = as_sparse(A)
        return sparse_solve(data, b, pattern)
    if method == "cholesky":
        return cho_solve(cho_factor(A, lower=True), b)
    return anp.linalg.solve(A, b)


def _direct_info(method, A, b, x, tol, atol):
    """A direct solve's report: one iteration, its residual ‖b − A x‖ (converged: finite)."""
    matvec, ops, _ = as_operator(A, b)
    b, x, ops = stopped(b), stopped(x), stopped(ops)
    res, thr = worst(krylov.norm(b - matvec(x, *ops)),
                     stopping_threshold(krylov.norm(b), tol, atol))
    return SolveInfo(method=method, iterations=1, residual=res, threshold=thr,
                     converged=bool(np.isfinite(res)))


def linear_solve(A: Any, b: Any, *, method: str = "auto",
                 diff: DiffStrategy | str | tuple = "implicit", tol: float = 1e-10,
                 atol: float = 0.0, maxiter: int | None = None, x0: Any = None, M: Any = None,
                 symmetric: bool = False, throw: bool = True, return_info: bool = False,
                 restart: int | None = None):
    """x = A⁻¹b for any kind of A, differentiable with respect to b and to A.

    A: a dense array, a ``scipy.sparse`` matrix (its stored values are differentiable; the
    cotangent lives on the sparsity pattern), a ``scipy.sparse.linalg.LinearOperator``
    (constant) or a function ``matvec(x)`` that may close over differentiable parameters.

    ``method``:

    - ``"auto"`` (default): ``"lu"`` for a dense A, ``"splu"`` for a sparse one, and for a
      LinearOperator or a function ``"cg"`` when ``symmetric=True`` (assumed positive
      definite; use ``"minres"`` for symmetric indefinite A), else ``"gmres"``;
    - direct: ``"lu"`` (dense LU), ``"cholesky"`` (dense, symmetric positive definite),
      ``"splu"`` (sparse LU). Exact: the derivatives reuse the factorization (the factors
      are outputs of the solve primitive), whatever ``diff`` says; the iterative keywords
      do not apply;
    - iterative (written in adjoin, see ``adjoin.implicit.krylov``): ``"cg"``, ``"bicgstab"``,
      ``"gmres"`` (``restart``, default 20; its iterations are restart cycles), ``"minres"``.

    ``diff`` (iterative methods): ``ad.Implicit()`` (default, or ``"implicit"``: the
    ``linear_solve`` primitive, whose derivatives are linear solves with the same method;
    ``Implicit(linear_solver=..., tol=..., preconditioner=...)`` configures them),
    ``ad.Unroll()`` (differentiate through the iterations), ``ad.Truncated(k)`` or
    ``ad.OneStep()``; see ``adjoin.implicit.strategies``. The solver stops when
    ‖b − A x‖ ≤ max(tol·‖b‖, atol) (for each vmap example), or after ``maxiter`` iterations
    (default 10·n), and then raises ``NotConvergedError`` (with its residual and iteration
    count) unless ``throw=False``. ``x0``: the starting guess (no derivative flows into it
    under ``Implicit``). ``M``: a preconditioner M ≈ A⁻¹ (matrix, LinearOperator or
    function; treated as a constant): split for cg/minres (M Hermitian positive definite),
    right for gmres and bicgstab. ``symmetric``: A = Aᵀ, so the transposed solve uses A
    itself.

    Returns x, or ``(x, SolveInfo)`` with ``return_info=True`` (method, iterations, residual).
    """
    kind = kind_of(A)
    method = _choose(method, kind, symmetric)
    base, _ = krylov.parse_method(method)
    if base in DIRECT:
        report = ((lambda x: _direct_info(base, A, b, x, tol, atol)) if return_info
                  else (lambda x: SolveInfo(base, 1, float("nan"), float("nan"), True)))
        x, info = solve(DirectSolver(base, lambda: _direct(A, b, base, kind), report), None, [],
                        diff=diff, what="linear solve")
        return (x, info) if return_info else x
    if base not in ITERATIVE:
        raise ValueError(f"linear_solve: unknown method {method!r}; choose 'auto', one of "
                         f"{DIRECT} (direct) or {ITERATIVE} (iterative)")
    if restart is not None and base != "gmres":
        raise ValueError(f"linear_solve: restart= is a gmres option, not a {base} one")
    b = b if isinstance(b, Tracer) or _is_array(b) else np.asarray(b)  # any backend
    matvec, ops, rmatvec = as_operator(A, b)
    check_finite(f"linear_solve ({base})",
                 {"the right-hand side b": b, "the initial guess x0": x0,
                  **{("the matrix A" if i == 0 and kind in ("dense", "sparse")
                      else f"operand #{i} of A"): o for i, o in enumerate(ops)}})
    if kind == "dense" and shape_of(ops[0])[1] != shape_of(b)[0]:
        raise ValueError(f"linear_solve: A of shape {shape_of(ops[0])} and b of shape "
                         f"{shape_of(b)} do not match")
    n = int(np.prod(shape_of(b), dtype=np.int64))
    maxiter = 10 * n if maxiter is None else int(maxiter)
    options = {} if restart is None else {"restart": int(restart)}
    Mf = as_function(M)
    threshold = stopping_threshold(krylov.norm(stopped(b)), tol, atol)  # nothing taped
    name = krylov.method_name(base, **options)

    def implicit(problem, strategy):
        """The linear_solve primitive: its rules are linear solves with the same operator."""
        Mc = None if Mf is None else (lambda v: _constant(Mf(v)))
        complex_ = dtype_of(b).kind == "c" or any(dtype_of(o).kind == "c" for o in ops)
        # a complex Hermitian A is not its own transpose: solve with Aᵀ = conj(A) instead
        sym = bool(symmetric) and not complex_
        derivative = None
        if not strategy.is_default():
            derivative = strategy.linear_options(LinearOptions(
                name, symmetric=sym, tol=float(tol), atol=float(atol), maxiter=maxiter, M=Mc))
        info = SolveInfo(base)
        x = bind_linear_solve(b, ops, matvec=matvec, rmatvec=rmatvec, symmetric=sym,
                              method=name, tol=tol, atol=atol, maxiter=maxiter, x0=x0, M=Mc,
                              throw=throw, info=info, derivative=derivative)
        return x, info

    solver = krylov.SOLVERS[base](matvec, M=Mf, threshold=threshold, **options)
    solver = dataclasses.replace(solver, implicit=implicit)
    return _returned(solve(solver, x0, [b, *ops], diff=diff, threshold=threshold,
                           maxiter=maxiter, throw=throw, what="linear solve"), return_info)


def _returned(x_info, return_info):
    return x_info if return_info else x_info[0]


def _shortcut(name):
    def method(A, b, x0=None, *, tol=1e-10, atol=0.0, maxiter=None, M=None, diff="implicit",
               symmetric=None, throw=True, return_info=False, **options):
        sym = name in ("cg", "minres") if symmetric is None else symmetric
        return linear_solve(A, b, method=name, diff=diff, tol=tol, atol=atol, maxiter=maxiter,
                            x0=x0, M=M, symmetric=sym, throw=throw, return_info=return_info,
                            **options)
    method.__name__ = name
    method.__qualname__ = name
    return method


cg = _shortcut("cg")
cg.__doc__ = """``scipy.sparse.linalg.cg``: conjugate gradients for Hermitian positive definite A.

Returns x (``return_info=True``: (x, SolveInfo)); keywords as :func:`linear_solve`."""
bicgstab = _shortcut("bicgstab")
bicgstab.__doc__ = """BiCGStab for a general nonsingular A; keywords as :func:`linear_solve`."""
gmres = _shortcut("gmres")
gmres.__doc__ = """Restarted GMRES (``restart=20``; iterations count restart cycles) for a
general nonsingular A; keywords as :func:`linear_solve`."""
minres = _shortcut("minres")
minres.__doc__ = """MINRES for Hermitian (possibly indefinite) A; keywords as
:func:`linear_solve`."""
