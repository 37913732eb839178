"""Cases for adjoin.scipy.special (adjoin/primitives/special.py), values against SciPy.

Domains: erfinv on (−1, 1), erfcinv on (0, 2), ndtri on (0, 1), Y and K on x > 0, the gamma
family away from its poles (x > 0, or negative non-integers at least 0.2 from a pole), iv and
ive of x < 0 with integer orders only, the incomplete functions' shape parameters in
(0.5, 4) (quadrature; small shapes, it is the slow part). Integer orders (jn, yn,
polygamma) are passed as integer arrays, so they are not differentiated.
"""
from __future__ import annotations

import numpy as np
import scipy.special as ss

import adjoin.scipy.special as sp
from tests.cases import Case

SHAPES = [((),), ((4,),), ((2, 3),)]


def _u(lo, hi):
    return lambda rng, s: rng.uniform(lo, hi, s)


def _off_poles(rng, s):
    """Negative non-integers, at least 0.2 from the poles of Γ, or positive values."""
    k = rng.integers(0, 3, size=s)
    neg = -(k + rng.uniform(0.2, 0.8, size=s))
    return np.where(rng.uniform(size=s) < 0.5, neg, rng.uniform(0.3, 3.0, size=s))


def draws(*gens, shapes=((), (4,), (2, 3))):
    """One input per shape, each argument drawn by its generator (broadcast shapes)."""
    out = []
    for s in shapes:
        out.append(lambda rng, s=s: tuple(g(rng, s) for g in gens))
    return out


CASES: list[Case] = []
#: (name, fn, SciPy's fn, inputs, rtol, atol): values compared by tests/test_scipy_namespaces.py
REFERENCES: list = []


def _vs_scipy(name, fn, ref, inputs, primitives, **kw):
    """A Case whose values are also compared to SciPy's (tests/test_scipy_namespaces.py)."""
    REFERENCES.append((name, fn, ref, inputs, 1e-12, 1e-300))
    CASES.append(Case(name, fn, inputs, primitives=primitives, **kw))


def _unary(name, domain, prims=None, **kw):
    _vs_scipy(f"special_{name}", getattr(sp, name), getattr(ss, name), draws(domain),
              prims or (name,), **kw)


_unary("erf", _u(-2, 2))
_unary("erfc", _u(-2, 2))
_unary("erfinv", _u(-0.9, 0.9))
_unary("erfcinv", _u(0.1, 1.9))
_unary("ndtr", _u(-3, 3), prims=("erfc",))
_unary("log_ndtr", _u(-6, 3))
_unary("ndtri", _u(0.05, 0.95))
_unary("gamma", _off_poles)
_unary("gammaln", _off_poles)
_unary("rgamma", _off_poles)
_unary("digamma", _off_poles, prims=("digamma", "polygamma"))
_unary("gammasgn", _off_poles, order=0)
_unary("entr", _u(0.2, 2.0), prims=("xlogy",))
_unary("j0", _u(-5, 5))
_unary("j1", _u(-5, 5), prims=("j1", "jn"))
_unary("y0", _u(0.5, 5))
_unary("y1", _u(0.5, 5), prims=("y1", "yn"))
_unary("i0", _u(-3, 3))
_unary("i1", _u(-3, 3), prims=("i1", "iv"))
_unary("i0e", lambda rng, s: rng.choice([-1.0, 1.0], s) * rng.uniform(0.2, 3, s))
_unary("i1e", lambda rng, s: rng.choice([-1.0, 1.0], s) * rng.uniform(0.2, 3, s),
       prims=("i1e", "ive"))

# entr at 0 (derivative +inf is not checkable) and below 0 (−inf, derivative 0): values only
_vs_scipy("special_entr_edges", sp.entr, ss.entr,
          [lambda rng: (np.array([0.0, -0.5, 0.7, -2.0]),)], ("xlogy", "where"), order=0)


def _ints(lo, hi):
    return lambda rng, s: rng.integers(lo, hi, size=s)


# integer orders (not differentiated), broadcast against x
_vs_scipy("special_jn", sp.jn, ss.jn, draws(_ints(-2, 4), _u(-5, 5)), ("jn",))
_vs_scipy("special_yn", sp.yn, lambda n, x: ss.yn(n, x), draws(_ints(0, 4), _u(0.5, 5)),
          ("yn",))
_vs_scipy("special_polygamma", sp.polygamma, ss.polygamma,
          draws(_ints(0, 3), _u(0.3, 3.0)), ("polygamma",))
# continuous orders, constant (closed over): I_v(x), x < 0 needs an integer v
_vs_scipy("special_iv", lambda x: sp.iv(1.5, x), lambda x: ss.iv(1.5, x),
          draws(_u(0.2, 4)), ("iv",))
_vs_scipy("special_iv_negative_x", lambda n, x: sp.iv(n, x), ss.iv,
          draws(_ints(-2, 3), _u(-3, -0.2)), ("iv",))
_vs_scipy("special_ive", lambda v, x: sp.ive(v, x), ss.ive,
          draws(_ints(-2, 3), lambda rng, s: rng.choice([-1.0, 1.0], s) * rng.uniform(0.2, 4, s)),
          ("ive",))
_vs_scipy("special_kv", lambda x: sp.kv(0.7, x), lambda x: ss.kv(0.7, x), draws(_u(0.3, 4)),
          ("kv",))

# two-parameter gamma/beta functions
_vs_scipy("special_beta", sp.beta, ss.beta, draws(_u(0.3, 3), _u(0.3, 3)), ("beta",))
_vs_scipy("special_betaln", sp.betaln, ss.betaln, draws(_u(0.3, 5), _u(0.3, 5)), ("betaln",))
_vs_scipy("special_multigammaln", lambda a: sp.multigammaln(a, 3),
          lambda a: ss.multigammaln(a, 3), draws(_u(1.2, 4)), ("gammaln",))

# the regularized incomplete functions: ∂/∂x closed form, ∂/∂a, ∂/∂b by quadrature
_SMALL = ((), (3,))
_vs_scipy("special_gammainc", sp.gammainc, ss.gammainc,
          draws(_u(0.5, 4), _u(0.2, 6), shapes=_SMALL),
          ("gammainc", "igamma_da", "rgamma_dk", "gammaln", "rgamma"), rtol=1e-5, atol=1e-7)
_vs_scipy("special_gammaincc", sp.gammaincc, ss.gammaincc,
          draws(_u(0.5, 4), _u(0.2, 6), shapes=((2,),)), ("gammaincc", "igamma_da"),
          rtol=1e-5, atol=1e-7)
_vs_scipy("special_gammainc_x", lambda x: sp.gammainc(2.5, x), lambda x: ss.gammainc(2.5, x),
          draws(_u(0.2, 6)), ("gammainc",))
_vs_scipy("special_betainc", sp.betainc, ss.betainc,
          draws(_u(0.5, 4), _u(0.5, 4), _u(0.05, 0.95), shapes=_SMALL),
          ("betainc", "ibeta_dab", "rbeta_dk", "betaln"), rtol=1e-5, atol=1e-7)
_vs_scipy("special_betainc_x", lambda x: sp.betainc(1.7, 0.8, x),
          lambda x: ss.betainc(1.7, 0.8, x), draws(_u(0.05, 0.95)), ("betainc",))
