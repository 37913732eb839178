"""adjoin.ode's engine: the tableaus' order conditions and stability, convergence orders,
closed forms, agreement with scipy.integrate, the error messages, pytrees, jit and vmap."""
import numpy as np
import pytest
import scipy.integrate as si

import adjoin as ad
import adjoin.numpy as anp
from adjoin.ode import (METHODS, MaxStepsError, NonFiniteStateError, ODEError,
                        StepSizeUnderflowError, get_method, odeint)
from adjoin.ode.engine import Integrator, Options, uniform_fractions
from adjoin.ode.ivp import solve_ivp


# --- the tableaus ---------------------------------------------------------------------

def order_conditions(A, b, p):
    """The largest violation of the order conditions up to order p (≤ 5), c = A·1."""
    c = A.sum(1)
    Ac = A @ c
    conds = [(b.sum(), 1)]
    if p >= 2:
        conds += [(b @ c, 1 / 2)]
    if p >= 3:
        conds += [(b @ c ** 2, 1 / 3), (b @ Ac, 1 / 6)]
    if p >= 4:
        conds += [(b @ c ** 3, 1 / 4), (b @ (c * Ac), 1 / 8), (b @ (A @ c ** 2), 1 / 12),
                  (b @ (A @ Ac), 1 / 24)]
    if p >= 5:
        conds += [(b @ c ** 4, 1 / 5), (b @ (c * c * Ac), 1 / 10), (b @ (c * (A @ c ** 2)), 1 / 15),
                  (b @ (c * (A @ Ac)), 1 / 30), (b @ (Ac * Ac), 1 / 20), (b @ (A @ c ** 3), 1 / 20),
                  (b @ (A @ (c * Ac)), 1 / 40), (b @ (A @ (A @ c ** 2)), 1 / 60),
                  (b @ (A @ (A @ Ac)), 1 / 120)]
    return max(abs(x - y) for x, y in conds)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_tableau_order_conditions(name):
    tab = METHODS[name]
    assert np.allclose(tab.A.sum(1), tab.c, atol=1e-14)
    assert order_conditions(tab.A, tab.b, tab.order) < 1e-13
    if tab.order < 5:  # the next order fails: the stated order is the method's order
        assert order_conditions(tab.A, tab.b, tab.order + 1) > 1e-6
    if tab.adaptive:
        bhat = tab.b - tab.e
        assert order_conditions(tab.A, bhat, tab.err_order) < 1e-13
        assert order_conditions(tab.A, bhat, tab.err_order + 1) > 1e-6


def stability(tab, z):
    s = tab.stages
    return 1 + z * tab.b @ np.linalg.solve(np.eye(s) - z * tab.A, np.ones(s))


@pytest.mark.parametrize("name", ["backward_euler", "kvaerno3"])
def test_stiff_methods_are_L_stable(name):
    tab = METHODS[name]
    assert abs(stability(tab, -1e8)) < 1e-6                      # R(−∞) = 0
    for y in np.logspace(-2, 4, 25):                              # A-stable on the iy axis
        assert abs(stability(tab, 1j * y)) <= 1 + 1e-12
    for x in -np.logspace(-2, 6, 25):
        assert abs(stability(tab, x)) <= 1


# --- a nonlinear scalar ODE with a known solution ---------------------------------------
# logistic growth y' = r y (1 − y): y(T) = 1 / (1 + (1/y₀ − 1) e^{−r(T − t₀)})

R, Y0, T0, T1 = 1.3, 0.2, 0.1, 2.1


def logistic(y, t, r):
    return r * y * (1.0 - y)


def logistic_exact(r, y0, t0, t1):
    return 1.0 / (1.0 + (1.0 / y0 - 1.0) * np.exp(-r * (t1 - t0)))


def order_problem(y, t):
    """A nonlinear non-autonomous scalar ODE whose error constants cancel for no method."""
    return -y * anp.cos(t) + 0.5 * anp.sin(3 * t) * y * y - 0.3 * y


ORDER_REF = si.solve_ivp(lambda t, y: np.asarray(order_problem(y, t)), (0, 2), [1.2],
                         method="DOP853", rtol=3e-14, atol=1e-14).y[0, -1]


