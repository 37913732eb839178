"""adjoin.scipy.stats: the densities and distribution functions of scipy.stats, differentiable
in the point and in every continuous parameter, broadcasting over both.

``norm``, ``t``, ``gamma``, ``beta``, ``chi2`` (``pdf``, ``logpdf``, ``cdf``, ``logcdf``, ``sf``,
``logsf``, and ``ppf`` for norm), ``poisson`` (``pmf``, ``logpmf``, ``cdf``, ``logcdf``,
``sf``, ``logsf``), ``dirichlet`` (``pdf``, ``logpdf``) and ``multivariate_normal``
(``pdf``, ``logpdf``, ``entropy``), with scipy.stats' (and jax.scipy.stats') signatures:
``norm.logpdf(x, loc=0, scale=1)``, ``gamma.cdf(x, a, loc=0, scale=1)``, ... Calling a
distribution freezes its parameters, as in SciPy: ``norm(loc, scale).logpdf(x)``.

Conventions:
- outside the support the log-density is −inf and the density 0, with derivative 0 (no NaN
  cotangent leaks from the unselected branch);
- parameters must be valid (scale > 0, shape parameters > 0): SciPy's NaN for invalid ones is
  not reproduced (the formulas give NaN or inf, with NumPy's warnings);
- the shape-parameter derivatives of the cdfs of gamma, chi2, beta and t go through
  gammainc/betainc, whose a- and b-derivatives are computed by quadrature (see
  adjoin.scipy.special): exact to about 1e-10, slower than the value;
- poisson's k is a count: its derivative is not offered (cdf/sf are piecewise constant in k);
- multivariate_normal symmetrizes cov ((cov + covᵀ)/2, so the cotangent of cov is symmetric)
  and factors it by Cholesky (positive definite cov; allow_singular is not supported).
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from adjoin.core.trace import shape_of
from adjoin.primitives.triangular import solve_triangular_p
from adjoin.scipy import special as _sp

__all__ = ["norm", "t", "gamma", "beta", "chi2", "poisson", "dirichlet", "multivariate_normal"]

_LOG_2PI = float(np.log(2.0 * np.pi))


class _Frozen:
    """A distribution with its parameters fixed: ``norm(loc, scale).logpdf(x)``."""

    def __init__(self, dist, args, kwargs):
        self._dist, self._args, self._kwargs = dist, args, kwargs

    def __getattr__(self, name):
        method = getattr(self._dist, name)
        return lambda x, *a, **k: method(x, *self._args, *a, **self._kwargs, **k)


class _Distribution:
    name = "?"

    def __call__(self, *args, **kwargs):
        return _Frozen(self, args, kwargs)

    def __repr__(self):
        return f"<adjoin.scipy.stats.{self.name}>"


def _safe_log(p):
    """log p, −inf where p = 0 with derivative 0 there (double where: no 0·∞ = NaN)."""
    pos = p > 0
    return anp.where(pos, anp.log(anp.where(pos, p, 1.0)), -np.inf)


class _Continuous(_Distribution):
    """pdf = exp(logpdf), logcdf = log(cdf), logsf = log(sf), unless a subclass has better."""

    def pdf(self, x, *args, **kwargs):
        return anp.exp(self.logpdf(x, *args, **kwargs))

    def logcdf(self, x, *args, **kwargs):
        return _safe_log(self.cdf(x, *args, **kwargs))

    def logsf(self, x, *args, **kwargs):
        return _safe_log(self.sf(x, *args, **kwargs))


# --- normal -----------------------------------------------------------------------------------
class _Norm(_Continuous):
    """N(loc, scale²): log p = −z²/2 − log scale − log(2π)/2, z = (x − loc)/scale;
    cdf Φ(z) (ndtr), logcdf log Φ(z) (log_ndtr, accurate in the far tail), ppf loc + scale Φ⁻¹."""
    name = "norm"

    def logpdf(self, x, loc=0.0, scale=1.0):
        z = (x - loc) / scale
        return -0.5 * z * z - anp.log(scale) - 0.5 * _LOG_2PI

    def cdf(self, x, loc=0.0, scale=1.0):
        return _sp.ndtr((x - loc) / scale)

    def logcdf(self, x, loc=0.0, scale=1.0):
        return _sp.log_ndtr((x - loc) / scale)

    def sf(self, x, loc=0.0, scale=1.0):
        return _sp.ndtr((loc - x) / scale)

    def logsf(self, x, loc=0.0, scale=1.0):
        return _sp.log_ndtr((loc - x) / scale)

    def ppf(self, q, loc=0.0, scale=1.0):
        return loc + scale * _sp.ndtri(q)

    def isf(self, q, loc=0.0, scale=1.0):
        return loc - scale * _sp.ndtri(q)


# --- Student's t --------------------------------------------------------------------------------
class _T(_Continuous):
    """Student's t(df, loc, scale): log p = log Γ((ν+1)/2) − log Γ(ν/2) − log(νπ)/2 − log scale
    − (ν+1)/2 log(1 + z²/ν); cdf from betainc (∂/∂ν by quadrature), in the form that keeps
    its digits on each side of z² = ν (see _lower)."""
    name = "t"

    def logpdf(self, x, df, loc=0.0, scale=1.0):
        z = (x - loc) / scale
        return (_sp.gammaln(0.5 * (df + 1.0)) - _sp.gammaln(0.5 * df)
                - 0.5 * anp.log(df * np.pi) - anp.log(scale)
                - 0.5 * (df + 1.0) * anp.log1p(z * z / df))

    def _lower(self, z, df):
        """P(T < z). Far from 0 (z² ≥ ν): I_{ν/(ν+z²)}(ν/2, 1/2)/2 below 0, 1 minus that above;
        near 0: 1/2 ± I_{z²/(ν+z²)}(1/2, ν/2)/2, whose betainc argument is small (the far
        form's would be 1 − O(z²), losing digits); at |z| < 1e-5: 1/2 + z p(0) (error O(z³)),
        so that the derivative at z = 0 is p(0) and not 0·∞ = NaN."""
        tiny = anp.abs(z) < 1e-5
        zs = anp.where(tiny, 1e-5, z)                     # double where: no NaN from 0·∞
        z2 = zs * zs
        near = z2 < df
        z2n, z2f = anp.where(near, z2, df), anp.where(near, df, z2)
        half = 0.5 * _sp.betainc(0.5, 0.5 * df, z2n / (df + z2n))
        tail = 0.5 * _sp.betainc(0.5 * df, 0.5, df / (df + z2f))
        value = anp.where(near, 0.5 + anp.where(zs < 0, -half, half),
                          anp.where(zs < 0, tail, 1.0 - tail))
        p0 = anp.exp(_sp.gammaln(0.5 * (df + 1.0)) - _sp.gammaln(0.5 * df)
                     - 0.5 * anp.log(df * np.pi))
        return anp.where(tiny, 0.5 + z * p0, value)

    def cdf(self, x, df, loc=0.0, scale=1.0):
        return self._lower((x - loc) / scale, df)

    def sf(self, x, df, loc=0.0, scale=1.0):
        return self._lower((loc - x) / scale, df)


# --- gamma and chi-squared --------------------------------------------------------------------
class _Gamma(_Continuous):
    """Gamma(a, loc, scale): log p = (a − 1) log z − z − log Γ(a) − log scale for z ≥ 0, −inf
    for z < 0; cdf P(a, z), sf Q(a, z) (gammainc, gammaincc; ∂/∂a by quadrature)."""
    name = "gamma"

    def logpdf(self, x, a, loc=0.0, scale=1.0):
        z = (x - loc) / scale
        inside = z >= 0          # at z = 0, xlogy gives SciPy's limit (0 for a = 1, ±inf else)
        zs = anp.where(inside, z, 1.0)
        return anp.where(inside, _sp.xlogy(a - 1.0, zs) - zs - _sp.gammaln(a) - anp.log(scale),
                         -np.inf)

    def cdf(self, x, a, loc=0.0, scale=1.0):
        z = (x - loc) / scale
        return _sp.gammainc(a, anp.maximum(z, 0.0))

    def sf(self, x, a, loc=0.0, scale=1.0):
        z = (x - loc) / scale
        return _sp.gammaincc(a, anp.maximum(z, 0.0))


class _Chi2(_Continuous):
    """χ²(df, loc, scale) = Gamma(df/2, loc, 2 scale)."""
    name = "chi2"

    def logpdf(self, x, df, loc=0.0, scale=1.0):
        return gamma.logpdf(x, 0.5 * df, loc, 2.0 * scale)

    def cdf(self, x, df, loc=0.0, scale=1.0):
        return gamma.cdf(x, 0.5 * df, loc, 2.0 * scale)

    def sf(self, x, df, loc=0.0, scale=1.0):
        return gamma.sf(x, 0.5 * df, loc, 2.0 * scale)


# --- beta ---------------------------------------------------------------------------------------
class _Beta(_Continuous):
    """Beta(a, b, loc, scale): log p = (a − 1) log z + (b − 1) log(1 − z) − log B(a, b) − log scale
    on 0 < z < 1; cdf I_z(a, b), sf I_{1−z}(b, a) (betainc; ∂/∂a, ∂/∂b by quadrature)."""
    name = "beta"

    def logpdf(self, x, a, b, loc=0.0, scale=1.0):
        z = (x - loc) / scale
        inside = (z >= 0) & (z <= 1)     # the end points: xlogy / xlog1py give SciPy's limits
        zs = anp.where(inside, z, 0.5)
        return anp.where(inside, _sp.xlogy(a - 1.0, zs) + _sp.xlog1py(b - 1.0, -zs)
                         - _sp.betaln(a, b) - anp.log(scale), -np.inf)

    def cdf(self, x, a, b, loc=0.0, scale=1.0):
        z = anp.clip((x - loc) / scale, 0.0, 1.0)
        return _sp.betainc(a, b, z)

    def sf(self, x, a, b, loc=0.0, scale=1.0):
        z = anp.clip((x - loc) / scale, 0.0, 1.0)
        return _sp.betainc(b, a, 1.0 - z)


# --- Poisson ----------------------------------------------------------------------------------
class _Poisson(_Distribution):
    """Poisson(mu, loc): log pmf = k log μ − μ − log k! for integer k = x − loc ≥ 0 (−inf
    otherwise); cdf Q(⌊k⌋ + 1, μ), sf P(⌊k⌋ + 1, μ) (gammaincc, gammainc: ∂/∂μ in closed form)."""
    name = "poisson"

    def logpmf(self, k, mu, loc=0):
        k = k - loc
        inside = (k >= 0) & (anp.floor(k) == k)
        ks = anp.where(inside, k, 0.0)
        return anp.where(inside, _sp.xlogy(ks, mu) - _sp.gammaln(ks + 1.0) - mu, -np.inf)

    def pmf(self, k, mu, loc=0):
        return anp.exp(self.logpmf(k, mu, loc))

    def cdf(self, k, mu, loc=0):
        k = anp.floor(k - loc)
        inside = k >= 0
        return anp.where(inside, _sp.gammaincc(anp.where(inside, k, 0.0) + 1.0, mu), 0.0)

    def sf(self, k, mu, loc=0):
        k = anp.floor(k - loc)
        inside = k >= 0
        return anp.where(inside, _sp.gammainc(anp.where(inside, k, 0.0) + 1.0, mu), 1.0)

    def logcdf(self, k, mu, loc=0):
        return _safe_log(self.cdf(k, mu, loc))

    def logsf(self, k, mu, loc=0):
        return _safe_log(self.sf(k, mu, loc))


# --- Dirichlet ---------------------------------------------------------------------------------
class _Dirichlet(_Distribution):
    """Dirichlet(α): log p(x) = Σᵢ (αᵢ − 1) log xᵢ − Σᵢ log Γ(αᵢ) + log Γ(Σᵢ αᵢ) on the simplex.

    As in SciPy, x's *first* axis holds the K components (x of shape (K,) or (K, N) for N
    points); it may have K − 1 rows, the last component being 1 − Σ. α has shape (K,)."""
    name = "dirichlet"

    def logpdf(self, x, alpha):
        sa, sx = shape_of(alpha), shape_of(x)
        if len(sa) != 1:
            raise ValueError(f"dirichlet: alpha must be a vector of K ≥ 2 concentrations, got "
                             f"shape {sa}")
        K = sa[0]
        if not sx or sx[0] not in (K, K - 1):
            raise ValueError(f"dirichlet: x of shape {sx} must have K = {K} (or K − 1) entries "
                             "along its first axis")
        if sx[0] == K - 1:
            x = anp.concatenate([x, 1.0 - anp.sum(x, axis=0, keepdims=True)], axis=0)
        a = anp.reshape(alpha, (K,) + (1,) * (len(sx) - 1))
        lnb = anp.sum(_sp.gammaln(alpha)) - _sp.gammaln(anp.sum(alpha))
        return anp.sum(_sp.xlogy(a - 1.0, x), axis=0) - lnb

    def pdf(self, x, alpha):
        return anp.exp(self.logpdf(x, alpha))


# --- multivariate normal ------------------------------------------------------------------------
class _MultivariateNormal(_Distribution):
    """N(mean, cov) in d dimensions: log p = −(d log 2π + log det C + (x − μ)ᵀC⁻¹(x − μ))/2 by
    the Cholesky factor of C = (cov + covᵀ)/2; entropy (d(1 + log 2π) + log det C)/2.

    x has shape (..., d) (a 1-D x with d = 1 is a set of points); mean (d,) (default 0); cov a
    (d, d) matrix, a vector (its diagonal) or a scalar (times I)."""
    name = "multivariate_normal"

    @staticmethod
    def _params(mean, cov, d=None):
        if mean is not None and len(shape_of(mean)) > 1:
            raise ValueError(f"multivariate_normal: mean must be a vector, got shape "
                             f"{shape_of(mean)}")
        if d is None:
            d = (shape_of(mean)[0] if mean is not None and shape_of(mean) else
                 shape_of(cov)[0] if len(shape_of(cov)) >= 1 else 1)
        if len(shape_of(cov)) == 0:
            cov = cov * np.eye(d)
        elif len(shape_of(cov)) == 1:
            cov = anp.diag(cov)
        if shape_of(cov) != (d, d):
            raise ValueError(f"multivariate_normal: cov of shape {shape_of(cov)} does not match "
                             f"the dimension d = {d}")
        mean = np.zeros(d) if mean is None else anp.broadcast_to(mean, (d,))
        cov = 0.5 * (cov + anp.swapaxes(cov, -1, -2))
        return mean, anp.linalg.cholesky(cov), d

    def logpdf(self, x, mean=None, cov=1, allow_singular=False):
        if allow_singular:
            raise NotImplementedError("multivariate_normal: allow_singular=True is not supported "
                                      "(a singular covariance has no Cholesky factor)")
        d0 = shape_of(mean)[0] if mean is not None and shape_of(mean) else None
        sx = shape_of(x)
        if d0 is None and len(shape_of(cov)) >= 1:
            d0 = shape_of(cov)[0]
        if d0 in (None, 1) and (len(sx) <= 1):
            x = anp.reshape(x, sx + (1,))        # points of dimension 1
            sx = shape_of(x)
        mean, L, d = self._params(mean, cov, sx[-1])
        r = anp.reshape(x - mean, (-1, d))                          # (n, d)
        y = solve_triangular_p.bind(L, anp.swapaxes(r, 0, 1), lower=True, trans=0,
                                    unit_diagonal=False)            # L⁻¹(x − μ): (d, n)
        maha = anp.sum(y * y, axis=0)
        logdet = 2.0 * anp.sum(anp.log(anp.diagonal(L)))
        out = -0.5 * (d * _LOG_2PI + logdet + maha)
        return anp.reshape(out, sx[:-1])

    def pdf(self, x, mean=None, cov=1, allow_singular=False):
        return anp.exp(self.logpdf(x, mean, cov, allow_singular))

    def entropy(self, mean=None, cov=1):
        _, L, d = self._params(mean, cov)
        return 0.5 * d * (1.0 + _LOG_2PI) + anp.sum(anp.log(anp.diagonal(L)))


norm = _Norm()
t = _T()
gamma = _Gamma()
chi2 = _Chi2()
beta = _Beta()
poisson = _Poisson()
dirichlet = _Dirichlet()
multivariate_normal = _MultivariateNormal()
