"""adjoin.optimize: SciPy agreement of the primal results, the implicit rules (any mode, any
order, vmap), every diff= mode, and the issue's tests (linear-solve counts, ridge closed
form, deep equilibrium, curse of unrolling, one-step Newton)."""
import numpy as np
import pytest
import scipy.optimize as so

import adjoin as ad
import adjoin.numpy as anp
from adjoin.implicit.linear import linear_solve_p
from adjoin.optimize import (LinearOptions, NotConvergedError, OptimizeResult, custom_fixed_point,
                             custom_root, fixed_point, minimize, picard, root, root_scalar)
from adjoin.primitives import linalg as _linalg
from adjoin.testing import check_grads

N = 8
LAPLACE = 2 * np.eye(N) - np.eye(N, k=1) - np.eye(N, k=-1)
THETA = np.linspace(0.2, 1.4, N)


def cubic(u, theta):
    """g(u, θ) = A u + u³ − θ, A a 1-D Laplacian."""
    return LAPLACE @ u + u ** 3 - theta


def cubic_jacobian_inverse(u):
    return np.linalg.inv(LAPLACE + 3 * np.diag(u ** 2))


def ridge_data():
    rng = np.random.default_rng(1)
    return rng.normal(size=(12, 5)), rng.normal(size=12)


X, Y = ridge_data()


def ridge_objective(x, theta):
    r = X @ x - Y
    return 0.5 * anp.sum(r * r) + 0.5 * theta * anp.sum(x * x)


def ridge_optimality(x, theta):
    return X.T @ (X @ x - Y) + theta * x


def ridge_closed_form(theta):
    H = X.T @ X + theta * np.eye(5)
    x = np.linalg.solve(H, X.T @ Y)
    return x, -np.linalg.solve(H, x)


# ------------------------------------------------------------------------------------------
# primal results against SciPy
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["newton", "broyden", "hybr", "lm"])
def test_root_agrees_with_scipy(method):
    r = root(cubic, np.zeros(N), args=(THETA,), method=method)
    ref = so.root(cubic, np.zeros(N), args=(THETA,), method="hybr", tol=1e-13)
    assert r.success and r.status == 0 and r.nit > 0
    np.testing.assert_allclose(r.x, ref.x, atol=1e-10)
    np.testing.assert_allclose(r.fun, cubic(r.x, THETA), atol=1e-15)
    assert r.residual <= 1e-9 and "converged" in r.message


def test_root_newton_krylov_matrix_free():
    opts = LinearOptions("cg", symmetric=True)
    r = root(cubic, np.zeros(N), args=(THETA,), method="newton", linear=opts)
    assert r.method.startswith("newton-krylov")
    ref = so.root(cubic, np.zeros(N), args=(THETA,), tol=1e-13)
    np.testing.assert_allclose(r.x, ref.x, atol=1e-10)
    J = ad.jacrev(lambda t: root(cubic, np.zeros(N), args=(t,), linear=opts).x)(THETA)
    np.testing.assert_allclose(J, cubic_jacobian_inverse(r.x), atol=1e-9)


def test_root_any_shape_and_scalar():
    r = root(lambda x, t: x ** 3 - t, 1.0, args=(2.0,))
    assert np.shape(r.x) == () and abs(r.x - 2 ** (1 / 3)) < 1e-12
    M = np.arange(1.0, 7.0).reshape(2, 3)
    r = root(lambda x, t: x ** 3 + x - t, np.zeros((2, 3)), args=(M,))
    assert r.x.shape == (2, 3)
    np.testing.assert_allclose(r.x ** 3 + r.x, M, atol=1e-12)


@pytest.mark.parametrize("method", ["bfgs", "l-bfgs", "newton-cg", "newton", "gd",
                                    "L-BFGS-B", "Nelder-Mead"])
def test_minimize_agrees_with_scipy(method):
    def rosen(x, a):
        return (a - x[0]) ** 2 + 10 * (x[1] - x[0] ** 2) ** 2

    kw = {"maxiter": 20000} if method == "gd" else {}
    if method == "Nelder-Mead":
        kw = {"tol": 1e-13, "throw": False}
    r = minimize(rosen, np.array([-1.2, 1.0]), args=(1.0,), method=method, **kw)
    ref = so.minimize(rosen, np.array([-1.2, 1.0]), args=(1.0,), method="BFGS", tol=1e-12)
    assert isinstance(r, OptimizeResult) and r.nit > 0
    np.testing.assert_allclose(r.x, ref.x, atol=1e-5)
    np.testing.assert_allclose(r.x, [1.0, 1.0], atol=1e-5 if method == "Nelder-Mead" else 1e-7)
    np.testing.assert_allclose(r.fun, ref.fun, atol=1e-10)
    assert r.jac.shape == (2,)


