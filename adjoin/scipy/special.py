"""adjoin.scipy.special: SciPy's special functions, differentiable.

- exponentials and logs: logsumexp, softmax, log_softmax, expit, logit, xlogy, xlog1py, entr;
- error function and normal distribution: erf, erfc, erfinv, erfcinv, ndtr, log_ndtr, ndtri;
- gamma and beta: gamma, gammaln, gammasgn, rgamma, digamma (psi), polygamma, multigammaln,
  beta, betaln, and the regularized incomplete functions gammainc, gammaincc, betainc;
- Bessel: j0, j1, jn, y0, y1, yn, i0, i0e, i1, i1e, iv, ive, kv.

Each is a primitive of adjoin/primitives/special.py (or reductions/elementwise) or a short
composition of them. Derivative conventions (where there is a choice):

- the integer order n of jn, yn and polygamma has no derivative; the continuous order v of
  iv, ive and kv has one but no closed form: differentiating with respect to an order raises
  an error that says so (treat it as a constant with ad.stop_gradient);
- the shape parameters of gammainc(a, x), gammaincc(a, x) and betainc(a, b, x) are
  differentiated (JAX offers ∂/∂a of gammainc, not of betainc): the derivatives of any order
  are integrals of the differentiated integrand, computed by double-exponential quadrature
  on all points at once (adaptive QUADPACK where its error estimate is too large), to about
  1e-10 relative (checked for shape parameters in (0.05, 80); where neither converges, an
  error with the residual); about 10× JAX's series for ∂P/∂a;
  ∂/∂x is the closed-form density;
- xlogy, xlog1py: ∂/∂x = log y and ∂/∂y = 0 at x = 0 (JAX's rule); entr(0) has derivative +inf;
- at poles and outside a function's real domain the derivative is what its formula gives
  (inf or NaN), e.g. rgamma at 0, −1, −2, ... (JAX does the same).
"""
from __future__ import annotations

import numpy as np
import scipy.special as _ss

import adjoin.numpy as anp
from adjoin.backends import is_foreign as _foreign
from adjoin.core.axes import normalize_axis
from adjoin.core.trace import shape_of, trace_stack
from adjoin.primitives.elementwise import xlog1py_p, xlogy_p
from adjoin.primitives import special as _sp
from adjoin.primitives.reductions import softmax_p

__all__ = ["logsumexp", "softmax", "log_softmax", "expit", "logit", "xlogy", "xlog1py", "entr",
           "erf", "erfc", "erfinv", "erfcinv", "ndtr", "log_ndtr", "ndtri",
           "gamma", "gammaln", "gammasgn", "rgamma", "digamma", "psi", "polygamma",
           "multigammaln", "beta", "betaln", "betainc", "gammainc", "gammaincc",
           "j0", "j1", "jn", "y0", "y1", "yn", "i0", "i0e", "i1", "i1e", "iv", "ive", "kv"]


def _finite_max(a, axes):
    """max over axes (keepdims), replaced by 0 where it is not finite (all −inf, or inf).

    Its derivative cancels in logsumexp (m + log Σ exp(a − m)), so no stop_gradient is
    needed; the rule of max (ties split) keeps that cancellation exact.
    """
    m = anp.max(a, axis=axes, keepdims=True)
    return anp.where(anp.isfinite(m), m, 0.0)


def _lse_axes(axis, ndim):
    """The reduced axes: normalize_axis, except that a 0-d array takes axis 0 or −1 (or a
    tuple of them) and has no axis to reduce, as in NumPy and SciPy."""
    if ndim == 0 and axis is not None:
        for ax in (axis if isinstance(axis, (tuple, list)) else (axis,)):
            if int(ax) not in (0, -1):
                raise ValueError(f"logsumexp: axis {ax} is out of bounds for a 0-d array")
        return ()
    return normalize_axis(axis, ndim)