def run_fixed(tab, n):
    integ = Integrator(order_problem, tab, Options(dt0=2.0 / n))
    outs, _ = integ.run(np.array([1.2]), np.array([0.0, 2.0]), [],
                        grid=[uniform_fractions(2.0, 2.0 / n)])
    return float(outs[-1][0])


@pytest.mark.parametrize("name", sorted(METHODS))
def test_fixed_step_convergence_order(name):
    """Every tableau, run with fixed steps, converges at its order (in the asymptotic range:
    64 → 128 steps for orders 1–2, 32 → 64 beyond)."""
    tab = METHODS[name]
    n = 64 if tab.order <= 2 else 32
    e1, e2 = abs(run_fixed(tab, n) - ORDER_REF), abs(run_fixed(tab, 2 * n) - ORDER_REF)
    observed = np.log2(e1 / e2)
    assert abs(observed - tab.order) < (0.45 if tab.order >= 5 else 0.3), (name, observed)


@pytest.mark.parametrize("method", ["bosh3", "dopri5", "tsit5", "kvaerno3"])
def test_adaptive_reaches_the_closed_form(method):
    tol = 1e-12 if method in ("dopri5", "tsit5") else 1e-10
    ts = np.array([T0, 0.7, T1])
    ys = odeint(logistic, Y0, ts, R, method=method, rtol=tol, atol=tol)
    assert np.max(np.abs(ys - logistic_exact(R, Y0, T0, ts))) < (1e-9 if tol == 1e-12 else 1e-8)


def lotka(y, t, a, b):
    return anp.stack([a * y[0] - b * y[0] * y[1], -y[1] + b * y[0] * y[1]])


@pytest.mark.parametrize("method", ["bosh3", "dopri5", "tsit5", "kvaerno3"])
def test_adaptive_methods_agree_with_scipy(method):
    ts = np.linspace(0.0, 6.0, 7)
    ref = si.solve_ivp(lambda t, y: np.asarray(lotka(y, t, 1.1, 0.7)), (0, 6), [1.0, 0.5],
                       method="DOP853", t_eval=ts, rtol=1e-13, atol=1e-13).y.T
    tol = 1e-6 if method == "kvaerno3" else 1e-8     # third order: 10⁻⁸ takes 1500 steps
    ys = odeint(lotka, np.array([1.0, 0.5]), ts, 1.1, 0.7, method=method, rtol=tol, atol=tol)
    assert np.max(np.abs(ys - ref)) < 100 * tol


def test_stiff_problem_kvaerno3_takes_few_steps():
    """y' = −1000(y − cos t) − sin t, y(0) = 1: y = cos t. Explicit methods are limited by
    stability (|hλ| ≲ 3.3), the L-stable ESDIRK by accuracy."""
    def f(y, t):
        return -1000.0 * (y - anp.cos(t)) - anp.sin(t)

    ts = np.array([0.0, 2.0])
    with ad.ode.recording() as log:
        ys_i = odeint(f, 1.0, ts, method="kvaerno3", rtol=1e-6, atol=1e-9)
        ys_e = odeint(f, 1.0, ts, method="dopri5", rtol=1e-6, atol=1e-9)
    implicit, explicit = log
    assert abs(ys_i[-1] - np.cos(2.0)) < 1e-6 and abs(ys_e[-1] - np.cos(2.0)) < 1e-6
    assert explicit.steps > 500 and implicit.steps < explicit.steps / 10


def test_robertson_against_scipy_radau():
    def rober(y, t):
        return anp.stack([-0.04 * y[0] + 1e4 * y[1] * y[2],
                          0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] ** 2,
                          3e7 * y[1] ** 2])

    ts = np.array([0.0, 1.0, 10.0, 100.0])
    ref = si.solve_ivp(lambda t, y: np.asarray(rober(y, t)), (0, 100), [1.0, 0.0, 0.0],
                       method="Radau", t_eval=ts, rtol=1e-10, atol=1e-12).y.T
    ys = odeint(rober, np.array([1.0, 0.0, 0.0]), ts, method="kvaerno3", rtol=1e-7, atol=1e-10)
    assert np.max(np.abs(ys - ref) / (np.abs(ref) + 1e-6)) < 1e-4