@pytest.mark.parametrize("kw", [dict(bracket=(0.0, 3.0)), dict(bracket=(0.0, 3.0), method="bisect"),
                                dict(bracket=(0.0, 3.0), method="ridder"), dict(x0=1.0),
                                dict(x0=1.0, x1=1.5), dict(x0=1.0, fprime=lambda x, a: 3 * x ** 2)])
def test_root_scalar_agrees_with_scipy_and_differentiates(kw):
    f = lambda x, a: x ** 3 - a  # noqa: E731
    r = root_scalar(f, args=(2.0,), **kw)
    ref = so.root_scalar(f, args=(2.0,), bracket=(0.0, 3.0), method="brentq")
    assert r.converged and r.success and r.iterations == r.nit and r.flag == "converged"
    assert abs(r.root - ref.root) < 1e-10 and r.x is r.root
    # ẋ = −(∂f/∂a)/(∂f/∂x) = 1/(3x²)
    g = ad.grad(lambda a: root_scalar(f, args=(a,), **kw).root)(2.0)
    assert abs(g - 1 / (3 * r.root ** 2)) < 1e-9
    check_grads(lambda a: root_scalar(f, args=(a,), **kw).root, (2.0,), order=2)


@pytest.mark.parametrize("method", ["iterate", "anderson"])
def test_fixed_point_agrees_with_scipy(method):
    c = np.array([10.0, 12.0])
    func = lambda x, c: anp.sqrt(c / (x + 1.0))  # noqa: E731
    x = fixed_point(func, np.array([1.2, 1.3]), args=(c,), method=method)
    ref = so.fixed_point(lambda x: np.sqrt(c / (x + 1.0)), [1.2, 1.3], xtol=1e-13)
    np.testing.assert_allclose(x, ref, atol=1e-9)


def test_result_object():
    r = root(cubic, np.zeros(N), args=(THETA,))
    assert r["x"] is r.x and set(r) >= {"x", "fun", "success", "status", "nit", "message",
                                         "residual"}
    assert "x:" in repr(r)
    with pytest.raises(AttributeError, match="has no field 'root'"):
        r.root
    out = ad.vmap(lambda t: root(cubic, np.zeros(N), args=(t,)))(np.stack([THETA, 2 * THETA]))
    assert isinstance(out, OptimizeResult) and out.x.shape == (2, N)


# ------------------------------------------------------------------------------------------
# the tests
# ------------------------------------------------------------------------------------------

@pytest.fixture
def count_solves(monkeypatch):
    """Counts linear solves: dense (numpy, solve/lu_solve primitives) and linear_solve."""
    counter = {"n": 0}

    def wrap(obj, attr):
        original = getattr(obj, attr)

        def counted(*a, **k):
            counter["n"] += 1
            return original(*a, **k)
        monkeypatch.setattr(obj, attr, counted)

    wrap(np.linalg, "solve")
    for prim in (_linalg.solve_p, _linalg.lu_solve_p, linear_solve_p):
        wrap(prim, "impl")
    return counter


@pytest.mark.parametrize("linear", ["dense", LinearOptions("cg", symmetric=True)])
def test_newton_implicit_vs_unrolled_and_linear_solves_per_reverse_pass(linear, count_solves):
    """Implicit and unrolled gradients of Newton on A u + u³ = θ agree; the reverse pass of
    the implicit one makes one linear solve, the unrolled one makes one per iteration."""
    loss = lambda u: anp.sum(anp.sin(u))  # noqa: E731
    passes = {}
    for diff in ("implicit", "unroll"):
        def f(t):
            r = root(cubic, np.zeros(N), args=(t,), diff=diff, linear=linear, tol=1e-14)
            passes["nit"] = r.nit
            return loss(r.x)

        value, pullback = ad.vjp(f, THETA)
        count_solves["n"] = 0
        (g,) = pullback(1.0)
        passes[diff] = (g, count_solves["n"])
    nit = passes["nit"]
    assert nit >= 5
    np.testing.assert_allclose(passes["implicit"][0], passes["unroll"][0], rtol=1e-9, atol=1e-12)
    assert passes["implicit"][1] == 1
    assert passes["unroll"][1] == nit, (passes["unroll"][1], nit)


