"""Roots of nonlinear systems g(x, *args) = 0: Newton (dense, sparse LU or Newton–Krylov,
with a backtracking line search), Broyden, and SciPy's methods; derivatives by ``diff=``.

Implicit rule (implicit table, "Nonlinear System Solving"): (∂g/∂x) ẋ = −(∂g/∂θ) θ̇ and
(∂g/∂x)ᵀ λ = x̄, θ̄ = −(∂g/∂θ)ᵀ λ: one linear solve per derivative, whatever the number of
iterations (F = g in :func:`adjoin.implicit.implicit_root`).
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin.implicit.info import SolveInfo
from adjoin.implicit.iterative import every, is_abstract, stopped
from adjoin.implicit.linear import LinearOptions, solve_linear
from adjoin.implicit.problem import IterativeSolver, OpaqueSolver
from adjoin.implicit.strategies import DiffStrategy, solve
from adjoin.optimize import _sparse
from adjoin.optimize._common import (DENSE_MAX, as_float, check_maxiter, check_method,
                                     inf_norm, krylov_method, linear_options, normalize_args,
                                     on_flat_vectors, parametrize, relative_threshold,
                                     staged_step_length,
                                     two_norm)
from adjoin.optimize._conditioning import check_root_jacobian
from adjoin.optimize._result import make_result
from adjoin.transforms import api


def jacobian_dense(F, u, theta):
    """The n×n Jacobian ∂F/∂u of a flat F (forward mode, n jvps)."""
    return api.jacfwd(lambda v: F(v, *theta))(u)


def backtrack(F, u, du, fnorm, theta, halvings=30):
    """For each example, the largest t in 1, ½, ¼, ... with ‖F(u + t du)‖ ≤ (1 − 10⁻⁴ t)‖F(u)‖;
    the full step when it is below the resolution of u (‖du‖∞ ≤ 10⁻¹⁰‖u‖∞: Newton is in
    its quadratic regime and rounding hides any decrease). Under vmap each example has its
    own step length, as it would alone."""
    full = inf_norm(du) <= 1e-10 * inf_norm(u)
    if is_abstract(full):  # staged: the same halvings as a while_loop on stopped values
        us, dus, fs, ths = stopped(u), stopped(du), stopped(fnorm), stopped(theta)
        t, _ = staged_step_length(
            lambda t: anp.logical_or(stopped(full), two_norm(F(us + t * dus, *ths))
                                     <= (1.0 - 1e-4 * t) * fs), halvings)
        return u + t * du
    if every(full):
        return u + du
    t = 1.0
    for _ in range(halvings):
        un = u + t * du
        ok = anp.logical_or(full, two_norm(F(un, *theta)) <= (1.0 - 1e-4 * t) * fnorm)
        if every(ok):
            return un
        t = anp.where(ok, t, 0.5 * t)  # the examples that passed keep their step
    return u + t * du


def newton_solver(F, lin: LinearOptions, line_search=True, inner_tol=1e-12):
    """Newton's method u ← u − J⁻¹F(u): J dense (jacfwd) for lin.method == "dense", else
    applied matrix-free by jvps of F inside a Krylov solve (Newton–Krylov)."""
    if lin.method == "dense":
        def direction(u, Fu, theta):
            return anp.linalg.solve(jacobian_dense(F, u, theta), -Fu)
    else:
        opts = LinearOptions(lin.method, symmetric=lin.symmetric, tol=inner_tol)

        def direction(u, Fu, theta):
            jx = lambda v: api.jvp(lambda w: F(w, *theta), (u,), (v,))[1]  # noqa: E731
            return solve_linear(jx, -Fu, u, opts)

    def step(u, *theta):
        Fu = F(u, *theta)
        du = direction(u, Fu, theta)
        return backtrack(F, u, du, two_norm(Fu), theta) if line_search else u + du

    name = "newton" if lin.method == "dense" else f"newton-krylov({lin.method})"
    return IterativeSolver(name, init=lambda u0, *theta: u0, step=step,
                           error=lambda u, *theta: inf_norm(F(u, *theta)))


def broyden_solver(F):
    """Broyden's ("good") method with the exact Jacobian at x0 as the first estimate:
    H ← H + (s − H y) sᵀH / (sᵀ H y) for the inverse Jacobian (Broyden 1965)."""
    def init(u0, *theta):
        return u0, F(u0, *theta), anp.linalg.inv(jacobian_dense(F, u0, theta))

    def step(state, *theta):
        u, Fu, H = state
        s = -(H @ Fu)
        un = u + s
        Fn = F(un, *theta)
        y = Fn - Fu
        Hy = H @ y
        den = anp.dot(s, Hy)
        ok = anp.abs(den) > 1e-300
        den = anp.where(ok, den, 1.0)
        H = anp.where(ok, H + anp.outer(s - Hy, s @ H) / den, H)
        return un, Fn, H

    return IterativeSolver("broyden", init=init, step=step,
                           error=lambda state, *theta: inf_norm(state[1]),
                           solution=lambda state: state[0])


_METHODS = {"newton": "newton", "newton-krylov": "newton-krylov", "krylov": "newton-krylov",
            "broyden": "broyden", "broyden1": "broyden"}
_SCIPY = ("hybr", "lm", "broyden2", "anderson", "linearmixing", "diagbroyden",
          "excitingmixing", "df-sane")
_METHODS.update({m: "scipy" for m in _SCIPY})


def root(fun, x0, args=(), method: str = "newton", jac=None, tol: float = 1e-10, callback=None,
         options: dict | None = None, *, atol: float = 0.0, maxiter: int | None = None,
         throw: bool = True, diff: DiffStrategy | str | tuple = "implicit",
         linear: str | LinearOptions | None = None, jac_sparsity=None):
    """A root of ``fun(x, *args) = 0`` (SciPy's ``root``), differentiable in ``args`` and
    in whatever ``fun`` closes over.

    ``method``: "newton" (dense Jacobian up to 200 unknowns, Newton–Krylov beyond),
    "newton-krylov", "broyden", or one of SciPy's ("hybr", "lm", ...; implicit only).
    Stops when ‖fun(x)‖∞ ≤ max(tol·‖fun(x0)‖∞, atol) (for each vmap example). ``diff``: a
    strategy, ``ad.Implicit()`` (default), ``ad.Unroll()``, ``ad.Truncated(k)``,
    ``ad.OneStep()``, or their shorthands. ``linear``: how Newton steps and the implicit
    rule solve linear systems ("dense", "cg", "gmres" or LinearOptions;
    ``diff=Implicit(linear_solver=...)`` overrides it for the implicit rule). ``throw``: raise
    NotConvergedError. Returns an OptimizeResult: ``x``, ``fun``, ``success``, ``nit``,
    ``residual``, ``message``.

    Sparse Newton (method "newton", x0 a vector): ``jac(x, *args)`` returning an
    :class:`adjoin.linalg.SparseMatrix` or a scipy.sparse matrix, always on one pattern
    (written with adjoin operations, so that it differentiates), or ``jac_sparsity``, the
    pattern (scipy.sparse, SparsePattern or boolean array), from which the Jacobian is
    computed by one jvp per colour of a column colouring; both: ``jac`` on that pattern.
    Each step is a sparse LU solve and the implicit rule reuses the last factorization
    (:mod:`adjoin.optimize._sparse`). Use it for large problems with a known sparse
    Jacobian (discretized PDEs); without jac and jac_sparsity, small problems get a dense
    Jacobian and large ones Newton–Krylov.
    """
    if callback is not None:
        raise TypeError("root: callback is not supported")
    kind = check_method(method, _METHODS, "root")
    options = dict(options or {})
    x0 = as_float(x0)
    shape = tuple(anp.shape(x0))
    n = int(np.prod(shape, dtype=np.int64))
    if jac is not None or jac_sparsity is not None:
        return _sparse_root(fun, x0, args, kind, jac, jac_sparsity, tol, atol, maxiter,
                            throw, diff, linear, options, n)
    F, theta = parametrize(fun, x0, args)

    Ff = on_flat_vectors(F, shape, "root: fun")

    u0 = anp.reshape(x0, (n,))
    lin = linear_options(linear, n)
    # Newton steps: dense for small problems unless told otherwise (the implicit rule may
    # still use a Krylov method, see linear_options)
    step_lin = LinearOptions("dense") if linear is None and n <= DENSE_MAX else lin
    maxiter = check_maxiter(maxiter, 100 if kind != "scipy" else 0)
    if kind == "scipy":
        solver = OpaqueSolver(f"scipy {method}", _scipy_runner(Ff, method, tol, options,
                                                               maxiter))
        u, info = solve(solver, u0, theta, diff=diff, optimality=Ff, throw=throw, linear=lin)
    else:
        if kind == "newton-krylov" and step_lin.method == "dense":
            m = krylov_method()
            if m is None:
                raise ValueError("newton-krylov needs a Krylov method for nonsymmetric systems "
                                 "(gmres); pass linear=LinearOptions('cg', symmetric=True) "
                                 "for a symmetric positive definite Jacobian")
            step_lin = LinearOptions(m, tol=step_lin.tol)
        if kind == "broyden":
            solver = broyden_solver(Ff)
        else:
            solver = newton_solver(Ff, step_lin, line_search=options.pop("line_search", True))
        if options:
            raise TypeError(f"root: unknown options {sorted(options)}")
        thr = relative_threshold(solver.error, tol, atol)
        u, info = solve(solver, u0, theta, diff=diff, optimality=Ff, threshold=thr,
                        maxiter=maxiter, throw=throw, linear=lin)
    # derivative at a singular Jacobian: refused, with κ (a staged report has no value to
    # decide on: a compiled program cannot raise)
    if n <= DENSE_MAX and not is_abstract(info.converged) and info.converged:
        check_root_jacobian(Ff, u, theta, jacobian_dense)
    x = anp.reshape(u, shape)
    return make_result(info, x=x, fun=F(x, *theta))


def _sparse_root(fun, x0, args, kind, jac, jac_sparsity, tol, atol, maxiter, throw, diff,
                 linear, options, n):
    """root with a sparse Jacobian: Newton with sparse LU steps (see root)."""
    if kind != "newton":
        raise ValueError("root: jac= and jac_sparsity= are for method='newton' (sparse LU "
                         "steps); remove them for the other methods")
    if len(anp.shape(x0)) != 1:
        raise ValueError(f"root: a sparse Jacobian needs x0 to be a vector, got shape "
                         f"{tuple(anp.shape(x0))}; reshape x0 and fun to flat vectors")
    if linear is not None:
        raise TypeError("root: with jac= or jac_sparsity=, Newton steps and the implicit rule "
                        "solve by sparse LU; remove linear=")
    if jac is not None and not callable(jac):
        raise TypeError(f"root: jac must be a function (x, *args) -> sparse matrix, got "
                        f"{type(jac).__name__}; to give only the pattern, pass jac_sparsity=")
    options = dict(options or {})
    line_search = options.pop("line_search", True)
    if options:
        raise TypeError(f"root: unknown options {sorted(options)}")
    if jac is not None:
        pattern = (_sparse.as_pattern(jac_sparsity, n) if jac_sparsity is not None
                   else _sparse.pattern_of(jac, x0, normalize_args(args)))
        F, J, theta = _sparse.parametrize_with_jac(
            fun, _sparse.user_jacobian(jac, pattern), x0, args)
    else:
        pattern = _sparse.as_pattern(jac_sparsity, n)
        F, theta = parametrize(fun, x0, args)
        J = _sparse.colored_jacobian(F, pattern)
    Ff = on_flat_vectors(F, (n,), "root: fun")
    solver = _sparse.sparse_newton_solver(Ff, J, pattern,
                                          backtrack if line_search else None)
    thr = _sparse.RelativeThreshold(solver.error, tol, atol)
    u, info = solve(solver, x0, theta, diff=diff, optimality=Ff, threshold=thr,
                    maxiter=check_maxiter(maxiter, 100), throw=throw)
    return make_result(info, x=u, fun=Ff(u, *theta))


def _scipy_runner(Ff, method, tol, options, maxiter):
    import scipy.optimize as so

    method = method.lower()

    def run(u0, *theta):
        opts = dict(options)
        if maxiter:
            opts.setdefault("maxiter" if method not in ("hybr", "lm") else "maxfev", maxiter)
        r = so.root(lambda u: np.asarray(Ff(u, *theta)), np.asarray(u0), method=method,
                    tol=tol, options=opts)
        res = float(np.max(np.abs(Ff(r.x, *theta)))) if r.x.size else 0.0
        nit = int(r.get("nit", r.get("nfev", 0)))
        return r.x, SolveInfo(f"scipy {method}", nit, res, tol, bool(r.success))

    return run
