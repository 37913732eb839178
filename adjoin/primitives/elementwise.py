"""Elementwise primitives ("Scalar Function Broadcasting" in the lecture's table).

For z = f(x) applied elementwise: ż = f'(x) ⊙ ẋ and x̄ = z̄ ⊙ f'(x).
Complex inputs follow JAX's convention: for holomorphic f the same formulas
hold without conjugation; the non-holomorphic ones (abs, real, imag, conj) say
their rule. Binary rules sum cotangents over broadcast axes.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.special as _ss

from adjoin import backends as _backends
from adjoin.core.avals import ShapedArray, is_inexact
from adjoin.core.lowering import Lowering, is_exactly, same_aval, scalar_call
from adjoin.core.primitive import Primitive
from adjoin.core.trace import dtype_of
from adjoin.primitives import lax
from adjoin.primitives._families import (
    TRANSCENDENTAL as T, binary, broadcast_tangent, elementwise_batch, elementwise_cost,
    elementwise_shape, nondifferentiable, unary, unbroadcast)

LN2, LN10 = float(np.log(2.0)), float(np.log(10.0))  # Python floats: they meet any backend


# --- float versions for jit's scalar back end (NaN-propagating, as NumPy's) -------------
def _scalar_max(a, b):
    return a if (a >= b or a != a) else b


def _scalar_min(a, b):
    return a if (a <= b or a != a) else b


def _scalar_sign(a):
    return 1.0 if a > 0 else (-1.0 if a < 0 else a)


def _forward_if_operand(position, value, commutes=False):
    """jit's forwarding of ``x op value`` to ``x`` (``value`` at ``position``; either
    position if ``commutes``): exact when ``value`` is exactly 1 for * and /, 0 for −."""
    def forward(ins, out, params, value_of, is_known):
        for k in ((0, 1) if commutes else (1 - position,)):
            x, c = ins[k], ins[1 - k]
            if same_aval(x, out) and is_known(c) and is_exactly(value_of(c), value):
                return x
        return None
    return forward


def infix(op, **fields):
    """The lowering of an elementwise binary operator: ``x op y`` on Python floats."""
    return Lowering(scalar=f"({{0}} {op} {{1}})", elementwise=True, **fields)


# --- trigonometric: sin' = cos, cos' = -sin, tan' = 1 + tan², asin' = 1/√(1-x²), ...
sin_p = unary("sin", np.sin, lambda x, out: lax.cos(x), flops=T, uses="input",
              lowering=scalar_call(math.sin))
cos_p = unary("cos", np.cos, lambda x, out: -lax.sin(x), flops=T, uses="input",
              lowering=scalar_call(math.cos))
tan_p = unary("tan", np.tan, lambda x, out: 1.0 + out * out, flops=T, uses="output",
              lowering=scalar_call(math.tan))
arcsin_p = unary("arcsin", np.arcsin, lambda x, out: 1.0 / lax.sqrt(1.0 - x * x), flops=T,
                 uses="input",
                 lowering=scalar_call(math.asin))
arccos_p = unary("arccos", np.arccos, lambda x, out: -1.0 / lax.sqrt(1.0 - x * x), flops=T,
                 uses="input",
                 lowering=scalar_call(math.acos))
arctan_p = unary("arctan", np.arctan, lambda x, out: 1.0 / (1.0 + x * x), flops=T, uses="input",
                 lowering=scalar_call(math.atan))

# --- hyperbolic: sinh' = cosh, cosh' = sinh, tanh' = 1 - tanh², asinh' = 1/√(x²+1), ...
sinh_p = unary("sinh", np.sinh, lambda x, out: lax.cosh(x), flops=T, uses="input",
               lowering=scalar_call(math.sinh))
cosh_p = unary("cosh", np.cosh, lambda x, out: lax.sinh(x), flops=T, uses="input",
               lowering=scalar_call(math.cosh))
tanh_p = unary("tanh", np.tanh, lambda x, out: 1.0 - out * out, flops=T, uses="output",
               lowering=scalar_call(math.tanh))
arcsinh_p = unary("arcsinh", np.arcsinh, lambda x, out: 1.0 / lax.sqrt(x * x + 1.0), flops=T,
                  uses="input",
                  lowering=scalar_call(math.asinh))
arccosh_p = unary("arccosh", np.arccosh,
                  lambda x, out: 1.0 / (lax.sqrt(x - 1.0) * lax.sqrt(x + 1.0)), flops=T,
                  uses="input",
                  lowering=scalar_call(math.acosh))
arctanh_p = unary("arctanh", np.arctanh, lambda x, out: 1.0 / (1.0 - x * x), flops=T, uses="input",
                  lowering=scalar_call(math.atanh))

# --- exponentials and logarithms: exp' = exp, log' = 1/x, 2^x' = 2^x ln 2, ...
exp_p = unary("exp", np.exp, lambda x, out: out, flops=T, uses="output",
              lowering=scalar_call(math.exp))
exp2_p = unary("exp2", np.exp2, lambda x, out: out * LN2, flops=T, uses="output",
               lowering=scalar_call(math.exp2))
expm1_p = unary("expm1", np.expm1, lambda x, out: out + 1.0, flops=T, uses="output",
                lowering=scalar_call(math.expm1))
log_p = unary("log", np.log, lambda x, out: 1.0 / x, flops=T, uses="input",
              lowering=scalar_call(math.log))
log2_p = unary("log2", np.log2, lambda x, out: 1.0 / (x * LN2), flops=T, uses="input",
               lowering=scalar_call(math.log2))
log10_p = unary("log10", np.log10, lambda x, out: 1.0 / (x * LN10), flops=T, uses="input",
                lowering=scalar_call(math.log10))
log1p_p = unary("log1p", np.log1p, lambda x, out: 1.0 / (1.0 + x), flops=T, uses="input",
                lowering=scalar_call(math.log1p))


# z = x log y, 0 where x = 0 (scipy.special.xlogy): ∂z/∂x = log y ; ∂z/∂y = x/y.
# At x = 0 that is ∂z/∂x = log y (z = x log y is linear in x; JAX's rule) and ∂z/∂y = 0,
# also at y = 0 (z is 0 along x = 0, so x/y is taken as 0 there, not 0/0). The second
# derivatives follow: ∂²z/∂x∂y = 1/y, ∂²z/∂y² = −x/y² (0 at x = 0).
# z = x log(1 + y) (xlog1py): the same with 1 + y for y.
def _xlogy_partials(shift):
    def dx(x, y, out):
        with np.errstate(divide="ignore"):       # log 0 = −inf is the derivative at y = −shift
            return log_p.bind(y) if shift == 0.0 else log1p_p.bind(y)

    def dy(x, y, out):
        yy = y if shift == 0.0 else y + shift
        # x/(y + shift), with 0 (not 0/0) where x = 0 and y + shift = 0
        both_zero = logical_and_p.bind(equal_p.bind(x, 0.0), equal_p.bind(yy, 0.0))
        with np.errstate(divide="ignore"):       # x/0 = ±inf for x ≠ 0 is the derivative
            return x / where_p.bind(both_zero, np.ones((), dtype_of(yy)), yy)
    return dx, dy


xlogy_p = binary("xlogy", _ss.xlogy, *_xlogy_partials(0.0), flops=T, uses="input",
                 lowering=Lowering(elementwise=True))
xlog1py_p = binary("xlog1py", _ss.xlog1py, *_xlogy_partials(1.0), flops=T, uses="input",
                   lowering=Lowering(elementwise=True))


# --- powers: √x' = 1/(2√x), ∛x' = 1/(3∛x²), (x²)' = 2x, (1/x)' = -1/x²
def _sqrt_deriv(x, out):
    with np.errstate(divide="ignore"):           # 1/(2√0) = inf is the derivative at 0
        return 0.5 / out


sqrt_p = unary("sqrt", np.sqrt, _sqrt_deriv, flops=T, uses="output",
               lowering=scalar_call(math.sqrt))
cbrt_p = unary("cbrt", np.cbrt, lambda x, out: 1.0 / (3.0 * out * out), flops=T, uses="output",
               lowering=scalar_call(math.cbrt))
square_p = unary("square", np.square, lambda x, out: 2.0 * x, flops=1, uses="input",
                 lowering=Lowering(scalar="({0} * {0})", elementwise=True))
def _reciprocal_impl(x):
    if is_inexact(x):
        return np.reciprocal(x)
    return np.true_divide(1.0, x)  # NumPy's reciprocal of an integer is an integer


reciprocal_p = unary("reciprocal", _reciprocal_impl, lambda x, out: -(out * out), flops=1,
                     uses="output",
                     lowering=Lowering(scalar="(1.0 / {0})", elementwise=True))


# sinc(x) = sin(πx)/(πx): sinc'(x) = (cos(πx) − sinc(x))/x, and 0 at x = 0
def _sinc_deriv(x, out):
    at_zero = x == 0
    safe_x = lax.where(at_zero, 1.0, x)
    return lax.where(at_zero, 0.0, (lax.cos(np.pi * x) - out) / safe_x)


sinc_p = unary("sinc", np.sinc, _sinc_deriv, flops=T, lowering=Lowering(elementwise=True))


# --- linear maps: negation ż = −ẋ, x̄ = −z̄
def _linear_unary(name, impl, apply_t, transpose, lowering=Lowering(elementwise=True)):
    """A linear elementwise primitive: ż = L ẋ, x̄ = Lᵀ z̄ (both given with adjoin ops)."""
    # the transpose reads x's dtype only
    prim = Primitive(name, impl, saves=(False, False), lowering=lowering)
    prim.def_rules(
        shape=elementwise_shape(impl),
        jvp=lambda primals, tangents: (prim.bind(primals[0]),
                                       None if tangents[0] is None else apply_t(tangents[0])),
        vjp=lambda needs, out_bar, out, x: (transpose(out_bar, x),),
        batch=lambda vals, dims: (prim.bind(vals[0]), dims[0]),
        cost=elementwise_cost(1))
    return prim


negative_p = _linear_unary("negative", np.negative, lambda t: -t, lambda g, x: -g,
                           lowering=Lowering(scalar="(-{0})", elementwise=True))
# real part: ż = Re ẋ. With the pairing Re⟨z̄, ż⟩ = Re⟨x̄, ẋ⟩: x̄ = z̄ (complex if x is).
real_p = _linear_unary("real", np.real, lambda t: lax.real(t),
                       lambda g, x: lax.astype(g, dtype_of(x)) if dtype_of(x).kind == "c" else g)
# imaginary part: ż = Im ẋ = Re(−i ẋ), so x̄ = −i z̄.
imag_p = _linear_unary("imag", np.imag, lambda t: lax.imag(t),
                       lambda g, x: -1j * g if dtype_of(x).kind == "c" else None)
# conjugate: ż = conj(ẋ); Re(z̄ conj(ẋ)) = Re(conj(z̄) ẋ), so x̄ = conj(z̄).
conj_p = _linear_unary("conj", np.conj, lambda t: lax.conj(t), lambda g, x: lax.conj(g))


# |x|: real x: ż = sign(x) ẋ. Complex x: ż = Re(conj(x) ẋ)/|x|, x̄ = z̄ conj(x)/|x|
# (0 at x = 0 by convention).
def _abs_jvp(primals, tangents):
    x, = primals
    x_dot, = tangents
    out = abs_p.bind(x)
    if x_dot is None:
        return out, None
    if dtype_of(x).kind == "c":
        return out, lax.real(lax.conj(x) * x_dot) / lax.where(out == 0, 1.0, out)
    return out, x_dot * lax.sign(x)


def _abs_vjp(needs, out_bar, out, x):
    if dtype_of(x).kind == "c":
        return (out_bar * lax.conj(x) / lax.where(out == 0, 1.0, out),)
    return (out_bar * lax.sign(x),)


abs_p = Primitive("abs", np.abs, shape=elementwise_shape(np.abs), jvp=_abs_jvp, vjp=_abs_vjp,
                  batch=lambda vals, dims: (abs_p.bind(vals[0]), dims[0]),
                  cost=elementwise_cost(1),
                  lowering=Lowering(scalar="abs({0})", elementwise=True))

# --- zero derivative: rounding and sign (float outputs, no tangent), tests (bool outputs)
sign_p = nondifferentiable("sign", np.sign,
                           lowering=Lowering(scalar="_ssign({0})", scalar_ns={"_ssign": _scalar_sign},
                                    elementwise=True))
floor_p = nondifferentiable("floor", np.floor,
                            lowering=Lowering(scalar="float(_floor({0}))", scalar_ns={"_floor": math.floor},
                                     elementwise=True))
ceil_p = nondifferentiable("ceil", np.ceil,
                           lowering=Lowering(scalar="float(_ceil({0}))", scalar_ns={"_ceil": math.ceil},
                                    elementwise=True))
trunc_p = nondifferentiable("trunc", np.trunc,
                            lowering=Lowering(scalar="float(_trunc({0}))", scalar_ns={"_trunc": math.trunc},
                                     elementwise=True))
rint_p = nondifferentiable("rint", np.rint)
round_p = nondifferentiable("round", lambda x, decimals=0: np.round(x, decimals),
                           lowering=Lowering(elementwise=True))
isnan_p = nondifferentiable("isnan", np.isnan, lowering=scalar_call(math.isnan))
isfinite_p = nondifferentiable("isfinite", np.isfinite, lowering=scalar_call(math.isfinite))
isinf_p = nondifferentiable("isinf", np.isinf, lowering=scalar_call(math.isinf))
signbit_p = nondifferentiable("signbit", np.signbit)
logical_not_p = nondifferentiable("logical_not", np.logical_not,
                                  lowering=Lowering(scalar="(not {0})", elementwise=True))
equal_p = nondifferentiable("equal", np.equal, nargs=2, lowering=infix("=="))
not_equal_p = nondifferentiable("not_equal", np.not_equal, nargs=2, lowering=infix("!="))
less_p = nondifferentiable("less", np.less, nargs=2, lowering=infix("<"))
less_equal_p = nondifferentiable("less_equal", np.less_equal, nargs=2, lowering=infix("<="))
greater_p = nondifferentiable("greater", np.greater, nargs=2, lowering=infix(">"))
greater_equal_p = nondifferentiable("greater_equal", np.greater_equal, nargs=2,
                                    lowering=infix(">="))
logical_and_p = nondifferentiable("logical_and", np.logical_and, nargs=2, lowering=infix("and"))
logical_or_p = nondifferentiable("logical_or", np.logical_or, nargs=2, lowering=infix("or"))
logical_xor_p = nondifferentiable("logical_xor", np.logical_xor, nargs=2)
floor_divide_p = nondifferentiable("floor_divide", np.floor_divide, nargs=2,
                                   lowering=Lowering(scalar="float({0} // {1})", elementwise=True))


# --- addition and subtraction: ż = ẋ ± ẏ, x̄ = z̄, ȳ = ±z̄ (summed over broadcast axes)
def _add_like(name, impl, sign, lowering):
    prim = Primitive(name, impl, saves=(False, False), lowering=lowering)  # shapes only

    def jvp(primals, tangents):
        x, y = primals
        x_dot, y_dot = tangents
        out = prim.bind(x, y)
        if y_dot is not None and sign < 0:
            y_dot = -y_dot
        if x_dot is None:
            return out, None if y_dot is None else broadcast_tangent(y_dot, out)
        if y_dot is None:
            return out, broadcast_tangent(x_dot, out)
        return out, broadcast_tangent(x_dot + y_dot, out)

    def vjp(needs, out_bar, out, x, y):
        x_bar = unbroadcast(out_bar, x) if needs[0] else None
        y_bar = unbroadcast(out_bar if sign > 0 else -out_bar, y) if needs[1] else None
        return x_bar, y_bar

    prim.def_rules(shape=elementwise_shape(impl), jvp=jvp, vjp=vjp,
                   batch=elementwise_batch(prim), cost=elementwise_cost(1))
    return prim


# jit forwards x − 0 to x (not x + 0: −0.0 + 0.0 is +0.0)
add_p = _add_like("add", np.add, +1, lowering=infix("+"))
subtract_p = _add_like("subtract", np.subtract, -1,
                       lowering=infix("-", forward=_forward_if_operand(1, 0)))

# z = x y: ż = ẏ x + x ẏ ; x̄ = z̄ y, ȳ = z̄ x
multiply_p = binary("multiply", np.multiply, lambda x, y, out: y, lambda x, y, out: x, uses="input",
                    lowering=infix("*", forward=_forward_if_operand(1, 1, commutes=True)))
# z = x / y: ż = ẋ/y − z ẏ/y ; x̄ = z̄/y, ȳ = −z̄ z/y
divide_p = binary("divide", np.true_divide, lambda x, y, out: 1.0 / y,
                  lambda x, y, out: -out / y,
                  lowering=infix("/", forward=_forward_if_operand(1, 1)))


# z = x^y: ∂z/∂x = y x^(y−1) (0 where y = 0), ∂z/∂y = z log x (0 where x = 0)
def _pow_dx(x, y, out):
    if isinstance(y, (int, float, np.integer, np.floating)) or (
            isinstance(y, np.ndarray) and y.ndim == 0 and y.dtype.kind in "iuf"):
        y = float(y)  # a constant exponent: simplify (x² is everywhere)
        if y == 0.0:
            return lax.zeros_like(out)
        if y == 1.0:
            return lax.ones_like(out)
        return 2.0 * x if y == 2.0 else y * lax.power(x, y - 1.0)
    return lax.where(y == 0, 0.0, y * lax.power(x, y - 1))


def _pow_dy(x, y, out):
    if isinstance(x, (int, float, complex)):  # a constant base: log x as a Python number
        return out * np.log(x if x != 0 else 1.0).item()
    return out * lax.log(lax.where(x == 0, 1.0, x))


def _power_impl(x, y):
    # integer base to a negative integer power is an error in NumPy; compute in float
    if (np.issubdtype(np.result_type(x), np.integer) and np.issubdtype(np.result_type(y), np.integer)
            and np.any(np.asarray(y) < 0)):
        return np.power(np.asarray(x, float), y)
    return np.power(x, y)


power_p = binary("power", _power_impl, _pow_dx, _pow_dy, flops=T,
                 lowering=Lowering(scalar="_pow({0}, {1})", scalar_ns={"_pow": math.pow},
                          elementwise=True))
float_power_p = binary("float_power", np.float_power, _pow_dx, _pow_dy, flops=T,
                       lowering=Lowering(scalar="_pow({0}, {1})", scalar_ns={"_pow": math.pow},
                                elementwise=True))


# max/min route the derivative to the selected argument; ties split ½/½ (as JAX does)
def _select_weight(first_wins, tie):
    return lambda x, y, out: lax.where(first_wins(x, y), 1.0, lax.where(tie(x, y), 0.5, 0.0))


maximum_p = binary("maximum", np.maximum, _select_weight(lambda x, y: x > y, lambda x, y: x == y),
                   _select_weight(lambda x, y: y > x, lambda x, y: x == y), uses="input",
                   lowering=Lowering(scalar="_smax({0}, {1})", scalar_ns={"_smax": _scalar_max},
                            elementwise=True))
minimum_p = binary("minimum", np.minimum, _select_weight(lambda x, y: x < y, lambda x, y: x == y),
                   _select_weight(lambda x, y: y < x, lambda x, y: x == y), uses="input",
                   lowering=Lowering(scalar="_smin({0}, {1})", scalar_ns={"_smin": _scalar_min},
                            elementwise=True))
# fmax/fmin ignore a NaN operand: the derivative goes to the other one
fmax_p = binary("fmax", np.fmax,
                _select_weight(lambda x, y: (x > y) | lax.isnan(y), lambda x, y: x == y),
                _select_weight(lambda x, y: (y > x) | lax.isnan(x), lambda x, y: x == y),
                uses="input")
fmin_p = binary("fmin", np.fmin,
                _select_weight(lambda x, y: (x < y) | lax.isnan(y), lambda x, y: x == y),
                _select_weight(lambda x, y: (y < x) | lax.isnan(x), lambda x, y: x == y),
                uses="input")

# z = atan2(y, x): ∂z/∂y = x/(x²+y²), ∂z/∂x = −y/(x²+y²)   (first argument is y)
arctan2_p = binary("arctan2", np.arctan2, lambda y, x, out: x / (x * x + y * y),
                   lambda y, x, out: -y / (x * x + y * y), flops=T, uses="input",
                   lowering=Lowering(scalar="_atan2({0}, {1})", scalar_ns={"_atan2": math.atan2},
                            elementwise=True))
# z = √(x²+y²): ∂z/∂x = x/z, ∂z/∂y = y/z
hypot_p = binary("hypot", np.hypot, lambda x, y, out: x / out, lambda x, y, out: y / out, flops=T,
                 lowering=Lowering(scalar="_hypot({0}, {1})", scalar_ns={"_hypot": math.hypot},
                          elementwise=True))
# z = log(eˣ + eʸ): ∂z/∂x = e^(x−z), ∂z/∂y = e^(y−z)
logaddexp_p = binary("logaddexp", np.logaddexp, lambda x, y, out: lax.exp(x - out),
                     lambda x, y, out: lax.exp(y - out), flops=T)
# z = log₂(2ˣ + 2ʸ): ∂z/∂x = 2^(x−z), ∂z/∂y = 2^(y−z)
logaddexp2_p = binary("logaddexp2", np.logaddexp2,
                      lambda x, y, out: lax.power(2.0, x - out),
                      lambda x, y, out: lax.power(2.0, y - out), flops=T)
# z = fmod(x, y) = x − y·trunc(x/y) (C's fmod: the sign of x): ∂z/∂x = 1, ∂z/∂y = −trunc(x/y)
# (away from the jumps at x/y ∈ ℤ, where the derivative is one-sided)
fmod_p = binary("fmod", np.fmod, lambda x, y, out: lax.ones_like(out),
                lambda x, y, out: -trunc_p.bind(x / y),
                uses="input")
# z = x mod y = x − y⌊x/y⌋: ∂z/∂x = 1, ∂z/∂y = −⌊x/y⌋
mod_p = binary("mod", np.mod, lambda x, y, out: lax.ones_like(out),
               lambda x, y, out: -lax.floor_divide(x, y), uses="input",
               lowering=infix("%"))


# where(c, a, b): ȧ and ḃ are selected like the values; ā = where(c, z̄, 0), b̄ = where(c, 0, z̄)
def _where_jvp(primals, tangents):
    c, a, b = primals
    _, a_dot, b_dot = tangents
    out = where_p.bind(c, a, b)
    if a_dot is None and b_dot is None:
        return out, None
    zero = np.zeros((), dtype_of(out))
    out_dot = where_p.bind(c, zero if a_dot is None else a_dot, zero if b_dot is None else b_dot)
    return out, broadcast_tangent(out_dot, out)


def _where_vjp(needs, out_bar, out, c, a, b):
    zero = np.zeros((), dtype_of(out_bar))
    a_bar = unbroadcast(where_p.bind(c, out_bar, zero), a) if needs[1] else None
    b_bar = unbroadcast(where_p.bind(c, zero, out_bar), b) if needs[2] else None
    return None, a_bar, b_bar


where_p = Primitive("where", np.where, jvp=_where_jvp, vjp=_where_vjp,
                    lowering=Lowering(scalar="({1} if {0} else {2})", elementwise=True))
where_p.def_rules(shape=elementwise_shape(np.where), batch=elementwise_batch(where_p),
                  cost=elementwise_cost(1))


# dtype conversion: ż = convert(ẋ); x̄ = convert back (real part when narrowing complex → real)
def _astype_impl(x, dtype):
    return (x if type(x) is np.ndarray else _backends.asarray_like(x)).astype(dtype)


def _astype_jvp(primals, tangents, dtype):
    x, = primals
    x_dot, = tangents
    out = astype_p.bind(x, dtype=dtype)
    if x_dot is None or not is_inexact(np.dtype(dtype)):
        return out, None
    return out, astype_p.bind(x_dot, dtype=dtype)


def _astype_vjp(needs, out_bar, out, x, dtype):
    target = dtype_of(x)
    if not is_inexact(target):
        return (None,)
    if target.kind != "c" and dtype_of(out_bar).kind == "c":
        out_bar = lax.real(out_bar)
    return (astype_p.bind(out_bar, dtype=target),)


astype_p = Primitive(
    "astype", _astype_impl, jvp=_astype_jvp, vjp=_astype_vjp,
    shape=lambda a, dtype: ShapedArray(a.shape, dtype),
    batch=lambda vals, dims, dtype: (astype_p.bind(vals[0], dtype=dtype), dims[0]),
    cost=lambda a, dtype: 0,
    # a cast to the input's own dtype is the identity
    lowering=Lowering(elementwise=True,
                      forward=lambda ins, out, params, value_of, is_known:
                      ins[0] if same_aval(ins[0], out) else None))