@pytest.mark.parametrize("solver", ["custom_root dense", "custom_fixed_point", "minimize bfgs",
                                    "minimize newton-cg", "minimize L-BFGS-B",
                                    "custom_root scipy", "root"])
def test_ridge_jacobian_closed_form_whatever_the_solver(solver):
    """∂x*/∂θ = −(XᵀX + θI)⁻¹ x* (Blondel et al. 2022), whoever found x*."""
    theta = 0.8
    x_star, J_star = ridge_closed_form(theta)

    @custom_root(ridge_optimality)
    def dense_solver(init_x, theta):
        return np.linalg.solve(X.T @ X + theta * np.eye(5), X.T @ Y)

    @custom_root(ridge_optimality, symmetric=True)
    def scipy_solver(init_x, theta):
        return so.minimize(ridge_objective, init_x, args=(theta,), method="BFGS",
                           jac=lambda x, t: ridge_optimality(x, t), tol=1e-13).x

    @custom_fixed_point(lambda x, theta: x - 0.05 * ridge_optimality(x, theta))
    def gd_fixed(init_x, theta):
        return np.linalg.solve(X.T @ X + theta * np.eye(5), X.T @ Y)

    x0 = np.zeros(5)
    fns = {
        "custom_root dense": lambda t: dense_solver(x0, t),
        "custom_fixed_point": lambda t: gd_fixed(x0, t),
        "minimize bfgs": lambda t: minimize(ridge_objective, x0, args=(t,)).x,
        "minimize newton-cg": lambda t: minimize(ridge_objective, x0, args=(t,),
                                                 method="newton-cg").x,
        "minimize L-BFGS-B": lambda t: minimize(ridge_objective, x0, args=(t,),
                                                method="L-BFGS-B", tol=1e-14).x,
        "custom_root scipy": lambda t: scipy_solver(x0, t),
        "root": lambda t: root(ridge_optimality, x0, args=(t,)).x,
    }
    fn = fns[solver]
    np.testing.assert_allclose(fn(theta), x_star, atol=1e-7)
    atol = 1e-6 if "scipy" in solver or "L-BFGS-B" in solver else 1e-9
    np.testing.assert_allclose(ad.jacfwd(fn)(theta), J_star, atol=atol)
    np.testing.assert_allclose(ad.jacrev(fn)(theta), J_star, atol=atol)


def test_deep_equilibrium_layer():
    """z = tanh(W z + U x + b): implicit gradients against finite differences and against
    the unrolled limit."""
    rng = np.random.default_rng(2)
    n, m = 6, 3
    W = 0.4 * rng.normal(size=(n, n)) / np.sqrt(n)
    U, x, b = rng.normal(size=(n, m)), rng.normal(size=m), rng.normal(size=n)
    layer = lambda z, W, U, x, b: anp.tanh(W @ z + U @ x + b)  # noqa: E731

    def deq(W, U, x, b, method="anderson", diff="implicit"):
        z = fixed_point(layer, np.zeros(n), args=(W, U, x, b), method=method, diff=diff,
                        tol=0.0, atol=1e-13)
        return anp.sum(z * anp.arange(1.0, n + 1))

    check_grads(deq, (W, U, x, b), order=1)
    g_implicit = ad.grad(deq, argnums=(0, 1, 2, 3))(W, U, x, b)
    g_unrolled = ad.grad(lambda *a: deq(*a, method="iterate", diff="unroll"),
                         argnums=(0, 1, 2, 3))(W, U, x, b)
    for gi, gu in zip(g_implicit, g_unrolled):
        np.testing.assert_allclose(gi, gu, atol=1e-10)
    # and the unrolled gradient approaches the implicit one as the iterations grow
    errors = []
    gi = ad.grad(lambda W: anp.sum(fixed_point(layer, np.zeros(n), args=(W, U, x, b),
                                               tol=0.0, atol=1e-14)))(W)
    for k in (1, 2, 3, 5, 10):
        gk = ad.grad(lambda W: anp.sum(fixed_point(layer, np.zeros(n), args=(W, U, x, b),
                                                   diff="unroll", maxiter=k, throw=False,
                                                   tol=0.0)))(W)
        errors.append(np.abs(gk - gi).max())
    assert all(a >= b for a, b in zip(errors, errors[1:])), errors
    assert errors[0] > 1e-3 and errors[-1] < 1e-10, errors


