"""Argument checks shared by the transformations: clear errors for non-arrays, integer
inputs and tangents of the wrong shape or dtype.
"""
from __future__ import annotations

import numpy as np

from adjoin.backends import is_array
from adjoin.core.avals import is_inexact
from adjoin.core.trace import Tracer, dtype_of, shape_of


def as_array(x, what):
    if isinstance(x, (Tracer, np.ndarray, np.generic)):
        return x
    if isinstance(x, (bool, int, float, complex)):
        return np.asarray(x)
    if is_array(x):  # an array of another backend (Dask, CuPy, array-API): kept as it is
        return x
    arr = np.asarray(x)
    if arr.dtype == object:
        raise TypeError(
            f"{what} is a {type(x).__name__}, which is neither an array nor a registered "
            "pytree container. Register it with adjoin.register_pytree_node(cls, flatten, "
            "unflatten) or adjoin.register_dataclass, or pass its arrays instead.")
    return arr


def check_differentiable(x, what, fun_name):
    if not is_inexact(x):
        raise TypeError(
            f"{fun_name} requires real or complex floating-point inputs, but {what} has dtype "
            f"{dtype_of(x)}. Pass floats (e.g. `x.astype(float)` or `1.0` instead of `1`), or "
            "leave the argument out of argnums.")


def argnums_tuple(argnums, nargs, fun_name):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for i in nums:
        if not isinstance(i, int) or not -nargs <= i < nargs:
            raise ValueError(f"{fun_name}: argnums {argnums} out of range for {nargs} positional "
                             "arguments")
    return single, tuple(i % nargs for i in nums)


def check_tangent(p, t, i):
    if t is None:
        return None
    t = as_array(t, f"tangent {i}")
    if shape_of(t) != shape_of(p):
        raise ValueError(f"tangent {i} has shape {shape_of(t)} but its primal has shape "
                         f"{shape_of(p)}; a tangent must have its primal's shape")
    if not is_inexact(p):
        raise TypeError(f"primal {i} has dtype {dtype_of(p)} and cannot carry a tangent; pass "
                        "None as its tangent or make the primal a float array")
    if not is_inexact(t) or (dtype_of(p).kind == "f" and dtype_of(t).kind == "c"):
        raise TypeError(f"tangent {i} has dtype {dtype_of(t)} but its primal has dtype "
                        f"{dtype_of(p)}; the tangent must have the primal's dtype")
    return t
