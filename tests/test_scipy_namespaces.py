"""adjoin.scipy.{special, stats, signal, linalg}: what the sweep cannot see — the clear errors
(orders without a derivative, Schur's derivative, complex roots and logarithms of real
matrices, bad modes and shapes), the derivative conventions at special points, and values
under jit. The derivatives themselves are checked by the generic sweep (tests/cases/scipy_*)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sl
import scipy.special as ss
import scipy.stats as st

import adjoin as ad
import adjoin.scipy.linalg as L
import adjoin.scipy.signal as S
import adjoin.scipy.special as sp
import adjoin.scipy.stats as stats
from tests.cases import scipy_linalg, scipy_signal, scipy_special, scipy_stats

REFERENCES = [r for m in (scipy_special, scipy_stats, scipy_signal, scipy_linalg)
              for r in m.REFERENCES]


@pytest.mark.parametrize("name, fn, ref, inputs, rtol, atol", REFERENCES,
                         ids=[r[0] for r in REFERENCES])
def test_values_against_scipy(name, fn, ref, inputs, rtol, atol):
    """Every sweep case of adjoin.scipy that has a SciPy counterpart gives SciPy's values on
    the case's draws (eagerly and under jit)."""
    rng = np.random.default_rng(0)
    for spec in inputs:
        args = spec(rng)
        want = ref(*args)
        for got in (fn(*args), ad.jit(fn)(*args)):
            for g, w in zip(got if isinstance(got, tuple) else (got,),
                            want if isinstance(want, tuple) else (want,)):
                np.testing.assert_allclose(g, w, rtol=rtol, atol=atol,
                                           err_msg=f"{name} against SciPy, inputs {args}")


@pytest.mark.parametrize("f, arg", [(lambda v: sp.iv(v, 2.0), "v"), (lambda v: sp.ive(v, 2.0), "v"),
                                    (lambda v: sp.kv(v, 2.0), "v"), (lambda n: sp.jn(n, 2.0), "n"),
                                    (lambda n: sp.yn(n, 2.0), "n"),
                                    (lambda n: sp.polygamma(n, 2.0), "n")])
def test_orders_have_no_derivative_and_say_so(f, arg):
    with pytest.raises(NotImplementedError, match=f"argument {arg}") as info:
        ad.grad(f)(1.0)
    assert "stop_gradient" in str(info.value)
    with pytest.raises(NotImplementedError, match=f"argument {arg}"):
        ad.jvp(f, (1.0,), (1.0,))


def test_order_constant_differentiates_in_x():
    g = ad.grad(lambda x: sp.kv(0.7, x))(1.3)
    assert np.isclose(g, -0.5 * (ss.kv(-0.3, 1.3) + ss.kv(1.7, 1.3)))
    # jn takes a real order, as SciPy's (it is jv); yn refuses one
    assert np.isclose(sp.jn(2.5, 1.0), ss.jv(2.5, 1.0))
    with pytest.raises(ValueError, match="integer"):
        sp.yn(2.5, 1.0)


def test_shape_parameter_derivatives_against_differences():
    """∂/∂a of gammainc and ∂/∂a, ∂/∂b of betainc (quadrature) against SciPy differences."""
    h = 1e-6
    for a, x in [(0.3, 0.2), (2.5, 1.3), (2.5, 7.0), (30.0, 28.0)]:
        want = (ss.gammainc(a + h, x) - ss.gammainc(a - h, x)) / (2 * h)
        assert np.isclose(ad.grad(sp.gammainc)(a, x), want, rtol=1e-5, atol=1e-9), (a, x)
        assert np.isclose(ad.grad(sp.gammaincc)(a, x), -want, rtol=1e-5, atol=1e-9), (a, x)
    for a, b, x in [(0.4, 3.0, 0.1), (2.0, 0.6, 0.9), (5.0, 7.0, 0.5)]:
        ga, gb = ad.grad(sp.betainc, argnums=(0, 1))(a, b, x)
        assert np.isclose(ga, (ss.betainc(a + h, b, x) - ss.betainc(a - h, b, x)) / (2 * h),
                          rtol=1e-5, atol=1e-9)
        assert np.isclose(gb, (ss.betainc(a, b + h, x) - ss.betainc(a, b - h, x)) / (2 * h),
                          rtol=1e-5, atol=1e-9)


