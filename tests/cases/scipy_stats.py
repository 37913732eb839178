"""Cases for adjoin.scipy.stats (compositions of adjoin.scipy.special and adjoin.numpy),
values against scipy.stats; derivatives in the point and in every continuous parameter,
broadcast against each other.

Domains: points inside the support (the boundary is a kink); scale in (0.5, 2); shape
parameters in (0.8, 4) (the cdfs' shape derivatives are quadratures: small shapes); t's
points away from 0 (the cdf's betainc argument is 1 there, where its x-derivative is 0·∞);
Poisson counts are integers (not differentiated), μ in (0.5, 4); covariances positive
definite.
"""
from __future__ import annotations

import numpy as np
import scipy.stats as st

import adjoin.scipy.stats as S
from tests.cases import Case

CASES: list[Case] = []
_METHODS = ("pdf", "logpdf", "cdf", "logcdf", "sf", "logsf")


#: (name, fn, SciPy's fn, inputs, rtol, atol): values compared by tests/test_scipy_namespaces.py
REFERENCES: list = []


def _check(name, fn, ref, inputs, rtol=1e-9):
    REFERENCES.append((name, fn, ref, inputs, rtol, 1e-300))


def _case(name, fn, ref, inputs, primitives=(), **kw):
    _check(name, fn, ref, inputs)
    CASES.append(Case(name, fn, inputs, primitives=primitives, **kw))


def _u(lo, hi):
    return lambda rng, s: rng.uniform(lo, hi, s)


def _away0(rng, s):
    return rng.choice([-1.0, 1.0], s) * rng.uniform(0.3, 2.5, s)


def draws(gens, shapes):
    """One input per tuple of shapes, argument i drawn by gens[i] with shapes[j][i]."""
    return [lambda rng, ss=ss: tuple(g(rng, s) for g, s in zip(gens, ss)) for ss in shapes]


# norm(x, loc, scale): every method, broadcast (x (4,), loc (2, 1), scale ())
_NORM = draws((_u(-3, 3), _u(-1, 1), _u(0.5, 2)), [((), (), ()), ((4,), (2, 1), ())])
for _m in _METHODS + ("ppf",):
    if _m == "ppf":
        _in = draws((_u(0.05, 0.95), _u(-1, 1), _u(0.5, 2)), [((4,), (), (4,))])
    else:
        _in = _NORM
    _case(f"stats_norm_{_m}", getattr(S.norm, _m), getattr(st.norm, _m), _in)

# t(x, df, loc, scale)
_T_IN = draws((_away0, _u(1.5, 6), _u(-0.2, 0.2), _u(0.8, 1.5)), [((3,), (), (), ())])
for _m in ("logpdf", "cdf", "sf", "logcdf"):
    _check(f"stats_t_{_m}", getattr(S.t, _m), getattr(st.t, _m), _T_IN)
    CASES.append(Case(f"stats_t_{_m}", getattr(S.t, _m), _T_IN,
                      order=2 if _m == "logpdf" else 1, rtol=1e-5, atol=1e-7))

# gamma(x, a, loc, scale) and chi2(x, df, loc, scale)
_G_IN = draws((_u(0.3, 5), _u(0.8, 4), _u(-0.1, 0.1), _u(0.7, 1.5)),
              [((), (), (), ()), ((3,), (), (), (3,))])
for _m in _METHODS:
    _check(f"stats_gamma_{_m}", getattr(S.gamma, _m), getattr(st.gamma, _m), _G_IN)
    CASES.append(Case(f"stats_gamma_{_m}", getattr(S.gamma, _m), _G_IN, rtol=1e-5, atol=1e-7,
                      order=2 if "pdf" in _m else 1))
for _m in ("logpdf", "cdf", "logsf"):
    _check(f"stats_chi2_{_m}", getattr(S.chi2, _m), getattr(st.chi2, _m), _G_IN)
    CASES.append(Case(f"stats_chi2_{_m}", getattr(S.chi2, _m), _G_IN[1:], rtol=1e-5,
                      atol=1e-7, order=1))