def _gd_ridge_jacobians(step, ks):
    """Jacobians ∂x_k/∂θ of unrolled gradient descent on the ridge objective, and
    ‖x_k − x*‖, ‖J_k − J*‖, the closed form of J_k, and the implicit Jacobian at x_k."""
    theta = 0.8
    x_star, J_star = ridge_closed_form(theta)
    H = X.T @ X + theta * np.eye(5)
    P = np.eye(5) - step * H
    rows = []
    for k in ks:
        run = lambda t, diff: minimize(ridge_objective, np.zeros(5), args=(t,), method="gd",  # noqa: E731
                                       options={"stepsize": step}, maxiter=k, throw=False,
                                       tol=0.0, diff=diff).x
        xk, Jk = ad.jvp(lambda t: run(t, "unroll"), (theta,), (1.0,))
        # x_k = (I − Pᵏ) x*, so J_k = (I − Pᵏ) J* + k η Pᵏ⁻¹ x*
        Pk1 = np.linalg.matrix_power(P, k - 1)
        closed = (np.eye(5) - Pk1 @ P) @ J_star + k * step * Pk1 @ x_star
        J_impl = ad.jacrev(lambda t: run(t, "implicit"))(theta)
        rows.append((k, np.linalg.norm(xk - x_star), np.linalg.norm(Jk - J_star), Jk, closed,
                     np.linalg.norm(J_impl - J_star)))
    return rows


def test_curse_of_unrolling():
    """Gradient descent on a quadratic (ridge): the Jacobian of the unrolled iterates is its
    closed form (I − Pᵏ)J* + kηPᵏ⁻¹x*, P = I − ηH; at large step sizes its error first
    grows (burn-in, Scieur et al. 2022) while the iterates converge monotonically; the
    implicit Jacobian at x_k has an error ‖H⁻¹(x_k − x*)‖: no burn-in."""
    L = np.linalg.eigvalsh(X.T @ X + 0.8 * np.eye(5)).max()
    for step, burn_in in ((1.0 / L, False), (1.99 / L, True)):
        ks = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512][:10 if burn_in else 7]
        rows = _gd_ridge_jacobians(step, ks)
        x_err = [r[1] for r in rows]
        J_err = [r[2] for r in rows]
        J_impl_err = [r[5] for r in rows]
        for k, _, _, Jk, closed, _ in rows:
            np.testing.assert_allclose(Jk, closed, atol=1e-10)
        assert all(a >= b for a, b in zip(x_err, x_err[1:]))
        assert all(a >= b for a, b in zip(J_impl_err, J_impl_err[1:]))
        peak = int(np.argmax(J_err))
        if burn_in:  # measured: 0.098 at k = 1, 1.01 at k = 128, then decaying
            assert ks[peak] >= 64 and J_err[peak] > 5 * J_err[0], J_err
            assert J_err[-1] < 0.1 * J_err[peak], J_err
        else:
            assert peak == 0 and all(a >= b for a, b in zip(J_err, J_err[1:])), J_err


def test_one_step_newton_converges_to_the_exact_derivative():
    """One-step differentiation (Bolte et al. 2023): with maxiter = k, differentiate the k-th
    Newton step (from the (k−1)-th iterate); the error of the Jacobian falls
    (superlinearly) as the iterate converges."""
    exact = ad.jacfwd(lambda t: root(cubic, np.zeros(N), args=(t,)).x)(THETA)
    errs = []
    for k in (2, 3, 4, 5, 6):
        J = ad.jacfwd(lambda t: root(cubic, np.zeros(N), args=(t,), maxiter=k, throw=False,
                                     diff="one_step", tol=0.0).x)(THETA)
        errs.append(np.abs(J - exact).max())
    assert all(a > b for a, b in zip(errs, errs[1:])) and errs[-1] < 1e-8, errs
    ratios = [b / a for a, b in zip(errs, errs[1:])]  # measured: 0.16, 0.034, 2.8e-3, 1.6e-5, 5e-10
    assert all(a > b for a, b in zip(ratios, ratios[1:])), ratios  # superlinear


