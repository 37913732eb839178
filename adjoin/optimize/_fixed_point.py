"""Fixed points x = φ(x, *args): plain (damped) iteration, Anderson acceleration, and Picard
iteration x ← A(x)⁻¹ b for nonlinear linear-looking systems A(x) x = b.

Implicit rule (fixed-point row of the implicit table, with the signs corrected): from
F(x, θ) = x − φ(x, θ) = 0,  (I − ∂φ/∂x) ẋ = +(∂φ/∂θ) θ̇  and  (I − ∂φ/∂x)ᵀ λ = x̄,
θ̄ = +(∂φ/∂θ)ᵀ λ. (A published version of the table has minus signs: wrong; the scalar
φ = a x + θ gives x* = θ/(1 − a), dx*/dθ = +1/(1 − a).)
Picard: F = A(x, θ) x − b(θ): (∂(A(x)x)/∂x) ẋ = (∂b/∂θ) θ̇ − (∂A/∂θ θ̇) x.
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin.implicit.problem import IterativeSolver
from adjoin.implicit.strategies import DiffStrategy, solve
from adjoin.optimize._common import (as_float, check_maxiter, check_method, inf_norm,
                                     linear_options, on_flat_vectors, parametrize,
                                     relative_threshold)
from adjoin.optimize._result import make_result


def iteration_solver(phi, damping=1.0):
    """x ← (1 − β) x + β φ(x)."""
    if damping == 1.0:
        step = phi
    else:
        def step(u, *theta):
            return (1.0 - damping) * u + damping * phi(u, *theta)
    return IterativeSolver("fixed-point iteration", init=lambda u0, *theta: u0, step=step,
                           error=lambda u, *theta: inf_norm(phi(u, *theta) - u))


def anderson_solver(phi, memory=5, damping=1.0, regularization=1e-10):
    """Anderson acceleration (Anderson 1965; Walker & Ni 2011): with the last m iterates
    xᵢ and gᵢ = φ(xᵢ), residuals fᵢ = gᵢ − xᵢ, α = argmin ‖Σ αᵢ fᵢ‖ subject to Σ αᵢ = 1,
    x ← Σ αᵢ ((1 − β) xᵢ + β gᵢ)."""
    def init(u0, *theta):
        return u0, (), ()

    def step(state, *theta):
        u, X, G = state
        g = phi(u, *theta)
        X, G = (X + (u,))[-memory:], (G + (g,))[-memory:]
        if len(X) == 1:
            return (1.0 - damping) * u + damping * g, X, G
        Xm, Gm = anp.stack(X, axis=1), anp.stack(G, axis=1)
        R = Gm - Xm
        RtR = anp.transpose(R) @ R
        k = len(X)
        reg = regularization * (anp.sum(R * R) / k) + 1e-300
        w = anp.linalg.solve(RtR + reg * anp.eye(k), anp.ones((k,)))
        alpha = w / anp.sum(w)
        return (1.0 - damping) * (Xm @ alpha) + damping * (Gm @ alpha), X, G

    return IterativeSolver("anderson", init=init, step=step,
                           error=lambda s, *theta: inf_norm(phi(s[0], *theta) - s[0]),
                           solution=lambda s: s[0])


_METHODS = {"iterate": "iterate", "iteration": "iterate", "anderson": "anderson"}


def fixed_point(func, x0, args=(), method: str = "iterate", *, tol: float = 1e-10,
                atol: float = 0.0, maxiter: int | None = None, throw: bool = True,
                diff: DiffStrategy | str | tuple = "implicit", linear=None,
                options: dict | None = None, full_output: bool = False):
    """A fixed point x = func(x, *args) (SciPy's ``fixed_point``), differentiable in ``args``
    and whatever ``func`` closes over. ``method``: "iterate" (options: damping β) or
    "anderson" (options: memory m, damping β). Stops when ‖func(x) − x‖∞ ≤
    max(tol·‖func(x0) − x0‖∞, atol) (for each vmap example). ``diff``: a strategy
    (``ad.Implicit()`` by default), see :func:`adjoin.optimize.root`. Returns the fixed
    point (an OptimizeResult with ``full_output=True``)."""
    kind = check_method(method, _METHODS, "fixed_point")
    options = dict(options or {})
    x0 = as_float(x0)
    shape = tuple(anp.shape(x0))
    n = int(np.prod(shape, dtype=np.int64))
    phi0, theta = parametrize(func, x0, args)

    phi = on_flat_vectors(phi0, shape, "fixed_point: func")

    damping = float(options.pop("damping", 1.0))
    if kind == "anderson":
        solver = anderson_solver(phi, memory=int(options.pop("memory", 5)), damping=damping)
    else:
        solver = iteration_solver(phi, damping)
    if options:
        raise TypeError(f"fixed_point: unknown options {sorted(options)}")
    u, info = _run(solver, anp.reshape(x0, (n,)), theta, lambda u, *th: u - phi(u, *th),
                   n, tol, atol, check_maxiter(maxiter, 1000), throw, diff, linear)
    x = anp.reshape(u, shape)
    if full_output:
        return make_result(info, x=x, fun=phi0(x, *theta) - x)
    return x


def _run(solver, u0, theta, F, n, tol, atol, maxiter, throw, diff, linear):
    thr = relative_threshold(solver.error, tol, atol)
    return solve(solver, u0, theta, diff=diff, optimality=F, threshold=thr, maxiter=maxiter,
                 throw=throw, linear=linear_options(linear, n))


def picard(A, b, x0, args=(), *, tol: float = 1e-10, atol: float = 0.0,
           maxiter: int | None = None, throw: bool = True,
           diff: DiffStrategy | str | tuple = "implicit", linear=None,
           full_output: bool = False):
    """The solution of A(x, *args) x = b (Picard iteration x ← A(x)⁻¹ b; implicit table,
    "Picard-Iteration"). ``A(x, *args)`` returns an n×n matrix for a vector x; ``b`` is a
    vector or ``b(*args)``. Stops when ‖A(x)x − b‖∞ ≤ max(tol·(residual at x0), atol).
    Derivatives through F = A(x, θ) x − b(θ) = 0."""
    x0 = as_float(x0)
    if len(anp.shape(x0)) != 1:
        raise ValueError(f"picard: x0 must be a vector, got shape {tuple(anp.shape(x0))}")
    n = anp.shape(x0)[0]
    b_fun = b if callable(b) else (lambda *a: b)
    AB, theta = parametrize(lambda x, *a: (A(x, *a), b_fun(*a)), x0, args)

    def F(u, *th):
        Au, bu = AB(u, *th)
        return Au @ u - bu

    def step(u, *th):
        Au, bu = AB(u, *th)
        return anp.linalg.solve(Au, bu)

    solver = IterativeSolver("picard", init=lambda u0, *th: u0, step=step,
                             error=lambda u, *th: inf_norm(F(u, *th)))
    x, info = _run(solver, x0, theta, F, n, tol, atol, check_maxiter(maxiter, 500), throw,
                   diff, linear)
    if full_output:
        return make_result(info, x=x, fun=F(x, *theta))
    return x
