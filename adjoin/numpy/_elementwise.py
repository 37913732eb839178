"""adjoin.numpy: elementwise functions (ufuncs) and their aliases."""
from __future__ import annotations

import numpy as np

from adjoin.core.trace import concrete_value as _concrete_value
from adjoin.numpy._wrap import binary_function, unary_function
from adjoin.primitives import elementwise as _e
from adjoin.primitives.lax import astype  # noqa: F401

_UNARY = ["sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
          "arcsinh", "arccosh", "arctanh", "exp", "exp2", "expm1", "log", "log2", "log10",
          "log1p", "sqrt", "cbrt", "square", "reciprocal", "sinc", "negative", "real", "imag",
          "conj", "abs", "sign", "floor", "ceil", "trunc", "rint", "isnan", "isfinite",
          "isinf", "signbit", "logical_not"]
_BINARY = ["add", "subtract", "multiply", "divide", "power", "float_power", "maximum",
           "minimum", "fmax", "fmin", "arctan2", "hypot", "logaddexp", "mod", "equal",
           "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and",
           "logical_or", "logical_xor", "floor_divide"]

for _name in _UNARY:
    globals()[_name] = unary_function(getattr(_e, _name + "_p"))
for _name in _BINARY:
    globals()[_name] = binary_function(getattr(_e, _name + "_p"))

# NumPy's other names for the same functions
absolute = abs  # noqa: F821
conjugate = conj  # noqa: F821
true_divide = divide  # noqa: F821
fix = trunc  # noqa: F821
remainder = mod  # noqa: F821
asin, acos, atan, atan2 = arcsin, arccos, arctan, arctan2  # noqa: F821
asinh, acosh, atanh = arcsinh, arccosh, arctanh  # noqa: F821
pow = power  # noqa: F821


def positive(x):
    """``numpy.positive``: the identity."""
    return x


def round(x, decimals=0):
    """``numpy.round`` (zero derivative)."""
    return _e.round_p.bind(x, decimals=int(decimals))


around = round


def where(condition, x=None, y=None):
    """``numpy.where``: where(c, x, y) selects elementwise (differentiable in x and y).

    The one-argument form ``where(c)`` returns the indices of nonzero entries (not
    differentiable; needs a concrete ``c``).
    """
    if x is None and y is None:
        return np.nonzero(_concrete_value(condition))
    if x is None or y is None:
        raise TypeError("where takes either one argument or three (condition, x, y)")
    return _e.where_p.bind(condition, x, y)


def clip(a, a_min=None, a_max=None, *, min=None, max=None):
    """``numpy.clip`` as ``minimum(maximum(a, a_min), a_max)``: ∂/∂a = 1 inside the
    interval, the derivative goes to the bound that is active outside (½/½ at ties)."""
    lo = a_min if a_min is not None else min
    hi = a_max if a_max is not None else max
    if lo is None and hi is None:
        raise ValueError("clip needs at least one of a_min and a_max")
    out = a
    if lo is not None:
        out = maximum(out, lo)  # noqa: F821
    if hi is not None:
        out = minimum(out, hi)  # noqa: F821
    return out


def angle(z, deg=False):
    """``numpy.angle``: arg(z) = atan2(Im z, Re z)."""
    out = arctan2(imag(z), real(z))  # noqa: F821
    return out * (180.0 / np.pi) if deg else out


def deg2rad(x):
    return x * (np.pi / 180.0)


def rad2deg(x):
    return x * (180.0 / np.pi)


radians, degrees = deg2rad, rad2deg
