"""The lecture's worked examples ("Autodiff & Adjoints", ADL4P lecture 6), checked exactly.

The slides show float32 numbers; here everything is computed in float64 and
compared with the slide to float32 precision and with closed forms to float64
precision.
"""
from __future__ import annotations

import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp
from adjoin.testing import check_grads, check_jacobians

F32 = dict(rtol=2e-7, atol=1e-7)   # "to the slide's float32 precision"
F64 = dict(rtol=1e-13, atol=1e-14)


# --- scalar chain: f(x) = sin(exp(x²)) ------------------------------------------------------

def chain(x):
    return anp.sin(anp.exp(x * x))


def test_chain_jvp_matches_slide():
    out, out_dot = ad.jvp(chain, (0.3,), (1.0,))
    np.testing.assert_allclose([out, out_dot], [0.88854975, 0.3011914], **F32)
    exact = np.cos(np.exp(0.09)) * np.exp(0.09) * 0.6
    np.testing.assert_allclose(out, np.sin(np.exp(0.09)), **F64)
    np.testing.assert_allclose(out_dot, exact, **F64)


def test_chain_vjp_matches_slide():
    out, pullback = ad.vjp(chain, 0.3)
    (x_bar,) = pullback(1.0)
    np.testing.assert_allclose(x_bar, 0.3011914, **F32)
    np.testing.assert_allclose(x_bar, np.cos(np.exp(0.09)) * np.exp(0.09) * 0.6, **F64)
    np.testing.assert_allclose(ad.grad(chain)(0.3), x_bar, **F64)


def test_chain_second_order():
    check_grads(chain, (np.array(0.3),), order=3)


# --- vector function: f(x) = [x0³ sin x1, x2 x1²] ----------------------------------------------

def vec_fun(x):
    return anp.stack([x[0] ** 3 * anp.sin(x[1]), x[2] * x[1] ** 2])


X0 = np.array([1.0, 2.0, 3.0])


def vec_jacobian(x):
    return np.array([[3 * x[0] ** 2 * np.sin(x[1]), x[0] ** 3 * np.cos(x[1]), 0.0],
                     [0.0, 2 * x[2] * x[1], x[1] ** 2]])


def test_vector_jvp_matches_slide():
    out, out_dot = ad.jvp(vec_fun, (X0,), (np.array([1.0, 0.0, 0.0]),))
    np.testing.assert_allclose(out, [np.sin(2.0), 12.0], **F64)
    np.testing.assert_allclose(out_dot, [2.7278922, 0.0], **F32)
    np.testing.assert_allclose(out_dot, vec_jacobian(X0)[:, 0], **F64)


def test_vector_vjp_matches_slide():
    _, pullback = ad.vjp(vec_fun, X0)
    (x_bar,) = pullback(np.array([1.0, 0.0]))
    np.testing.assert_allclose(x_bar, [2.7278922, -0.41614684, 0.0], **F32)
    np.testing.assert_allclose(x_bar, vec_jacobian(X0)[0], **F64)


def test_full_jacobian_from_jvps_equals_from_vjps():
    """N = 3 jvps give the columns, M = 2 vjps give the rows: the same matrix (slide 18)."""
    n, m = 3, 2
    cols = [ad.jvp(vec_fun, (X0,), (np.eye(n)[j],))[1] for j in range(n)]
    _, pullback = ad.vjp(vec_fun, X0)
    rows = [pullback(np.eye(m)[i])[0] for i in range(m)]
    J_fwd, J_rev = np.stack(cols, axis=1), np.stack(rows, axis=0)
    np.testing.assert_allclose(J_fwd, vec_jacobian(X0), **F64)
    np.testing.assert_allclose(J_rev, J_fwd, **F64)
    for jac in (ad.jacfwd, ad.jacrev, ad.jacobian):
        np.testing.assert_allclose(jac(vec_fun)(X0), J_fwd, **F64)
    check_jacobians(vec_fun, (X0,))
    check_grads(vec_fun, (X0,), order=2)


# --- gemv: y = A x + b ------------------------------------------------------------------------

def _gemv_data(m=4, n=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, n)), rng.standard_normal(n), rng.standard_normal(m))


