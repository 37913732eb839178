"""Special functions (scipy.special) as elementwise primitives, with their derivatives.

Every rule is written with primitives (this file's and lax's), so every derivative is
differentiable again. The conventions, where there is a choice:

- an *integer* argument (the order n of jn, yn, polygamma) carries no derivative; asking
  for one (a traced n under grad/jvp) raises an error that says so (jn, as SciPy's, also
  takes a real order: it is jv);
- a *continuous order* v of iv, ive, kv has a derivative, but no closed form (it is an
  integral over the order): asking for it raises an error that says so and what to do;
- the shape parameters of the regularized incomplete functions gammainc(a, x),
  gammaincc(a, x) and betainc(a, b, x) are differentiated by quadrature: ∂ᵏP/∂aᵏ is the
  integral of the k-th a-derivative of the integrand (primitives igamma_da, ibeta_dab,
  any order: their own x-derivatives are closed forms, their a, b-derivatives raise k),
  by double-exponential quadrature vectorized over the points, QUADPACK where its error
  estimate is too large;
- at poles (Γ at 0, −1, ...) and outside the real domain the derivative is what the
  formula gives there (inf or NaN), as in JAX.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.special as _ss

from adjoin.core.avals import ShapedArray
from adjoin.core.lazy_import import lazy_module
from adjoin.core.primitive import Primitive
from adjoin.primitives import lax
from adjoin.primitives._families import (
    TRANSCENDENTAL as T, binary, broadcast_tangent, elementwise_batch, elementwise_cost,
    elementwise_shape, nondifferentiable, unary, unbroadcast)
from adjoin.primitives.elementwise import log1p_p

_si = lazy_module("scipy.integrate")  # 0.5 s to import: loaded at the first quadrature
SQRT_PI = math.sqrt(math.pi)
SQRT_2PI = math.sqrt(2.0 * math.pi)
#: flops charged per element for a function evaluated by quadrature
QUADRATURE = 2000


def _no_derivative(fname, arg, why, fix):
    """A partial derivative that does not exist (or is not offered): a clear error."""
    def rule(*args):
        raise NotImplementedError(
            f"{fname}: no derivative with respect to its argument {arg}: {why}. {fix}")
    return rule


_INTEGER_ORDER_FIX = ("Differentiate with respect to x only: pass the order as a Python or "
                      "NumPy integer, or wrap it in ad.stop_gradient.")


def _integer_order(fname, n):
    """The order of jn / yn / polygamma as an integer array (a non-integer is an error)."""
    n = np.asarray(n)
    if n.dtype.kind in "iub":
        return n
    if not np.all(np.isnan(n) | (n == np.round(n))):
        raise ValueError(f"{fname}: the order n must be an integer, got {n}")
    return np.where(np.isnan(n), 0, n).astype(np.int64)


def elementwise(name, impl, partials, flops):
    """An elementwise broadcasting primitive of any number of arguments, with static params;
    ``partials(i, *args, out, **params)`` is ∂out/∂(argument i), written with primitives."""
    prim = Primitive(name, impl)

    def jvp(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        out_dot = None
        for i, t in enumerate(tangents):
            if t is None:
                continue
            t = broadcast_tangent(t * partials(i, *primals, out, **params), out)
            out_dot = t if out_dot is None else out_dot + t
        return out, out_dot

    def vjp(needs, out_bar, out, *primals, **params):
        return tuple(unbroadcast(out_bar * partials(i, *primals, out, **params), primals[i])
                     if needs[i] else None for i in range(len(primals)))

    prim.def_rules(shape=elementwise_shape(impl), jvp=jvp, vjp=vjp,
                   batch=elementwise_batch(prim), cost=elementwise_cost(flops))
    return prim


# --- error function family --------------------------------------------------------------
# erf' = 2/√π e^{−x²}, erfc' = −erf', erfinv' = √π/2 e^{erfinv(x)²},
# erfcinv' = −√π/2 e^{erfcinv(x)²}
erf_p = unary("erf", _ss.erf, lambda x, out: (2.0 / SQRT_PI) * lax.exp(-(x * x)), flops=T,
              uses="input")
erfc_p = unary("erfc", _ss.erfc, lambda x, out: (-2.0 / SQRT_PI) * lax.exp(-(x * x)), flops=T,
               uses="input")
erfinv_p = unary("erfinv", _ss.erfinv, lambda x, out: (0.5 * SQRT_PI) * lax.exp(out * out),
                 flops=T, uses="output")
erfcinv_p = unary("erfcinv", _ss.erfcinv,
                  lambda x, out: (-0.5 * SQRT_PI) * lax.exp(out * out), flops=T, uses="output")

# --- normal distribution function -------------------------------------------------------
# log Φ(x): (log Φ)' = φ(x)/Φ(x) = exp(−x²/2 − log Φ(x))/√(2π) (stable for x ≪ 0)
log_ndtr_p = unary("log_ndtr", _ss.log_ndtr,
                   lambda x, out: lax.exp(-0.5 * x * x - out) / SQRT_2PI, flops=T)
# Φ⁻¹(p): (Φ⁻¹)' = 1/φ(Φ⁻¹(p)) = √(2π) exp(Φ⁻¹(p)²/2)
ndtri_p = unary("ndtri", _ss.ndtri, lambda x, out: SQRT_2PI * lax.exp(0.5 * out * out),
                flops=T, uses="output")


# --- gamma family ----------------------------------------------------------------------------
# polygamma(n, x) = ψ⁽ⁿ⁾(x): ∂/∂x = ψ⁽ⁿ⁺¹⁾(x); n is an integer (no derivative)
def _polygamma_impl(n, x):
    return _ss.polygamma(_integer_order("polygamma", n), x)


polygamma_p = binary(
    "polygamma", _polygamma_impl,
    _no_derivative("polygamma", "n", "n is an integer order", _INTEGER_ORDER_FIX),
    lambda n, x, out: polygamma_p.bind(n + 1, x), flops=T, uses="input")


def _psi_n(n, x):
    """ψ⁽ⁿ⁾(x) for a constant integer n (a primitive application)."""
    return polygamma_p.bind(np.asarray(n, np.int64), x)


# ψ = Γ'/Γ: ψ' = ψ⁽¹⁾
digamma_p = unary("digamma", _ss.digamma, lambda x, out: _psi_n(1, x), flops=T, uses="input")
# log|Γ(x)|: derivative ψ(x) (also where Γ < 0)
gammaln_p = unary("gammaln", _ss.gammaln, lambda x, out: digamma_p.bind(x), flops=T,
                  uses="input")
# Γ' = Γ ψ
gamma_p = unary("gamma", _ss.gamma, lambda x, out: out * digamma_p.bind(x), flops=T)
# (1/Γ)' = −ψ/Γ (at the poles of Γ, where 1/Γ = 0, the formula gives NaN)
rgamma_p = unary("rgamma", _ss.rgamma, lambda x, out: -out * digamma_p.bind(x), flops=T)
# sign of Γ: piecewise constant, derivative 0
gammasgn_p = nondifferentiable("gammasgn", _ss.gammasgn)

# B(a, b) = Γ(a)Γ(b)/Γ(a+b): ∂B/∂a = B (ψ(a) − ψ(a+b)), ∂B/∂b = B (ψ(b) − ψ(a+b))
beta_p = binary("beta", _ss.beta,
                lambda a, b, out: out * (digamma_p.bind(a) - digamma_p.bind(a + b)),
                lambda a, b, out: out * (digamma_p.bind(b) - digamma_p.bind(a + b)), flops=T)
# log|B(a, b)|: ∂/∂a = ψ(a) − ψ(a+b), ∂/∂b = ψ(b) − ψ(a+b)
betaln_p = binary("betaln", _ss.betaln,
                  lambda a, b, out: digamma_p.bind(a) - digamma_p.bind(a + b),
                  lambda a, b, out: digamma_p.bind(b) - digamma_p.bind(a + b), flops=T,
                  uses="input")


# --- derivatives of 1/Γ(a) and 1/B(a, b) in their parameters (for the incomplete functions)
def _exp_derivatives(f_partials, m, n):
    """∂ᵃᵐ∂ᵇⁿ e^f from the partials f_{i,j} of f (f_partials(i, j), i + j ≥ 1):
    h_{m+1,n} = Σ_{i≤m, j≤n} C(m,i) C(n,j) f_{i+1,j} h_{m−i,n−j} and the same in b."""
    h = {(0, 0): 1.0}

    def get(p, q):
        if (p, q) not in h:
            if p > 0:
                h[p, q] = sum(math.comb(p - 1, i) * math.comb(q, j) * f_partials(i + 1, j)
                              * get(p - 1 - i, q - j) for i in range(p) for j in range(q + 1))
            else:
                h[p, q] = sum(math.comb(q - 1, j) * f_partials(0, j + 1) * get(0, q - 1 - j)
                              for j in range(q))
        return h[p, q]

    return get(m, n)


def _rgamma_dk_impl(a, k):
    """dᵏ/daᵏ (1/Γ(a)) for a > 0: 1/Γ = e^f, f = −log Γ, f⁽ⁱ⁾ = −ψ⁽ⁱ⁻¹⁾(a)."""
    a = np.asarray(a, float)
    with np.errstate(all="ignore"):
        f = {i: -_ss.polygamma(i - 1, a) for i in range(1, k + 1)}
        return _ss.rgamma(a) * _exp_derivatives(lambda i, j: f[i], k, 0)


# rgamma_dk(a; k) = dᵏ(1/Γ)/daᵏ: its derivative is rgamma_dk(a; k + 1)
def _rgamma_dk_jvp(primals, tangents, k):
    a, = primals
    out = rgamma_dk_p.bind(a, k=k)
    return out, None if tangents[0] is None else tangents[0] * rgamma_dk_p.bind(a, k=k + 1)


rgamma_dk_p = Primitive(
    "rgamma_dk", _rgamma_dk_impl, jvp=_rgamma_dk_jvp,
    vjp=lambda needs, out_bar, out, a, k: (out_bar * rgamma_dk_p.bind(a, k=k + 1),),
    shape=lambda a, k: ShapedArray(a.shape, np.result_type(a.dtype, np.float64)),
    batch=lambda vals, dims, k: (rgamma_dk_p.bind(vals[0], k=k), dims[0]),
    cost=lambda a, k: (k + 1) ** 2 * T * max(a.size, 1))


def _rbeta_dk_impl(a, b, m, n):
    """∂ᵃᵐ∂ᵇⁿ (1/B(a, b)) for a, b > 0: 1/B = e^f, f = −log B,
    f_{i,0} = −ψ⁽ⁱ⁻¹⁾(a) + ψ⁽ⁱ⁻¹⁾(a+b), f_{0,j} likewise in b, f_{i,j} = ψ⁽ⁱ⁺ʲ⁻¹⁾(a+b)."""
    a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
    with np.errstate(all="ignore"):
        return np.exp(-_ss.betaln(a, b)) * _exp_derivatives(_neg_log_beta_partials(a, b), m, n)


def _neg_log_beta_partials(a, b):
    """f(i, j) = ∂ᵃⁱ∂ᵇʲ f for f = −log B(a, b), i + j ≥ 1 (memoized):
    f_{i,0} = −ψ⁽ⁱ⁻¹⁾(a) + ψ⁽ⁱ⁻¹⁾(a+b), f_{0,j} likewise in b, f_{i,j} = ψ⁽ⁱ⁺ʲ⁻¹⁾(a+b)."""
    cache = {}

    def f(i, j):
        if (i, j) not in cache:
            v = _ss.polygamma(i + j - 1, a + b)
            if j == 0:
                v = v - _ss.polygamma(i - 1, a)
            if i == 0:
                v = v - _ss.polygamma(j - 1, b)
            cache[i, j] = v
        return cache[i, j]

    return f


# rbeta_dk(a, b; m, n) = ∂ᵃᵐ∂ᵇⁿ(1/B): ∂/∂a is rbeta_dk(m + 1, n), ∂/∂b is rbeta_dk(m, n + 1)
rbeta_dk_p = elementwise(
    "rbeta_dk", lambda a, b, m, n: _rbeta_dk_impl(a, b, m, n),
    lambda i, a, b, out, m, n: rbeta_dk_p.bind(a, b, m=m + (i == 0), n=n + (i == 1)), 4 * T)


# --- regularized incomplete gamma functions ------------------------------------------------
def _quad(fun, lo, hi, what, points=None):
    """∫_lo^hi fun: adaptive quadrature (QUADPACK) to 1e-11 relative, or a clear error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        val, err = _si.quad(fun, lo, hi, epsabs=1e-15, epsrel=1e-11, limit=400, points=points)
    if not np.isfinite(val) or err > 1e-8 * max(abs(val), 1e-6):
        raise FloatingPointError(
            f"{what}: the quadrature for the shape-parameter derivative did not converge "
            f"(value {val:.3g}, error estimate {err:.2g}); the parameters are outside the range "
            "where it is reliable (shape parameters in about (0.05, 100)).")
    return val


