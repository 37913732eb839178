"""adjoin.optim: the update rules against their formulas, convergence on a quadratic,
schedules, pytrees, differentiating through a step, fit, and the spiral Neural ODE trained
with every adjoint strategy."""
import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp
import adjoin.optim as optim
from adjoin.ode import spiral

G1 = {"w": np.array([0.5, -1.0]), "b": np.array(2.0)}
G2 = {"w": np.array([-0.2, 0.3]), "b": np.array(-1.0)}
P0 = {"w": np.array([1.0, 1.0]), "b": np.array(0.5)}


def two_steps(opt):
    state = opt.init(P0)
    u1, state = opt.update(G1, state, P0)
    p1 = optim.apply_updates(P0, u1)
    u2, state = opt.update(G2, state, p1)
    return u1, u2


def test_sgd_and_momentum_formulas():
    u1, u2 = two_steps(optim.sgd(0.1))
    assert np.allclose(u1["w"], -0.1 * G1["w"]) and np.allclose(u2["b"], -0.1 * G2["b"])
    u1, u2 = two_steps(optim.momentum(0.1, beta=0.9))
    v2 = 0.9 * G1["w"] + G2["w"]
    assert np.allclose(u1["w"], -0.1 * G1["w"]) and np.allclose(u2["w"], -0.1 * v2)
    _, u2 = two_steps(optim.sgd(0.1, momentum=0.9, nesterov=True))
    assert np.allclose(u2["w"], -0.1 * (0.9 * v2 + G2["w"]))


def adam_reference(grads, lr, b1, b2, eps, wd=0.0, params=None):
    m = v = 0.0
    out = []
    p = params
    for t, g in enumerate(grads, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        step = (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        if wd:
            step = step + wd * p
        out.append(-lr * step)
        if p is not None:
            p = p + out[-1]
    return out


def test_adam_and_adamw_formulas():
    u1, u2 = two_steps(optim.adam(0.01))
    ref = adam_reference([G1["w"], G2["w"]], 0.01, 0.9, 0.999, 1e-8)
    assert np.allclose(u1["w"], ref[0], rtol=1e-14) and np.allclose(u2["w"], ref[1], rtol=1e-14)
    u1, u2 = two_steps(optim.adamw(0.01, weight_decay=0.1))
    ref = adam_reference([G1["w"], G2["w"]], 0.01, 0.9, 0.999, 1e-8, 0.1, P0["w"])
    assert np.allclose(u1["w"], ref[0], rtol=1e-14) and np.allclose(u2["w"], ref[1], rtol=1e-14)


@pytest.mark.parametrize("opt", [optim.sgd(0.1), optim.momentum(0.05), optim.adam(0.1),
                                 optim.adamw(0.1, weight_decay=0.0)],
                         ids=["sgd", "momentum", "adam", "adamw"])
def test_minimizes_a_quadratic(opt):
    A = np.diag([1.0, 3.0])
    loss = lambda p: 0.5 * p["x"] @ A @ p["x"] + anp.sum((p["y"] - 1.0) ** 2)  # noqa: E731
    res = optim.fit(loss, {"x": np.array([2.0, -1.0]), "y": np.zeros(3)}, opt, 400,
                    progress=False)
    assert res.losses[-1] < 1e-6 < res.losses[0]
    assert np.allclose(res.params["y"], 1.0, atol=1e-3)


def test_schedule_and_errors():
    opt = optim.sgd(lambda step: 0.1 / (1 + step))
    _, u2 = two_steps(opt)
    assert np.allclose(u2["w"], -0.05 * G2["w"])
    with pytest.raises(ValueError, match="learning rate"):
        optim.adam(-1.0)
    with pytest.raises(ValueError, match="needs params"):
        o = optim.adamw(0.1)
        o.update(G1, o.init(P0))


def test_differentiating_through_an_update():
    """A step is adjoin operations: d(loss after one step)/d(learning rate)."""
    def after_step(lr):
        opt = optim.sgd(lr)
        p = {"x": np.array([1.0, 2.0])}
        g = ad.grad(lambda q: anp.sum(q["x"] ** 2))(p)
        u, _ = opt.update(g, opt.init(p))
        return anp.sum(optim.apply_updates(p, u)["x"] ** 2)

    # x' = x(1 − 2 lr): d/dlr Σ x'² = −4 Σ x²(1 − 2 lr)
    assert np.isclose(ad.grad(after_step)(0.1), -4 * 5.0 * 0.8)


def test_fit_with_batches_callback_and_progress_bar(capsys):
    data = [np.array([1.0, 2.0]), np.array([3.0, 4.0])] * 10
    seen = []
    res = optim.fit(lambda p, b: anp.sum((p - b) ** 2), np.zeros(2), optim.adam(0.1), 20,
                    batches=data, callback=lambda s, p, v: seen.append(s) or s >= 4)
    assert len(res.losses) == 5 and seen == [0, 1, 2, 3, 4]
    assert "training" in capsys.readouterr().err                 # the tqdm bar


# --- the spiral Neural ODE (torchdiffeq's ode_demo) ----------------------------------

@pytest.fixture(scope="module")
def spiral_data():
    return spiral.make_data(200)


@pytest.mark.parametrize("adjoint", [ad.Unroll(), ad.Checkpointed(3), ad.Backsolve(),
                                     ad.Interpolated()],
                         ids=["Unroll", "Checkpointed", "Backsolve", "Interpolated"])
def test_spiral_training_lowers_the_loss(spiral_data, adjoint):
    """40 Adam steps on minibatches of 16 windows of 5 intervals (rk4 at the data spacing):
    the error on 32 held-out windows falls from 0.17 to below 0.04."""
    dt = spiral_data.t[1] - spiral_data.t[0]
    held_out = spiral.get_batch(np.random.default_rng(1), spiral_data, 6, 32)
    rng = np.random.default_rng(0)
    params = spiral.init_params(rng)
    before = float(spiral.batch_loss(params, held_out, method="rk4", dt0=dt))
    res = optim.fit(lambda p, b: spiral.batch_loss(p, b, adjoint, method="rk4", dt0=dt),
                    params, optim.adam(1e-2), 40,
                    batches=lambda step: spiral.get_batch(rng, spiral_data, 6, 16),
                    progress=False)
    after = float(spiral.batch_loss(res.params, held_out, method="rk4", dt0=dt))
    assert before > 0.15 and after < 0.04