def gemv(A, x, b):
    return A @ x + b


def test_gemv_closed_forms():
    A, x, b = _gemv_data()
    rng = np.random.default_rng(1)
    A_dot, x_dot, b_dot = rng.standard_normal(A.shape), rng.standard_normal(x.shape), \
        rng.standard_normal(b.shape)
    y, y_dot = ad.jvp(gemv, (A, x, b), (A_dot, x_dot, b_dot))
    np.testing.assert_allclose(y, A @ x + b, **F64)
    np.testing.assert_allclose(y_dot, A @ x_dot + A_dot @ x + b_dot, **F64)
    y_bar = rng.standard_normal(y.shape)
    _, pullback = ad.vjp(gemv, A, x, b)
    A_bar, x_bar, b_bar = pullback(y_bar)
    np.testing.assert_allclose(x_bar, A.T @ y_bar, **F64)
    np.testing.assert_allclose(A_bar, np.outer(y_bar, x), **F64)
    np.testing.assert_allclose(b_bar, y_bar, **F64)
    check_grads(gemv, (A, x, b), order=2)


# --- linear regression: ∇_w ½‖Xw − y‖² = Xᵀ(Xw − y) ---------------------------------------------

def test_linear_regression_gradient():
    rng = np.random.default_rng(2)
    X, y, w = rng.standard_normal((20, 5)), rng.standard_normal(20), rng.standard_normal(5)

    def loss(w):
        r = X @ w - y
        return 0.5 * anp.sum(r * r)

    np.testing.assert_allclose(ad.grad(loss)(w), X.T @ (X @ w - y), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ad.hessian(loss)(w), X.T @ X, rtol=1e-12, atol=1e-12)
    value, g = ad.value_and_grad(loss)(w)
    np.testing.assert_allclose(value, 0.5 * np.sum((X @ w - y) ** 2), **F64)
    # the normal equations' solution is a critical point
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(ad.grad(loss)(w_star), np.zeros(5), atol=1e-10)


# --- MLP: 2 hidden tanh layers, softmax cross-entropy, against hand-written backprop ----------

def _mlp_params(sizes=(4, 8, 6, 3), seed=3):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((m, n)) / np.sqrt(n), 0.1 * rng.standard_normal(m))
            for n, m in zip(sizes[:-1], sizes[1:])]


def _log_softmax(z):
    zmax = anp.max(z, axis=-1, keepdims=True)
    shifted = z - zmax
    return shifted - anp.log(anp.sum(anp.exp(shifted), axis=-1, keepdims=True))


def mlp_loss(params, X, Y, log_softmax=_log_softmax):
    """Mean softmax cross-entropy of a tanh MLP; X: (batch, n_in), Y: one-hot (batch, n_out)."""
    h = X
    for W, b in params[:-1]:
        h = anp.tanh(h @ W.T + b)
    W, b = params[-1]
    logits = h @ W.T + b
    return -anp.sum(Y * log_softmax(logits)) / X.shape[0]


def mlp_backprop(params, X, Y):
    """The same loss and its gradient by hand, in NumPy."""
    hs = [X]
    for W, b in params[:-1]:
        hs.append(np.tanh(hs[-1] @ W.T + b))
    W, b = params[-1]
    logits = hs[-1] @ W.T + b
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    loss = -np.sum(Y * (z - np.log(np.exp(z).sum(axis=1, keepdims=True)))) / X.shape[0]
    delta = (p - Y) / X.shape[0]                 # ∂loss/∂logits
    grads = []
    for layer in range(len(params) - 1, -1, -1):
        W, b = params[layer]
        h_in = hs[layer]
        grads.append((delta.T @ h_in, delta.sum(axis=0)))
        if layer > 0:
            delta = (delta @ W) * (1.0 - h_in ** 2)   # tanh' = 1 − tanh²
    return loss, grads[::-1]


def _mlp_data(batch=5, n_in=4, n_out=3, seed=4):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, n_in))
    Y = np.eye(n_out)[rng.integers(0, n_out, size=batch)]
    return X, Y