# Double-exponential quadrature (Takahasi & Mori 1974), one set of nodes for every point:
# tanh-sinh on (0, x): t = x·expit(2v), v = (π/2) sinh τ, dt/dτ = x·2 expit(2v) expit(−2v)
# (π/2) cosh τ (it takes the algebraic singularity tᵃ⁻¹ at 0 in its stride); exp-sinh on
# (x, ∞): t = x + eᵛ, dt/dτ = eᵛ (π/2) cosh τ. Step h = 1/32; the sum with step 2h (every
# other node) is the error estimate.
_DE_H = 1.0 / 32
_CHUNK = 2048


def _de_nodes(lo, hi):
    tau = np.arange(round(lo / _DE_H), round(hi / _DE_H) + 1) * _DE_H
    return tau, 0.5 * np.pi * np.sinh(tau), np.arange(len(tau)) % 2 == (round(lo / _DE_H) % 2)


_TS_TAU, _TS_V, _TS_EVEN = _de_nodes(-6.0, 3.5)
_TS_S = _ss.expit(2.0 * _TS_V)
_TS_LOG_S = _ss.log_expit(2.0 * _TS_V)
_TS_LOGW = (np.log(2.0 * 0.5 * np.pi * np.cosh(_TS_TAU)) + _ss.log_expit(2.0 * _TS_V)
            + _ss.log_expit(-2.0 * _TS_V))
