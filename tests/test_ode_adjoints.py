"""The adjoint strategies of adjoin.ode: closed forms, convergence of the gradient, the
discrete adjoint's exactness, checkpointing's recomputations and memory, and every strategy
through check_grads (forward and reverse, order 2) including a stiff method."""
import tracemalloc

import numpy as np
import pytest
import scipy.linalg as sl

import adjoin as ad
import adjoin.numpy as anp
from adjoin.ode import Backsolve, Checkpointed, Interpolated, odeint, recording
from adjoin.ode.revolve import optimal_recomputations
from adjoin.testing import check_grads, numerical_jvp

ADJOINTS = [ad.Unroll(), Checkpointed(3), Backsolve(), Interpolated()]
ids = [type(a).__name__ for a in ADJOINTS]

# --- logistic growth: y' = r y (1 − y), y(t) = 1/(1 + (1/y₀ − 1) e^{−r(t − t₀)}) --------

R, Y0 = 1.3, 0.2
TS = np.array([0.1, 0.9, 2.1])


def logistic(y, t, r):
    return r * y * (1.0 - y)


def exact_and_sensitivities(r, y0, t0, t):
    """y(t) and its derivatives with respect to r, y₀, t₀ and t, by hand."""
    E = np.exp(-r * (t - t0))
    c = 1.0 / y0 - 1.0
    y = 1.0 / (1.0 + c * E)
    return y, {"r": y * y * c * (t - t0) * E, "y0": y * y * E / y0 ** 2,
               "t0": -r * y * (1 - y), "t": r * y * (1 - y)}


def logistic_loss(r, y0, ts, adjoint, **kw):
    """A loss on two output times (two jumps in the adjoint): y(t₂) + y(t₁)²."""
    ys = odeint(logistic, y0, ts, r, adjoint=adjoint, **kw)
    return ys[2] + ys[1] ** 2


def logistic_loss_gradient(r, y0, ts):
    y1, d1 = exact_and_sensitivities(r, y0, ts[0], ts[1])
    y2, d2 = exact_and_sensitivities(r, y0, ts[0], ts[2])
    g_r = d2["r"] + 2 * y1 * d1["r"]
    g_y0 = d2["y0"] + 2 * y1 * d1["y0"]
    g_t = np.array([d2["t0"] + 2 * y1 * d1["t0"], 2 * y1 * d1["t"], d2["t"]])
    return g_r, g_y0, g_t


@pytest.mark.parametrize("adjoint", ADJOINTS, ids=ids)
def test_nonlinear_scalar_closed_form(adjoint):
    """Sensitivities to the parameter, y₀, the initial and the final (and an intermediate)
    time, at tol 1e-12, to 1e-9."""
    g = ad.grad(logistic_loss, argnums=(0, 1, 2))(R, Y0, TS, adjoint, rtol=1e-12, atol=1e-12)
    ref = logistic_loss_gradient(R, Y0, TS)
    assert abs(g[0] - ref[0]) < 1e-9 and abs(g[1] - ref[1]) < 1e-9
    assert np.max(np.abs(g[2] - ref[2])) < 1e-9


@pytest.mark.parametrize("adjoint", ADJOINTS, ids=ids)
def test_stiff_method_closed_form(adjoint):
    g = ad.grad(logistic_loss, argnums=(0, 1, 2))(R, Y0, TS, adjoint, method="kvaerno3",
                                                  rtol=1e-6, atol=1e-6)
    ref = logistic_loss_gradient(R, Y0, TS)
    assert abs(g[0] - ref[0]) < 1e-5 and abs(g[1] - ref[1]) < 1e-5
    assert np.max(np.abs(g[2] - ref[2])) < 1e-5


# --- a linear system: y' = A y, L = cᵀ y(T) = cᵀ e^{AT} y₀ --------------------------------