def test_backward_in_time():
    ts = np.array([T1, 1.0, T0])
    ys = odeint(logistic, logistic_exact(R, Y0, T0, T1), ts, R, rtol=1e-12, atol=1e-12)
    assert abs(ys[-1] - Y0) < 1e-9


# --- errors that name the time --------------------------------------------------------

def test_blow_up_names_the_time():
    """y' = y², y(0) = 1 blows up at t = 1."""
    with pytest.raises(ODEError, match=r"t = (0\.99|1\b|1\.0)") as info:
        odeint(lambda y, t: y * y, 1.0, np.array([0.0, 2.0]))
    assert isinstance(info.value, (StepSizeUnderflowError, NonFiniteStateError))
    assert 0.99 < info.value.t < 1.01


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_nan_in_state_names_the_time():
    """The vector field is NaN once y < 0, which happens at t = 0.5."""
    def f(y, t):
        return -1.0 + 0.0 * anp.sqrt(y)

    with pytest.raises(NonFiniteStateError, match="non-finite") as info:
        odeint(f, 0.5, np.array([0.0, 1.0]), method="rk4", dt0=0.1)
    assert 0.4 <= info.value.t <= 0.6
    with pytest.raises(NonFiniteStateError, match=r"t = 0\.5") as info:
        odeint(f, 0.5, np.array([0.0, 1.0]))


def test_max_steps():
    with pytest.raises(MaxStepsError, match="max_steps=20"):
        odeint(lotka, np.array([1.0, 0.5]), np.array([0.0, 50.0]), 1.1, 0.7, max_steps=20)
    with pytest.raises(MaxStepsError, match="exceed max_steps"):
        odeint(logistic, Y0, np.array([0.0, 1.0]), R, method="rk4", dt0=1e-3, max_steps=100)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="fixed steps; pass dt0"):
        odeint(logistic, Y0, np.array([0.0, 1.0]), R, method="rk4")
    with pytest.raises(ValueError, match="strictly increasing"):
        odeint(logistic, Y0, np.array([0.0, 1.0, 0.5]), R)
    with pytest.raises(ValueError, match="not an integrator"):
        odeint(logistic, Y0, np.array([0.0, 1.0]), R, method="rk78")
    with pytest.raises(TypeError, match="pytree like y0"):
        odeint(lambda y, t: [y], Y0, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="is a class"):
        odeint(logistic, Y0, np.array([0.0, 1.0]), R, adjoint=ad.ode.Backsolve)


# --- pytrees, jit, vmap ---------------------------------------------------------------

def test_pytree_state_and_args():
    def f(state, t, params):
        return {"x": state["v"], "v": -params["k"] * state["x"]}

    ts = np.linspace(0, 1, 5)
    out = odeint(f, {"x": np.ones(3), "v": np.zeros(3)}, ts, {"k": 4.0, "tag": "spring"},
                 rtol=1e-11, atol=1e-11)
    assert out["x"].shape == (5, 3)
    assert np.allclose(out["x"], np.cos(2 * ts)[:, None], atol=1e-9)


def test_fixed_step_stages_under_jit():
    f = lambda y0, k: odeint(logistic, y0, np.array([0.0, 0.5, 1.0]), k, method="rk4", dt0=0.1)
    assert np.allclose(ad.jit(f)(Y0, R), f(Y0, R), atol=1e-14, rtol=0)
    g = ad.jit(ad.grad(lambda k: f(Y0, k)[-1]))
    assert np.allclose(g(R), ad.grad(lambda k: f(Y0, k)[-1])(R), atol=1e-13)
    # adaptive methods stage too (tests/test_ode_jit.py)


def test_vmap_over_initial_states():
    y0s = np.array([0.1, 0.2, 0.5])
    batched = ad.vmap(lambda y0: odeint(logistic, y0, np.array([0.0, 1.0]), R, method="rk4",
                                        dt0=0.05))(y0s)
    loop = np.stack([odeint(logistic, y0, np.array([0.0, 1.0]), R, method="rk4", dt0=0.05)
                     for y0 in y0s])
    assert np.allclose(batched, loop, atol=1e-14)


