"""Focused tests of reductions and shape functions: results equal NumPy's on the traced
path for many argument forms, tie and zero conventions, and error messages."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special as ss

import adjoin as ad
import adjoin.numpy as anp
import adjoin.scipy.special as asp
from adjoin.testing import check_grads

RNG = np.random.default_rng(1)
X = RNG.normal(size=(3, 4, 5))


def traced(f, *args):
    """f evaluated on the traced path (under jvp), primal and staged both."""
    out = ad.jvp(lambda *a: f(*a), args, tuple(np.ones_like(a) for a in args))[0]
    staged = ad.make_graph(f)(*args)(*args)
    return out, staged


AXES = [None, 0, -1, 1, (0, 2), (-1, 0), ()]
REDUCTIONS = ["sum", "mean", "prod", "max", "min", "amax", "amin", "var", "std", "ptp",
              "any", "all", "count_nonzero", "nansum", "nanmean"]


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_match_numpy(name, axis, keepdims):
    if name == "ptp" and axis == ():
        pytest.skip("numpy.ptp has no empty axis tuple")
    f = lambda x: getattr(anp, name)(x, axis=axis, keepdims=keepdims)
    expected = getattr(np, name)(X, axis=axis, keepdims=keepdims)
    for out in traced(f, X):
        assert np.shape(out) == np.shape(expected)
        assert np.asarray(out).dtype == np.asarray(expected).dtype
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("x", [np.float64(1.5), np.array(2.0), 3.0])
def test_scalar_reductions(x):
    for name in ["sum", "mean", "prod", "max", "min", "var", "cumsum", "cumprod"]:
        out = traced(lambda x: getattr(anp, name)(x), np.asarray(x))[0]
        np.testing.assert_allclose(out, getattr(np, name)(x))


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "argmax", "argmin"])
@pytest.mark.parametrize("axis", [None, 0, -1, 1])
def test_cumulative_and_arg_match_numpy(name, axis):
    f = lambda x: getattr(anp, name)(x, axis=axis)
    for out in traced(f, X):
        np.testing.assert_allclose(out, getattr(np, name)(X, axis=axis), rtol=1e-12)


def test_dtype_arguments():
    xi = np.arange(12).reshape(3, 4)
    f = lambda x: anp.sum(x, axis=0, dtype=np.float32) + anp.mean(x * 1.0, dtype=np.float32)
    out = traced(f, X[0, :3, :4])[0]
    assert out.dtype == f(X[0, :3, :4]).dtype
    assert anp.sum(xi, axis=1).dtype == np.sum(xi, axis=1).dtype


def test_max_ties_split_evenly():
    x = np.array([1.0, 3.0, 3.0, 2.0])
    np.testing.assert_allclose(ad.grad(anp.max)(x), [0.0, 0.5, 0.5, 0.0])
    m = np.array([[1.0, 1.0, 1.0], [0.0, 2.0, 2.0]])
    np.testing.assert_allclose(ad.grad(lambda m: anp.sum(anp.min(m, axis=1)))(m),
                               [[1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0]])


def test_prod_and_cumprod_with_zeros():
    x = np.array([2.0, 0.0, 3.0, 4.0])
    np.testing.assert_allclose(ad.grad(anp.prod)(x), [0.0, 24.0, 0.0, 0.0])
    x2 = np.array([2.0, 0.0, 3.0, 0.0])
    np.testing.assert_allclose(ad.grad(anp.prod)(x2), [0.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(ad.hessian(anp.prod)(x2)[1, 3], 6.0)
    J = ad.jacrev(anp.cumprod)(x)
    expected = np.array([[1, 0, 0, 0], [0, 2, 0, 0], [0, 6, 0, 0], [0, 24, 0, 0]], float)
    np.testing.assert_allclose(J, expected)
    np.testing.assert_allclose(ad.jacfwd(anp.cumprod)(x), expected)
    check_grads(lambda x: anp.cumprod(x), (np.array([1.5, 0.0, -2.0, 0.0, 0.5, 3.0, 1.2]),),
                order=2)


def test_softmax_and_logsumexp_match_scipy():
    for axis in [None, 0, -1, (0, 2)]:
        for out in traced(lambda x: asp.softmax(x, axis=axis), X):
            np.testing.assert_allclose(out, ss.softmax(X, axis=axis), rtol=1e-13)
        for out in traced(lambda x: asp.log_softmax(x, axis=axis), X):
            np.testing.assert_allclose(out, ss.log_softmax(X, axis=axis), rtol=1e-13)
        for keepdims in (False, True):
            for out in traced(lambda x: asp.logsumexp(x, axis=axis, keepdims=keepdims), X):
                np.testing.assert_allclose(out, ss.logsumexp(X, axis=axis, keepdims=keepdims),
                                           rtol=1e-13)


def test_logsumexp_stable_and_gradient_is_softmax():
    x = np.array([1000.0, 1001.0, -np.inf])
    out = traced(lambda x: asp.logsumexp(x), x)[0]
    np.testing.assert_allclose(out, ss.logsumexp(x))
    g = ad.grad(asp.logsumexp)(x)
    np.testing.assert_allclose(g, ss.softmax(x))
    b = np.array([1.0, -2.0, 0.5])
    y = np.array([0.1, 0.2, 0.3])
    v, s = asp.logsumexp(y, b=b, return_sign=True)
    vt = traced(lambda y: asp.logsumexp(y, b=b, return_sign=True)[0], y)[0]
    np.testing.assert_allclose(vt, v)
    np.testing.assert_allclose(ad.grad(lambda x: asp.logsumexp(x, axis=0))(X[:, 0, 0]),
                               ss.softmax(X[:, 0, 0]))


SHAPE_FUNCS = [
    lambda x: anp.concatenate([x, x[:1]], axis=0),
    lambda x: anp.concatenate([x, x], axis=None),
    lambda x: anp.concatenate([x, x[:, :2]], axis=-2),
    lambda x: anp.stack([x, x], axis=-1),
    lambda x: anp.stack([x[0], x[1]], axis=1),
    lambda x: anp.vstack([x[0], x[1]]),
    lambda x: anp.hstack([x[0], x[1]]),
    lambda x: anp.hstack([x[0, 0], x[1, 0]]),
    lambda x: anp.dstack([x[0], x[1]]),
    lambda x: anp.column_stack([x[0, :, 0], x[1]]),
    lambda x: anp.split(x, [1, 3], axis=1)[1],
    lambda x: anp.array_split(x, 3, axis=-1)[2],
    lambda x: anp.hsplit(x[0], [2])[0],
    lambda x: anp.vsplit(x[0], 2)[1],
    lambda x: anp.tile(x[0, 0], 3),
    lambda x: anp.tile(x[0], (2, 1, 2)),
    lambda x: anp.repeat(x, 2, axis=1),
    lambda x: anp.repeat(x[0, 0], [0, 1, 2, 0, 1]),
    lambda x: anp.repeat(x, 3),
    lambda x: anp.flip(x, (0, 2)),
    lambda x: anp.fliplr(x[0]),
    lambda x: anp.flipud(x[0]),
    lambda x: anp.rot90(x[0], 3),
    lambda x: anp.roll(x, 7),
    lambda x: anp.roll(x, -1, axis=1),
    lambda x: anp.roll(x, (2, 1), axis=(2, 2)),
    lambda x: anp.pad(x, 1),
    lambda x: anp.pad(x, ((0, 1), (2, 0), (1, 1)), constant_values=-3.0),
    lambda x: anp.pad(x[0], 5, mode="reflect"),
    lambda x: anp.pad(x[0], 3, mode="symmetric"),
    lambda x: anp.pad(x[0], 9, mode="wrap"),
    lambda x: anp.pad(x[0], (1, 4), mode="edge"),
    lambda x: anp.diag(x[0, 0]),
    lambda x: anp.diag(x[0, 0], -2),
    lambda x: anp.diag(x[0], 1),
    lambda x: anp.diagonal(x, 1, 2, 0),
    lambda x: anp.trace(x),
    lambda x: anp.trace(x, -1, 1, 2),
    lambda x: anp.triu(x, 1),
    lambda x: anp.tril(x[0, 0], -1),
    lambda x: anp.broadcast_arrays(x[:, :1], x[0])[0],
    lambda x: anp.meshgrid(x[0, 0], x[0, :, 0])[1],
    lambda x: anp.meshgrid(x[0, 0], x[0, :, 0], x[1, 1], indexing="ij", sparse=True)[2],
    lambda x: anp.take(x, [[0, 2], [1, 1]], axis=1),
    lambda x: anp.take(x, 7),
    lambda x: anp.take_along_axis(x, np.argsort(X, axis=-1), axis=-1),
    lambda x: anp.atleast_3d(x[0, 0]),
    lambda x: anp.expand_dims(x, (0, -1)),
    lambda x: anp.squeeze(x[:1, :, :1]),
    lambda x: anp.average(x, axis=1, weights=np.arange(1.0, 5.0)),
    lambda x: anp.average(x, axis=(0, 2), weights=np.abs(x)),
]


@pytest.mark.parametrize("k", range(len(SHAPE_FUNCS)))
def test_shape_functions_match_numpy(k):
    f = SHAPE_FUNCS[k]
    expected = f(X)  # the NumPy fast path
    for out in traced(f, X):
        assert np.shape(out) == np.shape(expected)
        np.testing.assert_allclose(out, expected, rtol=1e-13)


@pytest.mark.parametrize("k", range(len(SHAPE_FUNCS)))
def test_shape_functions_derivatives(k):
    check_grads(SHAPE_FUNCS[k], (X,), order=1)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="out of bounds"):
        ad.grad(lambda x: anp.sum(anp.sum(x, axis=3)))(X)
    with pytest.raises(ValueError, match="same number of dimensions"):
        ad.grad(lambda x: anp.sum(anp.concatenate([x, x[0]], axis=0)))(X)
    with pytest.raises(ValueError, match="same shape"):
        ad.grad(lambda x: anp.sum(anp.stack([x, x[0]])))(X)
    with pytest.raises(ValueError, match="equal division"):
        ad.grad(lambda x: anp.sum(anp.split(x, 3, axis=1)[0]))(X)
    with pytest.raises(ValueError, match="zero-size"):
        ad.grad(lambda x: anp.max(x[:0]))(X[0, 0])
    with pytest.raises(NotImplementedError, match="mode"):
        ad.grad(lambda x: anp.sum(anp.pad(x, 1, mode="maximum")))(X)


def test_second_order_through_reductions():
    x = RNG.uniform(0.5, 1.5, size=(4,))
    for f in [lambda x: anp.prod(x), lambda x: anp.sum(anp.cumprod(x)),
              lambda x: asp.logsumexp(x), lambda x: anp.std(x),
              lambda x: anp.sum(asp.softmax(x) * np.arange(4.0))]:
        H = ad.jacfwd(ad.jacrev(f))(x)
        eps = 1e-6
        Hfd = np.stack([(ad.grad(f)(x + eps * e) - ad.grad(f)(x - eps * e)) / (2 * eps)
                        for e in np.eye(4)])
        np.testing.assert_allclose(H, Hfd, rtol=1e-6, atol=1e-7)