def _reduced_shape(shape, axes, keepdims):
    """The shape of a NumPy reduction over ``axes`` (NumPy's keepdims rule)."""
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """``scipy.special.logsumexp``: log Σ b·exp(a) over ``axis``, computed stably; its
    derivative in a is softmax (weighted by b).

    The result has NumPy's reduction shape (keepdims keeps the reduced axes as size 1); SciPy
    returns shape (1,) instead of () for a 0-d input with keepdims=True or axis=(), adjoin
    returns () (as NumPy's reductions and JAX do). A negative sum without return_sign is
    NaN, as in SciPy.
    """
    if not trace_stack and not _foreign(a) and not _foreign(b):  # others: the primitives
        out = _ss.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign)
        shape = np.shape(a) if b is None else np.broadcast_shapes(np.shape(a), np.shape(b))
        want = _reduced_shape(shape, _lse_axes(axis, len(shape)), keepdims)
        fix = lambda v: v if np.shape(v) == want else np.reshape(v, want)
        return (fix(out[0]), fix(out[1])) if return_sign else fix(out)
    if b is not None:
        a, b = anp.broadcast_arrays(a, b)
    axes = _lse_axes(axis, len(shape_of(a)))
    m = _finite_max(a, axes)
    e = anp.exp(a - m)
    if b is not None:
        e = e * b
    s = anp.sum(e, axis=axes, keepdims=True)
    if return_sign:
        sign = anp.sign(s)
        s = anp.abs(s)
    elif b is not None:
        s = anp.where(s < 0, np.nan, s)     # log of a negative sum: NaN (without a warning)
    with np.errstate(divide="ignore"):      # log 0 = −inf is the answer (all a = −inf, or b = 0)
        out = anp.log(s) + m
    if not keepdims:
        out = anp.reshape(out, _reduced_shape(shape_of(out), axes, False))
        if return_sign:
            sign = anp.reshape(sign, shape_of(out))
    return (out, sign) if return_sign else out


def softmax(x, axis=None):
    """``scipy.special.softmax``: exp(x) / Σ exp(x) over ``axis`` (None: all axes).
    ż = z ⊙ ẋ − z (zᵀẋ)."""
    if not trace_stack and not _foreign(x):  # other backends: through the primitives
        return _ss.softmax(x, axis=axis)
    return softmax_p.bind(x, axes=normalize_axis(axis, len(shape_of(x))))


def log_softmax(x, axis=None):
    """``scipy.special.log_softmax``: x − logsumexp(x), stably."""
    if not trace_stack and not _foreign(x):  # other backends: through the primitives
        return _ss.log_softmax(x, axis=axis)
    axes = normalize_axis(axis, len(shape_of(x)))
    shifted = x - _finite_max(x, axes)
    return shifted - anp.log(anp.sum(anp.exp(shifted), axis=axes, keepdims=True))


def expit(x):
    """``scipy.special.expit``: 1/(1 + e^{−x}) = (1 + tanh(x/2))/2 (stable for all x)."""
    if not trace_stack and not _foreign(x):  # other backends: through the primitives
        return _ss.expit(x)
    return 0.5 * anp.tanh(0.5 * x) + 0.5


def logit(p):
    """``scipy.special.logit``: log(p/(1 − p))."""
    if not trace_stack and not _foreign(p):  # other backends: through the primitives
        return _ss.logit(p)
    return anp.log(p) - anp.log1p(-p)


def xlogy(x, y):
    """``scipy.special.xlogy``: x·log(y), 0 where x = 0 (primitive 'xlogy').

    ∂/∂x = log y and ∂/∂y = x/y, also at x = 0 (JAX's convention): grad at (0, 2) is
    (log 2, 0); ∂/∂y is 0 at x = 0 even where y = 0.
    """
    if not trace_stack and not _foreign(x) and not _foreign(y):  # others: the primitives
        return _ss.xlogy(x, y)
    return xlogy_p.bind(x, y)


def xlog1py(x, y):
    """``scipy.special.xlog1py``: x·log1p(y), 0 where x = 0 (primitive 'xlog1py').

    ∂/∂x = log1p(y) and ∂/∂y = x/(1 + y), also at x = 0 (∂/∂y is then 0, even at y = −1).
    """
    if not trace_stack and not _foreign(x) and not _foreign(y):  # others: the primitives
        return _ss.xlog1py(x, y)
    return xlog1py_p.bind(x, y)