# --- solve_ivp and scipy.integrate.odeint ----------------------------------------------

def pendulum(t, y, a):
    return anp.stack([y[1], -a * anp.sin(y[0])])


def test_solve_ivp_matches_scipy():
    t = np.linspace(0, 5, 11)
    ref = si.solve_ivp(lambda t, y: np.asarray(pendulum(t, y, 2.0)), (0, 5), [1.0, 0.0],
                       method="DOP853", rtol=1e-13, atol=1e-13, t_eval=t, dense_output=True)
    res = solve_ivp(pendulum, (0, 5), np.array([1.0, 0.0]), args=(2.0,), rtol=1e-10,
                    atol=1e-10, t_eval=t, dense_output=True)
    assert res.status == 0 and res.success and res.y.shape == (2, 11)
    assert np.allclose(res.t, t) and np.max(np.abs(res.y - ref.y)) < 1e-8
    assert np.max(np.abs(res.sol(2.33) - ref.sol(2.33))) < 1e-8
    assert res.nfev > 0 and "successfully" in res.message
    steps = solve_ivp(pendulum, (0, 5), np.array([1.0, 0.0]), args=(2.0,))
    assert steps.t[0] == 0 and steps.t[-1] == 5 and steps.y.shape == (2, len(steps.t))
    assert np.max(np.abs(steps.y[:, -1] - ref.sol(5.0))) < 1e-2     # rtol=1e-3 by default


def test_solve_ivp_failure_is_a_status():
    res = solve_ivp(lambda t, y: y * y, (0, 2), np.array([1.0]), t_eval=[0.5, 0.9, 1.5])
    assert res.status == -1 and not res.success and "t = " in res.message
    assert np.allclose(res.t, [0.5, 0.9]) and np.allclose(res.y[0], [2.0, 10.0], rtol=1e-2)
    with pytest.raises(ValueError, match="kvaerno3"):
        solve_ivp(pendulum, (0, 1), np.array([1.0, 0.0]), method="BDF", args=(1.0,))


@pytest.mark.parametrize("method", ["rk4", "dopri5", "backward_euler", "kvaerno3"])
def test_vmap_over_initial_states_and_parameters_matches_a_loop(method):
    """vmap over y0 and over the parameter, explicit and implicit methods, against a Python
    loop. Fixed steps: the same map, to rounding; adaptive: a batch shares one step
    sequence (the controller takes the RMS error over the batch), so it agrees to the
    tolerance."""
    ts = np.array([0.0, 0.5, 1.0])
    loose = method == "kvaerno3"  # third order: tight tolerances take thousands of steps
    kw = dict(method=method, dt0=0.05, rtol=1e-6 if loose else 1e-10,
              atol=1e-6 if loose else 1e-10)
    # implicit: under vmap root's Newton solves each stage, in the loop the simplified
    # Newton iteration does, both to 1e-12
    tol = {"rk4": 1e-13, "backward_euler": 1e-10, "kvaerno3": 1e-5}.get(method, 1e-8)
    y0s, rs = np.array([0.1, 0.2, 0.5]), np.array([0.5, 1.5, 3.0])
    run = lambda y0, r: odeint(logistic, y0, ts, r, **kw)  # noqa: E731
    by_y0 = ad.vmap(lambda y0: run(y0, R))(y0s)
    by_r = ad.vmap(lambda r: run(Y0, r))(rs)
    np.testing.assert_allclose(by_y0, np.stack([run(y0, R) for y0 in y0s]), atol=tol, rtol=0)
    np.testing.assert_allclose(by_r, np.stack([run(Y0, r) for r in rs]), atol=tol, rtol=0)
    grads = ad.vmap(ad.grad(lambda r: run(Y0, r)[-1]))(rs)
    np.testing.assert_allclose(grads, [ad.grad(lambda r: run(Y0, r)[-1])(r) for r in rs],
                               atol=10 * tol, rtol=0)