RNG = np.random.default_rng(0)
A_LIN = RNG.normal(size=(3, 3)) * 0.5
Y0_LIN = RNG.normal(size=3)
C_LIN = RNG.normal(size=3)
T_LIN = 1.3


def linear_loss(A, y0, T, adjoint):
    ys = odeint(lambda y, t, A: A @ y, y0, anp.stack([0.0, T]), A, adjoint=adjoint,
                rtol=1e-12, atol=1e-12)
    return anp.dot(C_LIN, ys[-1])


@pytest.mark.parametrize("adjoint", ADJOINTS, ids=ids)
def test_linear_system_closed_form(adjoint):
    """∇_y₀ L = e^{AᵀT} c; ∇_A L = T · L_exp(AᵀT, c y₀ᵀ) (the Fréchet derivative's adjoint,
    scipy.linalg.expm_frechet); ∂L/∂T = cᵀ A e^{AT} y₀."""
    gA, gy0, gT = ad.grad(linear_loss, argnums=(0, 1, 2))(A_LIN, Y0_LIN, T_LIN, adjoint)
    assert np.max(np.abs(gy0 - sl.expm(A_LIN.T * T_LIN) @ C_LIN)) < 1e-9
    _, frechet = sl.expm_frechet(A_LIN.T * T_LIN, np.outer(C_LIN, Y0_LIN))
    assert np.max(np.abs(gA - T_LIN * frechet)) < 1e-9
    assert abs(gT - C_LIN @ A_LIN @ sl.expm(A_LIN * T_LIN) @ Y0_LIN) < 1e-9


# --- the discrete adjoint is exact for the discrete map ----------------------------------

def lotka(y, t, a, b):
    return anp.stack([a * y[0] - b * y[0] * y[1], -y[1] + b * y[0] * y[1]])


def lotka_loss(params, adjoint, method="rk4", dt0=0.1, ts=np.array([0.0, 1.0, 3.0]), **kw):
    a, b, y0 = params
    ys = odeint(lotka, y0, ts, a, b, method=method, dt0=dt0, adjoint=adjoint, **kw)
    return anp.sum(ys[-1] ** 2) + anp.sum(anp.sin(ys[1]))


PARAMS = (1.1, 0.7, np.array([1.0, 0.5]))


def test_unroll_equals_finite_differences_of_the_discrete_map():
    g = ad.grad(lotka_loss)(PARAMS, ad.Unroll())
    f = lambda a, b, y0: lotka_loss((a, b, y0), ad.Unroll())  # noqa: E731
    for k, tangent in enumerate([(1.0, 0.0, np.zeros(2)), (0.0, 1.0, np.zeros(2)),
                                 (0.0, 0.0, np.array([1.0, 0.0])),
                                 (0.0, 0.0, np.array([0.0, 1.0]))]):
        fd = numerical_jvp(f, PARAMS, tangent)
        exact = [g[0], g[1], g[2][0], g[2][1]][k]
        assert abs(fd - exact) < 1e-8 * max(1.0, abs(exact))


def flat_grad(loss, params, adjoint, **kw):
    g = ad.grad(loss)(params, adjoint, **kw)
    return np.concatenate([np.ravel(x) for x in ad.tree_leaves(g)])


@pytest.mark.parametrize("n", [1, 2, 4, 7, 40])
def test_checkpointed_equals_unroll_and_reaches_revolves_optimum(n):
    ref = flat_grad(lotka_loss, PARAMS, ad.Unroll())
    with recording() as log:
        g = flat_grad(lotka_loss, PARAMS, Checkpointed(n))
    assert np.max(np.abs(g - ref)) < 1e-12 * np.max(np.abs(ref))
    s = log[-1]
    assert s.steps == 30 and s.taped_steps == 30
    assert s.recomputed_steps == optimal_recomputations(30, n) == s.optimal_recomputations
    assert s.checkpoints <= n + 1