_ES_TAU, _ES_V, _ES_EVEN = _de_nodes(-4.0, 3.2)
_ES_LOGW = _ES_V + np.log(0.5 * np.pi * np.cosh(_ES_TAU))


def _de_sum(f, poly):
    """Σⱼ fⱼ polyⱼ h per row and whether the row needs the fallback: the step-2h sum
    disagrees beyond 1e-8 of Σ|f poly| h (the step-h sum, with twice the correct digits
    of the step-2h one, is then good to about 1e-14 of it), or the sum is not finite."""
    g = f * poly
    g = np.where(np.isfinite(g), g, np.nan)
    full = _DE_H * np.sum(g, axis=-1)
    even = _TS_EVEN if g.shape[-1] == len(_TS_EVEN) else _ES_EVEN
    half = 2.0 * _DE_H * np.sum(g[:, even], axis=-1)
    scale = _DE_H * np.sum(np.abs(g), axis=-1)
    bad = ~np.isfinite(full) | (np.abs(full - half) > 1e-8 * scale + 1e-300)
    return np.where(np.isfinite(full), full, 0.0), bad


def _igamma_da_quad(ai, xi, k):
    """∂ᵏP(a, x)/∂aᵏ at one point by adaptive quadrature (the fallback of the DE rule): the
    integrand exp((a−1) log t − t − log Γ(a)) Σ_p C(k,p) hₖ₋ₚ (log t)ᵖ, with the peak t = a − 1
    as a break point; for a < 1, u = tᵃ (tᵃ⁻¹dt = du/a) removes the singularity at 0."""
    fp = {i: -float(_ss.polygamma(i - 1, ai)) for i in range(1, k + 1)}
    coef = [math.comb(k, p) * float(_exp_derivatives(lambda i, j: fp[i], k - p, 0))
            for p in range(k + 1)]
    lg = float(_ss.gammaln(ai))

    def f(t):
        if t <= 0:
            return 0.0
        lt = math.log(t)
        return math.exp((ai - 1.0) * lt - t - lg) * sum(c * lt ** p for p, c in enumerate(coef))

    if xi > ai:
        return -_quad(f, xi, np.inf, "gammainc")
    if ai >= 1:
        peak = ai - 1.0
        return _quad(f, 0.0, xi, "gammainc", points=(peak,) if 0 < peak < xi else None)

    def g(u):       # f(t) dt with t = u^(1/a): tᵃ⁻¹dt = du/a
        if u <= 0:
            return 0.0
        lt = math.log(u) / ai
        return math.exp(-math.exp(lt) - lg) * sum(c * lt ** p for p, c in enumerate(coef)) / ai

    return _quad(g, 0.0, xi ** ai, "gammainc")


