"""Issue 12 §2: adjoin.numpy's new functions agree with NumPy on traced values, and the
API details (tracer methods, .at on any array, result types, holomorphic grad, no leaked
names). Their derivatives go through the sweep (tests/cases/numpy_extra.py)."""
from __future__ import annotations

import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp

rng = np.random.default_rng(1)
x = rng.standard_normal(7)
X = rng.standard_normal((3, 5))
xp = np.sort(rng.uniform(0, 5, 6))
fp = rng.standard_normal(6)

CASES = {
 "sort": (lambda x: anp.sort(x), lambda x: np.sort(x), (x,)),
 "sortX0": (lambda X: anp.sort(X, axis=0), lambda X: np.sort(X, axis=0), (X,)),
 "sortNone": (lambda X: anp.sort(X, axis=None), lambda X: np.sort(X, axis=None), (X,)),
 "sortdesc": (lambda X: anp.sort(X, descending=True), lambda X: -np.sort(-X), (X,)),
 "argsort": (lambda X: anp.argsort(X, axis=0), lambda X: np.argsort(X, axis=0, kind='stable'), (X,)),
 "partition": (lambda x: anp.partition(x, 3)[3], lambda x: np.partition(x, 3)[3], (x,)),
 "argpartition": (lambda x: anp.argpartition(x, 3)[3], lambda x: np.argpartition(x, 3)[3], (x,)),
 "searchsorted": (lambda a: anp.searchsorted(a, np.array([0.5,2.,4.]), side='right'), lambda a: np.searchsorted(a, [0.5,2.,4.], side='right'), (xp,)),
 "diff": (lambda X: anp.diff(X, n=2, axis=1, prepend=0.), lambda X: np.diff(X, n=2, axis=1, prepend=0.), (X,)),
 "ediff1d": (lambda X: anp.ediff1d(X, to_end=[1.,2.], to_begin=3.), lambda X: np.ediff1d(X, to_end=[1.,2.], to_begin=3.), (X,)),
 "gradient": (lambda X: anp.gradient(X, 0.5, axis=1), lambda X: np.gradient(X, 0.5, axis=1), (X,)),
 "gradient2": (lambda X: anp.gradient(X, 0.5, np.array([0.,1.,3.,4.,7.]), edge_order=2), lambda X: np.gradient(X, 0.5, np.array([0.,1.,3.,4.,7.]), edge_order=2), (X,)),
 "gradientxp": (lambda f: anp.gradient(f, xp, edge_order=2), lambda f: np.gradient(f, xp, edge_order=2), (fp,)),
 "interp": (lambda f: anp.interp(np.array([-1., 0.3, 1.7, 2.5, 4.9, 9.]), xp, f), lambda f: np.interp([-1., 0.3, 1.7, 2.5, 4.9, 9.], xp, f), (fp,)),
 "interpper": (lambda f: anp.interp(np.array([-1., 0.3, 1.7, 2.5, 4.9, 9.]), xp, f, period=3.), lambda f: np.interp([-1., 0.3, 1.7, 2.5, 4.9, 9.], xp, f, period=3.), (fp,)),
 "trapz": (lambda X: anp.trapezoid(X, x=np.array([0.,1.,3.,4.,7.])), lambda X: np.trapezoid(X, x=np.array([0.,1.,3.,4.,7.])), (X,)),
 "median": (lambda X: anp.median(X, axis=1), lambda X: np.median(X, axis=1), (X,)),
 "median4": (lambda X: anp.median(X[:, :4]), lambda X: np.median(X[:, :4]), (X,)),
 "quantile": (lambda X: anp.quantile(X, np.array([0.1, 0.5, 0.93]), axis=0, keepdims=True), lambda X: np.quantile(X, [0.1,0.5,0.93], axis=0, keepdims=True), (X,)),
 "quantile_methods": (lambda X: anp.stack([anp.quantile(X, 0.37, method=m) for m in ("lower","higher","nearest","midpoint")]), lambda X: np.stack([np.quantile(X, 0.37, method=m) for m in ("lower","higher","nearest","midpoint")]), (X,)),
 "percentile": (lambda X: anp.percentile(X, 30., axis=(0,1)), lambda X: np.percentile(X, 30., axis=(0,1)), (X,)),
 "cov": (lambda X: anp.cov(X), lambda X: np.cov(X), (X,)),
 "covw": (lambda X: anp.cov(X, rowvar=False, aweights=np.arange(1.,4.), fweights=np.array([1,2,1])), lambda X: np.cov(X, rowvar=False, aweights=np.arange(1.,4.), fweights=np.array([1,2,1])), (X,)),
 "covy": (lambda X: anp.cov(X[0], X[1], bias=True), lambda X: np.cov(X[0], X[1], bias=True), (X,)),
 "corrcoef": (lambda X: anp.corrcoef(X), lambda X: np.corrcoef(X), (X,)),
 "select": (lambda x: anp.select([x<-0.5, x>0.5], [x**2, x**3], 7.), lambda x: np.select([x<-0.5, x>0.5], [x**2, x**3], 7.), (x,)),
 "piecewise": (lambda x: anp.piecewise(x, [x<0, x>=0], [lambda v: -v, lambda v: v*2]), lambda x: np.piecewise(x, [x<0, x>=0], [lambda v: -v, lambda v: v*2]), (x,)),
 "piecewise2": (lambda x: anp.piecewise(x, [x<-0.5], [lambda v: -v, 3.]), lambda x: np.piecewise(x, [x<-0.5], [lambda v: -v, 3.]), (x,)),
 "append": (lambda X: anp.append(X, X[:1], axis=0), lambda X: np.append(X, X[:1], axis=0), (X,)),
 "appendN": (lambda X: anp.append(X, 5.), lambda X: np.append(X, 5.), (X,)),
 "insert": (lambda X: anp.insert(X, 2, X[:, 0], axis=1), lambda X: np.insert(X, 2, X[:, 0], axis=1), (X,)),
 "insert2": (lambda X: anp.insert(X, [1, 3], 9., axis=1), lambda X: np.insert(X, [1, 3], 9., axis=1), (X,)),
 "insertflat": (lambda X: anp.insert(X, 4, 9.), lambda X: np.insert(X, 4, 9.), (X,)),
 "delete": (lambda X: anp.delete(X, [0, 2], axis=1), lambda X: np.delete(X, [0, 2], axis=1), (X,)),
 "block": (lambda X: anp.block([[X, np.ones((3, 2))], [np.zeros((1, 5)), X[:1, :2]]]), lambda X: np.block([[X, np.ones((3, 2))], [np.zeros((1, 5)), X[:1, :2]]]), (X,)),
 "r_": (lambda x: anp.r_[x, 0.0, 1:4, x[:2]], lambda x: np.r_[x, 0.0, 1:4, x[:2]], (x,)),
 "c_": (lambda x: anp.c_[x, x*2], lambda x: np.c_[x, x*2], (x,)),
 "rollaxis": (lambda X: anp.rollaxis(X[None], 2, 0), lambda X: np.rollaxis(X[None], 2, 0), (X,)),
 "fabs": (lambda x: anp.fabs(x), np.fabs, (x,)),
 "copysign": (lambda x: anp.copysign(x, x[::-1]), lambda x: np.copysign(x, x[::-1]), (x,)),
 "fmod": (lambda x: anp.fmod(x*5, 1.3), lambda x: np.fmod(x*5, 1.3), (x,)),
 "heaviside": (lambda x: anp.heaviside(anp.round(x), 0.5), lambda x: np.heaviside(np.round(x), 0.5), (x,)),
 "logaddexp2": (lambda x: anp.logaddexp2(x, x[::-1]), lambda x: np.logaddexp2(x, x[::-1]), (x,)),
 "i0": (lambda x: anp.i0(x), np.i0, (x,)),
 "nan_to_num": (lambda x: anp.nan_to_num(x/anp.round(x)), lambda x: np.nan_to_num(x/np.round(x)), (x,)),
 "isclose": (lambda x: anp.isclose(x, anp.round(x, 1), atol=0.03), lambda x: np.isclose(x, np.round(x, 1), atol=0.03), (x,)),
 "allclose": (lambda x: anp.allclose(x, x+1e-9), lambda x: np.allclose(x, x+1e-9), (x,)),
 "linspace": (lambda a: anp.linspace(a[0], a[1], 7), lambda a: np.linspace(a[0], a[1], 7), (x,)),
 "linspace2": (lambda a: anp.linspace(a[:2], a[2:4], 4, endpoint=False, axis=1), lambda a: np.linspace(a[:2], a[2:4], 4, endpoint=False, axis=1), (x,)),
 "logspace": (lambda a: anp.logspace(a[0], a[1], 5, base=2.), lambda a: np.logspace(a[0], a[1], 5, base=2.), (x,)),
 "geomspace": (lambda a: anp.geomspace(anp.abs(a[0]), anp.abs(a[1]), 5), lambda a: np.geomspace(abs(a[0]), abs(a[1]), 5), (x,)),
 "nanmax": (lambda X: anp.nanmax(anp.where(X>1, np.nan, X), axis=0), lambda X: np.nanmax(np.where(X>1, np.nan, X), axis=0), (X,)),
 "nanmin": (lambda X: anp.nanmin(anp.where(X>1, np.nan, X)), lambda X: np.nanmin(np.where(X>1, np.nan, X)), (X,)),
 "nanprod": (lambda X: anp.nanprod(anp.where(X>1, np.nan, X), axis=1), lambda X: np.nanprod(np.where(X>1, np.nan, X), axis=1), (X,)),
 "nanvar": (lambda X: anp.nanvar(anp.where(X>1, np.nan, X), axis=1, ddof=1), lambda X: np.nanvar(np.where(X>1, np.nan, X), axis=1, ddof=1), (X,)),
 "nanstd": (lambda X: anp.nanstd(anp.where(X>1, np.nan, X)), lambda X: np.nanstd(np.where(X>1, np.nan, X)), (X,)),
 "nanmedian": (lambda X: anp.nanmedian(anp.where(X>1, np.nan, X), axis=1), lambda X: np.nanmedian(np.where(X>1, np.nan, X), axis=1), (X,)),
}


