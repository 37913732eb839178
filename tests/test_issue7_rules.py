"""Regression tests for issue 7 ("No result is ever silently wrong"): rules that crashed,
returned wrong shapes or wrong derivatives, or warned.

- ``linalg.lstsq`` under vmap / jit (ConcretizationError), and its derivatives;
- ``cumulative_sum`` / ``cumulative_prod`` with ``include_initial=True``;
- ``scipy.special.logsumexp`` shapes (NumPy's keepdims rule, also on 0-d inputs);
- ``xlogy`` / ``xlog1py`` derivatives at x = 0;
- ``linalg.pinv`` derivatives at repeated singular values and on rank-deficient inputs;
- ``cross`` of 2-vectors with 3-vectors (and no NumPy DeprecationWarning);
- warnings from adjoin's own rules (sqrt at 0, std over single elements).

Every warning is an error in this module: adjoin's own code must not warn here.
"""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import scipy.special as ss

import adjoin as ad
import adjoin.numpy as anp
import adjoin.scipy.special as asp
from adjoin.testing import check_batching, check_grads, check_staging

pytestmark = pytest.mark.filterwarnings("error")

L = anp.linalg
RNG = np.random.default_rng(7)


def _transforms(f):
    """f evaluated eagerly, under jit, on the traced path of jvp and as a staged graph."""
    def jvp_primal(*args):
        return ad.jvp(f, args, tuple(np.zeros_like(a) if np.asarray(a).dtype.kind in "fc"
                                     else None for a in args))[0]

    def staged(*args):
        return ad.make_graph(f)(*args)(*args)

    return {"eager": f, "jit": ad.jit(f), "jvp": jvp_primal, "make_graph": staged}


# =====================================================================================
# 1. lstsq
# =====================================================================================

LSTSQ_SHAPES = [(5, 3), (3, 5), (4, 4)]   # tall, wide, square (all full rank)


def _lstsq_args(m, n, bdim, rng=RNG):
    a = rng.standard_normal((m, n))
    b = rng.standard_normal((m,) if bdim == 1 else (m, 2))
    return a, b


def _assert_lstsq_equal(got, ref):
    x, res, rank, s = got
    np.testing.assert_allclose(x, ref[0], rtol=1e-10, atol=1e-12)
    assert np.shape(res) == np.shape(ref[1])
    np.testing.assert_allclose(res, ref[1], rtol=1e-10, atol=1e-12)
    assert int(rank) == ref[2]
    np.testing.assert_allclose(s, ref[3], rtol=1e-12)


@pytest.mark.parametrize("shape", LSTSQ_SHAPES, ids=str)
@pytest.mark.parametrize("bdim", [1, 2])
def test_lstsq_traced_matches_numpy(shape, bdim):
    a, b = _lstsq_args(*shape, bdim)
    ref = np.linalg.lstsq(a, b)
    for name, f in _transforms(lambda a, b: L.lstsq(a, b)).items():
        _assert_lstsq_equal(f(a, b), ref)


@pytest.mark.parametrize("shape", LSTSQ_SHAPES, ids=str)
@pytest.mark.parametrize("bdim", [1, 2])
def test_lstsq_vmap(shape, bdim):
    examples = [_lstsq_args(*shape, bdim, np.random.default_rng(k)) for k in range(3)]
    for in_axes in [0, (0, None), (None, 0)]:
        check_batching(lambda a, b: tuple(L.lstsq(a, b)), examples, in_axes=in_axes)
    # the reproducer of the issue
    a = np.random.default_rng(1).random((2, 3, 2))
    x = ad.vmap(lambda a: L.lstsq(a, np.ones(3))[0])(a)
    np.testing.assert_allclose(x, [np.linalg.lstsq(ak, np.ones(3))[0] for ak in a], atol=1e-12)


