"""1-D periodic advection differentiated both ways: discretize-then-optimize (Unroll,
Checkpointed) against optimize-then-discretize (Continuous), slides 26–31.

The loss is linear in the final state, J(u₀) = ∫ w u(T) dx ≈ Σ w_i u_i(T) dx, so the
cotangent is w and the exact continuous gradient (as a density: ∂J/∂u₀_i / dx) is known:

- constant c:                     ∂J/∂u₀(x) = w(x + cT)   (a shifted copy of w);
- u_t + c(x) u_x = 0 (advective):  w(X_T(x)) X_T'(x);
- u_t + (c(x) u)_x = 0 (conservative): w(X_T(x)),

with X_T the flow of dX/dt = c(X) (the characteristics; computed here by RK4 to 1e-12).
"""
import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp
from adjoin.ode import recording
from adjoin.pde import Advection, Continuous, Diffusion, integrate
from adjoin.pde import schemes as S
from adjoin.testing import check_grads

T = 0.25


def w_periodic(x):
    return np.cos(2 * np.pi * x) ** 3 + np.sin(4 * np.pi * x)


def w_inside(x):  # vanishes smoothly at both ends (non-periodic runs)
    return np.sin(np.pi * np.clip(x, 0.0, 1.0)) ** 4


def c_of(x):
    return 1.0 + 0.5 * np.sin(2 * np.pi * x)


def dc_of(x):
    return np.pi * np.cos(2 * np.pi * x)


def characteristics(x, t, m=2000):
    """(X_t(x), ∂X_t/∂x) for dX/dt = c(X), by RK4 with m steps."""
    X, J, h = x.copy(), np.ones_like(x), t / m

    def f(X, J):
        return c_of(X), dc_of(X) * J

    for _ in range(m):
        a = f(X, J)
        b = f(X + h / 2 * a[0], J + h / 2 * a[1])
        c = f(X + h / 2 * b[0], J + h / 2 * b[1])
        d = f(X + h * c[0], J + h * c[1])
        X = X + h / 6 * (a[0] + 2 * b[0] + 2 * c[0] + d[0])
        J = J + h / 6 * (a[1] + 2 * b[1] + 2 * c[1] + d[1])
    return X, J


def grid(N, courant=0.4, speed=1.0):
    dx = 1.0 / N
    x = (np.arange(N) + 0.5) * dx
    n = int(np.ceil(T * speed / (courant * dx)))
    return x, dx, T / n, n


def gradient(stepper, n, w, dx, adjoint, u0=None):
    """∂J/∂u₀ / dx (the gradient as a density) for J = Σ w u(T) dx."""
    u0 = np.zeros_like(w) if u0 is None else u0

    def J(u):
        return anp.sum(w * integrate(stepper, u, n, adjoint=adjoint)) * dx

    return ad.grad(J)(u0) / dx


def orders(errors):
    e = np.asarray(errors)
    return np.log2(e[:-1] / e[1:])


# --------------------------------------------------------------------------------------
# the exact gradient, and the adjoint's direction
# --------------------------------------------------------------------------------------

def test_exact_gradient_is_the_cotangent_shifted_downstream():
    # the spectral step is the exact solution operator for constant c, so the discrete
    # gradient equals the continuous one, w(x + cT), to round-off
    N, c = 32, 1.0
    x, dx, dt, n = grid(N)
    step = Advection(c, dt, dx, scheme="spectral")
    w = w_periodic(x)
    exact = w_periodic(x + c * T)
    for adjoint in (ad.Unroll(), ad.Checkpointed(3), Continuous()):
        np.testing.assert_allclose(gradient(step, n, w, dx, adjoint), exact, atol=1e-12)
    # and a finite difference of the loss in the direction of a bump confirms the sign
    bump = np.exp(-((x - 0.3) / 0.05) ** 2)
    J = lambda u: float(np.sum(w * integrate(step, u, n)) * dx)  # noqa: E731
    fd = (J(1e-3 * bump) - J(-1e-3 * bump)) / 2e-3
    assert abs(fd - np.sum(exact * bump) * dx) < 1e-10