def test_conventions_at_special_points():
    assert ad.grad(sp.entr)(0.5) == pytest.approx(-(np.log(0.5) + 1))
    assert ad.grad(sp.entr)(-1.0) == 0.0             # constant −inf there, no NaN
    assert ad.grad(lambda x: sp.xlogy(x, 2.0))(0.0) == pytest.approx(np.log(2.0))
    # outside the support: −inf log-density with derivative 0
    assert stats.beta.logpdf(1.5, 2.0, 3.0) == -np.inf
    assert ad.grad(lambda a: stats.beta.pdf(1.5, a, 3.0))(2.0) == 0.0
    assert ad.grad(lambda mu: stats.poisson.logcdf(-1, mu))(2.0) == 0.0
    # t's cdf at its center (the betainc argument is 1 there): the density, not 0·∞ = NaN
    assert np.isclose(ad.grad(stats.t.cdf)(0.0, 3.5), st.t.pdf(0.0, 3.5), rtol=1e-14)
    assert np.isclose(ad.grad(stats.t.cdf)(1e-4, 3.5), st.t.pdf(1e-4, 3.5), rtol=1e-13)
    assert ad.grad(stats.t.cdf, argnums=1)(0.0, 3.5) == 0.0
    # densities at the end of the support: SciPy's limits
    assert np.array_equal(stats.gamma.logpdf(0.0, np.array([0.5, 1.0, 2.0])),
                          st.gamma.logpdf(0.0, np.array([0.5, 1.0, 2.0])))


def test_values_under_jit():
    f = ad.jit(lambda a, x: sp.gammainc(a, x) + sp.j1(x) + stats.t.logcdf(x, a))
    assert np.isclose(f(2.5, 1.3), ss.gammainc(2.5, 1.3) + ss.j1(1.3) + st.t.logcdf(1.3, 2.5))
    g = ad.jit(ad.grad(lambda a: stats.gamma.logsf(1.3, a)))
    h = 1e-6
    assert np.isclose(g(2.5), (st.gamma.logsf(1.3, 2.5 + h) - st.gamma.logsf(1.3, 2.5 - h))
                      / (2 * h), rtol=1e-5)


def test_schur_has_no_derivative_and_says_what_to_use():
    a = np.array([[1.0, 2.0], [0.5, -1.0]])
    T, Z = L.schur(a)
    assert np.allclose(Z @ T @ Z.T, a)
    with pytest.raises(NotImplementedError, match="eigvals"):
        ad.grad(lambda a: L.schur(a)[0].sum())(a)


def test_real_matrix_with_complex_root_or_log_is_an_error():
    a = np.diag([1.0, -2.0])
    for f in (L.sqrtm, L.logm):
        with pytest.raises(ValueError, match="complex"):
            f(a)
    # as a complex matrix it works, with SciPy's value
    assert np.allclose(L.sqrtm(a.astype(complex)), sl.sqrtm(a.astype(complex)))


def test_linalg_errors_name_the_problem():
    with pytest.raises(ValueError, match="square"):
        ad.grad(lambda a: L.expm(a).sum())(np.ones((2, 3)))
    with pytest.raises(ValueError, match="rows"):
        L.solve_banded((1, 1), np.ones((2, 4)), np.ones(4))
    ab = np.zeros((3, 4))
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        L.solve_banded((1, 1), ab, np.ones(4))
    with pytest.raises(ValueError, match="does not match"):
        L.solve_sylvester(np.eye(2), np.eye(3), np.ones((3, 2)))


def test_lu_pivots_are_scipy_s():
    a = np.random.default_rng(0).standard_normal((4, 4))
    lu, piv = L.lu_factor(a)
    lu_ref, piv_ref = sl.lu_factor(a)
    assert np.allclose(lu, lu_ref) and np.array_equal(piv, piv_ref)
    # the pair works with SciPy's lu_solve, and SciPy's pair with ours
    b = np.arange(4.0)
    assert np.allclose(sl.lu_solve((lu, piv), b), L.lu_solve((lu_ref, piv_ref), b))


def test_signal_errors_and_methods_agree():
    a, v = np.arange(5.0), np.array([1.0, -2.0, 0.5])
    with pytest.raises(ValueError, match="mode"):
        ad.grad(lambda a: S.convolve(a, v, mode="circular").sum())(a)
    with pytest.raises(ValueError, match="same number of dimensions"):
        ad.grad(lambda a: S.convolve(a, np.ones((2, 2))).sum())(a)
    with pytest.raises(ValueError, match="at least as large"):
        ad.grad(lambda a: S.convolve(a, np.ones((3, 1)), mode="valid").sum())(np.ones((2, 2)))
    g1 = ad.grad(lambda a: (S.convolve(a, v, method="direct") ** 2).sum())(a)
    g2 = ad.grad(lambda a: (S.convolve(a, v, method="fft") ** 2).sum())(a)
    assert np.allclose(g1, g2, rtol=1e-12)
