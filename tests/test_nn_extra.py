"""adjoin.nn activations (values against SciPy/NumPy formulas, stability, kinks) and the
initializers (variances, fans, reproducibility). Derivatives go through the sweep
(tests/cases/nn_activations.py)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special as ss

import adjoin as ad
from adjoin import nn


X = np.linspace(-6.0, 6.0, 25)


def test_activation_values():
    np.testing.assert_allclose(nn.relu(X), np.maximum(X, 0))
    np.testing.assert_allclose(nn.sigmoid(X), ss.expit(X), rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(nn.log_sigmoid(X), np.log(ss.expit(X)), rtol=1e-12)
    np.testing.assert_allclose(nn.softplus(X), np.log1p(np.exp(X)), rtol=1e-12)
    np.testing.assert_allclose(nn.silu(X), X * ss.expit(X), rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(nn.gelu(X), X * ss.ndtr(X), rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(nn.gelu(X, approximate=True), X * ss.ndtr(X), atol=2e-3)
    np.testing.assert_allclose(nn.elu(X, 0.7), np.where(X > 0, X, 0.7 * np.expm1(X)))


def test_activations_are_finite_with_finite_derivatives_far_out():
    for f in (nn.sigmoid, nn.log_sigmoid, nn.softplus, nn.silu, nn.gelu, nn.elu):
        for x in (-800.0, 800.0):
            v, g = ad.value_and_grad(f)(x)
            assert np.isfinite(v) and np.isfinite(g), (f.__name__, x, v, g)
    assert nn.log_sigmoid(-800.0) == -800.0


def test_kink_conventions():
    assert ad.grad(nn.relu)(0.0) == 0.0
    assert ad.grad(lambda x: nn.elu(x, alpha=2.0))(0.0) == 2.0


def test_one_hot():
    out = nn.one_hot(np.array([0, 2, 5, -1]), 3)
    np.testing.assert_array_equal(out, [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    assert out.dtype == np.float64
    assert nn.one_hot(np.array([[1, 0]]), 2, axis=0).shape == (2, 1, 2)


@pytest.mark.parametrize("name, var", [
    ("glorot_uniform", lambda fi, fo: 2.0 / (fi + fo)), ("glorot_normal", lambda fi, fo: 2.0 / (fi + fo)),
    ("he_uniform", lambda fi, fo: 2.0 / fi), ("he_normal", lambda fi, fo: 2.0 / fi),
    ("lecun_uniform", lambda fi, fo: 1.0 / fi), ("lecun_normal", lambda fi, fo: 1.0 / fi)])
def test_initializer_variances(name, var):
    init = getattr(nn, name)
    for shape in [(400, 300), (64, 32, 3, 3)]:
        w = init(np.random.default_rng(1), shape)
        fi, fo = nn.fans(shape)
        assert w.shape == shape and w.dtype == np.float64
        np.testing.assert_allclose(w.var(), var(fi, fo), rtol=0.03)
        assert abs(w.mean()) < 0.05 * np.sqrt(var(fi, fo))
        if name.endswith("uniform"):
            assert np.abs(w).max() <= np.sqrt(3.0 * var(fi, fo))
    a = init(np.random.default_rng(7), (5, 4))
    np.testing.assert_array_equal(a, init(np.random.default_rng(7), (5, 4)))


def test_fans_and_aliases():
    assert nn.fans((10, 20)) == (10, 20)
    assert nn.fans((16, 8, 3, 3)) == (72, 144)
    assert nn.fans((20, 10), in_axis=1, out_axis=0) == (10, 20)
    assert nn.xavier_uniform is nn.glorot_uniform and nn.kaiming_normal is nn.he_normal
    assert nn.he_normal(np.random.default_rng(0), (3, 2), np.float32).dtype == np.float32
    with pytest.raises(TypeError, match="Generator"):
        nn.he_normal(0, (3, 2))
    w = nn.he_normal(np.random.default_rng(0), (2000, 50), gain=0.5)
    np.testing.assert_allclose(w.var(), 0.25 * 2.0 / 2000, rtol=0.05)
