"""Issue 7: jit and linearize must agree with eager evaluation on every composition.

Each test here is a reproducer that gave a silently wrong value (or crashed) before the
fix, with the root cause in its docstring:

- buffer reuse: the NumPy back end wrote a ufunc result (``out=``) into the buffer of a
  dead intermediate while a *view* of that buffer (``v[0]``, ``real(v)``, ``reshape``,
  ``transpose``, ``stop_gradient``) was still live or was an output. The code generator
  now groups variables into alias sets (any non-ufunc impl may return a view of its
  inputs) and reuses a buffer only when its whole set is dead;
- linearize through control flow: the jvp rules of scan, while_loop and cond run primal
  and tangent in one loop, so the primal outputs were staged values. They are now
  evaluated once at zero tangents, and the linear map keeps only its tangent part.
"""
from __future__ import annotations

import numpy as np
import pytest

import adjoin as ad
import adjoin.control as ac
import adjoin.numpy as anp
from adjoin.core.pytree import tree_leaves


def _close(a, b, tol=1e-12):
    la, lb = tree_leaves(a), tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=tol, atol=tol)


def _agree(f, *args):
    """jit(f) equals f, at the first call and at a cached second call."""
    expected = f(*args)
    jf = ad.jit(f)
    _close(jf(*args), expected)
    _close(jf(*args), expected)


# --- buffer reuse must respect views ------------------------------------------------------

def test_view_of_intermediate_returned_beside_a_later_product():
    def f(x):
        v = anp.sin(x)
        first = v[0]                 # a view of v's buffer
        return v * x, first

    x = np.array([[[-1.0934, 2.1568], [-0.9446, -1.2634]]])
    _agree(f, x)
    np.testing.assert_allclose(ad.jit(f)(x)[1], np.sin(x)[0])


@pytest.mark.parametrize("view", [
    lambda v: v[0], lambda v: v.reshape(-1), lambda v: v.T, lambda v: v[:, ::-1],
    lambda v: ad.stop_gradient(v), lambda v: anp.broadcast_to(v, (3,) + v.shape)[1],
    lambda v: anp.real(v * (1 + 1j)), lambda v: anp.squeeze(v[None]),
], ids=["index", "reshape", "transpose", "reversed", "stop_gradient", "broadcast",
        "real", "squeeze"])
def test_every_view_keeps_its_buffer_alive(view):
    def f(x):
        v = anp.exp(x)
        w = view(v)
        u = anp.cos(v) * 2.0         # v dies here: its buffer must not be reused
        return u + 1.0, w * 1.0, w
    _agree(f, np.linspace(-1, 1, 12).reshape(3, 4))


def test_view_of_complex_intermediate_inside_a_fused_kernel():
    # real(z) is a view of z's buffer; inside a blockwise kernel too
    def f(x):
        z = anp.exp(x * 1j)
        r = anp.real(z)
        z2 = z * 3.0                 # last use of z
        return anp.sum(anp.imag(z2)) + anp.sum(r)
    x = np.linspace(0.0, 1.0, 4096)
    expected = f(x)
    jf = ad.jit(f, fuse=1024)
    assert "fused" in jf.lower(x).backend
    np.testing.assert_allclose(jf(x), expected, rtol=1e-12)


# --- jit(grad) and jit(jvp) against their eager selves ----------------------------------

def test_jit_grad_of_complex_arithmetic():
    S = lambda a, b: anp.sum(anp.real((a + 1j * b) * (b - 0.5j * a)) * -0.3256)
    g = ad.grad(S, argnums=(0, 1))
    a, b = np.array(0.3013), np.array([0.00858])
    _agree(g, a, b)
    np.testing.assert_allclose(ad.jit(g)(a, b)[1], [-0.14715492], rtol=1e-7)


