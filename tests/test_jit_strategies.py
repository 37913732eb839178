"""Unroll, Truncated(k) and OneStep inside jit: the iterations stage as structured loops
(adjoin/implicit/staged.py) with the eager strategies' iterates and derivatives."""
import numpy as np
import pytest

import adjoin as ad
import adjoin.linalg as alg
import adjoin.numpy as anp
import adjoin.optimize as aopt

N = 8
LAP = 2 * np.eye(N) - np.eye(N, k=1) - np.eye(N, k=-1)
GEN = LAP + 0.3 * np.eye(N, k=2)
WR = np.random.default_rng(0).standard_normal((N, N)) / np.sqrt(N)
WEIGHTS = np.linspace(0.5, 1.5, N)
THETA = np.linspace(0.5, 1.5, N)


def cg_x(th, diff, **kw):
    return alg.cg(lambda v: LAP @ v + th[0] * v, th, tol=1e-12, diff=diff, **kw)


def gmres_x(th, diff, **kw):
    return alg.gmres(lambda v: GEN @ v + th[0] * v, th, tol=1e-12, restart=5, diff=diff, **kw)


def newton_x(th, diff):
    return aopt.root(lambda u, t: LAP @ u + u ** 3 - t, np.zeros(N), args=(th,), diff=diff,
                     tol=1e-12).x


def fixed_point_x(th, diff):
    return aopt.fixed_point(lambda x, t: 0.3 * anp.tanh(WR @ x) + t, np.zeros(N), args=(th,),
                            diff=diff, tol=1e-12)


def quartic(x, t):
    return anp.sum((GEN @ x - t) ** 2) + 0.1 * anp.sum(x ** 4)


def bfgs_x(th, diff):
    return aopt.minimize(quartic, np.zeros(N), args=(th,), method="bfgs", diff=diff,
                         tol=1e-10).x


def newton_min_x(th, diff):
    return aopt.minimize(quartic, np.zeros(N), args=(th,), method="newton", diff=diff,
                         tol=1e-12).x


SOLVERS = {"cg": cg_x, "gmres": gmres_x, "root newton": newton_x,
           "fixed_point": fixed_point_x, "minimize bfgs": bfgs_x,
           "minimize newton": newton_min_x}
STRATEGIES = {"Unroll": ad.Unroll(), "Truncated(2)": ad.Truncated(2), "OneStep": ad.OneStep()}
CASES = [(s, d) for s in SOLVERS for d in STRATEGIES]


def _loss(solver, diff):
    return lambda th: anp.sum(WEIGHTS * solver(th, diff))


@pytest.mark.parametrize("name,strategy", CASES, ids=[f"{s}-{d}" for s, d in CASES])
def test_jit_of_grad_and_primal_equal_eager(name, strategy):
    solver, diff = SOLVERS[name], STRATEGIES[strategy]
    loss = _loss(solver, diff)
    jitted = ad.jit(ad.grad(loss))
    for scale in (1.0, 1.25):   # the second call runs the cached program on new values
        th = THETA * scale
        np.testing.assert_allclose(jitted(th), ad.grad(loss)(th), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ad.jit(lambda t: solver(t, diff))(th), solver(th, diff),
                                   rtol=1e-10, atol=1e-12)
    assert jitted.cache_info()["misses"] == 1