@pytest.mark.parametrize("shape", LSTSQ_SHAPES, ids=str)
@pytest.mark.parametrize("bdim", [1, 2])
def test_lstsq_derivatives(shape, bdim):
    a, b = _lstsq_args(*shape, bdim)
    check_grads(lambda a, b: L.lstsq(a, b)[0], (a, b), order=2, rng=0)
    if shape[0] > shape[1]:
        check_grads(lambda a, b: L.lstsq(a, b)[1], (a, b), order=2, rng=1)
    W = np.random.default_rng(2).standard_normal(np.shape(L.lstsq(a, b)[0]))
    loss = lambda a, b: anp.sum(L.lstsq(a, b)[0] * W)
    g = ad.grad(loss, argnums=(0, 1))(a, b)
    gj = ad.jit(ad.grad(loss, argnums=(0, 1)))(a, b)
    for u, v in zip(g, gj):
        np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-12)
    if shape[0] == shape[1]:
        gs = ad.grad(lambda a, b: anp.sum(L.solve(a, b) * W), argnums=(0, 1))(a, b)
        for u, v in zip(g, gs):
            np.testing.assert_allclose(u, v, rtol=1e-8, atol=1e-10)


def test_lstsq_rank_deficient_and_rcond_under_jit():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((6, 2)) @ rng.standard_normal((2, 4))    # rank 2 < n = 4
    b = rng.standard_normal(6)
    x, res, rank, s = ad.jit(lambda a, b: L.lstsq(a, b))(a, b)
    ref = np.linalg.lstsq(a, b)
    np.testing.assert_allclose(x, ref[0], atol=1e-10)               # minimum-norm solution
    assert int(rank) == ref[2] == 2
    np.testing.assert_allclose(s, ref[3], atol=1e-12)
    # NumPy returns no residuals when rank < n; traced lstsq returns them (documented)
    assert ref[1].shape == (0,)
    np.testing.assert_allclose(res, [np.sum((b - a @ ref[0]) ** 2)], rtol=1e-8)
    # rcond cuts singular values: s = (3, 2, 1), rcond 0.5 keeps s > 1.5
    u, _ = np.linalg.qr(rng.standard_normal((5, 3)))
    v, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    a = (u * [3.0, 2.0, 1.0]) @ v.T
    b = rng.standard_normal(5)
    for rcond in [0.5, -1.0, None]:
        got = ad.jit(lambda a, b: L.lstsq(a, b, rcond=rcond))(a, b)
        ref = np.linalg.lstsq(a, b, rcond=rcond)
        np.testing.assert_allclose(got[0], ref[0], atol=1e-12)
        assert int(got[2]) == ref[2]


def test_lstsq_bad_shapes_raise_clear_errors():
    a = np.ones((4, 3))
    with pytest.raises(np.linalg.LinAlgError, match="rows"):
        ad.jit(lambda a, b: L.lstsq(a, b)[0])(a, np.ones(5))
    with pytest.raises(np.linalg.LinAlgError, match="two-dimensional"):
        ad.jit(lambda a, b: L.lstsq(a, b)[0])(np.ones((2, 4, 3)), np.ones(4))


# =====================================================================================
# 2. cumulative_sum / cumulative_prod with include_initial
# =====================================================================================

CUM_CASES = [((4,), None), ((4,), 0), ((3, 4), 0), ((3, 4), -1), ((2, 3, 4), 1), ((0,), None),
             ((3, 0), 1)]


@pytest.mark.parametrize("name", ["cumulative_sum", "cumulative_prod"])
@pytest.mark.parametrize("shape,axis", CUM_CASES, ids=str)
@pytest.mark.parametrize("include_initial", [True, False])
def test_cumulative_include_initial_matches_numpy(name, shape, axis, include_initial):
    x = RNG.uniform(0.5, 1.5, shape)
    f = lambda x: getattr(anp, name)(x, axis=axis, include_initial=include_initial)
    expected = getattr(np, name)(x, axis=axis, include_initial=include_initial)
    for how, g in _transforms(f).items():
        out = g(x)
        assert np.shape(out) == expected.shape, how
        np.testing.assert_allclose(out, expected, rtol=1e-13, err_msg=how)


@pytest.mark.parametrize("name", ["cumulative_sum", "cumulative_prod"])
def test_cumulative_include_initial_dtype_and_ints(name):
    xi = np.arange(1, 7).reshape(2, 3)
    for dtype in [None, np.float32, np.float64]:
        f = lambda x: getattr(anp, name)(x, axis=1, dtype=dtype, include_initial=True)
        expected = getattr(np, name)(xi, axis=1, dtype=dtype, include_initial=True)
        for how, g in _transforms(f).items():
            out = np.asarray(g(xi))
            assert out.dtype == expected.dtype, how
            np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("name", ["cumulative_sum", "cumulative_prod"])