# ------------------------------------------------------------------------------------------
# implicit rules: every mode, any order, vmap
# ------------------------------------------------------------------------------------------

def _root_loss(t):
    return anp.sum(anp.sin(root(cubic, np.zeros(N), args=(t,)).x))


def _minimize_loss(t):
    return anp.sum(anp.cos(minimize(ridge_objective, np.zeros(5), args=(t,)).x))


@custom_root(ridge_optimality)
def _ridge_solver(init_x, theta):
    return np.linalg.solve(X.T @ X + theta * np.eye(5), X.T @ Y)


def _custom_loss(t):
    return anp.sum(anp.cos(_ridge_solver(np.zeros(5), t)))


@pytest.mark.parametrize("loss,arg", [(_root_loss, THETA[:N]), (_minimize_loss, 0.8),
                                      (_custom_loss, 0.8)],
                         ids=["root", "minimize", "custom_root"])
def test_second_order_through_solvers(loss, arg):
    arg = np.asarray(arg, float)
    check_grads(loss, (arg,), order=2)
    H = ad.hessian(loss)(arg)
    np.testing.assert_allclose(ad.jacfwd(ad.jacrev(loss))(arg), H, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ad.jacrev(ad.jacfwd(loss))(arg), H, rtol=1e-8, atol=1e-10)
    assert np.abs(H).max() > 1e-3  # not silently zero


def test_ridge_second_derivative_closed_form():
    """d²x*/dθ² = 2 H⁻² x* for H = XᵀX + θI."""
    theta = 0.8
    x_star, _ = ridge_closed_form(theta)
    Hinv = np.linalg.inv(X.T @ X + theta * np.eye(5))
    expected = 2 * Hinv @ Hinv @ x_star
    for fn in (lambda t: _ridge_solver(np.zeros(5), t),
               lambda t: minimize(ridge_objective, np.zeros(5), args=(t,),
                                  method="newton-cg").x):
        np.testing.assert_allclose(ad.jacfwd(ad.jacfwd(fn))(theta), expected, atol=1e-8)
        np.testing.assert_allclose(ad.jacrev(ad.jacfwd(fn))(theta), expected, atol=1e-8)
        np.testing.assert_allclose(ad.jacfwd(ad.jacrev(fn))(theta), expected, atol=1e-8)


def test_fixed_point_signs():
    """x = a x + θ ⇒ x* = θ/(1 − a): dx*/dθ = +1/(1 − a), dx*/da = θ/(1 − a)² (the published
    table's minus signs would give the opposite)."""
    a, theta = 0.3, 1.5
    f = lambda a, t: fixed_point(lambda x, a, t: a * x + t, 0.0, args=(a, t), tol=1e-15)  # noqa: E731
    assert abs(f(a, theta) - theta / (1 - a)) < 1e-12
    for jac in (ad.jacfwd, ad.jacrev):
        da, dt = jac(f, argnums=(0, 1))(a, theta)
        assert abs(dt - 1 / (1 - a)) < 1e-10 and abs(da - theta / (1 - a) ** 2) < 1e-10
    check_grads(f, (a, theta), order=2)


def test_picard():
    """A(x, k) x = b(s) with A = 3I + k diag(x²): implicit against unrolled and FD."""
    A = lambda x, k, s: 3.0 * anp.eye(4) + k * anp.diag(x * x)  # noqa: E731
    b = lambda k, s: s * anp.arange(1.0, 5.0)  # noqa: E731
    f = lambda k, s, diff="implicit": picard(A, b, np.zeros(4), args=(k, s), diff=diff)  # noqa: E731
    r = picard(A, b, np.zeros(4), args=(0.5, 1.0), full_output=True)
    np.testing.assert_allclose(A(r.x, 0.5, 1.0) @ r.x, b(0.5, 1.0), atol=1e-9)
    check_grads(f, (0.5, 1.0), order=2)
    Ji = ad.jacfwd(f, argnums=(0, 1))(0.5, 1.0)
    Ju = ad.jacfwd(lambda k, s: f(k, s, "unroll"), argnums=(0, 1))(0.5, 1.0)
    for a, b_ in zip(Ji, Ju):
        np.testing.assert_allclose(a, b_, atol=1e-8)