def entr(x):
    """``scipy.special.entr``: −x log x for x > 0, 0 at x = 0, −inf for x < 0.
    Derivative −(log x + 1) (+inf at 0; 0 for x < 0, where the value is the constant −inf)."""
    if not trace_stack and not _foreign(x):  # other backends: through the primitives
        return _ss.entr(x)
    ok = x >= 0
    safe = anp.where(ok, x, 1.0)           # double where: no NaN cotangent from x < 0
    return anp.where(ok, -xlogy(safe, safe), -np.inf)


def _elementwise(prim, name, doc):
    def f(*args):
        return prim.bind(*args)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = doc
    return f


erf = _elementwise(_sp.erf_p, "erf", "``scipy.special.erf``: (2/√π)∫₀ˣ e^{−t²}dt; erf' = 2/√π e^{−x²}.")
erfc = _elementwise(_sp.erfc_p, "erfc", "``scipy.special.erfc``: 1 − erf(x), accurate for large x.")
erfinv = _elementwise(_sp.erfinv_p, "erfinv",
                      "``scipy.special.erfinv`` on (−1, 1); erfinv' = √π/2 e^{erfinv(x)²}.")
erfcinv = _elementwise(_sp.erfcinv_p, "erfcinv",
                       "``scipy.special.erfcinv`` on (0, 2); erfcinv' = −√π/2 e^{erfcinv(x)²}.")
log_ndtr = _elementwise(_sp.log_ndtr_p, "log_ndtr",
                        "``scipy.special.log_ndtr``: log Φ(x), stable for x ≪ 0; its derivative "
                        "φ(x)/Φ(x) is computed as exp(−x²/2 − log Φ(x))/√(2π).")
ndtri = _elementwise(_sp.ndtri_p, "ndtri",
                     "``scipy.special.ndtri``: Φ⁻¹(p) on (0, 1); derivative √(2π) e^{Φ⁻¹(p)²/2}.")
gamma = _elementwise(_sp.gamma_p, "gamma", "``scipy.special.gamma``: Γ(x); Γ' = Γψ.")
gammaln = _elementwise(_sp.gammaln_p, "gammaln",
                       "``scipy.special.gammaln``: log|Γ(x)|; derivative ψ(x).")
gammasgn = _elementwise(_sp.gammasgn_p, "gammasgn",
                        "``scipy.special.gammasgn``: the sign of Γ(x) (derivative 0).")
rgamma = _elementwise(_sp.rgamma_p, "rgamma",
                      "``scipy.special.rgamma``: 1/Γ(x) (0 at the poles of Γ); derivative −ψ/Γ.")
digamma = _elementwise(_sp.digamma_p, "digamma",
                       "``scipy.special.digamma``: ψ = Γ'/Γ; derivative polygamma(1, x).")
psi = digamma
polygamma = _elementwise(_sp.polygamma_p, "polygamma",
                         "``scipy.special.polygamma(n, x)``: ψ⁽ⁿ⁾(x) for integer n ≥ 0; "
                         "∂/∂x = ψ⁽ⁿ⁺¹⁾(x), n has no derivative.")
beta = _elementwise(_sp.beta_p, "beta",
                    "``scipy.special.beta``: B(a, b) = Γ(a)Γ(b)/Γ(a+b); ∂B/∂a = B(ψ(a) − ψ(a+b)).")
betaln = _elementwise(_sp.betaln_p, "betaln",
                      "``scipy.special.betaln``: log|B(a, b)|; ∂/∂a = ψ(a) − ψ(a+b).")
betainc = _elementwise(
    _sp.betainc_p, "betainc",
    "``scipy.special.betainc(a, b, x)``: the regularized incomplete beta function I_x(a, b).\n\n"
    "∂/∂x = xᵃ⁻¹(1−x)ᵇ⁻¹/B(a, b). ∂/∂a and ∂/∂b (any order) by quadrature of the "
    "differentiated integrand (double-exponential, about 1e-10 relative; a, b in about "
    "(0.05, 80)): slower than the value, so keep a and b constant when their derivative is "
    "not needed.")
gammainc = _elementwise(
    _sp.gammainc_p, "gammainc",
    "``scipy.special.gammainc(a, x)``: the regularized lower incomplete gamma P(a, x).\n\n"
    "∂/∂x = xᵃ⁻¹e⁻ˣ/Γ(a); ∂/∂a (any order) by quadrature (as betainc).")
