"""Roots of scalar functions f(x, *args) = 0 (SciPy's ``root_scalar``): bracketing methods
(brentq, brenth, bisect, ridder, toms748: run by SciPy) and Newton / secant (adjoin).

Implicit rule (implicit table, "Scalar Root-Finding"): ẋ = −(∂f/∂θ)/(∂f/∂x) θ̇,
θ̄ = −x̄ (∂f/∂θ)/(∂f/∂x).
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin.core.trace import all_values
from adjoin.implicit.info import SolveInfo
from adjoin.implicit.iterative import is_abstract
from adjoin.implicit.problem import IterativeSolver, OpaqueSolver
from adjoin.implicit.strategies import DiffStrategy, solve
from adjoin.optimize._common import (as_float, check_maxiter, check_method, linear_options,
                                     parametrize, relative_threshold)
from adjoin.optimize._result import RootResults, make_result
from adjoin.transforms import api


def newton_scalar(f, fprime=None):
    """x ← x − f(x)/f'(x) (f' by forward mode unless given)."""
    def step(x, *theta):
        if fprime is None:
            fx, dfx = api.jvp(lambda u: f(u, *theta), (x,), (anp.ones_like(x),))
        else:
            fx, dfx = f(x, *theta), fprime(x, *theta)
        return x - fx / dfx
    return IterativeSolver("newton", init=lambda x0, *theta: x0, step=step,
                           error=lambda x, *theta: anp.abs(f(x, *theta)))


def secant_scalar(f):
    """x₂ = x₁ − f(x₁)(x₁ − x₀)/(f(x₁) − f(x₀)), from the starting pair (x₀, x₁); x₁ = None:
    x₀(1 + 10⁻⁴) ± 10⁻⁴ (SciPy's choice)."""
    def init(start, *theta):
        x0, x1 = start
        if x1 is None:
            x1 = x0 * (1 + 1e-4) + anp.where(x0 >= 0, 1e-4, -1e-4)
        return x0, x1, f(x0, *theta), f(x1, *theta)

    def step(s, *theta):
        a, b, fa, fb = s
        den = fb - fa
        ok = den != 0
        c = anp.where(ok, b - fb * (b - a) / anp.where(ok, den, 1.0), b)
        return b, c, fb, f(c, *theta)

    return IterativeSolver("secant", init=init, step=step,
                           error=lambda s, *theta: anp.abs(s[3]), solution=lambda s: s[1])


_BRACKET = ("brentq", "brenth", "bisect", "ridder", "toms748")
_METHODS = {m: m for m in _BRACKET + ("newton", "secant")}


def root_scalar(f, args=(), method: str | None = None, bracket=None, fprime=None, x0=None,
                x1=None, xtol: float | None = None, rtol: float | None = None,
                maxiter: int | None = None, *, tol: float = 1e-12, atol: float = 0.0,
                throw: bool = True, diff: DiffStrategy | str | tuple = "implicit"):
    """A root of the scalar ``f(x, *args)`` (SciPy's ``root_scalar``), differentiable in
    ``args`` and whatever ``f`` closes over.

    ``method``: "brentq" (default with ``bracket``), "brenth", "bisect", "ridder", "toms748"
    (SciPy, implicit derivatives only), "newton" (default with ``x0``; ``fprime`` by
    autodiff unless given) or "secant" (``x0``, ``x1``). Newton and secant stop when
    |f(x)| ≤ max(tol·|f(x0)|, atol) (for each vmap example); bracketing methods use SciPy's
    ``xtol``/``rtol``. ``diff``: a strategy (``ad.Implicit()`` by default), see
    :func:`adjoin.optimize.root`.
    Returns a RootResults: ``root`` (differentiable), ``converged``, ``iterations``,
    ``function_calls``, ``flag``; also ``x``, ``success``, ``nit``, ``residual``.
    """
    if method is None:
        if bracket is not None:
            method = "brentq"
        elif x0 is not None:
            method = "newton" if x1 is None else "secant"
        else:
            raise ValueError("root_scalar: give bracket=(a, b) or x0= (or a method)")
    kind = check_method(method, _METHODS, "root_scalar")
    lin = linear_options("dense", 1)
    if kind in _BRACKET:
        if bracket is None or len(bracket) != 2:
            raise ValueError(f"root_scalar: method {kind!r} needs bracket=(a, b), got "
                             f"{bracket!r}")
        a, b = (float(np.max(all_values(v))) for v in bracket)
        xa = np.asarray(0.5 * (a + b))
        F, theta = parametrize(f, xa, args)
        solver = OpaqueSolver(kind, _bracket_runner(F, kind, a, b, xtol, rtol, maxiter))
        x, info = solve(solver, xa, theta, diff=diff, optimality=F, throw=throw, linear=lin)
    else:
        if x0 is None:
            raise ValueError(f"root_scalar: method {kind!r} needs x0")
        x0 = as_float(x0)
        if anp.shape(x0) != ():
            raise ValueError(f"root_scalar: x0 must be a scalar, got shape {anp.shape(x0)}; "
                             "use adjoin.optimize.root for systems")
        F, theta = parametrize(f, x0, args)
        if kind == "newton":
            fp = None
            if fprime is not None:
                fp, ftheta = parametrize(fprime, x0, args)
                if len(ftheta) != len(theta):
                    fp = None  # fprime closes over other traced values: use autodiff
            solver = newton_scalar(F, fp)
        else:
            solver = secant_scalar(F)
            x0 = (x0, None if x1 is None else as_float(x1, "x1"))
        thr = relative_threshold(solver.error, tol, atol)
        x, info = solve(solver, x0, theta, diff=diff, optimality=F, threshold=thr,
                        maxiter=check_maxiter(maxiter, 100), throw=throw, linear=lin,
                        like=x0[0] if kind == "secant" else x0)
    r = make_result(info, RootResults, root=x, x=x)
    r.update(iterations=r.nit, function_calls=r.nit + 1, converged=r.success,
             flag=("converged" if r.success else "convergence error")
             if not is_abstract(r.success) else "read converged after the call (under jit)")
    return r


def _bracket_runner(F, method, a, b, xtol, rtol, maxiter):
    import scipy.optimize as so

    def run(x0, *theta):  # the bracket, not x0, starts the search
        g = lambda x: float(F(np.asarray(x), *theta))  # noqa: E731
        kw = {"xtol": 2e-12 if xtol is None else xtol, "full_output": True, "disp": False}
        if rtol is not None:
            kw["rtol"] = rtol
        if maxiter is not None:
            kw["maxiter"] = maxiter
        x, rr = getattr(so, method)(g, a, b, **kw)
        res = abs(g(x))
        return np.asarray(x, np.float64), SolveInfo(method, int(rr.iterations), res,
                                                    kw["xtol"], bool(rr.converged))

    return run
