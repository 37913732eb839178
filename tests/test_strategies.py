"""The solver × strategy × transformation table, and the strategy objects themselves.

Every row runs one solver with one strategy under one transformation (grad, jvp, vmap,
jit, hessian) and checks the result against central finite differences of the solution
(hessian: of the implicit gradient, itself checked by the grad row). A combination that is
not supported must raise an error that names the fix, and its row asserts that error.
A combination that runs but is an approximation by design (the strategy's own math, not a
bug) is listed in ``APPROXIMATE`` with the reason; its row checks that it runs and gives
finite numbers of the right shape, so nothing is skipped silently.

Also here: the shorthands, hashing and errors of the strategy objects, Implicit's linear
solver options, and the regression tests of issue 8 section 5 (input-dependent x0 under
vmap and jit, custom_root with init_x=None, BFGS under vmap, OneStep's iteration count).
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import numpy as np
import pytest
import scipy.sparse as sp

import adjoin as ad
import adjoin.linalg as alg
import adjoin.numpy as anp
import adjoin.optimize as aopt
from adjoin.implicit import IterativeSolver, NotConvergedError, UnsupportedStrategyError, solve

RNG = np.random.default_rng(8)
N = 3
_B = RNG.normal(size=(N, N)) / np.sqrt(N)
SPD = _B @ _B.T + 2.0 * np.eye(N)
GEN = 3.0 * np.eye(N) + _B
IND = (_B + _B.T) / 2 + np.diag([2.0, -2.5, 1.5])            # symmetric indefinite
LAP = 2 * np.eye(N) - np.eye(N, k=1) - np.eye(N, k=-1)
W = np.array([0.7, -1.3, 0.4])                               # loss weights
THETA = np.array([0.6, 0.9, 1.2])
THETAS = np.stack([THETA, THETA[::-1] + 0.1])                # a vmap batch of two
TRI = sp.diags([-np.ones(N - 1), 3.0 * np.ones(N), -0.7 * np.ones(N - 1)], [-1, 0, 1]).tocsr()
_PATTERN = alg.SparsePattern.of(TRI)
_ON_DIAG = (_PATTERN.row == _PATTERN.col).astype(float)
WR = np.array([[0.2, -0.5, 0.1], [0.4, 0.3, -0.2], [-0.1, 0.2, 0.35]])   # contraction
XR, YR = RNG.normal(size=(7, N)), RNG.normal(size=7)          # ridge data

TIGHT = dict(tol=1e-13)


# --- the solvers: each a function x(θ, diff) of a vector θ of N parameters ----------------

def _krylov(name, A):
    def x(theta, diff):
        return getattr(alg, name)(lambda v: A @ v + theta * v, W, diff=diff, **TIGHT)
    return x


def _lu(theta, diff):
    return alg.linear_solve(GEN + anp.diag(theta), W, diff=diff)


def _splu(theta, diff):
    data = TRI.data + _ON_DIAG * theta[_PATTERN.row]
    return alg.linear_solve(alg.SparseMatrix(data, _PATTERN), W, diff=diff)


def _cubic(u, theta):
    return LAP @ u + u ** 3 - theta


def _root_newton(theta, diff):
    return aopt.root(_cubic, np.zeros(N), args=(theta,), diff=diff, tol=1e-14).x


def _root_hybr(theta, diff):
    return aopt.root(_cubic, np.zeros(N), args=(theta,), method="hybr", diff=diff,
                     tol=1e-13).x


def _root_scalar_newton(theta, diff):
    r = aopt.root_scalar(lambda x, a: x ** 3 + x - a, args=(anp.sum(theta * W),), x0=0.5,
                         diff=diff, tol=1e-15)
    return r.root * theta


def _root_scalar_brentq(theta, diff):
    r = aopt.root_scalar(lambda x, a: x ** 3 + x - a, args=(anp.sum(theta * W),),
                         bracket=(-3.0, 3.0), diff=diff, xtol=1e-14)
    return r.root * theta


def _fixed_point(theta, diff):
    return aopt.fixed_point(lambda x, th: 0.3 * anp.tanh(WR @ x) + th, np.zeros(N),
                            args=(theta,), diff=diff, tol=1e-14, maxiter=200)


def _picard(theta, diff):
    return aopt.picard(lambda x, th: LAP + 3.0 * np.eye(N) + 0.1 * anp.diag(x * x), theta,
                       np.zeros(N), args=(theta,), diff=diff, tol=1e-14)


def _quartic(x, theta):
    return anp.sum((GEN @ x - theta) ** 2) + 0.1 * anp.sum(x ** 4)


def _minimize_newton(theta, diff):
    return aopt.minimize(_quartic, np.zeros(N), args=(theta,), method="newton", diff=diff,
                         tol=1e-13).x


def _minimize_bfgs(theta, diff):
    return aopt.minimize(_quartic, np.zeros(N), args=(theta,), method="bfgs", diff=diff,
                         tol=1e-12).x


def _minimize_scipy(theta, diff):
    return aopt.minimize(_quartic, np.zeros(N), args=(theta,), method="trust-exact", diff=diff,
                         tol=1e-10).x


def _ridge_optimality(x, theta):
    return XR.T @ (XR @ x - YR) + theta * x


def _custom_root(theta, diff):
    @aopt.custom_root(_ridge_optimality, diff=diff)
    def ridge(init_x, th):
        del init_x
        return np.linalg.solve(XR.T @ XR + np.diag(th), XR.T @ YR)
    return ridge(None, theta)


def _custom_fixed_point(theta, diff):
    @aopt.custom_fixed_point(lambda x, th: 0.3 * anp.tanh(WR @ x) + th, diff=diff)
    def iterate(x, th):
        for _ in range(200):
            x = 0.3 * np.tanh(WR @ x) + th
        return x
    return iterate(np.zeros(N), theta)


@dataclasses.dataclass(frozen=True)
class Solver:
    name: str
    x: Callable
    kind: str            # "direct", "iterative" or "opaque"
    #: the Truncated(k) of the table for this solver (exact here, see each entry)
    truncated: int = 2


SOLVERS = [
    Solver("linear_solve lu", _lu, "direct"),
    Solver("linear_solve splu", _splu, "direct"),
    # Krylov methods converge in ~N iterations: Truncated(50) differentiates all of them
    Solver("cg", _krylov("cg", SPD), "iterative", truncated=50),
    Solver("bicgstab", _krylov("bicgstab", GEN), "iterative", truncated=50),
    # one GMRES cycle (restart 20 ≥ N) solves the system exactly from any start
    Solver("gmres", _krylov("gmres", GEN), "iterative", truncated=1),
    Solver("minres", _krylov("minres", IND), "iterative", truncated=50),
    # Newton-type iterations: the last steps from a converged iterate give the derivative
    Solver("root newton", _root_newton, "iterative"),
    Solver("root hybr (SciPy)", _root_hybr, "opaque"),
    Solver("root_scalar newton", _root_scalar_newton, "iterative"),
    Solver("root_scalar brentq (SciPy)", _root_scalar_brentq, "opaque"),
    # linear convergence with ratio ~0.2: 40 truncated steps are exact to rounding
    Solver("fixed_point", _fixed_point, "iterative", truncated=40),
    Solver("picard", _picard, "iterative", truncated=40),
    Solver("minimize newton", _minimize_newton, "iterative"),
    Solver("minimize bfgs", _minimize_bfgs, "iterative", truncated=4),
    Solver("minimize trust-exact (SciPy)", _minimize_scipy, "opaque"),
    Solver("custom_root", _custom_root, "opaque"),
    Solver("custom_fixed_point", _custom_fixed_point, "opaque"),
]

STRATEGIES = {"Implicit": lambda s: ad.Implicit(), "Unroll": lambda s: ad.Unroll(),
              "Truncated": lambda s: ad.Truncated(s.truncated), "OneStep": lambda s: ad.OneStep()}
TRANSFORMS = ["grad", "jvp", "vmap", "jit", "hessian"]

#: runs by design as an approximation: (solver, strategy, transform or "*") -> the reason
APPROXIMATE = {
    **{(k, "OneStep", "*"): "one step of a Krylov method from its converged state has a "
       "vanishing update, so its derivative is not the solution's (Bolte et al.'s one-step "
       "needs a superlinear step; GMRES with restart ≥ n is one)"
       for k in ("cg", "bicgstab", "minres")},
    **{(k, "OneStep", "*"): "one step of a linearly converging iteration: the derivative has "
       "an error of the order of the contraction factor" for k in ("fixed_point", "picard")},
    ("gmres", "OneStep", "*"): "the last GMRES cycle starts at the converged iterate, so it "
    "stops after one Arnoldi step (its residual estimate is already below the threshold): "
    "the correction it differentiates lives in a one-dimensional Krylov space",
    **{("minimize bfgs", k, "*"): "BFGS's inverse-Hessian estimate H is part of the stopped "
       "state and is not the exact inverse Hessian, so the derivative of the last steps has an "
       "error of the order of ‖H − ∇²f⁻¹‖ (under vmap the examples also take more steps)"
       for k in ("Truncated", "OneStep")},
    **{(k, "OneStep", "hessian"): "one-step differentiation is exact to first order only "
       "(the stopped iterate's dependence on θ is dropped)"
       for k in ("root newton", "root_scalar newton", "minimize newton")},
}


def _expectation(solver, strategy, transform):
    """'fd', 'approx: <reason>' or ('error', pattern)."""
    if solver.kind == "opaque" and strategy != "Implicit":
        return ("error", r"does not apply to this opaque solver.*diff=Implicit\(\)")
    for key in ((solver.name, strategy, transform), (solver.name, strategy, "*")):
        if key in APPROXIMATE:
            return "approx: " + APPROXIMATE[key]
    return "fd"


ROWS = [(s, st, tr) for s in SOLVERS for st in STRATEGIES for tr in TRANSFORMS]


# --- references ----------------------------------------------------------------------------

def _primal(name, theta):
    solver = next(s for s in SOLVERS if s.name == name)
    return np.asarray(solver.x(np.asarray(theta, float), ad.Implicit()))


def _fd_jacobian(fun, theta, eps=1e-5):
    cols = [(fun(theta + eps * e) - fun(theta - eps * e)) / (2 * eps) for e in np.eye(N)]
    return np.stack(cols, axis=-1)


@functools.lru_cache(maxsize=None)
def _reference(name, which, theta_key):
    theta = np.asarray(theta_key)
    if which == "jacobian":
        return _fd_jacobian(functools.partial(_primal, name), theta)
    # hessian of the loss W·x(θ): finite differences of the implicit gradient
    solver = next(s for s in SOLVERS if s.name == name)
    grad = ad.grad(lambda t: anp.sum(W * solver.x(t, ad.Implicit())))
    return _fd_jacobian(lambda t: np.asarray(grad(t)), theta, eps=1e-4)


def _jac(name, theta):
    return _reference(name, "jacobian", tuple(theta))


def _run(solver, diff, transform):
    x = solver.x

    def loss(t):
        return anp.sum(W * x(t, diff))

    if transform == "grad":
        return ad.grad(loss)(THETA), W @ _jac(solver.name, THETA)
    if transform == "jvp":
        v = np.array([0.3, -0.2, 0.5])
        return ad.jvp(lambda t: x(t, diff), (THETA,), (v,))[1], _jac(solver.name, THETA) @ v
    if transform == "vmap":
        got = ad.vmap(ad.grad(loss))(THETAS)
        return got, np.stack([W @ _jac(solver.name, t) for t in THETAS])
    if transform == "jit":
        jitted = ad.jit(ad.grad(loss))
        jitted(THETA)
        return jitted(THETA), W @ _jac(solver.name, THETA)   # the second call: compiled
    assert transform == "hessian"
    return ad.hessian(loss)(THETA), _reference(solver.name, "hessian", tuple(THETA))


@pytest.mark.parametrize("solver,strategy,transform", ROWS,
                         ids=[f"{s.name}-{st}-{tr}" for s, st, tr in ROWS])
def test_table(solver, strategy, transform):
    diff = STRATEGIES[strategy](solver)
    expect = _expectation(solver, strategy, transform)
    if isinstance(expect, tuple):
        with pytest.raises(UnsupportedStrategyError, match=expect[1]):
            _run(solver, diff, transform)
        return
    got, ref = _run(solver, diff, transform)
    got = np.asarray(got)
    assert got.shape == ref.shape
    if expect.startswith("approx"):
        assert np.all(np.isfinite(got)), expect
        return
    np.testing.assert_allclose(got, ref, rtol=2e-5, atol=2e-6)


def test_every_row_has_a_kind():
    kinds = {"fd": 0, "approx": 0, "error": 0}
    for s, st, tr in ROWS:
        e = _expectation(s, st, tr)
        kinds["error" if isinstance(e, tuple) else e.split(":")[0]] += 1
    assert len(ROWS) == len(SOLVERS) * 4 * 5 and kinds["fd"] > 2 * kinds["approx"], kinds


# --- the strategy objects ------------------------------------------------------------------

def test_shorthands_resolve_to_the_objects():
    from adjoin.implicit import as_strategy
    assert as_strategy("implicit") == ad.Implicit() and as_strategy(None) == ad.Implicit()
    assert as_strategy("unroll") == ad.Unroll()
    assert as_strategy("one_step") == ad.OneStep()
    assert as_strategy(("truncated", 3)) == ad.Truncated(3) == as_strategy("truncated:3")
    assert as_strategy(["truncated", 3]) == ad.Truncated(3)
    s = ad.Implicit(linear_solver="cg")
    assert as_strategy(s) is s


def test_strategies_are_hashable_and_compare_by_value():
    P = np.eye(2)
    a, b = ad.Implicit(linear_solver="gmres", tol=1e-8), ad.Implicit(linear_solver="gmres", tol=1e-8)
    assert a == b and hash(a) == hash(b) and len({a, b, ad.Unroll(), ad.Truncated(2)}) == 3
    assert ad.Truncated(2) != ad.Truncated(3) and ad.Unroll() != ad.OneStep()
    assert hash(ad.Implicit(preconditioner=P)) == hash(ad.Implicit(preconditioner=P))
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.tol = 1.0
    assert repr(ad.Implicit()) == "Implicit()" and repr(ad.Truncated(4)) == "Truncated(4)"
    assert repr(ad.Implicit(preconditioner=P)) == "Implicit(preconditioner=<ndarray (2, 2)>)"


def test_strategy_as_a_jit_static_argument():
    f = ad.jit(lambda c, diff: anp.sum(alg.cg(lambda v: SPD @ v + c * v, W, diff=diff)),
               static_argnums=1)
    g1 = f(0.3, ad.Implicit())
    g2 = f(0.3, ad.Implicit())
    f(0.3, ad.Implicit(tol=1e-6))
    assert f.cache_info()["misses"] == 2 and np.isclose(g1, g2)


def test_bad_diff_values_name_the_accepted_ones():
    for bad in ("magic", ("truncated",), 3, ("unroll", 2)):
        with pytest.raises(ValueError, match=r"not a differentiation mode.*ad\.Implicit.*"
                                             r"'unroll'.*\('truncated', k\)"):
            alg.cg(SPD, W, diff=bad)
    for bad in (("truncated", 0), "truncated:x", "truncated:-1"):
        with pytest.raises(ValueError, match="positive number of iterations"):
            aopt.root(_cubic, np.zeros(N), args=(THETA,), diff=bad)
    with pytest.raises(ValueError, match="positive number of iterations"):
        ad.Truncated(0)
    with pytest.raises(ValueError, match=r"is a class; pass an instance, e.g. diff=ad\.Unroll\(\)"):
        alg.cg(SPD, W, diff=ad.Unroll)
    with pytest.raises(ValueError, match=r"linear_solver='qr'.*'dense', 'cg', 'gmres'"):
        ad.Implicit(linear_solver="qr")
    with pytest.raises(ValueError, match="non-negative"):
        ad.Implicit(tol=-1.0)
    with pytest.raises(TypeError, match="preconditioner"):
        ad.Implicit(preconditioner="jacobi")
    # a direct solve has no linear solve to configure
    with pytest.raises(UnsupportedStrategyError, match="direct solve.*iterative method"):
        alg.linear_solve(GEN, W, diff=ad.Implicit(tol=1e-6))
    with pytest.raises(ValueError, match="maxiter ≥ 1"):
        aopt.root(_cubic, np.zeros(N), args=(THETA,), diff=ad.OneStep(), maxiter=0)


# --- Implicit's linear solver --------------------------------------------------------------

@pytest.mark.parametrize("diff", [
    ad.Implicit(linear_solver="gmres"), ad.Implicit(linear_solver="dense"),
    ad.Implicit(linear_solver="bicgstab", tol=1e-12), ad.Implicit(tol=1e-13, maxiter=50),
    ad.Implicit(preconditioner=np.diag(1 / np.diag(SPD))),
    ad.Implicit(linear_solver="gmres:restart=2", preconditioner=lambda v: v / 3.0)])
def test_implicit_linear_solver_options(diff):
    """Every configuration of the implicit rule's linear solve gives the same derivatives, in
    both modes, for a Krylov linear solve (the linear_solve primitive) and for a root (the
    implicit_root primitive)."""
    cg = lambda c: alg.cg(lambda v: SPD @ v + c * v, W, tol=1e-13, diff=diff)  # noqa: E731
    ref = -np.linalg.solve(SPD + 0.3 * np.eye(N), np.linalg.solve(SPD + 0.3 * np.eye(N), W))
    np.testing.assert_allclose(ad.jvp(cg, (0.3,), (1.0,))[1], ref, rtol=1e-8)
    np.testing.assert_allclose(ad.grad(lambda c: anp.sum(W * cg(c)))(0.3), W @ ref, rtol=1e-8)
    rt = lambda t: aopt.root(_cubic, np.zeros(N), args=(t,), diff=diff, tol=1e-14).x  # noqa: E731
    J = _jac("root newton", THETA)
    np.testing.assert_allclose(ad.jacfwd(rt)(THETA), J, rtol=1e-6)
    np.testing.assert_allclose(ad.jacrev(rt)(THETA), J, rtol=1e-6)


def test_implicit_preconditioner_is_used_by_the_derivative_solves():
    calls = []

    def M(v):
        calls.append(1)
        return v / np.diag(SPD)

    g = ad.grad(lambda b: anp.sum(alg.cg(SPD, b, tol=1e-13, diff=ad.Implicit(preconditioner=M))))
    np.testing.assert_allclose(g(W), np.linalg.solve(SPD, np.ones(N)), rtol=1e-9)
    assert calls  # the primal has no preconditioner: these are the transposed solve's


def test_implicit_tolerance_reaches_the_derivative_solve():
    """A loose tolerance for the derivative only: the gradient is less accurate, the primal
    is not."""
    n = 40  # a 1-D Laplacian: CG needs ~n iterations for a tight tolerance
    L = 2 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)
    w = np.random.default_rng(0).normal(size=n)
    exact = np.linalg.solve(L, w)  # d/dv of w·L⁻¹v

    def grad(diff):
        return ad.grad(lambda v: anp.sum(alg.cg(L, v, tol=1e-12, diff=diff) * w))(w)

    tight, loose = grad("implicit"), grad(ad.Implicit(tol=1e-2))
    err = lambda g: np.abs(g - exact).max() / np.abs(exact).max()  # noqa: E731
    assert err(tight) < 1e-9 < 1e-6 < err(loose) < 1e-2  # measured: 5e-15 and 1.6e-4


# --- issue 8, section 5: regression tests --------------------------------------------------

def test_input_dependent_x0_under_vmap():
    """x0 computed from the vmapped input: every solver (a leaked BatchTracer before)."""
    a = np.array([1.0, 4.0, 9.0])
    r = ad.vmap(lambda a: aopt.root_scalar(lambda x, a: x * x - a, args=(a,), x0=a).root)(a)
    np.testing.assert_allclose(r, np.sqrt(a), rtol=1e-12)
    g = ad.vmap(ad.grad(lambda a: aopt.root_scalar(lambda x, a: x * x - a, args=(a,),
                                                   x0=a).root))(a)
    np.testing.assert_allclose(g, 0.5 / np.sqrt(a), rtol=1e-10)
    T = np.array([[1.0, 4.0, 2.0], [9.0, 2.0, 0.5]])
    x = ad.vmap(lambda t: aopt.root(lambda u, t: u ** 3 - t, t, args=(t,)).x)(T)
    np.testing.assert_allclose(x, np.cbrt(T), rtol=1e-10)
    x = ad.vmap(lambda t: aopt.fixed_point(lambda u, t: 0.5 * anp.cos(u) + t, t, args=(t,)))(T)
    np.testing.assert_allclose(x, 0.5 * np.cos(x) + T, atol=1e-9)
    x = ad.vmap(lambda t: aopt.minimize(lambda u, t: anp.sum((u - t) ** 2 + u ** 4), t,
                                        args=(t,)).x)(T)
    np.testing.assert_allclose(2 * (x - T) + 4 * x ** 3, 0, atol=1e-8)


def test_newton_under_vmap_with_distinct_examples_converges():
    """Each example takes its own line-search steps and stops at its own tolerance (a
    NotConvergedError after 100 iterations before)."""
    T = np.array([[0.1, 3.0, 20.0], [50.0, 0.2, 1.0], [1.0, 1.0, 1.0]])
    batched = ad.vmap(lambda t: aopt.root(_cubic, t, args=(t,)).x)(T)
    for t, xb in zip(T, batched):
        np.testing.assert_allclose(xb, aopt.root(_cubic, t, args=(t,)).x, rtol=1e-9)


def test_cg_x0_from_the_input_under_vmap():
    """A traced starting guess is an operand of the linear_solve primitive (a
    ConcretizationError before)."""
    B = np.eye(N) + 0.1
    x = ad.vmap(lambda b: alg.cg(SPD, b, x0=b))(B)
    np.testing.assert_allclose(x, np.linalg.solve(SPD, B.T).T, rtol=1e-9)
    g = ad.vmap(ad.grad(lambda b: anp.sum(W * alg.cg(SPD, b, x0=2 * b))))(B)
    np.testing.assert_allclose(g, np.tile(np.linalg.solve(SPD, W), (N, 1)), rtol=1e-9)


def test_input_dependent_x0_under_jit():
    """root(x0=0.1θ) inside jit (a LeakedTracerError blaming the user before)."""
    f = lambda th: anp.sum(aopt.root(_cubic, 0.1 * th, args=(th,)).x ** 2)  # noqa: E731
    jitted = ad.jit(ad.value_and_grad(f))
    for t in (THETA, 2 * THETA):
        v, g = jitted(t)
        v_ref, g_ref = ad.value_and_grad(f)(t)
        np.testing.assert_allclose(v, v_ref, rtol=1e-12)
        np.testing.assert_allclose(g, g_ref, rtol=1e-9)
    x = ad.jit(lambda b: alg.cg(SPD, b, x0=b))(W)
    np.testing.assert_allclose(x, np.linalg.solve(SPD, W), rtol=1e-9)


def test_custom_root_with_init_x_none_as_on_the_lecture_slide():
    """The lecture's Blondel slide: ridge_solver(None, 10.0) under jacobian ("init_x must be
    an array of numbers, got NoneType" before); any pytree init_x works."""
    def f(x, theta):
        residual = XR @ x - YR
        return (anp.sum(residual ** 2) + theta * anp.sum(x ** 2)) / 2

    F = ad.grad(f, argnums=0)

    @aopt.custom_root(F)
    def ridge_solver(init_x, theta):
        del init_x  # initialization not used in this solver
        return np.linalg.solve(XR.T @ XR + theta * np.eye(N), XR.T @ YR)

    H = XR.T @ XR + 10.0 * np.eye(N)
    closed = -np.linalg.solve(H, np.linalg.solve(H, XR.T @ YR))
    for jac in (ad.jacobian, ad.jacfwd, ad.jacrev):
        np.testing.assert_allclose(jac(ridge_solver, argnums=1)(None, 10.0), closed, rtol=1e-10)
    for init in ({"w": np.ones(N), "step": 3}, (None, "warm"), np.zeros(N)):
        np.testing.assert_allclose(ad.jacobian(ridge_solver, argnums=1)(init, 10.0), closed,
                                   rtol=1e-10)
    x = ad.vmap(lambda t: ridge_solver(None, t))(np.array([1.0, 10.0]))
    np.testing.assert_allclose(x[1], np.linalg.solve(H, XR.T @ YR), rtol=1e-12)
    np.testing.assert_allclose(ad.jit(lambda t: ridge_solver(None, t))(10.0), x[1], rtol=1e-12)


