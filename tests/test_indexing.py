"""Focused tests of indexing and .at[] updates: NumPy semantics of every index form on
the traced path, repeated indices, boolean masks, and the derivatives of the updates."""
from __future__ import annotations

import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp
from adjoin.testing import check_batching, check_grads, check_staging

at = anp._IndexUpdateHelper
RNG = np.random.default_rng(0)
X = RNG.normal(size=(4, 5, 3))

INDICES = [
    0, -1, (1, 2), (1, 2, 0), slice(None), slice(1, None, 2), slice(None, None, -1),
    slice(-1, 0, -2), slice(10, -10, -3), (Ellipsis, 1), (None, 1, Ellipsis, None),
    (slice(1, 3), None, -1), np.array([0, 3, 3, 1]), [2, 0], np.array([[0, 1], [3, 3]]),
    (slice(None), np.array([0, 4, 4])), (np.array([0, 1]), np.array([2, 3])),
    (np.array([0, 1]), slice(None), np.array([2, 0])),  # non-adjacent: B goes first
    (1, slice(None), np.array([0, 2])),                  # int + array, non-adjacent
    (slice(None), 1, np.array([0, 2])),                  # adjacent: B in place
    (Ellipsis, np.array([[1], [2]]), np.array([0, 1])),
    (np.array([0, 2]), None, np.array([1, 1])),          # newaxis between
    X[..., 0] > 0, (X[:, :, 0] > 0, 1), (slice(1, 3), X[0, :, 0] > 0),
    np.array([-1, -4]), (np.int64(2), slice(None, None, 2)), np.array(1), [],
]


@pytest.mark.parametrize("idx", INDICES, ids=[repr(i)[:40] for i in range(len(INDICES))])
def test_getitem_matches_numpy(idx):
    expected = X[idx]
    out, t = ad.jvp(lambda x: x[idx], (X,), (np.ones_like(X),))
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(t, np.ones_like(X)[idx])
    g = ad.make_graph(lambda x: x[idx])(X)
    np.testing.assert_array_equal(g(X), expected)


@pytest.mark.parametrize("idx", INDICES[:22], ids=[repr(i)[:40] for i in range(22)])
def test_getitem_derivatives(idx):
    check_grads(lambda x: x[idx], (X,), order=1)


@pytest.mark.parametrize("idx", [1, (slice(1, 3), -1), np.array([0, 2, 2]),
                                 (np.array([3, 1]), slice(None), np.array([0, 0])),
                                 (slice(None), np.array([[0], [1]]), np.array([2, 0])),
                                 X[:, 0, 0] > 0, (Ellipsis, slice(None, None, -2))])
@pytest.mark.parametrize("op", ["set", "add", "multiply"])
def test_at_matches_numpy(idx, op):
    y = RNG.normal(size=X[idx].shape)
    expected = X.copy()
    ufunc = {"set": None, "add": np.add, "multiply": np.multiply}[op]
    if ufunc is None:
        expected[idx] = y
    else:
        ufunc.at(expected, idx, y)
    f = lambda x, y: getattr(at(x)[idx], op)(y)
    np.testing.assert_allclose(f(X, y), expected, rtol=1e-15)
    out, _ = ad.jvp(f, (X, y), (np.ones_like(X), np.ones_like(y)))
    np.testing.assert_allclose(out, expected, rtol=1e-15)
    check_grads(f, (X, y), order=2)
    check_staging(f, (X, y))


def test_at_add_repeated_accumulates():
    x = np.zeros(3)
    idx = np.array([0, 2, 0, 0])
    y = np.array([1.0, 2.0, 3.0, 4.0])
    f = lambda x, y: at(x)[idx].add(y)
    np.testing.assert_array_equal(ad.jvp(f, (x, y), (np.zeros(3), np.ones(4)))[0], [8.0, 0.0, 2.0])
    gx, gy = ad.grad(lambda x, y: anp.sum(f(x, y) * np.array([1.0, 10.0, 100.0])),
                     argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gx, [1.0, 10.0, 100.0])
    np.testing.assert_array_equal(gy, [1.0, 100.0, 1.0, 1.0])