@pytest.mark.parametrize("shape,axis", [((4,), None), ((3, 4), 0), ((2, 3, 4), -1)], ids=str)
def test_cumulative_include_initial_derivatives(name, shape, axis):
    f = lambda x: getattr(anp, name)(x, axis=axis, include_initial=True)
    x = RNG.uniform(0.5, 1.5, shape)
    check_grads(f, (x,), order=2, rng=0)
    examples = [(RNG.uniform(0.5, 1.5, shape),) for _ in range(3)]
    check_batching(f, examples, in_axes=0)
    check_batching(f, examples, in_axes=-1)
    check_staging(f, (x,))


def test_cumulative_prod_include_initial_gradient_value():
    # Σ cumulative_prod([x0, x1, x2], include_initial) = 1 + x0 + x0x1 + x0x1x2
    g = ad.grad(lambda x: anp.sum(anp.cumulative_prod(x, include_initial=True)))(
        np.arange(1, 4.0))
    np.testing.assert_allclose(g, [1 + 2 + 6, 1 + 3, 2])
    g = ad.grad(lambda x: anp.sum(anp.cumulative_sum(x, include_initial=True)))(np.arange(3.0))
    np.testing.assert_allclose(g, [3, 2, 1])


# =====================================================================================
# 3. logsumexp shapes
# =====================================================================================

def _numpy_reduction_shape(shape, axis, keepdims):
    if shape == () and isinstance(axis, tuple) and axis:
        axis = axis[0]             # NumPy takes only an int axis here, SciPy also a tuple
    return np.sum(np.zeros(shape), axis=axis, keepdims=keepdims).shape


def _logsumexp_combinations():
    for shape in [(), (1,), (3,), (2, 3), (2, 1, 3)]:
        nd = len(shape)
        axes = [None, ()] + list(range(-nd, nd)) + [tuple(c) for c in
                                                      itertools.combinations(range(nd), 2)]
        if nd == 0:
            axes += [0, -1, (0,)]   # NumPy and SciPy accept axis 0 / −1 on 0-d arrays
        for axis in axes:
            yield shape, axis


@pytest.mark.parametrize("shape,axis", list(_logsumexp_combinations()), ids=str)
def test_logsumexp_shapes_follow_numpy_keepdims_rule(shape, axis):
    rng = np.random.default_rng(4)
    x = rng.normal(size=shape)
    for keepdims, use_b, return_sign in itertools.product([False, True], repeat=3):
        b = np.linspace(0.5, 2.0, x.size).reshape(shape) if use_b else None
        want = _numpy_reduction_shape(shape, axis, keepdims)
        ref = ss.logsumexp(x, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign)
        f = lambda x: asp.logsumexp(x, axis=axis, b=b, keepdims=keepdims,
                                    return_sign=return_sign)
        for how, g in _transforms(f).items():
            out = g(x)
            outs, refs = (out, ref) if return_sign else ((out,), (ref,))
            for o, r in zip(outs, refs):
                assert np.shape(o) == want, (how, keepdims, use_b, return_sign)
                np.testing.assert_allclose(np.reshape(o, -1), np.reshape(r, -1), rtol=1e-13)


def test_logsumexp_0d_keepdims():
    # the reproducer of the issue: NumPy's keepdims rule and JAX give shape ()
    assert np.shape(asp.logsumexp(np.array(1.0), axis=None, keepdims=True)) == ()
    g = ad.grad(lambda x: asp.logsumexp(x, keepdims=True))(np.array(1.0))
    assert np.shape(g) == () and g == 1.0


def test_logsumexp_negative_sum_is_nan_without_warning():
    x, b = np.array([0.0, 1.0]), np.array([1.0, -1.0])
    for how, g in _transforms(lambda x: asp.logsumexp(x, b=b)).items():
        assert np.isnan(g(x)), how
        v, s = _transforms(lambda x: asp.logsumexp(x, b=b, return_sign=True))[how](x)
        np.testing.assert_allclose([v, s], ss.logsumexp(x, b=b, return_sign=True))