def test_checkpointed_adaptive_equals_unroll():
    kw = dict(method="dopri5", dt0=None, rtol=1e-7, atol=1e-7,
              ts=np.array([0.0, 2.0, 5.0, 8.0]))
    ref = flat_grad(lotka_loss, PARAMS, ad.Unroll(), **kw)
    with recording() as log:
        g = flat_grad(lotka_loss, PARAMS, Checkpointed(6), **kw)
    assert np.max(np.abs(g - ref)) < 1e-12 * np.max(np.abs(ref))
    s = log[-1]
    assert s.optimal_recomputations <= s.recomputed_steps <= 1.6 * s.optimal_recomputations
    assert s.checkpoints <= 6


# --- convergence of the gradient -------------------------------------------------------

@pytest.mark.parametrize("method,order", [("midpoint", 2), ("rk4", 4)])
def test_gradient_converges_at_the_method_order(method, order):
    ref = logistic_loss_gradient(R, Y0, TS)
    errs = []
    for n in (20, 40):
        g = ad.grad(logistic_loss, argnums=(0, 1))(R, Y0, TS, ad.Unroll(), method=method,
                                                   dt0=0.8 / n)
        errs.append(max(abs(g[0] - ref[0]), abs(g[1] - ref[1])))
    assert abs(np.log2(errs[0] / errs[1]) - order) < 0.3


@pytest.mark.parametrize("adjoint", [Backsolve(), Interpolated()], ids=["Backsolve",
                                                                       "Interpolated"])
@pytest.mark.parametrize("method,order", [("midpoint", 2), ("rk4", 4)])
def test_continuous_discrete_gap_shrinks_at_the_method_order(adjoint, method, order):
    gaps = []
    for dt in (0.1, 0.05):
        d = flat_grad(lotka_loss, PARAMS, ad.Unroll(), method=method, dt0=dt)
        c = flat_grad(lotka_loss, PARAMS, adjoint, method=method, dt0=dt)
        gaps.append(np.max(np.abs(c - d)))
    assert abs(np.log2(gaps[0] / gaps[1]) - order) < 0.4, gaps


# --- what every strategy supports ------------------------------------------------------

def small_loss(k, y0, adjoint, method, dt0=0.1):
    ys = odeint(lambda y, t, k: -k * y * (1 + 0.1 * anp.cos(t)) + 0.05 * y ** 2, y0,
                np.array([0.0, 0.3, 0.6]), k, method=method, dt0=dt0, adjoint=adjoint)
    return anp.sum(ys[-1] ** 2) + anp.sum(ys[1])


@pytest.mark.parametrize("adjoint", ADJOINTS, ids=ids)
@pytest.mark.parametrize("method", ["rk4", "backward_euler"])
def test_check_grads_every_strategy(adjoint, method):
    """Forward and reverse mode at order 2 (hessian, jacfwd(jacrev)), against finite
    differences of the discrete map. The continuous adjoints are the ODE's derivative,
    O(h^p) from the discrete map's (p = 4 for rk4, 1 for backward Euler), hence their
    tolerance; a wrong rule (sign, missing term) is off by O(1)."""
    continuous = isinstance(adjoint, (Backsolve, Interpolated))
    tol = {}
    if continuous:
        tol = {"atol": 2e-3, "rtol": 2e-3} if method == "rk4" else {"atol": 6e-2, "rtol": 6e-2}
    check_grads(lambda k, y0: small_loss(k, y0, adjoint, method),
                (0.7, np.array([1.0, 2.0])), order=2, modes=("fwd", "rev"), **tol)


