"""Newton with a sparse Jacobian: each step a sparse LU solve, the implicit rule one more
solve that reuses the last factorization.

``root(fun, x0, jac=...)`` (a function returning an :class:`adjoin.linalg.SparseMatrix` or
a scipy.sparse matrix, always on the same pattern) or ``root(fun, x0, jac_sparsity=S)``
(the Jacobian computed from a few jvps, one per colour of a column colouring of S, Curtis,
Powell and Reid 1974) routes here.

The implicit rule is the primitive ``sparse_root`` with two outputs, the root x* and the
LU factorization of the last Newton step's Jacobian J(x_{k-1}) (as ``sparse_solve``
returns its factors, so nothing is cached by identity). Its rules solve with the exact
J(x*) by iterative refinement on that factorization, x ← x + J̃⁻¹(r − J x) with
J̃ = J(x_{k-1}): near a root J̃ − J* = O(‖Δx_{k-1}‖), so two or three triangular solves
reach rounding level and no new factorization is needed. When the values of J are traced
(derivatives of higher order), the rules solve with the ``sparse_solve`` primitive instead,
which differentiates with respect to J.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

import adjoin.numpy as anp
from adjoin.core.avals import aval_of
from adjoin.core.primitive import Primitive
from adjoin.core.trace import Tracer, dtype_of, shape_of
from adjoin.implicit.info import SolveInfo
from adjoin.implicit.iterative import converged, stopped, stopping_threshold, worst
from adjoin.implicit.problem import IterativeSolver
from adjoin.linalg._sparse import SparseMatrix, as_sparse
from adjoin.optimize._common import (inf_norm, normalize_args, parametrize, relative_threshold,
                                     split_args, two_norm)
from adjoin.primitives import sparse as _sp
from adjoin.primitives.sparse import SparseLU, SparsePattern, sparse_lu_solve_p, sparse_solve_p
from adjoin.transforms import api

#: refinement steps before the stale factorization is given up for a new one
MAX_REFINEMENTS = 10


# =====================================================================================
# sparsity patterns and colouring
# =====================================================================================

def as_pattern(S, n, what="jac_sparsity"):
    """The SparsePattern of a sparsity pattern given as a SparsePattern (kept as it is), a
    scipy.sparse matrix or a dense boolean/0-1 array of shape (n, n) (CSR, sorted, no
    duplicates)."""
    if isinstance(S, SparsePattern):
        if S.shape != (n, n):
            raise ValueError(f"{what} has shape {S.shape}, but the Jacobian of fun is {(n, n)}")
        return S  # used as given: the values jac returns live on this very pattern
    elif sp.issparse(S):
        M = sp.csr_matrix(S, dtype=float, copy=True)
        M.data[:] = 1.0
    else:
        a = np.asarray(S)
        if a.ndim != 2:
            raise TypeError(f"{what} must be a sparse matrix, a SparsePattern or a 2-D array of "
                            f"booleans, got {type(S).__name__} of shape {a.shape}")
        M = sp.csr_matrix(a != 0, dtype=float)
    if M.shape != (n, n):
        raise ValueError(f"{what} has shape {M.shape}, but the Jacobian of fun is {(n, n)}")
    M.sum_duplicates()
    M.sort_indices()
    M.data[:] = 1.0
    return SparsePattern.of(M)


def color_columns(pattern: SparsePattern) -> np.ndarray:
    """A colouring of the columns of ``pattern`` in which no two columns of one colour share a
    row (greedy, largest degree first, on the column intersection graph SᵀS). The Jacobian
    is then recovered from one jvp per colour: J·(Σ_{j of colour c} e_j) holds J[i, j] in row
    i for the one column j of colour c that touches row i."""
    n = pattern.shape[1]
    S = sp.csr_matrix((np.ones(pattern.nnz), (pattern.row, pattern.col)), shape=pattern.shape)
    G = (S.T @ S).tocsr()
    indptr, indices = G.indptr, G.indices
    order = np.argsort(-np.diff(indptr), kind="stable")
    colors = np.full(n, -1, dtype=np.int64)
    for j in order:
        nb = colors[indices[indptr[j]:indptr[j + 1]]]
        used = np.zeros(nb.size + 2, dtype=bool)
        used[nb[(nb >= 0) & (nb < used.size)]] = True
        colors[j] = int(np.argmin(used))
    return colors


def colored_jacobian(F, pattern: SparsePattern):
    """``jac(u, *theta) -> data`` on ``pattern``: the Jacobian of F from one jvp per colour
    (vmapped over the colours)."""
    colors = color_columns(pattern)
    k = int(colors.max()) + 1 if colors.size else 0
    seeds = np.zeros((k, pattern.shape[1]))
    seeds[colors, np.arange(pattern.shape[1])] = 1.0
    pick_color, pick_row = colors[pattern.col], pattern.row

    def jac(u, *theta):
        seeds_u = anp.asarray(seeds, dtype_of(u))
        cols = api.vmap(lambda e: api.jvp(lambda v: F(v, *theta), (u,), (e,))[1])(seeds_u)
        return cols[pick_color, pick_row]

    jac.colors = k
    return jac


def user_jacobian(jac, pattern: SparsePattern | None):
    """``jac(u, *theta) -> data`` from a user function returning a sparse matrix on one
    pattern (a SparseMatrix or a scipy.sparse CSR/CSC/COO matrix)."""
    def data(u, *theta):
        A = jac(u, *theta)
        got = as_sparse(A)
        if got is None:
            raise TypeError(
                f"root: jac must return a sparse matrix (adjoin.linalg.SparseMatrix or "
                f"scipy.sparse), got {type(A).__name__}. For a dense Jacobian remove jac=: "
                "adjoin differentiates fun itself.")
        values, pat = got
        if pattern is not None and pat is not pattern and pat != pattern:
            raise ValueError(f"root: jac returned a matrix on the pattern {pat}, but the "
                             f"Jacobian's pattern is {pattern}; return the same pattern at "
                             "every x (store explicit zeros)")
        return values
    return data


def pattern_of(jac, u, theta):
    """The pattern of the matrix ``jac(u, *theta)`` returns (one evaluation, no derivative)."""
    A = jac(stopped(u), *stopped(theta))
    got = as_sparse(A)
    if got is None:
        raise TypeError(
            f"root: jac must return a sparse matrix (adjoin.linalg.SparseMatrix or "
            f"scipy.sparse), got {type(A).__name__}. For a dense Jacobian remove jac=: adjoin "
            "differentiates fun itself.")
    if isinstance(A, SparseMatrix) or A.format in ("csr", "csc", "coo"):
        return got[1]
    return SparsePattern.of(A.tocsr())


def parametrize_with_jac(fun, jac, x0, args):
    """``(F, J, theta)``: ``F(x, *theta) == fun(x, *args)`` and ``J(x, *theta) == jac(x,
    *args)``, with θ the floating-point leaves of ``args`` followed by the traced values
    ``fun`` and then ``jac`` close over (closure conversion), so that the implicit rule
    sees every parameter."""
    n_dyn = len(split_args(normalize_args(args))[0])
    F, theta_F = parametrize(fun, x0, args)
    J, theta_J = parametrize(jac, x0, args)
    n_F = len(theta_F)

    def J2(x, *theta):
        return J(x, *theta[:n_dyn], *theta[n_F:])

    return F, J2, list(theta_F) + list(theta_J[n_dyn:])


# =====================================================================================
# solves with a stale factorization, refined against the exact matrix
# =====================================================================================

class RefinedLU:
    """op(A)⁻¹ b for a sparse matrix A from the LU factors of a nearby matrix Ã: iterative
    refinement x ← x + op(Ã)⁻¹(b − op(A) x), which converges when ‖I − Ã⁻¹A‖ < 1 (near a
    Newton root Ã = J(x_{k-1}) and A = J(x*) differ by O(‖Δx‖)). When it stagnates before
    rounding level, A itself is factored. Duck-types SparseLU for ``sparse_lu_solve``."""

    __slots__ = ("factor", "A", "matrix_shape", "matrix_dtype", "solves", "__weakref__")

    def __init__(self, factor: SparseLU | None, A):
        self.factor, self.A = factor, A.tocsr()
        self.matrix_shape, self.matrix_dtype = tuple(A.shape), np.dtype(A.dtype)
        self.solves = 0

    def _exact(self):
        pattern = SparsePattern.of(self.A)
        self.factor = _sp._factor(self.A.data, pattern)

    def solve(self, b, trans):
        b = np.asarray(b)
        if self.factor is None:
            self._exact()
        opA = self.A.T if trans == "T" else self.A
        cols = b.reshape(b.shape[0], -1)
        x = self.factor.solve(cols, trans)
        self.solves += 1
        scale = abs(opA) @ np.abs(x) + np.abs(cols)
        last = np.inf
        for _ in range(MAX_REFINEMENTS):
            r = cols - opA @ x
            err = float(np.max(np.abs(r) / np.maximum(scale, np.finfo(float).tiny)))
            if err <= 8 * np.finfo(float).eps:
                break
            if err > 0.5 * last:  # stagnates: the factorization is too far from A
                self._exact()
                x = self.factor.solve(cols, trans)
                self.solves += 1
                break
            last = err
            x = x + self.factor.solve(r, trans)
            self.solves += 1
        return np.asarray(x).reshape(b.shape)

    def __repr__(self):
        return f"RefinedLU(shape={self.matrix_shape}, of {self.factor!r})"


def jacobian_solve(jac, pattern, x, theta, factor, rhs, trans):
    """op(J(x, θ))⁻¹ rhs: with the given (possibly stale) factorization, refined, when J's
    values are concrete; by the differentiable ``sparse_solve`` when they are traced."""
    data = jac(x, *theta)
    if isinstance(data, Tracer) or not isinstance(factor, SparseLU):
        return sparse_solve_p.bind(data, rhs, pattern=pattern, trans=trans)[0]
    A = pattern.matrix(np.asarray(data))
    return sparse_lu_solve_p.bind(rhs, factor=RefinedLU(factor, A), trans=trans)


# =====================================================================================
# Newton steps and the sparse_root primitive
# =====================================================================================

def sparse_newton_solver(F, jac, pattern, backtrack=None):
    """Newton's method with sparse LU steps, as an IterativeSolver (every strategy applies:
    Unroll differentiates each step's ``sparse_solve``, whose vjp reuses that step's
    factors) with a dedicated implicit rule (``sparse_root``). ``F(u, *theta)`` and
    ``jac(u, *theta)`` (the Jacobian's values on ``pattern``) close over no traced value;
    ``backtrack(F, u, du, ‖F(u)‖, theta)``: the line search (None: full steps)."""
    def advance(u, du, Fu, theta):
        return backtrack(F, u, du, two_norm(Fu), theta) if backtrack else u + du

    def advance_concrete(u, du, Fu, theta):
        """(u + t du, F(u + t du)) with t from the line search (concrete values: the
        residual of the accepted point is kept for the next convergence test)."""
        un = u + du
        Fn = F(un, *theta)
        if backtrack is None:
            return un, Fn
        fnorm, t = float(two_norm(Fu)), 1.0
        for _ in range(30):
            if (float(two_norm(Fn)) <= (1.0 - 1e-4 * t) * fnorm
                    or float(inf_norm(t * du)) <= 1e-10 * float(inf_norm(u))):
                break
            t *= 0.5
            un = u + t * du
            Fn = F(un, *theta)
        return un, Fn

    def step(u, *theta):
        Fu = F(u, *theta)
        du = _sp.sparse_solve(jac(u, *theta), -Fu, pattern)
        return advance(u, du, Fu, theta)

    def error(u, *theta):
        return inf_norm(F(u, *theta))

    def implicit(problem, strategy):
        if not strategy.is_default():
            # the user configured the implicit rule's linear solves: the generic rule
            generic = dataclasses.replace(problem.solver, implicit=None)
            return strategy.iterative(dataclasses.replace(problem, solver=generic))
        info = problem.new_info()

        def run(x0, *theta):
            return newton_run(F, jac, pattern, x0, theta, problem, info, advance_concrete)

        x0 = problem.x0
        x0 = x0 if isinstance(x0, (Tracer, np.ndarray)) else np.asarray(x0)
        x, _ = sparse_root_p.bind(x0, *problem.theta, run=run, F=F, jac=jac, pattern=pattern,
                                  out_aval=aval_of(problem.solution_like()))
        return x, info

    return IterativeSolver("newton (sparse LU)", init=lambda u0, *theta: u0, step=step,
                           error=error, implicit=implicit)


class RelativeThreshold:
    """Stop at ‖F(x)‖∞ ≤ max(tol·‖F(x0)‖∞, atol) (root's rule); a callable of the starting
    state like ``relative_threshold``'s, which the sparse Newton reads without evaluating F
    at x0 twice."""

    def __init__(self, error, tol, atol):
        self.tol, self.atol = tol, atol
        self._call = relative_threshold(error, tol, atol)

    def __call__(self, state0, *theta):
        return self._call(state0, *theta)


def newton_run(F, jac, pattern, u, theta, problem, info, advance):
    """Newton on concrete values; returns (x, LU factors of the last step's Jacobian or
    None when x0 already solves the system)."""
    factor, err, k, ok = None, None, 0, False
    Fu = F(u, *theta)
    thr = problem.threshold
    if isinstance(thr, RelativeThreshold):  # relative to ‖F(x0)‖∞: the residual just computed
        thr = stopping_threshold(inf_norm(Fu), thr.tol, thr.atol)
    elif callable(thr):
        thr = thr(u, *theta)
    for k in range(problem.maxiter + 1):
        err = inf_norm(Fu)
        if converged(err, thr):
            ok = True
            break
        if k == problem.maxiter:
            break
        du, factor = _sp._solve_impl(np.asarray(jac(u, *theta)), -np.asarray(Fu), pattern, 0)
        u, Fu = advance(u, du, Fu, theta)
    residual, t = worst(err, thr)
    report = SolveInfo(problem.solver.name, k, residual, t, ok)
    info.__dict__.update(report.__dict__)
    report.check(problem.throw, problem.what)
    return np.asarray(u), factor


def _root_impl(x0, *theta, run, F, jac, pattern, out_aval):
    x, factor = run(x0, *theta)
    return [x, factor]


def _root_shape(x0, *theta, run, F, jac, pattern, out_aval):
    return [out_aval, _sp._FACTOR_AVAL]


# J ẋ = −(∂F/∂θ) θ̇            (J = ∂F/∂x at x*, solved on the last Newton factorization)
def _root_jvp(primals, tangents, run, F, jac, pattern, out_aval):
    outs = sparse_root_p.bind(*primals, run=run, F=F, jac=jac, pattern=pattern,
                              out_aval=out_aval)
    x, factor = outs
    theta, theta_dot = list(primals[1:]), list(tangents[1:])
    if all(t is None for t in theta_dot):
        return outs, [None, None]
    _, F_dot = api.jvp(lambda *th: F(x, *th), theta, theta_dot)
    x_dot = jacobian_solve(jac, pattern, x, theta, factor, -F_dot, 0)
    if dtype_of(x_dot) != dtype_of(x):
        x_dot = anp.asarray(x_dot, dtype_of(x))
    return outs, [x_dot, None]


# Jᵀ λ = x̄ ;  θ̄ = −(∂F/∂θ)ᵀ λ      (x0 gets no cotangent: x* does not depend on it)
def _root_vjp(needs, out_bar, outs, x0, *theta, run, F, jac, pattern, out_aval):
    x, factor = outs
    g = out_bar[0]
    if g is None or not any(needs[1:]):
        return [None] * (1 + len(theta))
    lam = jacobian_solve(jac, pattern, x, theta, factor, g, 1)
    _, pullback = api.vjp(lambda *th: F(x, *th), *theta)
    return [None] + [(-c if n and dtype_of(t).kind in "fc" else None)
                     for c, n, t in zip(pullback(lam), needs[1:], theta)]


# vmap: one Newton solve per example (each with its own pattern-sized factorization)
def _root_batch(vals, dims, run, F, jac, pattern, out_aval):
    size = next(shape_of(v)[d] for v, d in zip(vals, dims) if d is not None)
    xs = []
    for i in range(size):
        args = [v if d is None else anp.take(v, i, axis=d) for v, d in zip(vals, dims)]
        xs.append(sparse_root_p.bind(*args, run=run, F=F, jac=jac, pattern=pattern,
                                     out_aval=out_aval)[0])
    return [anp.stack(xs), None], [0, None]


def _root_cost(x0, *theta, run, F, jac, pattern, out_aval):
    return 40 * pattern.nnz


sparse_root_p = Primitive("sparse_root", _root_impl, shape=_root_shape, jvp=_root_jvp,
                          vjp=_root_vjp, batch=_root_batch, cost=_root_cost,
                          multiple_results=True)

__all__ = ["sparse_newton_solver", "color_columns", "colored_jacobian", "as_pattern",
           "user_jacobian", "pattern_of", "parametrize_with_jac", "RefinedLU", "sparse_root_p"]