@pytest.mark.parametrize("name", ["cg", "root newton", "fixed_point"])
def test_vmap_inside_jit_stops_each_example_at_its_tolerance(name):
    """Each example is solved as it would be alone (the eager per-example solve)."""
    solver = SOLVERS[name]
    thetas = np.stack([THETA, 0.7 * THETA[::-1], 1.3 * THETA])
    for strategy in ("Unroll", "Truncated(2)"):
        loss = _loss(solver, STRATEGIES[strategy])
        got = ad.jit(ad.vmap(ad.grad(loss)))(thetas)
        want = np.stack([ad.grad(loss)(t) for t in thetas])
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_jvp_inside_jit_equals_eager():
    v = np.linspace(-1.0, 1.0, N)
    for diff in STRATEGIES.values():
        f = lambda t: newton_x(t, diff)  # noqa: E731
        got = ad.jit(lambda t: ad.jvp(f, (t,), (v,))[1])(THETA)
        np.testing.assert_allclose(got, ad.jvp(f, (THETA,), (v,))[1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_report_of_a_solve_that_does_not_converge(strategy):
    """maxiter too small: the traced report says so, as the eager one does; throw=True
    cannot raise inside the compiled program, so the solution comes back as NaN."""
    diff = STRATEGIES[strategy]
    run = lambda th: cg_x(th, diff, maxiter=3, throw=False, return_info=True)  # noqa: E731
    x_j, it_j, res_j, ok_j = ad.jit(
        lambda th: (lambda r: (r[0], r[1].iterations, r[1].residual, r[1].converged))(run(th))
    )(THETA)
    x_e, info_e = run(THETA)
    np.testing.assert_allclose(x_j, x_e, rtol=1e-12)
    assert int(it_j) == info_e.iterations == 3 and not bool(ok_j) and not info_e.converged
    np.testing.assert_allclose(float(res_j), info_e.residual, rtol=1e-10)
    with pytest.raises(ad.linalg.NotConvergedError):
        cg_x(THETA, diff, maxiter=3)
    x_nan = ad.jit(lambda th: cg_x(th, diff, maxiter=3))(THETA)
    assert np.all(np.isnan(x_nan))
    g = ad.jit(ad.grad(lambda th: anp.sum(cg_x(th, diff, maxiter=3))))(THETA)
    # the loss and its gradient are NaN, never silently finite (entries with no path to the
    # differentiated steps stay structurally zero: Truncated/OneStep of CG reach b only
    # through stopped residuals, so only the operator's parameter th[0] has one)
    g_e = ad.grad(lambda th: anp.sum(cg_x(th, diff, maxiter=3, throw=False)))(THETA)
    assert np.all(np.isnan(g[g_e != 0])) and np.isnan(g[0])


def test_converged_report_and_optimize_result_under_jit():
    def f(th):
        r = aopt.root(lambda u, t: LAP @ u + u ** 3 - t, np.zeros(N), args=(th,),
                      diff=ad.Unroll(), tol=1e-12)
        return r.x, r.success, r.nit, r.residual
    x, ok, nit, res = ad.jit(f)(THETA)
    eager = aopt.root(lambda u, t: LAP @ u + u ** 3 - t, np.zeros(N), args=(THETA,),
                      diff=ad.Unroll(), tol=1e-12)
    assert bool(ok) and eager.success and int(nit) == eager.nit
    np.testing.assert_allclose(float(res), eager.residual, rtol=1e-6, atol=1e-15)
    np.testing.assert_allclose(x, eager.x, rtol=1e-12)


def test_one_step_needs_maxiter_under_jit_too():
    with pytest.raises(ValueError, match="OneStep\\(\\) needs maxiter ≥ 1"):
        ad.jit(lambda th: cg_x(th, ad.OneStep(), maxiter=0))(THETA)


@pytest.mark.parametrize("name", ["cg", "root newton", "fixed_point"])
def test_grad_of_jit_equals_eager(name):
    """The staged primal (a while_loop bounded by maxiter) differentiates in reverse mode
    when the jitted function itself is differentiated (grad(jit(f)))."""
    for diff in STRATEGIES.values():
        loss = _loss(SOLVERS[name], diff)
        np.testing.assert_allclose(ad.grad(ad.jit(loss))(THETA), ad.grad(loss)(THETA),
                                   rtol=1e-10, atol=1e-12)


def test_solvers_whose_state_changes_shape_say_so_under_jit():
    """Anderson's and L-BFGS's memories grow (or restart on values): no loop can carry
    them; the error names the solver, the reason and the fix."""
    anderson = lambda th: aopt.fixed_point(  # noqa: E731
        lambda x, t: 0.3 * anp.tanh(WR @ x) + t, np.zeros(N), args=(th,), method="anderson",
        diff=ad.Unroll(), tol=1e-12)
    lbfgs = lambda th: aopt.minimize(quartic, np.zeros(N), args=(th,),  # noqa: E731
                                     method="l-bfgs", diff=ad.Truncated(2), tol=1e-10).x
    for f, pattern in [(anderson, "anderson: diff=Unroll\\(\\) under jit.*state changes"),
                       (lbfgs, "l-bfgs: diff=Truncated\\(2\\) under jit.*decides in Python")]:
        with pytest.raises(ad.implicit.UnsupportedStrategyError,
                           match=pattern + ".*diff=Implicit\\(\\)"):
            ad.jit(f)(THETA)
        f(THETA)   # eagerly it runs


def test_hessian_inside_jit_equals_eager():
    for diff in (ad.Unroll(), ad.Truncated(2)):
        loss = lambda th: anp.sum(WEIGHTS * newton_x(th, diff) ** 2)  # noqa: E731
        np.testing.assert_allclose(ad.jit(ad.hessian(loss))(THETA), ad.hessian(loss)(THETA),
                                   rtol=1e-10, atol=1e-12)