def test_slide_26_form_read_in_forward_time_moves_the_cotangent_the_wrong_way():
    # slide 26: ∂_t λ − ∂_x λ = 0 "from t = Δt to t = 0", λ(Δt) = ū. Stepping that
    # equation backward in forward time: λ(t − dt)(x) = λ(t)(x − c dt), advection with +c
    # (the primal step itself), so λ(0) = ū(x − cT): upstream, the wrong way. The right
    # reading is in reversed time τ = T − t: μ_τ − c μ_x = 0, velocity −c (the mirror).
    N, c = 32, 1.0
    x, dx, dt, n = grid(N)
    step = Advection(c, dt, dx, scheme="spectral")
    w = w_periodic(x)
    slide_forward = Continuous(lambda u_bar, u: step(u_bar), uses_state=False)
    g_wrong = gradient(step, n, w, dx, slide_forward)
    np.testing.assert_allclose(g_wrong, w_periodic(x - c * T), atol=1e-12)
    assert np.max(np.abs(g_wrong - w_periodic(x + c * T))) > 1.0
    reversed_time = Continuous(lambda u_bar, u: step.adjoint()(u_bar), uses_state=False)
    np.testing.assert_allclose(gradient(step, n, w, dx, reversed_time),
                               w_periodic(x + c * T), atol=1e-12)
    assert step.adjoint().velocity == -c


# --------------------------------------------------------------------------------------
# DtO = OtD to round-off where the mirrored scheme is the transpose
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["upwind", "lax_wendroff", "spectral", "semi_lagrangian",
                                    "mac_cormack"])
@pytest.mark.parametrize("c", [0.7, -1.3])
def test_dto_and_otd_agree_for_constant_velocity(scheme, c):
    x, dx, dt, n = grid(48, speed=abs(c))
    step = Advection(c, dt, dx, scheme=scheme, limiter=False)
    w = w_periodic(x)
    dto = gradient(step, n, w, dx, ad.Unroll())
    otd = gradient(step, n, w, dx, Continuous())
    assert np.max(np.abs(dto - otd)) < 1e-13 * np.max(np.abs(dto))
    np.testing.assert_allclose(gradient(step, n, w, dx, ad.Checkpointed(4)), dto, atol=1e-15)


@pytest.mark.parametrize("scheme", ["upwind", "lax_wendroff", "spectral"])
@pytest.mark.parametrize("form", ["advective", "conservative"])
def test_dto_and_otd_agree_in_2d_for_constant_velocity(scheme, form):
    N = 16
    dx = 1.0 / N
    x = (np.arange(N) + 0.5) * dx
    X, Y = np.meshgrid(x, x, indexing="ij")
    step = Advection((0.6, -0.3), 0.4 * dx, dx, scheme=scheme, form=form)
    w = np.sin(2 * np.pi * X) * np.cos(2 * np.pi * Y) ** 2
    dto = gradient(step, 12, w, dx, ad.Unroll())
    otd = gradient(step, 12, w, dx, Continuous())
    assert np.max(np.abs(dto - otd)) < 1e-13 * np.max(np.abs(dto))


@pytest.mark.parametrize("boundary", ["periodic", "zero-gradient", "zero"])
def test_diffusion_is_self_adjoint(boundary):
    x, dx, _, _ = grid(32)
    step = Diffusion(0.1, 0.2 * dx * dx / 0.1, dx, boundary=boundary)
    w = w_periodic(x)
    dto = gradient(step, 20, w, dx, ad.Unroll())
    otd = gradient(step, 20, w, dx, Continuous())
    assert np.max(np.abs(dto - otd)) < 1e-14 * np.max(np.abs(dto))


# --------------------------------------------------------------------------------------
# DtO ≠ OtD where the adjoint PDE is discretized on its own
# --------------------------------------------------------------------------------------