def test_at_set_gradients():
    x = np.arange(5.0)
    idx = np.array([1, 3, 1])  # the last write to 1 wins
    y = np.array([10.0, 20.0, 30.0])
    w = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    z = at(x)[idx].set(y)
    np.testing.assert_array_equal(z, [0.0, 30.0, 2.0, 20.0, 4.0])
    gx, gy = ad.grad(lambda x, y: anp.sum(at(x)[idx].set(y) * w), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gx, [1.0, 0.0, 3.0, 0.0, 5.0])
    np.testing.assert_array_equal(gy, [0.0, 4.0, 2.0])


def test_at_set_broadcast_cotangent_is_summed():
    x = np.zeros((3, 4))
    gy = ad.grad(lambda y: anp.sum(at(x)[1:, ::2].set(y) * np.arange(12.0).reshape(3, 4)))(2.0)
    assert np.isclose(gy, 4.0 + 6.0 + 8.0 + 10.0)


def test_at_multiply_repeated():
    x = np.array([2.0, 3.0])
    idx = np.array([0, 0, 1])
    y = np.array([5.0, 7.0, 11.0])
    f = lambda x, y: at(x)[idx].multiply(y)
    np.testing.assert_allclose(f(x, y), [70.0, 33.0])
    gy = ad.grad(lambda y: anp.sum(f(x, y)))(y)
    np.testing.assert_allclose(gy, [14.0, 10.0, 3.0])


def test_traced_bool_mask_under_vmap_names_where():
    with pytest.raises(IndexError, match="where"):
        ad.vmap(lambda x: x[x > 0])(np.ones((2, 3)))
    with pytest.raises(IndexError, match="where"):
        ad.make_graph(lambda x: x[x > 0])(np.ones(3))


def test_concrete_bool_mask_under_grad():
    x = np.array([-1.0, 2.0, 3.0])
    g = ad.grad(lambda x: anp.sum(x[x > 0] ** 2))(x)
    np.testing.assert_array_equal(g, [0.0, 4.0, 6.0])


def test_traced_integer_index_under_vmap():
    x = RNG.normal(size=(6,))
    idx = np.array([[0, 5], [2, 2], [1, 3]])
    # (a NumPy array indexed by a traced index goes to NumPy itself: use take or .at.get)
    np.testing.assert_array_equal(ad.vmap(lambda i: anp.take(x, i))(idx), x[idx])
    np.testing.assert_array_equal(ad.vmap(lambda i: at(x)[i].get())(idx), x[idx])
    check_batching(lambda x, i: x[i] * 2.0, [(x, idx[0]), (x + 1, idx[1]), (x - 1, idx[2])])
    check_batching(lambda x, i, y: at(x)[i].add(y), [(x, idx[k], np.ones(2) * k) for k in range(3)])
    check_batching(lambda x, i, y: at(x)[i].set(y), [(x, idx[k], np.ones(2) * k) for k in range(3)])


def test_index_errors():
    x = ad.jvp  # silence linters
    with pytest.raises(IndexError, match="out of bounds"):
        ad.jvp(lambda x: x[5], (np.ones(3),), (np.ones(3),))
    with pytest.raises(IndexError, match="out of bounds"):
        ad.jvp(lambda x: x[np.array([0, 3])], (np.ones(3),), (np.ones(3),))
    with pytest.raises(IndexError, match="too many indices"):
        ad.jvp(lambda x: x[0, 0], (np.ones(3),), (np.ones(3),))
    with pytest.raises(TypeError, match="immutable"):
        def f(x):
            x[0] = 1.0
            return x
        ad.grad(f)(np.ones(3))
    del x


def test_array_of_traced_values():
    f = lambda a, b: anp.array([[a, 2.0 * b], [b, a * b]])
    np.testing.assert_array_equal(f(1.0, 2.0), [[1.0, 4.0], [2.0, 2.0]])
    g = ad.grad(lambda a, b: anp.sum(f(a, b)), argnums=(0, 1))(1.0, 2.0)
    np.testing.assert_allclose(g, (3.0, 4.0))
    assert anp.asarray([1, 2]).dtype == np.asarray([1, 2]).dtype