def _traced(f, *args):
    """f evaluated on traced values (the primal of a jvp)."""
    return ad.jvp(f, args, tuple(np.zeros_like(a) for a in args))[0]


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_numpy_on_traced_values(name):
    f, g, args = CASES[name]
    with np.errstate(divide="ignore", invalid="ignore"):
        got, want = _traced(f, *args), g(*args)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12, equal_nan=True)


def test_no_internal_names_leak():
    public = [n for n in dir(anp) if not n.startswith("_")]
    for leaked in ("np", "annotations", "shape_of", "dtype_of", "Tracer", "concatenate_p"):
        assert leaked not in public
    extra = sorted(n for n in public if not hasattr(np, n))
    assert extra == ["at", "product"], extra


def test_at_works_on_plain_arrays_and_traced_ones():
    def f(v):
        return anp.at(v)[np.array([0, 0, 2])].min(np.array([5.0, -1.0, 0.5]))
    v = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(f(v), [-1.0, 2.0, 0.5])          # no transformation
    g = ad.grad(lambda v: anp.sum(f(v) * np.array([1.0, 2.0, 3.0])))(v)
    np.testing.assert_allclose(g, [0.0, 2.0, 0.0])
    w = ad.grad(lambda v: anp.sum(v.at[1].power(3.0) + v.at[2].divide(2.0)))(v)
    np.testing.assert_allclose(w, [2.0, 1.0 + 3 * 4.0, 1.5])