@pytest.mark.parametrize("adjoint", ADJOINTS[1:], ids=ids[1:])
def test_forward_mode_and_hessian_match_unroll(adjoint):
    def f(k):
        return small_loss(k, np.array([1.0, 2.0]), adjoint, "rk4")

    def f_ref(k):
        return small_loss(k, np.array([1.0, 2.0]), ad.Unroll(), "rk4")

    tol = 1e-12 if isinstance(adjoint, Checkpointed) else 1e-4   # O(h⁴) at h = 0.1
    assert abs(ad.jvp(f, (0.7,), (1.0,))[1] - ad.grad(f)(0.7)) < 1e-12
    assert abs(ad.grad(f)(0.7) - ad.grad(f_ref)(0.7)) < tol
    assert abs(ad.hessian(f)(0.7) - ad.hessian(f_ref)(0.7)) < tol
    assert abs(ad.jacfwd(ad.jacrev(f))(0.7) - ad.hessian(f)(0.7)) < 1e-12


def net_loss(params, scale, tag, adjoint):
    """A small network as the vector field: params a dict of arrays, scale closed over by
    the field, tag a string that travels through args untouched."""
    assert tag == "net"

    def field(y, t, p, name):
        return anp.tanh(p["W"] @ y + p["b"]) * scale - 0.1 * y

    ys = odeint(field, np.array([0.5, -0.3]), np.linspace(0.0, 1.0, 4), params, tag,
                method="rk4", dt0=0.05, adjoint=adjoint)
    return anp.sum(ys ** 2)


@pytest.mark.parametrize("adjoint", ADJOINTS[1:], ids=ids[1:])
def test_closed_over_parameters_and_pytree_args(adjoint):
    """Every leaf of args and every value the field closes over gets its gradient."""
    params = {"W": np.array([[0.3, -0.2], [0.1, 0.4]]), "b": np.array([0.1, -0.1])}
    g = ad.grad(net_loss, argnums=(0, 1))(params, 1.5, "net", adjoint)
    ref = ad.grad(net_loss, argnums=(0, 1))(params, 1.5, "net", ad.Unroll())
    tol = 1e-12 if isinstance(adjoint, Checkpointed) else 1e-6
    for a, b in zip(ad.tree_leaves(g), ad.tree_leaves(ref)):
        assert np.max(np.abs(np.asarray(a) - np.asarray(b))) < tol
    assert abs(ref[1]) > 1e-3


# --- memory ----------------------------------------------------------------------------

D = 500


def memory_loss(k, steps, adjoint):
    y0 = np.linspace(0.5, 1.5, D)
    ys = odeint(lambda y, t, k: -k * y + 0.1 * anp.sin(y), y0, np.array([0.0, 1.0]), k,
                method="rk4", dt0=1.0 / steps, adjoint=adjoint)
    return anp.sum(ys[-1] ** 2)


def peak_bytes(adjoint, steps):
    ad.grad(memory_loss)(0.5, 4, adjoint)                   # warm caches outside the trace
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        ad.grad(memory_loss)(0.5, steps, adjoint)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_peak_memory_as_steps_grow():
    """Unroll's tape grows with the steps, Checkpointed(n)'s stays O(n) states, Backsolve's
    stays flat (measured with tracemalloc, which sees NumPy's allocations)."""
    state = D * 8
    peaks = {name: [peak_bytes(adj, s) for s in (20, 80)] for name, adj in
             [("unroll", ad.Unroll()), ("ckpt", Checkpointed(5)), ("backsolve", Backsolve())]}
    print({k: [f"{v / state:.1f} states" for v in vs] for k, vs in peaks.items()})
    assert peaks["unroll"][1] > 3.0 * peaks["unroll"][0]
    assert peaks["ckpt"][1] < 1.25 * peaks["ckpt"][0]
    assert peaks["backsolve"][1] < 1.25 * peaks["backsolve"][0]
    assert peaks["ckpt"][1] < 0.2 * peaks["unroll"][1]


def test_checkpoint_memory_is_linear_in_n():
    state = D * 8
    p4, p16 = peak_bytes(Checkpointed(4), 80), peak_bytes(Checkpointed(16), 80)
    extra = (p16 - p4) / state
    print(f"12 more checkpoints cost {extra:.1f} states")
    assert 9 <= extra <= 16