gammaincc = _elementwise(
    _sp.gammaincc_p, "gammaincc",
    "``scipy.special.gammaincc(a, x)``: Q(a, x) = 1 − P(a, x), accurate where P ≈ 1.\n\n"
    "∂/∂x = −xᵃ⁻¹e⁻ˣ/Γ(a); ∂/∂a = −∂P/∂a by quadrature (as gammainc).")
j0 = _elementwise(_sp.j0_p, "j0", "``scipy.special.j0``: J₀(x); J₀' = −J₁.")
j1 = _elementwise(_sp.j1_p, "j1", "``scipy.special.j1``: J₁(x); J₁' = (J₀ − J₂)/2.")
jn = _elementwise(_sp.jn_p, "jn", "``scipy.special.jn(n, x)``: Jₙ(x) (as SciPy's, = jv: a real "
                  "order is accepted); ∂/∂x = (Jₙ₋₁ − Jₙ₊₁)/2, n has no derivative.")
y0 = _elementwise(_sp.y0_p, "y0", "``scipy.special.y0``: Y₀(x), x > 0; Y₀' = −Y₁.")
y1 = _elementwise(_sp.y1_p, "y1", "``scipy.special.y1``: Y₁(x), x > 0; Y₁' = (Y₀ − Y₂)/2.")
yn = _elementwise(_sp.yn_p, "yn", "``scipy.special.yn(n, x)``: Yₙ(x), integer n (a non-integer "
                  "is an error; SciPy truncates it with a warning), x > 0; ∂/∂x = (Yₙ₋₁ − Yₙ₊₁)/2, "
                  "n has no derivative.")
i0 = _elementwise(_sp.i0_p, "i0", "``scipy.special.i0``: I₀(x); I₀' = I₁.")
i0e = _elementwise(_sp.i0e_p, "i0e", "``scipy.special.i0e``: I₀(x)e^{−|x|}; "
                   "derivative I₁e^{−|x|} − sign(x) i0e (a kink at 0).")
i1 = _elementwise(_sp.i1_p, "i1", "``scipy.special.i1``: I₁(x); I₁' = (I₀ + I₂)/2.")
i1e = _elementwise(_sp.i1e_p, "i1e", "``scipy.special.i1e``: I₁(x)e^{−|x|}.")
iv = _elementwise(_sp.iv_p, "iv", "``scipy.special.iv(v, x)``: I_v(x) (x < 0 needs integer v); "
                  "∂/∂x = (I_{v−1} + I_{v+1})/2; ∂/∂v has no closed form and raises an error.")
ive = _elementwise(_sp.ive_p, "ive", "``scipy.special.ive(v, x)``: I_v(x)e^{−|x|} (no overflow "
                   "for large x); ∂/∂x = (ive_{v−1} + ive_{v+1})/2 − sign(x) ive; no ∂/∂v.")
kv = _elementwise(_sp.kv_p, "kv", "``scipy.special.kv(v, x)``: K_v(x), x > 0; "
                  "∂/∂x = −(K_{v−1} + K_{v+1})/2; no ∂/∂v (raises an error).")


def ndtr(x):
    """``scipy.special.ndtr``: Φ(x) = erfc(−x/√2)/2 (accurate in both tails); Φ' = φ."""
    if not trace_stack and not _foreign(x):  # other backends: through the primitives
        return _ss.ndtr(x)
    return 0.5 * erfc(x * (-1.0 / np.sqrt(2.0)))


def multigammaln(a, d):
    """``scipy.special.multigammaln``: log Γ_d(a) = d(d−1)/4 log π + Σⱼ log Γ(a − j/2),
    j = 0..d−1 (a > (d − 1)/2); ∂/∂a = Σⱼ ψ(a − j/2). d is a static integer."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return _ss.multigammaln(a, d)
    d = int(d)
    if d < 1:
        raise ValueError(f"multigammaln: the dimension d must be a positive integer, got {d}")
    out = d * (d - 1) / 4.0 * np.log(np.pi)
    for j in range(d):
        out = out + gammaln(a - 0.5 * j)
    return out