def _variable_case(scheme, form, N):
    x, dx, dt, n = grid(N, speed=1.5)
    step = Advection(c_of(x), dt, dx, scheme=scheme, form=form)
    X, JX = characteristics(x, n * dt)
    exact = w_periodic(X) * JX if form == "advective" else w_periodic(X)
    w = w_periodic(x)
    return (gradient(step, n, w, dx, ad.Unroll()), gradient(step, n, w, dx, Continuous()),
            exact)


@pytest.mark.parametrize("scheme,order", [("upwind", 1), ("lax_wendroff", 2)])
@pytest.mark.parametrize("form", ["advective", "conservative"])
def test_space_varying_velocity_differs_and_both_converge(scheme, order, form):
    # the primal in one form has its adjoint in the other (a conservative primal: the
    # adjoint λ_t + c λ_x = 0 in non-conservative form), discretized on its own with face
    # velocities; DtO is the transpose of the primal scheme. Both converge to the
    # continuous gradient at the scheme's order, and so does their difference.
    Ns = [32, 64, 128, 256]
    runs = [_variable_case(scheme, form, N) for N in Ns]
    e_dto = [np.max(np.abs(d - ex)) for d, o, ex in runs]
    e_otd = [np.max(np.abs(o - ex)) for d, o, ex in runs]
    diff = [np.max(np.abs(d - o)) for d, o, ex in runs]
    print(f"\n{scheme}/{form}: |DtO−OtD| = {np.round(diff, 5)}; orders DtO "
          f"{orders(e_dto).round(2)}, OtD {orders(e_otd).round(2)}, "
          f"difference {orders(diff).round(2)}")
    assert min(diff) > 1e-4  # measurably different at every grid size
    for errs in (e_dto, e_otd, diff):
        assert abs(orders(errs)[-1] - order) < 0.2


def test_limiter_makes_dto_differ_and_only_otd_converges():
    # MacCormack with PhiFlow's limiter is nonlinear in u: the discrete adjoint is the
    # transpose of its linearization, whose clamped points (at the extrema of u) pass
    # the cotangent on from one neighbour only. The continuous adjoint (the mirrored,
    # unlimited MacCormack) does not see the limiter and converges at second order;
    # measured: DtO's largest error does not shrink with the grid (0.4–0.95 on
    # N = 32…512), its mean error falls at order ≈ 0.5.
    e_dto, e_otd, diff = [], [], []
    for N in (32, 64, 128, 256):
        x, dx, dt, n = grid(N)
        step = Advection(1.0, dt, dx, scheme="mac_cormack", limiter=True)
        w = w_periodic(x)
        exact = w_periodic(x + n * dt)
        u0 = np.sin(2 * np.pi * x)
        d = gradient(step, n, w, dx, ad.Unroll(), u0)
        o = gradient(step, n, w, dx, Continuous(), u0)
        e_dto.append(np.max(np.abs(d - exact)))
        e_otd.append(np.max(np.abs(o - exact)))
        diff.append(np.max(np.abs(d - o)))
        # without the limiter the two agree to round-off
        plain = dataclass_replace(step, limiter=False)
        assert np.max(np.abs(gradient(plain, n, w, dx, ad.Unroll(), u0)
                             - gradient(plain, n, w, dx, Continuous(), u0))) < 1e-12
    print(f"\nlimiter: |DtO−OtD| = {np.round(diff, 4)}, OtD orders {orders(e_otd).round(2)}")
    assert min(diff) > 0.1
    assert min(e_dto) > 0.1
    assert abs(orders(e_otd)[-1] - 2) < 0.2


def dataclass_replace(obj, **kw):
    import dataclasses
    return dataclasses.replace(obj, **kw)