def test_custom_root_solver_runs_once_when_init_x_is_none():
    calls = []

    @aopt.custom_root(_ridge_optimality)
    def ridge(init_x, th):
        calls.append(1)
        return np.linalg.solve(XR.T @ XR + th * np.eye(N), XR.T @ YR)

    ad.grad(lambda t: anp.sum(ridge(None, t)))(2.0)
    assert len(calls) == 1


def test_bfgs_under_vmap_converges_like_each_example_alone():
    """Rosenbrock with three coefficients: under vmap BFGS stalled near ‖∇f‖ ~ 1e-6 (one
    example's exact zero gradient switched every example to steepest descent)."""
    def rosen(x, a):
        return anp.sum(a * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    a = np.array([1.0, 10.0, 100.0])
    for x0 in (np.zeros(4), np.full(4, -1.0)):
        r = ad.vmap(lambda a: aopt.minimize(rosen, x0, args=(a,), method="bfgs"))(a)
        assert np.all(r.success)
        for ai, xi in zip(a, r.x):
            alone = aopt.minimize(rosen, x0, args=(ai,), method="bfgs")
            np.testing.assert_allclose(xi, alone.x, atol=1e-7)


@pytest.mark.parametrize("K", [1, 2, 5])
def test_one_step_runs_maxiter_applications(K):
    """OneStep with maxiter=K: K applications of the map, only the last differentiated
    (K + 1 before). x ← x/2 + θ from 0: x_K = θ(2 − 2^(1−K)), and the derivative of the
    last application alone is 1."""
    calls = []

    def step(x, th):
        calls.append(1)
        return 0.5 * x + th

    solver = IterativeSolver("halving", init=lambda x0, th: x0, step=step,
                             error=lambda x, th: anp.abs(0.5 * x + th - x))
    x, dx = ad.jvp(lambda th: solve(solver, 0.0, [th], diff=ad.OneStep(), threshold=0.0,
                                    maxiter=K, throw=False)[0], (1.0,), (1.0,))
    assert len(calls) == K
    np.testing.assert_allclose(x, 2.0 - 2.0 ** (1 - K))
    np.testing.assert_allclose(dx, 1.0)
    _, info = solve(solver, 0.0, [1.0], diff=ad.OneStep(), threshold=0.0, maxiter=K,
                    throw=False)
    assert info.iterations == K and not info.converged
    with pytest.raises(NotConvergedError, match=f"after {K} iterations"):
        solve(solver, 0.0, [1.0], diff=ad.OneStep(), threshold=1e-300, maxiter=K)


def test_per_example_threshold_under_vmap():
    """Each example of a vmapped solve reaches tol relative to its own ‖b‖: a small
    right-hand side next to a large one is solved to the same relative accuracy."""
    n = 30
    L = 2 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)
    B = np.stack([np.ones(n), 1e-6 * np.linspace(1, 2, n)])
    for diff in ("implicit", "unroll"):
        X = ad.vmap(lambda b: alg.cg(L, b, tol=1e-8, diff=diff))(B)
        for b, x in zip(B, X):
            assert np.linalg.norm(b - L @ x) <= 1e-8 * np.linalg.norm(b)


def test_the_contributor_doc_examples_run():
    """docs/adding-a-solver-or-strategy.md: its code blocks run as written."""
    import pathlib
    import re
    text = (pathlib.Path(__file__).resolve().parent.parent / "docs"
            / "adding-a-solver-or-strategy.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 2   # the solver and strategy examples come first (the time-
    namespace = {}            # integration ones are run by tests/test_docs_strategies.py)
    for block in blocks[:2]:
        exec(compile(block, "docs/adding-a-solver-or-strategy.md", "exec"), namespace)