@pytest.mark.parametrize("diff", ["implicit", "unroll", ("truncated", 3), "truncated:50",
                                  "one_step"])
@pytest.mark.parametrize("method", ["newton", "broyden"])
def test_every_diff_mode_of_root(diff, method):
    r = root(cubic, np.zeros(N), args=(THETA,), method=method, tol=1e-14)
    J = ad.jacfwd(lambda t: root(cubic, np.zeros(N), args=(t,), method=method, diff=diff,
                                 tol=1e-14).x)(THETA)
    exact = cubic_jacobian_inverse(r.x)
    if diff == ("truncated", 3) or (method == "broyden" and diff == "one_step"):
        # truncation and one Broyden step see only part of the derivative: close, not exact
        assert np.abs(J - exact).max() < 0.5
    else:
        np.testing.assert_allclose(J, exact, atol=1e-8)
    Jr = ad.jacrev(lambda t: root(cubic, np.zeros(N), args=(t,), method=method, diff=diff,
                                  tol=1e-14).x)(THETA)
    np.testing.assert_allclose(Jr, J, atol=1e-10)


@pytest.mark.parametrize("method", ["bfgs", "l-bfgs", "newton-cg", "gd"])
@pytest.mark.parametrize("diff", ["implicit", "unroll", "one_step"])
def test_every_diff_mode_of_minimize(method, diff):
    _, J_star = ridge_closed_form(0.8)
    kw = {"options": {"stepsize": 0.02}, "maxiter": 5000} if method == "gd" else {}
    J = ad.jacrev(lambda t: minimize(ridge_objective, np.zeros(5), args=(t,), method=method,
                                     diff=diff, tol=1e-13, **kw).x)(0.8)
    exact = diff != "one_step" or method == "newton-cg"
    np.testing.assert_allclose(J, J_star, atol=1e-7 if exact else 0.2)


@pytest.mark.parametrize("diff", ["implicit", "unroll", "one_step"])
def test_every_diff_mode_of_fixed_point_and_root_scalar(diff):
    g = lambda a: fixed_point(lambda x, a: anp.cos(a * x), 0.5, args=(a,), method="anderson",  # noqa: E731
                              diff=diff)
    x = g(0.9)
    exact = -x * np.sin(0.9 * x) / (1 + 0.9 * np.sin(0.9 * x))
    d = ad.grad(g)(0.9)
    assert abs(d - exact) < (1e-8 if diff != "one_step" else 0.5)
    h = lambda a: root_scalar(lambda x, a: x ** 3 - a, args=(a,), x0=1.0, diff=diff).root  # noqa: E731
    assert abs(ad.grad(h)(2.0) - 1 / (3 * 2 ** (2 / 3))) < 1e-9


def test_vmap_over_parameters():
    thetas = np.stack([THETA, 0.5 * THETA, 1.5 * THETA])
    xs = ad.vmap(lambda t: root(cubic, np.zeros(N), args=(t,)).x)(thetas)
    for t, x in zip(thetas, xs):
        np.testing.assert_allclose(cubic(x, t), 0, atol=1e-9)
    Js = ad.vmap(ad.jacrev(lambda t: root(cubic, np.zeros(N), args=(t,)).x))(thetas)
    for J, x in zip(Js, xs):
        np.testing.assert_allclose(J, cubic_jacobian_inverse(x), atol=1e-9)
    ts = np.array([0.5, 0.8, 2.0])
    out = ad.vmap(lambda t: minimize(ridge_objective, np.zeros(5), args=(t,)).x)(ts)
    gs = ad.vmap(ad.jacfwd(lambda t: _ridge_solver(np.zeros(5), t)))(ts)
    gm = ad.vmap(ad.jacfwd(lambda t: minimize(ridge_objective, np.zeros(5), args=(t,),
                                              method="L-BFGS-B", tol=1e-14).x))(ts)
    for t, x, g1, g2 in zip(ts, out, gs, gm):
        x_star, J_star = ridge_closed_form(t)
        np.testing.assert_allclose(x, x_star, atol=1e-8)
        np.testing.assert_allclose(g1, J_star, atol=1e-9)
        np.testing.assert_allclose(g2, J_star, atol=1e-6)
    roots = ad.vmap(lambda a: root_scalar(lambda x, a: x ** 3 - a, args=(a,),
                                          bracket=(0.0, 3.0)).root)(np.array([1.0, 8.0]))
    np.testing.assert_allclose(roots, [1.0, 2.0], atol=1e-10)