def test_inflow_outflow_boundary_differs():
    # inflow u = 0 on the left, outflow (zero-gradient) on the right, c = 1. The adjoint's
    # boundaries are mirrored (λ = 0 at the primal outflow, free at the primal inflow);
    # the transposed Lax–Wendroff step instead has λ_{−1} = 0 at the left, a boundary
    # layer that does not shrink in the max norm. Measured (N = 32…512): DtO's largest
    # error 0.05 → 0.10, its mean error first order; OtD first order in the max norm
    # (the zero-gradient extrapolation) and second order in the mean.
    e_dto, e_otd, m_dto, m_otd, diff = [], [], [], [], []
    for N in (64, 128, 256):
        x, dx, dt, n = grid(N)
        step = Advection(1.0, dt, dx, scheme="lax_wendroff", boundary=("zero", "zero-gradient"))
        w = w_inside(x)
        xs = x + n * dt
        exact = np.where(xs < 1, w_inside(xs), 0.0)
        d = gradient(step, n, w, dx, ad.Unroll())
        o = gradient(step, n, w, dx, Continuous())
        e_dto.append(np.max(np.abs(d - exact)))
        e_otd.append(np.max(np.abs(o - exact)))
        m_dto.append(np.mean(np.abs(d - exact)))
        m_otd.append(np.mean(np.abs(o - exact)))
        diff.append(np.max(np.abs(d - o)))
    print(f"\nboundary: |DtO−OtD| = {np.round(diff, 4)}; mean-error orders DtO "
          f"{orders(m_dto).round(2)}, OtD {orders(m_otd).round(2)}")
    assert min(diff) > 0.05
    assert min(e_dto) > 0.05
    assert abs(orders(e_otd)[-1] - 1) < 0.2
    assert abs(orders(m_dto)[-1] - 1) < 0.2
    assert abs(orders(m_otd)[-1] - 2) < 0.2
    assert S.mirror_boundary(("zero", "zero-gradient")) == (S.ZERO_GRADIENT, S.ZERO)


@pytest.mark.parametrize("scheme,order", [("upwind", 1), ("lax_wendroff", 2),
                                          ("semi_lagrangian", 1), ("mac_cormack", 2)])
def test_constant_velocity_converges_at_the_scheme_order(scheme, order):
    # semi-Lagrangian and MacCormack run at Courant number 1.4 (below 1 they coincide with
    # upwind and Lax–Wendroff)
    errs = []
    for N in (32, 64, 128, 256):
        x, dx, dt, n = grid(N, courant=1.4 if scheme in ("semi_lagrangian", "mac_cormack")
                            else 0.4)
        step = Advection(1.0, dt, dx, scheme=scheme, limiter=False)
        w = w_periodic(x)
        g = gradient(step, n, w, dx, Continuous())
        errs.append(np.max(np.abs(g - w_periodic(x + n * dt))))
    print(f"\n{scheme}: errors {np.array(errs).round(6)}, orders {orders(errs).round(2)}")
    assert abs(orders(errs)[-1] - order) < 0.2


# --------------------------------------------------------------------------------------
# dot-product test, check_grads, bookkeeping
# --------------------------------------------------------------------------------------

DOT_CASES = [
    ("upwind", "advective", "periodic", True),
    ("upwind", "conservative", ("zero", "zero-gradient"), True),
    ("lax_wendroff", "advective", "periodic", True),
    ("lax_wendroff", "conservative", ("zero", "zero-gradient"), True),
    ("spectral", "advective", "periodic", True),
    ("semi_lagrangian", "advective", "zero-gradient", False),
    ("mac_cormack", "advective", "periodic", False),
]


@pytest.mark.parametrize("scheme,form,boundary,varying", DOT_CASES)
@pytest.mark.parametrize("adjoint", [ad.Unroll(), ad.Checkpointed(3), Continuous()],
                         ids=repr)