# =====================================================================================
# 4. xlogy / xlog1py at x = 0
# =====================================================================================

@pytest.mark.parametrize("name,shift", [("xlogy", 0.0), ("xlog1py", 1.0)])
def test_xlogy_derivatives_at_x_zero(name, shift):
    f = getattr(asp, name)
    y = 2.0 - shift                       # log(y + shift) = log 2
    gx, gy = ad.grad(f, argnums=(0, 1))(0.0, y)
    np.testing.assert_allclose(gx, np.log(2.0))
    assert gy == 0.0
    _, t = ad.jvp(f, (0.0, y), (1.0, 1.0))
    np.testing.assert_allclose(t, np.log(2.0))
    # second order: ∂²/∂x² = 0, ∂²/∂x∂y = 1/(y + shift), ∂²/∂y² = −x/(y + shift)² = 0
    H = ad.hessian(lambda v: f(v[0], v[1]))(np.array([0.0, y]))
    np.testing.assert_allclose(H, [[0.0, 0.5], [0.5, 0.0]])
    # the same under jit and vmap, against finite differences
    np.testing.assert_allclose(ad.jit(ad.grad(f))(0.0, y), np.log(2.0))
    xs, ys = np.array([0.0, 0.5, 0.0, 1.5]), np.array([0.7, 1.2, 2.0, 0.3])
    np.testing.assert_allclose(ad.vmap(ad.grad(f))(xs, ys), np.log(ys + shift))
    check_grads(f, (xs, ys), order=2, rng=0)


@pytest.mark.parametrize("name,at", [("xlogy", 0.0), ("xlog1py", -1.0)])
def test_xlogy_values_and_edges(name, at):
    f = getattr(asp, name)
    x = np.array([0.0, 0.0, 2.0, 0.0, 1.5])
    y = np.array([at, np.nan, 0.5, 3.0, at])
    ref = getattr(ss, name)(x, y)
    for how, g in _transforms(f).items():
        if how != "jvp":          # a zero tangent times log(y*) = −inf is NaN (and warns)
            np.testing.assert_array_equal(g(x, y), ref, err_msg=how)
    np.testing.assert_array_equal(ad.vmap(f)(x, y), ref)
    # at (0, y*) where log(y*) = −inf: ∂/∂y = x/y = 0 (the function is 0 along y), ∂/∂x = −inf
    gx, gy = ad.grad(f, argnums=(0, 1))(0.0, at)
    assert gy == 0.0 and gx == -np.inf


# =====================================================================================
# 5. pinv
# =====================================================================================

W3 = np.arange(9.0).reshape(3, 3)


def _pinv_jvp_formula(a, da):
    """Ṗ = −P Ȧ P + P Pᵀ Ȧᵀ (I − A P) + (I − P A) Ȧᵀ Pᵀ P, in NumPy."""
    p = np.linalg.pinv(a)
    m, n = a.shape
    return (-p @ da @ p + p @ p.T @ da.T @ (np.eye(m) - a @ p)
            + (np.eye(n) - p @ a) @ da.T @ p.T @ p)


@pytest.mark.parametrize("a", [3 * np.eye(3), np.diag([2.0, 2.0, 5.0]),
                               2 * np.linalg.qr(np.random.default_rng(5).normal(size=(3, 3)))[0]],
                         ids=["3I", "diag-repeated", "2Q"])
def test_pinv_matches_inv_at_repeated_singular_values(a):
    g = ad.grad(lambda m: anp.sum(L.pinv(m) * W3))(a)
    g_inv = ad.grad(lambda m: anp.sum(L.inv(m) * W3))(a)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, g_inv, rtol=1e-12, atol=1e-14)
    t = np.random.default_rng(6).normal(size=(3, 3))
    np.testing.assert_allclose(ad.jvp(L.pinv, (a,), (t,))[1], ad.jvp(L.inv, (a,), (t,))[1],
                               rtol=1e-12, atol=1e-14)
    # second order: the Hessian-vector product of the same loss
    hv = ad.jvp(ad.grad(lambda m: anp.sum(L.pinv(m) * W3)), (a,), (t,))[1]
    hv_inv = ad.jvp(ad.grad(lambda m: anp.sum(L.inv(m) * W3)), (a,), (t,))[1]
    np.testing.assert_allclose(hv, hv_inv, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ad.jit(ad.grad(lambda m: anp.sum(L.pinv(m) * W3)))(a), g_inv,
                               rtol=1e-12, atol=1e-14)