def _igamma_da_impl(a, x, k):
    """∂ᵏP(a, x)/∂aᵏ, k ≥ 1, P(a, x) = ∫₀ˣ tᵃ⁻¹e⁻ᵗ/Γ(a) dt:
    ∂ᵏP = ∫₀ˣ tᵃ⁻¹e⁻ᵗ/Γ(a) Σ_p C(k,p) hₖ₋ₚ(a) (log t)ᵖ dt, hⱼ = Γ(a)·(1/Γ)⁽ʲ⁾(a), over
    (0, x) for x ≤ a and −∫ₓ^∞ for x > a (∫₀^∞ ∂ᵏ(...) = ∂ᵏ1 = 0): double-exponential
    quadrature on all points at once (tanh-sinh on (0, x), exp-sinh on (x, ∞)), and
    adaptive quadrature (QUADPACK) for the points where its two step sizes disagree."""
    a, x = np.broadcast_arrays(np.asarray(a, float), np.asarray(x, float))
    shape = a.shape
    a, x = a.ravel(), x.ravel()
    out = np.full(a.shape, np.nan)
    valid = (a > 0) & (x >= 0)
    out[valid & ((x == 0) | np.isinf(x))] = 0.0
    todo = np.flatnonzero(valid & (x > 0) & np.isfinite(x))
    for chunk in np.array_split(todo, max(1, len(todo) // _CHUNK + 1)):
        if not len(chunk):
            continue
        ac, xc = a[chunk], x[chunk]
        with np.errstate(all="ignore"):
            fp = {i: -_ss.polygamma(i - 1, ac) for i in range(1, k + 1)}
            hs = [_exp_derivatives(lambda i, j: fp[i], j, 0) for j in range(k + 1)]
            coef = [math.comb(k, p) * np.asarray(hs[k - p], float) * np.ones(len(chunk))
                    for p in range(k + 1)]
            lower = xc <= ac + np.sqrt(ac)
            val = np.empty(len(chunk))
            bad = np.zeros(len(chunk), bool)
            for sel, tail in ((lower, False), (~lower, True)):
                if not sel.any():
                    continue
                ai, xi = ac[sel][:, None], xc[sel][:, None]
                if tail:    # t = x + eᵛ
                    log_t = np.logaddexp(np.log(xi), _ES_V)
                    log_f = ((ai - 1.0) * log_t - (xi + np.exp(_ES_V)) - _ss.gammaln(ai)
                             + _ES_LOGW)
                else:       # t = x·expit(2v)
                    log_t = np.log(xi) + _TS_LOG_S
                    log_f = ((ai - 1.0) * log_t - xi * _TS_S - _ss.gammaln(ai)
                             + np.log(xi) + _TS_LOGW)
                poly = sum(c[sel][:, None] * log_t ** p for p, c in enumerate(coef))
                v, b = _de_sum(np.exp(log_f), poly)
                val[sel] = -v if tail else v
                bad[sel] = b
        for i in np.flatnonzero(bad):
            val[i] = _igamma_da_quad(float(ac[i]), float(xc[i]), k)
        out[chunk] = val
    return out.reshape(shape)


def _igamma_density_dk(a, x, k):
    """∂ᵏ/∂aᵏ of the integrand xᵃ⁻¹e⁻ˣ/Γ(a) at x: Σ_p C(k,p) (1/Γ)⁽ᵏ⁻ᵖ⁾(a) (log x)ᵖ xᵃ⁻¹e⁻ˣ
    (traced; (1/Γ)⁽ʲ⁾ is rgamma_dk)."""
    logx = lax.log(x)
    w = lax.exp((a - 1.0) * logx - x)
    total = None
    for p in range(k + 1):
        term = math.comb(k, p) * (rgamma_p.bind(a) if k == p else rgamma_dk_p.bind(a, k=k - p))
        if p:
            term = term * lax.power(logx, float(p))
        total = term if total is None else total + term
    return total * w


# igamma_da(a, x; k) = ∂ᵏP/∂aᵏ: ∂/∂a = igamma_da(k + 1), ∂/∂x = ∂ᵏ/∂aᵏ of xᵃ⁻¹e⁻ˣ/Γ(a)
igamma_da_p = elementwise(
    "igamma_da", lambda a, x, k: _igamma_da_impl(a, x, k),
    lambda i, a, x, out, k: igamma_da_p.bind(a, x, k=k + 1) if i == 0
    else _igamma_density_dk(a, x, k), QUADRATURE)


def _igamma_density(a, x):
    """xᵃ⁻¹e⁻ˣ/Γ(a) = exp((a − 1) log x − x − log Γ(a)) (a > 0)."""
    return lax.exp((a - 1.0) * lax.log(x) - x - gammaln_p.bind(a))


# P(a, x) = γ(a, x)/Γ(a): ∂P/∂x = xᵃ⁻¹e⁻ˣ/Γ(a), ∂P/∂a = igamma_da(a, x; 1) (quadrature)
gammainc_p = binary("gammainc", _ss.gammainc,
                    lambda a, x, out: igamma_da_p.bind(a, x, k=1),
                    lambda a, x, out: _igamma_density(a, x), flops=4 * T, uses="input")
# Q(a, x) = 1 − P(a, x): ∂Q/∂x = −xᵃ⁻¹e⁻ˣ/Γ(a), ∂Q/∂a = −igamma_da(a, x; 1)
gammaincc_p = binary("gammaincc", _ss.gammaincc,
                     lambda a, x, out: -igamma_da_p.bind(a, x, k=1),
                     lambda a, x, out: -_igamma_density(a, x), flops=4 * T, uses="input")


# --- regularized incomplete beta function ----------------------------------------------------
def _ibeta_lower_quad(a, b, x, m, n):
    """∫₀ˣ ∂ᵃᵐ∂ᵇⁿ[tᵃ⁻¹(1−t)ᵇ⁻¹/B(a,b)] dt at one point by adaptive quadrature (the fallback of
    the DE rule): the integrand exp((a−1) log t + (b−1) log(1−t) − log B) Σ C C h (log t)ᵖ
    (log(1−t))^q, with the mode as a break point; for a < 1, u = tᵃ (tᵃ⁻¹dt = du/a)."""
    cache = {}

    def fpart(i, j):
        if (i, j) not in cache:
            v = float(_ss.polygamma(i + j - 1, a + b))
            if j == 0:
                v -= float(_ss.polygamma(i - 1, a))
            if i == 0:
                v -= float(_ss.polygamma(j - 1, b))
            cache[i, j] = v
        return cache[i, j]

    coef = [(p, q, math.comb(m, p) * math.comb(n, q)
             * float(_exp_derivatives(fpart, m - p, n - q)))
            for p in range(m + 1) for q in range(n + 1)]
    lb = float(_ss.betaln(a, b))

    def poly(lt, l1t):
        return sum(c * lt ** p * l1t ** q for p, q, c in coef)

    if a >= 1:
        def f(t):
            if t <= 0:
                return 0.0
            lt, l1t = math.log(t), math.log1p(-t)
            return math.exp((a - 1.0) * lt + (b - 1.0) * l1t - lb) * poly(lt, l1t)
        mode = (a - 1.0) / (a + b - 2.0) if a + b > 2 else 0.0
        return _quad(f, 0.0, x, "betainc", points=(mode,) if 0 < mode < x else None)

    def g(u):       # t = u^(1/a): tᵃ⁻¹dt = du/a
        if u <= 0:
            return 0.0
        lt = math.log(u) / a
        l1t = math.log1p(-math.exp(lt))
        return math.exp((b - 1.0) * l1t - lb) * poly(lt, l1t) / a

    return _quad(g, 0.0, x ** a, "betainc")


def _ibeta_lower(a, b, x, m, n):
    """∫₀ˣ ∂ᵃᵐ∂ᵇⁿ[tᵃ⁻¹(1−t)ᵇ⁻¹/B(a,b)] dt for arrays a, b, x (x < 1): tanh-sinh on (0, x)
    on all points at once, adaptive quadrature where its two step sizes disagree.
    ∂ᵃᵐ∂ᵇⁿ(1/B) = (1/B)·h_{m,n}(a, b), h from the partials of f = −log B."""
    out = np.empty(a.shape)
    for chunk in np.array_split(np.arange(len(a)), max(1, len(a) // _CHUNK + 1)):
        if not len(chunk):
            continue
        ac, bc, xc = a[chunk], b[chunk], x[chunk]
        with np.errstate(all="ignore"):
            f = _neg_log_beta_partials(ac, bc)
            ai, bi, xi = ac[:, None], bc[:, None], xc[:, None]
            log_t = np.log(xi) + _TS_LOG_S
            l1t = np.log1p(-xi * _TS_S)
            log_f = ((ai - 1.0) * log_t + (bi - 1.0) * l1t - _ss.betaln(ai, bi) + np.log(xi)
                     + _TS_LOGW)
            poly = 0.0
            for p in range(m + 1):
                for q in range(n + 1):
                    h = np.asarray(_exp_derivatives(f, m - p, n - q), float) * np.ones(len(ac))
                    poly = poly + (math.comb(m, p) * math.comb(n, q)) * h[:, None] \
                        * log_t ** p * l1t ** q
            val, bad = _de_sum(np.exp(log_f), poly)
        for i in np.flatnonzero(bad):
            val[i] = _ibeta_lower_quad(float(ac[i]), float(bc[i]), float(xc[i]), m, n)
        out[chunk] = val
    return out


def _ibeta_dab_impl(a, b, x, m, n):
    """∂ᵃᵐ∂ᵇⁿ I_x(a, b), m + n ≥ 1, by quadrature of the differentiated integrand; for
    x > a/(a+b) by the reflection I_x(a, b) = 1 − I_{1−x}(b, a) (the short side)."""
    a, b, x = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float),
                                  np.asarray(x, float))
    shape = a.shape
    a, b, x = a.ravel(), b.ravel(), x.ravel()
    out = np.full(a.shape, np.nan)
    valid = (a > 0) & (b > 0) & (x >= 0) & (x <= 1)
    out[valid & ((x == 0) | (x == 1))] = 0.0
    inner = valid & (x > 0) & (x < 1)
    with np.errstate(all="ignore"):
        low = inner & (x <= a / (a + b))
    high = inner & ~low
    if low.any():
        out[low] = _ibeta_lower(a[low], b[low], x[low], m, n)
    if high.any():
        out[high] = -_ibeta_lower(b[high], a[high], 1.0 - x[high], n, m)
    return out.reshape(shape)


def _ibeta_density_dk(a, b, x, m, n):
    """∂ᵃᵐ∂ᵇⁿ of xᵃ⁻¹(1−x)ᵇ⁻¹/B(a,b) at x (traced):
    Σ C(m,p) C(n,q) (1/B)_{m−p,n−q} (log x)ᵖ (log(1−x))^q xᵃ⁻¹(1−x)ᵇ⁻¹."""
    lx, l1x = lax.log(x), log1p_p.bind(-x)
    w = lax.exp((a - 1.0) * lx + (b - 1.0) * l1x)
    total = None
    for p in range(m + 1):
        for q in range(n + 1):
            i, j = m - p, n - q
            r = lax.exp(-betaln_p.bind(a, b)) if i == j == 0 else rbeta_dk_p.bind(a, b, m=i, n=j)
            term = (math.comb(m, p) * math.comb(n, q)) * r
            if p:
                term = term * lax.power(lx, float(p))
            if q:
                term = term * lax.power(l1x, float(q))
            total = term if total is None else total + term
    return total * w


# ibeta_dab(a, b, x; m, n) = ∂ᵃᵐ∂ᵇⁿ I_x(a, b): its a-, b-derivatives raise m or n by one;
# its x-derivative is ∂ᵃᵐ∂ᵇⁿ of the density xᵃ⁻¹(1−x)ᵇ⁻¹/B(a, b)
def _ibeta_dab_partial(i, a, b, x, out, m, n):
    if i == 0:
        return ibeta_dab_p.bind(a, b, x, m=m + 1, n=n)
    if i == 1:
        return ibeta_dab_p.bind(a, b, x, m=m, n=n + 1)
    return _ibeta_density_dk(a, b, x, m, n)


ibeta_dab_p = elementwise("ibeta_dab", lambda a, b, x, m, n: _ibeta_dab_impl(a, b, x, m, n),
                       _ibeta_dab_partial, QUADRATURE)


# I_x(a, b): ∂/∂x = xᵃ⁻¹(1−x)ᵇ⁻¹/B(a, b); ∂/∂a, ∂/∂b by quadrature (ibeta_dab)
def _betainc_partial(i, a, b, x, out):
    if i == 0:
        return ibeta_dab_p.bind(a, b, x, m=1, n=0)
    if i == 1:
        return ibeta_dab_p.bind(a, b, x, m=0, n=1)
    return _ibeta_density_dk(a, b, x, 0, 0)


betainc_p = elementwise("betainc", _ss.betainc, _betainc_partial, 4 * T)


# --- Bessel functions ------------------------------------------------------------------------
# J₀' = −J₁, J₁' = (J₀ − J₂)/2, Jₙ' = (Jₙ₋₁ − Jₙ₊₁)/2; the same recurrences for Y.
def _yn_impl(n, x):
    return _ss.yn(_integer_order("yn", n), x)


_int = lambda n: np.asarray(n, np.int64)
# jn is SciPy's jv: a real order is accepted (its derivative in the order has no closed form)
jn_p = binary("jn", _ss.jv,
              _no_derivative("jn", "n", "the order is an integer (and for a real order the "
                             "derivative has no closed form)", _INTEGER_ORDER_FIX),
              lambda n, x, out: 0.5 * (jn_p.bind(n - 1, x) - jn_p.bind(n + 1, x)), flops=T,
              uses="input")
yn_p = binary("yn", _yn_impl,
              _no_derivative("yn", "n", "n is an integer order", _INTEGER_ORDER_FIX),
              lambda n, x, out: 0.5 * (yn_p.bind(n - 1, x) - yn_p.bind(n + 1, x)), flops=T,
              uses="input")
j0_p = unary("j0", _ss.j0, lambda x, out: -j1_p.bind(x), flops=T, uses="input")
j1_p = unary("j1", _ss.j1, lambda x, out: 0.5 * (j0_p.bind(x) - jn_p.bind(_int(2), x)),
             flops=T, uses="input")
y0_p = unary("y0", _ss.y0, lambda x, out: -y1_p.bind(x), flops=T, uses="input")
y1_p = unary("y1", _ss.y1, lambda x, out: 0.5 * (y0_p.bind(x) - yn_p.bind(_int(2), x)),
             flops=T, uses="input")

# modified: I₀' = I₁, I₁' = (I₀ + I₂)/2, I_v' = (I_{v−1} + I_{v+1})/2, K_v' = −(K_{v−1} + K_{v+1})/2;
# exponentially scaled ive = I_v e^{−|x|}: ive' = (ive_{v−1} + ive_{v+1})/2 − sign(x) ive
_ORDER_FIX = ("The derivative in the order is an integral with no closed form; treat v as a "
              "constant (ad.stop_gradient), or difference in v yourself.")
iv_p = binary("iv", _ss.iv,
              _no_derivative("iv", "v", "no closed form in the order", _ORDER_FIX),
              lambda v, x, out: 0.5 * (iv_p.bind(v - 1, x) + iv_p.bind(v + 1, x)), flops=T,
              uses="input")
ive_p = binary("ive", _ss.ive,
               _no_derivative("ive", "v", "no closed form in the order", _ORDER_FIX),
               lambda v, x, out: 0.5 * (ive_p.bind(v - 1, x) + ive_p.bind(v + 1, x))
               - lax.sign(x) * out, flops=T)
kv_p = binary("kv", _ss.kv,
              _no_derivative("kv", "v", "no closed form in the order", _ORDER_FIX),
              lambda v, x, out: -0.5 * (kv_p.bind(v - 1, x) + kv_p.bind(v + 1, x)), flops=T,
              uses="input")
i0_p = unary("i0", _ss.i0, lambda x, out: i1_p.bind(x), flops=T, uses="input")
i1_p = unary("i1", _ss.i1, lambda x, out: 0.5 * (i0_p.bind(x) + iv_p.bind(2.0, x)), flops=T,
             uses="input")
i0e_p = unary("i0e", _ss.i0e, lambda x, out: i1e_p.bind(x) - lax.sign(x) * out, flops=T)
i1e_p = unary("i1e", _ss.i1e,
              lambda x, out: 0.5 * (i0e_p.bind(x) + ive_p.bind(2.0, x)) - lax.sign(x) * out,
              flops=T)