def test_dot_product(scheme, form, boundary, varying, adjoint):
    # ⟨ȳ, J ẋ⟩ = ⟨Jᵀ ȳ, ẋ⟩ for the jvp and vjp of every strategy (for Continuous, J is
    # the operator its own rule defines; jvp is derived from the vjp by transposition)
    rng = np.random.default_rng(0)
    x, dx, dt, n = grid(24, speed=1.5)
    velocity = c_of(x) if varying else 1.0
    step = Advection(velocity, dt, dx, scheme=scheme, form=form, boundary=boundary)
    u0 = np.sin(2 * np.pi * x) + 0.3
    x_dot, y_bar = rng.standard_normal(24), rng.standard_normal(24)
    f = lambda u: integrate(step, u, 7, adjoint=adjoint)  # noqa: E731
    _, y_dot = ad.jvp(f, (u0,), (x_dot,))
    _, pullback = ad.vjp(f, u0)
    x_bar, = pullback(y_bar)
    lhs, rhs = float(np.dot(y_bar, y_dot)), float(np.dot(x_bar, x_dot))
    assert abs(lhs - rhs) < 1e-12 * max(1.0, abs(lhs))


def _scheme_step(scheme):
    # a nonlinear loss (squared) of a state advected with a differentiated velocity
    N = 12
    x, dx, dt, _ = grid(N)
    w = w_periodic(x)

    def loss(u, c, adjoint):
        step = Advection(c, dt, dx, scheme=scheme)
        return anp.sum(w * integrate(step, u, 5, adjoint=adjoint) ** 2) * dx

    return loss, np.exp(np.sin(2 * np.pi * x))


@pytest.mark.parametrize("scheme", ["upwind", "lax_wendroff"])
@pytest.mark.parametrize("adjoint", [ad.Unroll(), ad.Checkpointed(2), Continuous(),
                                     Continuous(checkpoints=2)], ids=repr)
def test_check_grads_through_integrate(scheme, adjoint):
    loss, u0 = _scheme_step(scheme)
    check_grads(lambda u, c: loss(u, c, adjoint), (u0, 0.8), order=2)


def test_check_grads_with_a_declared_adjoint_that_reads_the_state():
    # u ↦ u + dt sin(u) + dt θ: the exact adjoint a ↦ a (1 + dt cos u) reads u
    dt = 0.1

    def step(u, theta):
        return u + dt * anp.sin(u) + dt * theta

    def adjoint_step(u_bar, u, theta):
        return u_bar * (1.0 + dt * anp.cos(u))

    u0 = np.linspace(-1.0, 1.0, 5)
    theta = np.array([0.3, -0.2, 0.1, 0.5, -0.4])
    for adjoint in (Continuous(adjoint_step), Continuous(adjoint_step, checkpoints=2)):
        f = lambda u, th: anp.sum(integrate(step, u, 6, th, adjoint=adjoint) ** 3)  # noqa
        check_grads(f, (u0, theta), order=2)
        g_otd = ad.grad(f, argnums=(0, 1))(u0, theta)
        g_dto = ad.grad(lambda u, th: anp.sum(integrate(step, u, 6, th) ** 3),
                        argnums=(0, 1))(u0, theta)
        for a, b in zip(g_otd, g_dto):
            np.testing.assert_allclose(a, b, rtol=1e-13)


def test_pytree_state_and_jit():
    dx = 1.0 / 16
    x = (np.arange(16) + 0.5) * dx
    adv = Advection(1.0, 0.4 * dx, dx, scheme="lax_wendroff")
    dif = Diffusion(0.01, 0.4 * dx, dx)

    def step(s):
        return {"u": adv(s["u"]), "v": dif(s["v"])}

    def adjoint_step(s_bar, s):
        return {"u": adv.adjoint_step(s_bar["u"]), "v": dif.adjoint_step(s_bar["v"])}

    s0 = {"u": np.sin(2 * np.pi * x), "v": np.cos(2 * np.pi * x)}
    for adjoint in (ad.Unroll(), ad.Checkpointed(3), Continuous(adjoint_step, uses_state=False)):
        f = lambda s: anp.sum(integrate(step, s, 9, adjoint=adjoint)["u"] * x)  # noqa: E731
        g = ad.grad(f)(s0)
        g_jit = ad.jit(ad.grad(f))(s0)
        np.testing.assert_allclose(g["u"], g_jit["u"], atol=1e-14)
        assert np.all(g["v"] == 0)