def _rank_deficient(rng, m, n, r):
    X, Y = rng.normal(size=(m, r)), rng.normal(size=(n, r))
    return X, Y, X @ Y.T


@pytest.mark.parametrize("m,n,r", [(3, 3, 1), (4, 3, 2), (3, 5, 2), (3, 3, 0)])
def test_pinv_rank_deficient_is_finite_and_follows_the_formula(m, n, r):
    rng = np.random.default_rng(8)
    X, Y, a = _rank_deficient(rng, m, n, r)
    da = rng.normal(size=(m, n))
    _, t = ad.jvp(L.pinv, (a,), (da,))
    assert np.all(np.isfinite(t))
    np.testing.assert_allclose(t, _pinv_jvp_formula(a, da), rtol=1e-9, atol=1e-10)
    G = rng.normal(size=(n, m))
    g = ad.grad(lambda a: anp.sum(L.pinv(a) * G))(a)
    assert np.all(np.isfinite(g))
    # the dot-product test against the jvp
    np.testing.assert_allclose(np.sum(g * da), np.sum(G * t), rtol=1e-9, atol=1e-10)
    if r == 0:
        np.testing.assert_array_equal(g, 0.0)
        return
    # where pinv is smooth (directions that keep the rank), against finite differences
    dX, dY = rng.normal(size=X.shape), rng.normal(size=Y.shape)
    h = 1e-5
    fd = (np.linalg.pinv((X + h * dX) @ (Y + h * dY).T)
          - np.linalg.pinv((X - h * dX) @ (Y - h * dY).T)) / (2 * h)
    _, t = ad.jvp(L.pinv, (a,), (dX @ Y.T + X @ dY.T,))
    np.testing.assert_allclose(t, fd, rtol=1e-5, atol=1e-6)