def test_parameters_closed_over_and_in_pytrees():
    """θ may be anything fun closes over, or leaves of pytree args (static leaves kept)."""
    def via_closure(t):
        return root(lambda u: cubic(u, t), np.zeros(N)).x

    def via_pytree(t):
        return root(lambda u, p, scale: cubic(u, p["theta"] * scale), np.zeros(N),
                    args=({"theta": t}, 1)).x

    exact = cubic_jacobian_inverse(via_closure(THETA))
    for fn in (via_closure, via_pytree):
        np.testing.assert_allclose(ad.jacfwd(fn)(THETA), exact, atol=1e-9)
        np.testing.assert_allclose(ad.jacrev(fn)(THETA), exact, atol=1e-9)
    # a closed-over parameter of minimize, second order
    check_grads(lambda t: minimize(lambda x: ridge_objective(x, t), np.zeros(5)).x, (0.8,),
                order=2)


# ------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------

def test_not_converged_names_residual_and_iterations():
    with pytest.raises(NotConvergedError, match=r"residual .* after 2 iterations"):
        root(cubic, np.zeros(N), args=(THETA,), maxiter=2)
    with pytest.raises(NotConvergedError, match=r"residual .* after 3 iterations"):
        minimize(ridge_objective, np.zeros(5), args=(0.8,), method="gd", maxiter=3)
    with pytest.raises(NotConvergedError, match="iterations"):
        fixed_point(lambda x: anp.cos(x), 0.0, maxiter=4, method="iterate")
    with pytest.raises(NotConvergedError, match="iterations"):
        ad.grad(lambda t: anp.sum(root(cubic, np.zeros(N), args=(t,), maxiter=2).x))(THETA)
    r = root(cubic, np.zeros(N), args=(THETA,), maxiter=2, throw=False)
    assert not r.success and r.status == 1 and r.nit == 2 and "did not converge" in r.message
    with pytest.raises(NotConvergedError):
        root_scalar(lambda x: x ** 2 - 2, bracket=(0.0, 2.0), maxiter=2)


def test_argument_errors():
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        root(cubic, np.zeros(N), args=(THETA,), method="nope")
    with pytest.raises(ValueError, match="unknown method"):
        minimize(ridge_objective, np.zeros(5), args=(0.8,), method="nope")
    with pytest.raises(ValueError, match="shape of x0"):
        root(lambda x: anp.sum(x), np.zeros(3))
    with pytest.raises(ValueError, match="scalar"):
        minimize(lambda x: x, np.zeros(3))
    with pytest.raises(ValueError, match="not a differentiation mode"):
        root(cubic, np.zeros(N), args=(THETA,), diff="magic")
    with pytest.raises(ValueError, match="positive number"):
        root(cubic, np.zeros(N), args=(THETA,), diff=("truncated", 0))
    with pytest.raises(ValueError, match="SciPy"):
        root(cubic, np.zeros(N), args=(THETA,), method="hybr", diff="unroll")
    with pytest.raises(ValueError, match="bracket"):
        root_scalar(lambda x: x, method="brentq")
    with pytest.raises(ValueError, match="bracket=|x0"):
        root_scalar(lambda x: x)
    with pytest.raises(ValueError, match="different signs"):
        root_scalar(lambda x: x * x + 1, bracket=(0.0, 1.0))
    with pytest.raises(ValueError, match="maxiter"):
        root(cubic, np.zeros(N), args=(THETA,), maxiter=-1)
    with pytest.raises(ValueError, match="tol"):
        root(cubic, np.zeros(N), args=(THETA,), tol=-1.0)
    with pytest.raises(TypeError, match="jac"):
        root(cubic, np.zeros(N), args=(THETA,), jac=lambda x, t: LAPLACE)
    with pytest.raises(TypeError, match="options"):
        minimize(ridge_objective, np.zeros(5), args=(0.8,), options={"bogus": 1})
    with pytest.raises(ValueError, match="vector"):
        picard(lambda x: anp.eye(2), np.ones(2), np.zeros((2, 2)))