def test_tracer_methods():
    def f(v):
        assert v.copy() is v
        parts = v.tolist()
        assert isinstance(parts, list) and len(parts) == 3
        return sum(parts) * v.astype(np.float64).clip(0.0, 2.5).round().real.conj().sum()
    v = np.array([0.4, 1.6, 3.0])
    np.testing.assert_allclose(ad.grad(f)(v), [4.0, 4.0, 4.0])
    with pytest.raises(ad.ConcretizationError, match="item"):
        ad.grad(lambda v: v[0].item() * v[0])(v)
    assert ad.grad(lambda v: v[anp.argmax(v).item()] * 2.0)(v)[2] == 2.0
    assert ad.jvp(lambda v: anp.imag(v * 1j), (v,), (v,))[1][0] == 0.4


def test_scalar_results_are_numpy_scalars():
    for r in (ad.grad(lambda t: t * t)(np.array(2.0)), ad.hessian(lambda t: t ** 3)(2.0),
              ad.jvp(lambda t: anp.sin(t), (1.0,), (1.0,))[1],
              ad.vjp(lambda t: t * 2.0, np.array(1.0))[1](np.array(1.0))[0],
              ad.jacrev(lambda t: t * t)(3.0)):
        assert type(r) is np.float64, type(r)


def test_holomorphic_grad():
    z = 1.0 + 0.5j
    g = ad.grad(lambda z: anp.sin(z) * z, holomorphic=True)(z)
    np.testing.assert_allclose(g, np.cos(z) * z + np.sin(z))
    J = ad.jacrev(lambda z: anp.exp(z), holomorphic=True)(np.array([z, 2j]))
    np.testing.assert_allclose(J, np.diag(np.exp([z, 2j])))
    with pytest.raises(TypeError, match="complex inputs"):
        ad.grad(anp.sin, holomorphic=True)(1.0)
    with pytest.raises(TypeError, match="holomorphic=True"):
        ad.grad(lambda z: anp.sin(z))(z)


def test_sort_ties_follow_the_stable_order():
    g = ad.grad(lambda v: anp.sort(v, kind="stable")[0])(np.array([2.0, 1.0, 1.0]))
    np.testing.assert_allclose(g, [0.0, 1.0, 0.0])
    with pytest.raises(TypeError, match="in place"):
        ad.grad(lambda v: v.sort())(np.ones(2))
