"""Unconstrained minimization of f(x, *args) (SciPy's ``minimize``): gradient descent, BFGS,
L-BFGS, Newton-CG, Newton (dense), and SciPy's methods; derivatives by ``diff=``.

Implicit rule: the argmin satisfies F = ∇ₓf(x, θ) = 0, so (∇²ₓₓf) ẋ = −(∇²ₓθ f) θ̇ and
(∇²ₓₓf) λ = x̄, θ̄ = −(∇²θₓ f) λ: one solve with the (symmetric) Hessian, applied by
Hessian-vector products (CG) or materialized for small problems.
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin.implicit.info import NotConvergedError, SolveInfo
from adjoin.implicit.iterative import every, is_abstract, stopped
from adjoin.implicit.linear import LinearOptions, solve_linear
from adjoin.implicit.problem import IterativeSolver, OpaqueSolver
from adjoin.implicit.strategies import DiffStrategy, solve
from adjoin.optimize._common import (as_float, check_maxiter, check_method,
                                     inf_norm, linear_options, parametrize, relative_threshold,
                                     staged_step_length)
from adjoin.optimize._result import make_result
from adjoin.transforms import api


def armijo(f, u, fu, g, p, theta, t0=1.0, halvings=40):
    """Backtracking: for each example, the largest t = t0, t0/2, ... with
    f(u + t p) ≤ f(u) + 10⁻⁴ t ∇fᵀp, up to rounding noise in f (near a minimum the decrease
    is below the resolution of f). Under vmap each example has its own step, as it would
    alone. Returns (u + t p, f(u + t p))."""
    slope = anp.dot(g, p)
    noise = 1e-14 * anp.abs(fu)
    if is_abstract(slope):  # staged: the same halvings as a while_loop
        us, ps, ths = stopped(u), stopped(p), stopped(theta)
        bound = stopped(fu + noise)
        sl = stopped(slope)
        _, t = staged_step_length(
            lambda t: f(us + t * ps, *ths) <= bound + 1e-4 * t * sl, halvings, t0)
        un = u + t * p
        return un, f(un, *theta)
    t = t0
    for _ in range(halvings):
        un = u + t * p
        fn = f(un, *theta)
        ok = fn <= fu + 1e-4 * t * slope + noise
        if every(ok):
            return un, fn
        t = anp.where(ok, t, 0.5 * t)  # the examples that passed keep their step
    return un, fn


def _descent(g, p):
    """p where it is a descent direction, else −g (for each example)."""
    descent = anp.dot(g, p) < 0
    if not is_abstract(descent) and every(descent):
        return p
    return anp.where(descent, p, -g)


def gd_solver(f, grad, stepsize=None):
    """x ← x − η ∇f(x): fixed η when given, else Armijo backtracking from η = 1."""
    def step(u, *theta):
        g = grad(u, *theta)
        if stepsize is not None:
            return u - stepsize * g
        return armijo(f, u, f(u, *theta), g, -g, theta)[0]
    return IterativeSolver("gradient descent", init=lambda u0, *theta: u0, step=step,
                           error=lambda u, *theta: inf_norm(grad(u, *theta)))


def bfgs_solver(f, grad):
    """BFGS (Nocedal & Wright, Alg. 6.1) on the inverse Hessian H, with the first step's
    scaling H₀ = sᵀy/yᵀy I and Armijo backtracking; a pair with sᵀy ≤ 0 is skipped."""
    def init(u0, *theta):
        n = anp.shape(u0)[0]
        return u0, f(u0, *theta), grad(u0, *theta), anp.eye(n), 0

    def step(state, *theta):
        u, fu, g, H, k = state
        p = _descent(g, -(H @ g))
        un, fn = armijo(f, u, fu, g, p, theta)
        gn = grad(un, *theta)
        s, y = un - u, gn - g
        sy = anp.dot(s, y)
        ok = sy > 1e-12 * anp.sqrt(anp.dot(s, s) * anp.dot(y, y))
        rho = 1.0 / anp.where(ok, sy, 1.0)
        scale = anp.where(ok, sy / anp.where(ok, anp.dot(y, y), 1.0), 1.0)
        if isinstance(k, (int, np.integer)):
            if k == 0:
                H = H * scale
        else:  # a loop counter (staged strategies): the first step's scaling as a select
            H = anp.where(k == 0, H * scale, H)
        V = anp.eye(anp.shape(u)[0]) - rho * anp.outer(s, y)
        H = anp.where(ok, V @ H @ anp.transpose(V) + rho * anp.outer(s, s), H)
        return un, fn, gn, H, k + 1

    return IterativeSolver("bfgs", init=init, step=step,
                           error=lambda s, *theta: inf_norm(s[2]), solution=lambda s: s[0])


def lbfgs_solver(f, grad, memory=10):
    """L-BFGS (Nocedal 1980): the two-loop recursion over the last m pairs (s, y); the memory
    restarts when a step shows no positive curvature (sᵀy ≤ 0)."""
    def init(u0, *theta):
        return u0, f(u0, *theta), grad(u0, *theta), (), ()

    def direction(g, S, Y):
        q, alphas = g, []
        for s, y in zip(reversed(S), reversed(Y)):
            a = anp.dot(s, q) / anp.dot(s, y)
            q = q - a * y
            alphas.append(a)
        if S:
            q = q * (anp.dot(S[-1], Y[-1]) / anp.dot(Y[-1], Y[-1]))
        for (s, y), a in zip(zip(S, Y), reversed(alphas)):
            b = anp.dot(y, q) / anp.dot(s, y)
            q = q + (a - b) * s
        return -q

    def step(state, *theta):
        u, fu, g, S, Y = state
        p = _descent(g, direction(g, S, Y))
        un, fn = armijo(f, u, fu, g, p, theta)
        gn = grad(un, *theta)
        s, y = un - u, gn - g
        if every(anp.dot(s, y) > 1e-12 * anp.sqrt(anp.dot(s, s) * anp.dot(y, y))):
            S, Y = (S + (s,))[-memory:], (Y + (y,))[-memory:]
        else:  # no curvature along the step (no Wolfe line search): restart the memory
            S, Y = (), ()
        return un, fn, gn, S, Y

    return IterativeSolver("l-bfgs", init=init, step=step,
                           error=lambda s, *theta: inf_norm(s[2]), solution=lambda s: s[0])


def newton_cg_solver(f, grad, dense=False, inner_tol=1e-10):
    """Newton's method on ∇f = 0: the step solves ∇²f p = −∇f by CG with Hessian-vector
    products (jvp of the gradient), or densely (``dense``); Armijo backtracking; −∇f when
    the Hessian is not positive definite there."""
    opts = LinearOptions("cg", symmetric=True, tol=inner_tol)

    def step(u, *theta):
        g = grad(u, *theta)
        if dense:
            p = anp.linalg.solve(api.jacfwd(lambda v: grad(v, *theta))(u), -g)
        else:
            hvp = lambda v: api.jvp(lambda w: grad(w, *theta), (u,), (v,))[1]  # noqa: E731
            try:
                p = solve_linear(hvp, -g, u, opts)
            except NotConvergedError:
                p = -g
        p = _descent(g, p)
        return armijo(f, u, f(u, *theta), g, p, theta)[0]

    return IterativeSolver("newton" if dense else "newton-cg",
                           init=lambda u0, *theta: u0, step=step,
                           error=lambda u, *theta: inf_norm(grad(u, *theta)))


_METHODS = {"gd": "gd", "gradient-descent": "gd", "bfgs": "bfgs", "l-bfgs": "l-bfgs",
            "lbfgs": "l-bfgs", "newton-cg": "newton-cg", "newton": "newton"}
_SCIPY = ("nelder-mead", "powell", "cg", "l-bfgs-b", "tnc", "slsqp", "trust-ncg",
          "trust-krylov", "trust-exact", "dogleg", "cobyla", "trust-constr")
_METHODS.update({m: "scipy" for m in _SCIPY})


def minimize(fun, x0, args=(), method: str = "bfgs", jac=None, tol: float = 1e-10,
             callback=None, options: dict | None = None, *, atol: float = 0.0,
             maxiter: int | None = None, throw: bool = True,
             diff: DiffStrategy | str | tuple = "implicit", linear=None):
    """A local minimizer of the scalar ``fun(x, *args)`` (SciPy's ``minimize``, no bounds or
    constraints), differentiated through ∇ₓfun(x*, θ) = 0 (``diff="implicit"``) or as
    ``diff`` says.

    ``method``: "bfgs" (default), "l-bfgs" (options: memory), "newton-cg", "newton"
    (dense Hessian), "gd" (options: stepsize; Armijo backtracking without), or one of
    SciPy's ("L-BFGS-B", "Nelder-Mead", ...; implicit only). Stops when ‖∇f(x)‖∞ ≤
    max(tol·‖∇f(x0)‖∞, atol) (for each vmap example). ``diff``: a strategy
    (``ad.Implicit()`` by default), see :func:`adjoin.optimize.root`. ``linear``: the
    implicit rule's Hessian solve ("dense" up to 200 unknowns, else "cg"). Returns an OptimizeResult: ``x``, ``fun``, ``jac``,
    ``success``, ``nit``, ``residual``, ``message``.
    """
    if jac is not None:
        raise TypeError("minimize: adjoin differentiates fun itself; remove jac=")
    if callback is not None:
        raise TypeError("minimize: callback is not supported")
    kind = check_method(method, _METHODS, "minimize")
    options = dict(options or {})
    x0 = as_float(x0)
    shape = tuple(anp.shape(x0))
    n = int(np.prod(shape, dtype=np.int64))
    f0, theta = parametrize(fun, x0, args)

    def f(u, *th):
        out = f0(anp.reshape(u, shape), *th)
        if anp.shape(out) != ():
            raise ValueError(f"minimize: fun must return a scalar, got shape "
                             f"{anp.shape(out)}")
        return out

    def grad(u, *th):
        return api.grad(lambda v: f(v, *th))(u)

    u0 = anp.reshape(x0, (n,))
    lin = linear_options(linear, n, symmetric=True, pd=True)
    if kind == "scipy":
        solver = OpaqueSolver(f"scipy {method}", _scipy_runner(f, grad, method, tol, options,
                                                               maxiter))
        u, info = solve(solver, u0, theta, diff=diff, optimality=grad, throw=throw, linear=lin)
    else:
        if kind == "gd":
            solver = gd_solver(f, grad, options.pop("stepsize", None))
        elif kind == "bfgs":
            solver = bfgs_solver(f, grad)
        elif kind == "l-bfgs":
            solver = lbfgs_solver(f, grad, int(options.pop("memory", 10)))
        else:
            solver = newton_cg_solver(f, grad, dense=kind == "newton" or n <= 0)
        if options:
            raise TypeError(f"minimize: unknown options {sorted(options)}")
        default_maxiter = {"gd": 10000, "bfgs": 1000, "l-bfgs": 1000}.get(kind, 200)
        thr = relative_threshold(solver.error, tol, atol)
        u, info = solve(solver, u0, theta, diff=diff, optimality=grad, threshold=thr,
                        maxiter=check_maxiter(maxiter, default_maxiter), throw=throw,
                        linear=lin)
    x = anp.reshape(u, shape)
    return make_result(info, x=x, fun=f(u, *theta), jac=anp.reshape(grad(u, *theta), shape))


def _scipy_runner(f, grad, method, tol, options, maxiter):
    import scipy.optimize as so
    method = method.lower()
    hess_methods = ("trust-ncg", "trust-krylov", "trust-exact", "dogleg")

    def run(u0, *theta):
        opts = dict(options)
        if maxiter is not None:
            opts.setdefault("maxiter", maxiter)
        kw = {}
        if method not in ("nelder-mead", "powell", "cobyla"):
            kw["jac"] = lambda u: np.asarray(grad(u, *theta))
        if method in hess_methods:
            kw["hess"] = lambda u: np.asarray(api.hessian(lambda v: f(v, *theta))(u))
        r = so.minimize(lambda u: float(f(u, *theta)), np.asarray(u0), method=method,
                        tol=tol, options=opts, **kw)
        res = float(np.max(np.abs(grad(r.x, *theta))))
        return r.x, SolveInfo(f"scipy {method}", int(r.get("nit", 0)), res, tol,
                              bool(r.success))

    return run