@pytest.mark.parametrize("fn", [
    lambda a: anp.sum(anp.angle(a * (1 + 2j))),
    lambda a: anp.sum(anp.abs(anp.exp(1j * a) * a)),
    lambda a: anp.sum(anp.real(anp.conj(a + 1j) * a * 1j)),
    lambda a: anp.sum(anp.abs(anp.fft.fft(a)) ** 2 + anp.imag(anp.fft.fft(a))),
    lambda a: anp.sum(anp.real(anp.exp(a + 1j * a[::-1]))),
], ids=["angle", "abs_exp", "conj", "fft", "exp_complex"])
def test_jit_derivatives_through_complex_intermediates(fn):
    x = np.array([0.3, -0.7, 1.1, 0.4])
    t = np.array([1.0, 0.5, -0.25, 2.0])
    _agree(ad.grad(fn), x)
    _agree(lambda x, t: ad.jvp(fn, (x,), (t,)), x, t)


def _sym_fun(m):
    s = (m + m.T) / 2
    w, V = anp.linalg.eigh(s)
    return V @ anp.diag(anp.tanh(w)) @ V.T


def _svd_fun(m):
    U, s, Vt = anp.linalg.svd(m)
    return U @ anp.diag(anp.tanh(s)) @ Vt


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("name", ["eigh", "svd", "solve", "inv", "cholesky"])
def test_jit_derivatives_through_decompositions(name, n):
    rng = np.random.default_rng(n)
    A = rng.normal(size=(n, n))
    T = rng.normal(size=(n, n))
    b = rng.normal(size=n)
    if name == "eigh":
        fun, x = _sym_fun, A
    elif name == "svd":
        fun, x = _svd_fun, A
    elif name == "solve":
        fun, x = (lambda m: anp.linalg.solve(m, b)), A + 3 * np.eye(n)
    elif name == "inv":
        fun, x = anp.linalg.inv, A + 3 * np.eye(n)
    else:
        fun, x = anp.linalg.cholesky, A @ A.T + n * np.eye(n)
        T = T + T.T
    out_w = rng.normal(size=np.shape(fun(x)))
    _agree(lambda x, t: ad.jvp(fun, (x,), (t,)), x, T)
    _agree(ad.grad(lambda x: anp.sum(fun(x) * out_w)), x)


# --- linearize through control flow ----------------------------------------------------

def _loops(x):
    c = ac.scan(lambda c, _: (c * anp.sin(c), None), x, None, length=3)[0]
    d = ac.fori_loop(0, 3, lambda i, c: c * anp.cos(c), x)
    e = ac.while_loop(lambda s: s[0] < 3, lambda s: (s[0] + 1, s[1] * 1.1 + anp.sin(s[1])),
                      (0, x), max_steps=5)[1]
    g = ac.cond(x[0] > 0, anp.exp, lambda v: v, x)
    return c + d + e + g


def test_linearize_through_scan_fori_while_cond():
    x, t = np.array([0.5, 0.7]), np.array([1.0, -2.0])
    y, f_jvp = ad.linearize(_loops, x)
    _close(y, _loops(x))
    _close(f_jvp(t), ad.jvp(_loops, (x,), (t,))[1])
    # the linear map composes: grad of it, and under jit and vmap
    lin_then_grad = ad.grad(lambda x: anp.sum(ad.linearize(_loops, x)[1](t)))(x)
    _close(lin_then_grad, ad.grad(lambda x: anp.sum(ad.jvp(_loops, (x,), (t,))[1]))(x))
    _close(ad.jit(lambda x, t: ad.linearize(_loops, x)[1](t))(x, t), f_jvp(t))
    ts = np.stack([t, 2 * t, -t])
    _close(ad.vmap(f_jvp)(ts), np.stack([f_jvp(r) for r in ts]))


def test_linearize_stacked_scan_outputs():
    f = lambda x: ac.scan(lambda c, _: (c * anp.sin(c), c), x, None, length=3)[1]
    x, t = np.array([0.3]), np.array([1.0])
    y, f_jvp = ad.linearize(f, x)
    _close(y, f(x))
    _close(f_jvp(t), ad.jvp(f, (x,), (t,))[1])