def test_memory_kept_by_each_strategy():
    x, dx, dt, n = grid(32)
    u0 = np.sin(2 * np.pi * x)

    def J(u, c, adjoint):
        return anp.sum(integrate(Advection(c, dt, dx), u, n, adjoint=adjoint) ** 2)

    def held(adjoint, wrt_velocity):
        with recording() as log:
            if wrt_velocity:
                ad.grad(lambda u, c: J(u, c, adjoint), argnums=(0, 1))(u0, 1.0)
            else:
                ad.grad(lambda u: J(u, 1.0, adjoint))(u0)
        return log[0].checkpoints

    assert n >= 20
    assert held(ad.Checkpointed(5), False) <= 6    # 5 checkpoints + the state before the last step
    assert held(Continuous(), False) == 0          # no state read, nothing differentiated
    assert n <= held(Continuous(), True) <= n + 1  # θ = c differentiated: every state kept
    assert held(Continuous(checkpoints=4), True) <= 5


def test_errors_name_the_fix():
    step = lambda u: u  # noqa: E731
    with pytest.raises(ValueError, match="adjoint_step"):
        ad.grad(lambda u: anp.sum(integrate(step, u, 3, adjoint=Continuous())))(np.ones(3))
    with pytest.raises(ValueError, match="non-negative integer"):
        integrate(step, np.ones(3), -1)
    with pytest.raises(ValueError, match="checkpoints"):
        Continuous(checkpoints=0)
    with pytest.raises(ValueError, match="is a class"):
        integrate(step, np.ones(3), 2, adjoint=Continuous)
    with pytest.raises(ad.implicit.strategies.UnsupportedStrategyError, match="Continuous"):
        ad.grad(lambda u: anp.sum(integrate(step, u, 3, adjoint=ad.Backsolve())))(np.ones(3))
    with pytest.raises(ValueError, match="periodic"):
        Advection(1.0, 0.1, 0.1, scheme="spectral", boundary="zero")
    with pytest.raises(ValueError, match="space-varying"):
        Advection(np.ones(4), 0.1, 0.1, scheme="semi_lagrangian").adjoint()
    with pytest.raises(ValueError, match="form"):
        S.upwind(np.ones(4), 1.0, 0.1, 0.1, form="flux")


@pytest.mark.parametrize("adjoint", [ad.Unroll(), ad.Checkpointed(2), Continuous()], ids=repr)
def test_vmap_of_the_gradient_equals_a_loop(adjoint):
    N = 16
    dx = 1.0 / N
    step = Advection(1.0, 0.4 * dx, dx, scheme="lax_wendroff")
    U = np.random.default_rng(0).standard_normal((3, N))
    f = lambda u: anp.sum(integrate(step, u, 5, adjoint=adjoint) ** 2)  # noqa: E731
    np.testing.assert_allclose(ad.vmap(ad.grad(f))(U), np.stack([ad.grad(f)(u) for u in U]),
                               atol=1e-14)


@pytest.mark.parametrize("scheme", ["semi_lagrangian", "mac_cormack"])
@pytest.mark.parametrize("boundary", ["periodic", ("zero", "zero-gradient")])
def test_semi_lagrangian_beyond_courant_one(scheme, boundary):
    # at Courant number 2.4 the backtrace crosses two cells: the mirror is still the
    # transpose, periodic or not for semi-Lagrangian (the primal samples upstream only, the
    # mirror downstream only, so neither reads the boundary the other transposes);
    # MacCormack's forward trace reads the outflow ghost, whose transpose is not the
    # adjoint's inflow condition
    x, dx, dt, n = grid(40, courant=2.4)
    step = Advection(1.0, dt, dx, scheme=scheme, boundary=boundary, limiter=False)
    w = w_inside(x)
    dto = gradient(step, n, w, dx, ad.Unroll())
    otd = gradient(step, n, w, dx, Continuous())
    gap = np.max(np.abs(dto - otd))
    print(f"\n{scheme}, {boundary}: |DtO − OtD| = {gap:.1e}")
    if boundary == "periodic" or scheme == "semi_lagrangian":
        assert gap < 1e-13
    else:
        assert gap > 1e-3