# beta(x, a, b, loc, scale)
_B_IN = draws((_u(0.1, 0.6), _u(0.8, 4), _u(0.8, 4), _u(-0.05, 0.05), _u(0.9, 1.2)),
              [((), (), (), (), ()), ((3,), (3,), (), (), ())])
for _m in _METHODS:
    _check(f"stats_beta_{_m}", getattr(S.beta, _m), getattr(st.beta, _m), _B_IN)
    CASES.append(Case(f"stats_beta_{_m}", getattr(S.beta, _m), _B_IN[:1] if "pdf" not in _m
                      else _B_IN, rtol=1e-5, atol=1e-7, order=2 if "pdf" in _m else 1))

# points outside the support: −inf log-density, 0 density, derivative 0 (no NaN)
_OUT = [lambda rng: (np.array([-0.5, 0.4, 1.5]), rng.uniform(1.5, 3), rng.uniform(1.5, 3))]
_check("stats_beta_outside", S.beta.logpdf, st.beta.logpdf, _OUT)
CASES.append(Case("stats_beta_pdf_outside", S.beta.pdf, _OUT))
CASES.append(Case("stats_gamma_pdf_outside", S.gamma.pdf,
                  [lambda rng: (np.array([-0.5, 1.3]), rng.uniform(1.5, 3))]))

# poisson(k, mu, loc): k integer (not differentiated)
_P_IN = [lambda rng: (rng.integers(-1, 6, (5,)), rng.uniform(0.5, 4)),
         lambda rng: (rng.integers(0, 6, (2, 3)), rng.uniform(0.5, 4, (3,)))]
for _m in ("pmf", "logpmf", "cdf", "logcdf", "sf", "logsf"):
    _check(f"stats_poisson_{_m}", getattr(S.poisson, _m), getattr(st.poisson, _m), _P_IN)
    # (finite differences of a −inf output are NaN: the log-methods are checked at k ≥ 0)
    CASES.append(Case(f"stats_poisson_{_m}", getattr(S.poisson, _m),
                      _P_IN if _m in ("pmf", "cdf", "sf") else _P_IN[1:],
                      rtol=1e-5, atol=1e-7, order=2 if "pmf" in _m else 1))


# dirichlet(x, alpha): x's first axis the components
def _dirichlet(n=None, drop_last=False):
    def draw(rng):
        alpha = rng.uniform(0.8, 3, 3)
        x = rng.dirichlet(alpha, n).T if n else rng.dirichlet(alpha)
        return (x[:-1] if drop_last else x), alpha
    return draw


_D_IN = [_dirichlet(), _dirichlet(4), _dirichlet(drop_last=True)]
for _m in ("pdf", "logpdf"):
    _case(f"stats_dirichlet_{_m}", getattr(S.dirichlet, _m), getattr(st.dirichlet, _m), _D_IN)


# multivariate_normal(x, mean, cov)
def _mvn(n, d, cov="full"):
    def draw(rng):
        m = rng.standard_normal((d, d))
        c = m @ m.T / d + np.eye(d) if cov == "full" else rng.uniform(0.5, 2, d)
        x = rng.standard_normal((n, d) if n else (d,))
        return x, rng.standard_normal(d), c
    return draw


for _m, _in in (("pdf", [_mvn(2, 2, cov="diag")]), ("logpdf", [_mvn(None, 2), _mvn(3, 3)])):
    _case(f"stats_multivariate_normal_{_m}", getattr(S.multivariate_normal, _m),
          getattr(st.multivariate_normal, _m), _in, primitives=("cholesky", "solve_triangular"))
_case("stats_multivariate_normal_entropy", lambda m, c: S.multivariate_normal.entropy(m, c),
      lambda m, c: st.multivariate_normal.entropy(m, c),
      [lambda rng: _mvn(None, 3)(rng)[1:]], primitives=("cholesky",))