def test_pinv_batch_with_a_zero_matrix():
    rng = np.random.default_rng(9)
    A = np.stack([np.zeros((3, 3)), _rank_deficient(rng, 3, 3, 1)[2], rng.normal(size=(3, 3))])
    g = ad.grad(lambda m: anp.sum(L.pinv(m) * W3))(A)
    assert np.all(np.isfinite(g))
    np.testing.assert_array_equal(g[0], 0.0)
    for k in range(3):
        gk = ad.grad(lambda m: anp.sum(L.pinv(m) * W3))(A[k])
        np.testing.assert_allclose(g[k], gk, rtol=1e-12, atol=1e-14)
    gv = ad.vmap(ad.grad(lambda m: anp.sum(L.pinv(m) * W3)))(A)
    np.testing.assert_allclose(gv, g, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("shape", [(3, 3), (5, 3), (3, 5), (2, 4, 3)], ids=str)
def test_pinv_full_rank_against_finite_differences(shape):
    a = np.random.default_rng(10).normal(size=shape)
    check_grads(L.pinv, (a,), order=2, rng=0)
    np.testing.assert_allclose(ad.jit(L.pinv)(a), np.linalg.pinv(a), rtol=1e-10, atol=1e-12)


def test_pinv_complex_and_hermitian():
    rng = np.random.default_rng(11)
    a = rng.normal(size=(4, 3)) + 1j * rng.normal(size=(4, 3))
    check_grads(L.pinv, (a,), order=2, rng=0)
    s = rng.normal(size=(3, 3))
    s = s + s.T
    for how, g in _transforms(lambda s: L.pinv(s, hermitian=True)).items():
        np.testing.assert_allclose(g(s), np.linalg.pinv(s, hermitian=True), atol=1e-12)
    # hermitian=True reads the lower triangle (as NumPy's eigh does)
    check_grads(lambda s: L.pinv(s, hermitian=True), (s,), order=2, rng=1)
    low = np.tril(s) + 5 * np.triu(rng.normal(size=(3, 3)), 1)
    np.testing.assert_allclose(ad.jit(lambda s: L.pinv(s, hermitian=True))(low),
                               np.linalg.pinv(low, hermitian=True), atol=1e-12)


def test_pinv_rcond_and_rtol_like_numpy():
    rng = np.random.default_rng(12)
    u, _ = np.linalg.qr(rng.normal(size=(4, 3)))
    a = (u * [3.0, 1.0, 1e-9]) @ np.linalg.qr(rng.normal(size=(3, 3)))[0]
    for kw in [{}, {"rcond": 0.5}, {"rtol": None}, {"rtol": 1e-6}]:
        np.testing.assert_allclose(ad.jit(lambda a: L.pinv(a, **kw))(a),
                                   np.linalg.pinv(a, **kw), atol=1e-12, err_msg=str(kw))


# =====================================================================================
# 6. cross
# =====================================================================================

CROSS_CASES = [
    ((2,), (2,), {}), ((2,), (3,), {}), ((3,), (2,), {}), ((3,), (3,), {}),
    ((4, 2), (3,), {}), ((2, 1, 3), (4, 2), {}), ((4, 3), (4, 3), {}),
    ((2, 5), (5, 3), {"axisa": 0}), ((5, 3), (2, 5), {"axisb": 0, "axisc": 0}),
    ((3, 4), (2, 4), {"axis": 0}), ((2, 4), (2, 4), {"axis": 0}),
    ((3, 2, 4), (4, 3), {"axisa": 0, "axisb": -1, "axisc": 1}),
]


def _np_cross(a, b, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # NumPy 2 deprecates 2-vectors
        return np.cross(a, b, **kw)


@pytest.mark.parametrize("sa,sb,kw", CROSS_CASES, ids=str)
def test_cross_matches_numpy(sa, sb, kw):
    rng = np.random.default_rng(13)
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    ref = _np_cross(a, b, **kw)
    f = lambda a, b: anp.cross(a, b, **kw)
    for how, g in _transforms(f).items():
        out = g(a, b)
        assert np.shape(out) == ref.shape, how
        np.testing.assert_allclose(out, ref, rtol=1e-14, atol=1e-15, err_msg=how)
    check_grads(f, (a, b), order=2, rng=0)
    examples = [(rng.normal(size=sa), rng.normal(size=sb)) for _ in range(3)]
    for in_axes in [0, (0, None), (None, 0)]:
        check_batching(f, examples, in_axes=in_axes)


def test_cross_integers_and_bad_lengths():
    ai, bi = np.array([1, 2]), np.array([3, 4, 5])
    for how, g in _transforms(anp.cross).items():
        out = np.asarray(g(ai, bi))
        np.testing.assert_array_equal(out, _np_cross(ai, bi))
        assert out.dtype == _np_cross(ai, bi).dtype
    for f in (anp.cross, ad.jit(anp.cross)):
        with pytest.raises(ValueError, match="dimension must be 2 or 3"):
            f(np.ones(4), np.ones(3))
    # the reproducer of the issue
    g = ad.grad(lambda a: anp.sum(anp.cross(a, np.array([1.0, 2, 3]))))(np.array([1.0, 2]))
    np.testing.assert_allclose(g, [-1.0, 2.0])   # Σ (3a₁, −3a₀, 2a₀ − a₁) = −a₀ + 2a₁


# =====================================================================================
# 7. warnings from adjoin's own rules
# =====================================================================================

def test_sqrt_derivative_at_zero_is_inf_without_warning():
    assert ad.jvp(anp.sqrt, (0.0,), (1.0,)) == (0.0, np.inf)
    assert ad.grad(anp.sqrt)(0.0) == np.inf


@pytest.mark.parametrize("axis", [(), 1])
def test_std_over_single_elements_has_zero_derivative(axis):
    # std over axes of total size 1 is identically 0 (NaN for ddof=1, as NumPy gives)
    x = RNG.normal(size=(3, 1, 2))
    t = RNG.normal(size=x.shape)
    out, dout = ad.jvp(lambda x: anp.std(x, axis=axis), (x,), (t,))
    np.testing.assert_array_equal(out, np.std(x, axis=axis))
    np.testing.assert_array_equal(dout, 0.0)
    np.testing.assert_array_equal(ad.grad(lambda x: anp.sum(anp.std(x, axis=axis)))(x), 0.0)
