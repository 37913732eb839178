"""Strategic gradient cuts (adjoin.pde.cuts) against closed forms.

Scalar linear physics x_{t+1} = a x_t + b u_t with the linear controller u_t = k x_t and
L = ½ x_N², r = a + b k, x_t = r^t x₀. Backward, λ_N = x_N and θ̄ = Σ_t b λ_{t+1} x_t with
λ_t = m λ_{t+1}, where m is what each mode lets through (module docstring of cuts):

- full     m = r:   g = N b x₀² r^{2N−1}
- physics  m = a:   g = b x₀² r^N Σ_t a^{N−1−t} r^t = b x₀² r^N (r^N − a^N)/(r − a)
- network  m = b k: g = b x₀² r^N (r^N − (bk)^N)/(r − bk) = b x₀² r^N (r^N − (bk)^N)/a
- stopped  m = 0:   g = b x_N x_{N−1} = b x₀² r^{2N−1}
- combined: physics where sign(physics) = sign(full), else 0.
"""
import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp
from adjoin.pde.cuts import MODES, combine, cut_value_and_grad, rollout


def closed_form(a, b, k, x0, N):
    r = a + b * k
    full = N * b * x0 ** 2 * r ** (2 * N - 1)
    physics = b * x0 ** 2 * r ** N * (r ** N - a ** N) / (r - a)
    network = b * x0 ** 2 * r ** N * (r ** N - (b * k) ** N) / a
    stopped = b * x0 ** 2 * r ** (2 * N - 1)
    combined = physics if np.sign(physics) == np.sign(full) else 0.0
    return dict(full=full, physics=physics, network=network, stopped=stopped,
                combined=combined)


def scalar_problem(a, b):
    physics = lambda x, u: a * x + b * u  # noqa: E731
    controller = lambda k, x: k * x  # noqa: E731
    loss = lambda states, controls: 0.5 * states[-1] ** 2  # noqa: E731
    return loss, physics, controller


@pytest.mark.parametrize("a,b,k,N", [(0.9, 0.5, -0.4, 6), (1.1, -0.7, 0.3, 5),
                                     (0.9, 1.0, -1.4, 4)])
def test_every_mode_matches_its_closed_form(a, b, k, N):
    loss, physics, controller = scalar_problem(a, b)
    x0 = 1.3
    expected = closed_form(a, b, k, x0, N)
    value0 = None
    for mode in MODES:
        value, g = cut_value_and_grad(loss, physics, controller, N, mode)(k, x0)
        np.testing.assert_allclose(g, expected[mode], rtol=1e-12, atol=1e-15)
        value0 = value if value0 is None else value0
        assert value == value0  # the cuts change the backward pass only


def test_combined_keeps_and_zeros_components():
    # (0.9, 1, −1.4, 4): r = −0.5, physics and full gradients of opposite sign → 0;
    # (0.9, 0.5, −0.4, 6): the same sign → the physics gradient
    e1 = closed_form(0.9, 1.0, -1.4, 1.3, 4)
    assert np.sign(e1["physics"]) != np.sign(e1["full"]) and e1["combined"] == 0.0
    e2 = closed_form(0.9, 0.5, -0.4, 1.3, 6)
    assert e2["combined"] == e2["physics"] != 0.0
    # component-wise on a pytree
    out = combine({"w": np.array([1.0, -2.0, 3.0]), "b": -1.0},
                  {"w": np.array([2.0, 5.0, 0.5]), "b": -0.1})
    np.testing.assert_array_equal(out["w"], [1.0, 0.0, 3.0])
    assert out["b"] == -1.0


def _matrix_closed_form(A, B, K, x0s, N, mode):
    """The recursion behind the closed forms, for x' = A x + B u, u = K x, a batch of
    initial states, and L = ½ Σ_batch Σ_{t=1..N} |x_t|² (a running loss)."""
    M = {"full": A + B @ K, "physics": A, "network": B @ K, "stopped": 0 * A}
    g = np.zeros_like(K)
    for x0 in x0s:
        xs = [x0]
        for _ in range(N):
            xs.append((A + B @ K) @ xs[-1])
        lam = xs[N].copy()
        for t in range(N - 1, -1, -1):
            g += np.outer(B.T @ lam, xs[t])          # θ̄ += (∂x_{t+1}/∂K)ᵀ λ_{t+1}
            lam = M[mode].T @ lam + (xs[t] if t >= 1 else 0)
    return g


@pytest.mark.parametrize("mode", MODES)
def test_vector_state_batch_and_running_loss(mode):
    rng = np.random.default_rng(1)
    A = np.array([[1.0, 0.1], [-0.2, 0.95]])
    B = np.array([[0.0], [0.1]])
    K = rng.standard_normal((1, 2))
    x0s = rng.standard_normal((3, 2))
    N = 7

    def physics(x, u):  # a batch: x of shape (3, 2), u of shape (3, 1)
        return x @ A.T + u @ B.T

    def controller(K, x):
        return x @ K.T

    def loss(states, controls):
        return 0.5 * anp.sum(states[1:] ** 2)

    _, g = cut_value_and_grad(loss, physics, controller, N, mode)(K, x0s)
    if mode == "combined":
        gp = _matrix_closed_form(A, B, K, x0s, N, "physics")
        gf = _matrix_closed_form(A, B, K, x0s, N, "full")
        expected = np.where(np.sign(gp) == np.sign(gf), gp, 0.0)
    else:
        expected = _matrix_closed_form(A, B, K, x0s, N, mode)
    np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-14)


def test_full_mode_is_the_gradient():
    loss, physics, controller = scalar_problem(0.9, 0.5)

    def L(k):
        states, controls = rollout(physics, controller, k, 1.3, 6)
        return loss(states, controls)

    ad.testing.check_grads(L, (-0.4,), order=2)
    states, controls = rollout(physics, controller, -0.4, 1.3, 6, "stopped")
    assert states.shape == (7,) and controls.shape == (6,)


def test_errors():
    loss, physics, controller = scalar_problem(0.9, 0.5)
    with pytest.raises(ValueError, match="mode"):
        cut_value_and_grad(loss, physics, controller, 3, "half")
    with pytest.raises(ValueError, match="combined|mode"):
        rollout(physics, controller, 0.1, 1.0, 3, "combined")
    with pytest.raises(ValueError, match="positive"):
        rollout(physics, controller, 0.1, 1.0, 0)
