"""Cases for the elementwise family (adjoin/primitives/elementwise.py).

Unary functions are drawn inside their domains (and, for complex inputs, away
from their branch cuts and poles); binary ones on broadcast shapes. Functions
with jumps (floor, round, mod, floor_divide, sign) are drawn away from the jumps,
so finite differences see their zero (or one-sided) derivative exactly; extrema
are drawn without ties.
"""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from tests.cases import Case

UNARY_SHAPES = [((),), ((4,),), ((2, 3),)]
BINARY_SHAPES = [((), ()), ((4,), (4,)), ((3,), (2, 3)), ((2, 1), (1, 3)), ((2, 3), ())]


# --- input generators (rng -> tuple of arrays) ------------------------------------------

def _signed(rng, shape, lo=0.2, hi=2.0):
    """Uniform magnitude in (lo, hi) with a random sign: away from zero."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(lo, hi, size=shape)


def signed(*shapes, lo=0.2, hi=2.0):
    return lambda rng: tuple(_signed(rng, s, lo, hi) for s in shapes)


def signed_complex(*shapes, lo=0.2, hi=2.0):
    """Complex numbers with both parts away from zero."""
    return lambda rng: tuple(_signed(rng, s, lo, hi) + 1j * _signed(rng, s, lo, hi)
                             for s in shapes)


def off_grid(*shapes):
    """± (k + f), k ∈ {0..3}, f ∈ (0.1, 0.4): at least 0.1 from every integer and half-integer."""
    def draw(rng):
        out = []
        for s in shapes:
            k = rng.integers(0, 4, size=s)
            out.append(rng.choice([-1.0, 1.0], size=s) * (k + rng.uniform(0.1, 0.4, size=s)))
        return tuple(out)
    return draw


def quotient_off_grid(sx, sy):
    """(x, y) with every broadcast x / y at least 0.1 from an integer and |y| ∈ (0.5, 2):
    mod and floor_divide are smooth there."""
    def draw(rng):
        while True:
            y = _signed(rng, sy, 0.5, 2.0)
            x = rng.uniform(-3.0, 3.0, size=sx)
            q = np.asarray(x / y)
            frac = q - np.floor(q)
            if np.all((frac > 0.1) & (frac < 0.9)):
                return x, y
    return draw


def separated(sx, sy, gap=0.1, lo=-2.0, hi=2.0):
    """(x, y) with |x − y| ≥ gap for every broadcast pair: no ties in maximum/minimum."""
    def draw(rng):
        while True:
            x, y = rng.uniform(lo, hi, size=sx), rng.uniform(lo, hi, size=sy)
            if np.all(np.abs(np.asarray(x) - np.asarray(y)) >= gap):
                return x, y
    return draw


def with_nan(sx, sy):
    """(x, y) where some entries of y are NaN (fmax/fmin take the other operand there)."""
    def draw(rng):
        x, y = separated(sx, sy)(rng)
        y = np.array(y, float)
        mask = rng.uniform(size=np.shape(y)) < 0.4
        y[mask] = np.nan
        return x, y
    return draw


def special_values(shape=(8,), nargs=1):
    """Finite values mixed with ±inf, NaN and ±0 (for the tests isnan, isinf, ...)."""
    def one(rng):
        x = rng.uniform(-2, 2, size=shape)
        specials = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0])
        idx = rng.choice(int(np.prod(shape)), size=min(4, int(np.prod(shape))), replace=False)
        x.flat[idx] = rng.choice(specials, size=len(idx))
        return x
    return lambda rng: tuple(one(rng) for _ in range(nargs))


def with_ties(sx, sy):
    """(x, y) equal in about half of the entries (comparisons)."""
    def draw(rng):
        x = rng.uniform(-2, 2, size=sx)
        y = rng.uniform(-2, 2, size=sy)
        xb = np.broadcast_to(x, np.broadcast_shapes(sx, sy))
        if np.shape(y) == xb.shape:
            y = np.where(rng.uniform(size=np.shape(y)) < 0.5, xb, y)
        return x, y
    return draw


def booleans(*shapes):
    return lambda rng: tuple(rng.uniform(size=s) < 0.5 for s in shapes)


# --- the cases ----------------------------------------------------------------------------------

CASES: list[Case] = []


def _unary(name, fn=None, domain=(-2.0, 2.0), complex=True, inputs=None, **kw):
    fn = fn or getattr(anp, name)
    CASES.append(Case(name, fn, inputs or UNARY_SHAPES, primitives=(name,), domain=domain,
                      complex=complex, **kw))


# trigonometric
_unary("sin")
_unary("cos")
_unary("tan", domain=(-1.2, 1.2))                      # poles at ±π/2
_unary("arcsin", domain=(-0.9, 0.9))                   # cuts: real |x| > 1
_unary("arccos", domain=(-0.9, 0.9))
_unary("arctan", domain=(-0.9, 0.9))                   # cuts: imaginary |y| > 1
# hyperbolic
_unary("sinh")
_unary("cosh")
_unary("tanh", domain=(-1.2, 1.2))                     # poles at ±iπ/2
_unary("arcsinh", domain=(-0.9, 0.9))                  # cuts: imaginary |y| > 1
_unary("arccosh", domain=(1.2, 3.0))                   # cut: real x < 1
_unary("arctanh", domain=(-0.9, 0.9))                  # cuts: real |x| > 1
# exponentials and logarithms
_unary("exp")
_unary("exp2")
_unary("expm1")
_unary("log", domain=(0.2, 3.0))                       # cut: real x < 0
_unary("log2", domain=(0.2, 3.0))
_unary("log10", domain=(0.2, 3.0))
_unary("log1p", domain=(0.2, 3.0))
CASES.append(Case("log1p_near_zero", anp.log1p, UNARY_SHAPES, primitives=("log1p",),
                  domain=(-0.5, 0.5)))
# powers
_unary("sqrt", domain=(0.2, 3.0))
_unary("cbrt", complex=False, inputs=[signed(()), signed((4,)), signed((2, 3))])
_unary("square")
_unary("reciprocal", inputs=[signed(()), signed((4,)), signed((2, 3)),
                             signed_complex((3,))])
_unary("sinc", complex=False, inputs=[signed(()), signed((4,)), signed((2, 3))])
CASES.append(Case("sinc_complex", anp.sinc, [signed_complex((3,))], primitives=("sinc",)))
# linear maps and the non-holomorphic ones (checked with JAX's pairing for complex inputs)
_unary("negative")
_unary("real")
_unary("imag")
_unary("conj")
CASES.append(Case("real_imag_mix", lambda z: anp.real(z) * anp.imag(z) + anp.conj(z) * 2.0,
                  [((3,),)], primitives=("real", "imag", "conj"), complex=True))
_unary("abs", complex=False, inputs=[signed(()), signed((4,)), signed((2, 3)),
                                     signed_complex((4,)), signed_complex((2, 3))])

# zero derivative, float outputs: drawn away from the jumps, finite differences give 0
for _name in ("floor", "ceil", "trunc", "rint", "round"):
    _unary(_name, complex=False, inputs=[off_grid(()), off_grid((4,)), off_grid((2, 3))])
_unary("sign", complex=False, inputs=[signed(()), signed((4,)), signed((2, 3))])
CASES.append(Case("round_decimals", lambda x: anp.round(x, 1), [((5,),)], primitives=("round",),
                  order=0))
CASES.append(Case("floor_times_x", lambda x: anp.floor(x) * x + anp.sign(x) * x * x,
                  [off_grid((5,))], primitives=("floor", "sign")))

# boolean outputs: the derivative is zero
for _name in ("isnan", "isfinite", "isinf", "signbit"):
    _unary(_name, complex=False, inputs=[special_values((8,)), special_values((2, 4))])
CASES.append(Case("isnan_complex", anp.isnan, [((4,),)], primitives=("isnan",),
                  complex=True))
_unary("logical_not", complex=False, inputs=[special_values((8,)), booleans((2, 3))])
for _name in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal"):
    CASES.append(Case(_name, getattr(anp, _name),
                      [with_ties((4,), (4,)), with_ties((2, 3), (2, 3)), with_ties((3,), (2, 3)),
                       ((2, 1), (1, 3))],
                      primitives=(_name,)))
for _name in ("logical_and", "logical_or", "logical_xor"):
    CASES.append(Case(_name, getattr(anp, _name),
                      [booleans((4,), (4,)), booleans((3,), (2, 3)),
                       ((2, 3), (2, 3)), special_values((6,), nargs=2)],
                      primitives=(_name,)))
CASES.append(Case("logical_xor_special", lambda x: anp.logical_xor(x, x > 0.5),
                  [special_values((6,))], primitives=("logical_xor", "greater")))
CASES.append(Case("comparison_select", lambda x, y: anp.where(x > y, x * y, x - y),
                  [separated((4,), (4,)), separated((3,), (2, 3))],
                  primitives=("greater", "where", "multiply", "subtract")))
CASES.append(Case("floor_divide", anp.floor_divide,
                  [quotient_off_grid((4,), (4,)), quotient_off_grid((3,), (2, 3)),
                   quotient_off_grid((2, 1), (1, 3))],
                  primitives=("floor_divide",)))
CASES.append(Case("floor_divide_operator", lambda x, y: x // y + x,
                  [quotient_off_grid((4,), (4,))], primitives=("floor_divide", "add")))


# arithmetic, on broadcast shapes
def _binary(name, fn=None, inputs=None, complex=True, primitives=None, **kw):
    fn = fn or getattr(anp, name)
    CASES.append(Case(name, fn, inputs or BINARY_SHAPES, primitives=primitives or (name,),
                      complex=complex, **kw))


_binary("add")
_binary("subtract")
_binary("multiply")
_binary("divide", inputs=[signed((), ()), signed((4,), (4,)), signed((3,), (2, 3)),
                          signed((2, 1), (1, 3)), signed((2, 3), ()),
                          signed_complex((3,), (2, 3))])
CASES.append(Case("operators", lambda x, y: (x + y) * x - y / (1.5 + x * x) + (-x),
                  BINARY_SHAPES, primitives=("add", "multiply", "subtract", "divide", "negative"),
                  complex=True))
CASES.append(Case("scalar_operands", lambda x: 2.0 * x + 1.0 - 3.0 / (x * x + 1.0) - x / 4.0,
                  UNARY_SHAPES, primitives=("multiply", "add", "subtract", "divide"),
                  complex=True, domain=(-0.5, 0.5)))
_binary("power", domain=(0.2, 2.0),
        inputs=[((), ()), ((4,), (4,)), ((3,), (2, 3)), ((2, 1), (1, 3))])
_binary("float_power", domain=(0.2, 2.0),
        inputs=[((), ()), ((4,), (4,)), ((3,), (2, 3)), ((2, 1), (1, 3))])
CASES.append(Case("power_int_exponent", lambda x: x ** 3 + x ** 2 - anp.power(x, 1),
                  UNARY_SHAPES, primitives=("power",), complex=True))
CASES.append(Case("power_float_exponent", lambda x: x ** 0.5 + x ** -1.5, UNARY_SHAPES,
                  primitives=("power",), domain=(0.2, 3.0), complex=True))
CASES.append(Case("power_scalar_base", lambda x: 2.0 ** x + anp.power(1.5, x), UNARY_SHAPES,
                  primitives=("power",), complex=True))
CASES.append(Case("power_zero_exponent", lambda x: anp.power(x, np.zeros_like(x)) * x,
                  UNARY_SHAPES, primitives=("power",)))

for _name in ("maximum", "minimum", "fmax", "fmin"):
    _binary(_name, complex=False,
            inputs=[separated((), ()), separated((4,), (4,)), separated((3,), (2, 3)),
                    separated((2, 1), (1, 3)), separated((2, 3), ())])
for _name in ("fmax", "fmin"):
    CASES.append(Case(f"{_name}_nan", getattr(anp, _name),
                      [with_nan((4,), (4,)), with_nan((3,), (2, 3))], primitives=(_name,)))
def _off_bounds(rng):
    """Values in (−1.5, 1.5) at least 0.1 from the clip bounds ±1."""
    x = rng.uniform(0.1, 0.5, size=(6,)) * rng.choice([-1.0, 1.0], size=6)
    return (x + rng.choice([-1.0, 1.0], size=6),)


CASES.append(Case("clip", lambda x: anp.clip(x, -1.0, 1.0), [_off_bounds],
                  primitives=("maximum", "minimum")))


def _away_from_origin(*shapes):
    """Pairs away from (0, 0) (atan2 and hypot are singular there)."""
    return signed(*shapes)


_binary("arctan2", complex=False,
        inputs=[_away_from_origin((), ()), _away_from_origin((4,), (4,)),
                _away_from_origin((3,), (2, 3)), _away_from_origin((2, 1), (1, 3))])
_binary("hypot", complex=False,
        inputs=[_away_from_origin((), ()), _away_from_origin((4,), (4,)),
                _away_from_origin((3,), (2, 3)), _away_from_origin((2, 1), (1, 3))])
_binary("logaddexp", complex=False)
_binary("mod", complex=False,
        inputs=[quotient_off_grid((), ()), quotient_off_grid((4,), (4,)),
                quotient_off_grid((3,), (2, 3)), quotient_off_grid((2, 1), (1, 3))])
CASES.append(Case("mod_operator", lambda x, y: x % y * x, [quotient_off_grid((4,), (4,))],
                  primitives=("mod", "multiply")))

# where with a fixed condition (closed over), on broadcast shapes
_COND = {s: np.random.default_rng(7).uniform(size=s) < 0.5 for s in [(4,), (2, 3)]}
CASES.append(Case("where", lambda a, b: anp.where(_COND[(4,)], a, b), [((4,), (4,)), ((), (4,))],
                  primitives=("where",), complex=True))
CASES.append(Case("where_broadcast", lambda a, b: anp.where(_COND[(2, 3)], a, b),
                  [((3,), (2, 1)), ((2, 3), ()), ((1, 3), (2, 3))],
                  primitives=("where",), complex=True))
CASES.append(Case("where_constant_branch", lambda a: anp.where(_COND[(2, 3)], anp.sin(a), 0.0),
                  [((2, 3),), ((3,),)], primitives=("where", "sin"), complex=True))
CASES.append(Case("where_traced_condition", lambda a, b: anp.where(a > b, anp.exp(a), b * b),
                  [separated((4,), (4,)), separated((3,), (2, 3))],
                  primitives=("where", "greater", "exp")))

# dtype conversion
CASES.append(Case("astype_complex", lambda x: anp.astype(x, np.complex128) * (1 + 2j),
                  UNARY_SHAPES, primitives=("astype",)))
CASES.append(Case("astype_float32_roundtrip",
                  lambda x: anp.astype(anp.astype(x, np.float32), np.float64),
                  UNARY_SHAPES, primitives=("astype",), eps=1e-2, rtol=1e-3, atol=1e-4))
CASES.append(Case("astype_int", lambda x: anp.astype(x, np.int64), [off_grid((4,))],
                  primitives=("astype",)))
CASES.append(Case("astype_same", lambda x: anp.astype(x * 2.0, np.float64), UNARY_SHAPES,
                  primitives=("astype",), complex=False))


def _real_part(z):
    return anp.real(z) * 3.0


CASES.append(Case("astype_complex_to_real_via_real", _real_part, [((4,),)],
                  primitives=("real",), complex=True))

# a composite: everything together, second order through several rules at once
CASES.append(Case("composite", lambda x, y: anp.tanh(anp.sin(x) * anp.exp(-y * y))
                  + anp.log1p(x * x) * anp.sqrt(1.0 + y * y),
                  BINARY_SHAPES,
                  primitives=("tanh", "sin", "exp", "log1p", "sqrt", "multiply", "add"),
                  domain=(-1.0, 1.0), complex=True))