def test_mlp_matches_handwritten_backprop():
    params = _mlp_params()
    X, Y = _mlp_data()
    value, grads = ad.value_and_grad(mlp_loss)(params, X, Y)
    ref_loss, ref_grads = mlp_backprop(params, X, Y)
    np.testing.assert_allclose(value, ref_loss, **F64)
    assert isinstance(grads, list) and len(grads) == 3
    for (gW, gb), (rW, rb) in zip(grads, ref_grads):
        np.testing.assert_allclose(gW, rW, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(gb, rb, rtol=1e-12, atol=1e-14)


def test_mlp_second_order_and_forward_mode():
    params = _mlp_params(sizes=(3, 4, 4, 2))
    X, Y = _mlp_data(batch=3, n_in=3, n_out=2)
    check_grads(lambda p: mlp_loss(p, X, Y), (params,), order=2)


def test_mlp_with_scipy_special_log_softmax():
    special = pytest.importorskip("adjoin.scipy.special")
    if not hasattr(special, "log_softmax"):
        pytest.skip("adjoin.scipy.special.log_softmax is not written yet")
    params = _mlp_params()
    X, Y = _mlp_data()
    g = ad.grad(lambda p: mlp_loss(p, X, Y, lambda z: special.log_softmax(z, axis=-1)))(params)
    _, ref = mlp_backprop(params, X, Y)
    for (gW, gb), (rW, rb) in zip(g, ref):
        np.testing.assert_allclose(gW, rW, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(gb, rb, rtol=1e-12, atol=1e-14)
    z = np.random.default_rng(5).standard_normal((3, 4))
    p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    np.testing.assert_allclose(special.softmax(z, axis=-1), p, **F64)
    # the lecture's softmax rule: ż = z⊙ẋ − z (zᵀẋ)
    x_dot = np.random.default_rng(6).standard_normal(z.shape)
    _, s_dot = ad.jvp(lambda z: special.softmax(z, axis=-1), (z,), (x_dot,))
    np.testing.assert_allclose(s_dot, p * x_dot - p * np.sum(p * x_dot, -1, keepdims=True),
                               rtol=1e-12, atol=1e-14)


# --- the scalar level: gemv as a double loop over floats ----------------------------------------

def gemv_scalar_loops(A, x, b):
    m, n = A.shape
    rows = []
    for i in range(m):
        acc = b[i]
        for j in range(n):
            acc = acc + A[i, j] * x[j]
        rows.append(acc)
    return anp.stack(rows)


def gemv_scalar_array(A, x, b):
    m, n = A.shape
    rows = []
    for i in range(m):
        acc = b[i]
        for j in range(n):
            acc = acc + A[i, j] * x[j]
        rows.append(acc)
    return anp.array(rows)


@pytest.mark.parametrize("scalar_gemv", [gemv_scalar_loops, gemv_scalar_array])
def test_scalar_level_gemv_equals_tensor_level(scalar_gemv):
    """The same computation differentiated at scalar level (a tape entry per float
    operation) and at tensor level (one matmul): the same derivatives."""
    A, x, b = _gemv_data()
    np.testing.assert_allclose(scalar_gemv(A, x, b), gemv(A, x, b), **F64)
    rng = np.random.default_rng(7)
    tangents = (rng.standard_normal(A.shape), rng.standard_normal(x.shape),
                rng.standard_normal(b.shape))
    _, t_scalar = ad.jvp(scalar_gemv, (A, x, b), tangents)
    _, t_tensor = ad.jvp(gemv, (A, x, b), tangents)
    np.testing.assert_allclose(t_scalar, t_tensor, rtol=1e-12, atol=1e-14)
    y_bar = rng.standard_normal(b.shape)
    g_scalar = ad.vjp(scalar_gemv, A, x, b)[1](y_bar)
    g_tensor = ad.vjp(gemv, A, x, b)[1](y_bar)
    for gs, gt in zip(g_scalar, g_tensor):
        np.testing.assert_allclose(gs, gt, rtol=1e-12, atol=1e-14)
    for argnums in (0, 1, 2):
        np.testing.assert_allclose(ad.jacrev(scalar_gemv, argnums)(A, x, b),
                                   ad.jacfwd(gemv, argnums)(A, x, b), rtol=1e-12, atol=1e-14)
