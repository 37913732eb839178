"""How ``jit`` compiles a primitive: the lowering slot, stated next to the other rules.

A primitive's ``lowering`` tells the graph passes (``adjoin/transforms/_optimize.py``)
and the code generators (``adjoin/transforms/_compile.py``) what they may do with it.
Nothing here is needed for a primitive to work under ``jit``: without a lowering, jit
calls the primitive's ``impl`` once per equation. A lowering only makes that faster:

``scalar``
    a Python expression template on floats (``"({0} + {1})"``, ``"_sin({0})"``) for
    the scalar back end, which runs programs made of 0-d float64 values as straight-line
    Python; ``scalar_ns`` holds the names the template uses (``{"_sin": math.sin}``).
    Where Python raises and NumPy does not (``math.log(0.0)``), the compiled function
    falls back to the NumPy program, so a template need not handle those cases.
``elementwise``
    the impl maps arrays of one (broadcast) shape elementwise, so the equation may join
    a fused blockwise kernel. NumPy ufuncs are elementwise without saying so.
``alias``
    the output *is* the first input (``stop_gradient``): no code, one buffer.
``shape_only``
    on 0-d values the output equals the input (``reshape``, ``transpose``, ``sum`` over
    no axes of a scalar): the scalar back end forwards the input.
``foldable``
    constant folding and common-subexpression elimination may merge or precompute the
    equation. False for primitives that run user code (custom rules, checkpoint).
``view``
    the result is a view that costs no memory (``broadcast_to``): it is folded into a
    constant whatever its size.
``forward``
    ``forward(invars, out, params, value_of, is_known) -> input or None``: the input
    that this equation passes through unchanged (``x * 1``, a reshape to the same
    shape), which the graph passes then use in its place. It must be exact: return an
    input only when the result equals it bit for bit, with the same shape and dtype.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Optional

import numpy as np

__all__ = ["Lowering", "scalar_call", "same_aval", "is_exactly", "DEFAULT"]


@dataclasses.dataclass(frozen=True)
class Lowering:
    """What jit may do with a primitive (see the module docstring)."""

    scalar: Optional[str] = None
    scalar_ns: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    elementwise: bool = False
    alias: bool = False
    shape_only: bool = False
    foldable: bool = True
    view: bool = False
    forward: Optional[Callable] = None

    def replace(self, **changes) -> "Lowering":
        return dataclasses.replace(self, **changes)


#: the lowering of a primitive that states none: jit calls its impl
DEFAULT = Lowering()


def scalar_call(fn: Callable, **fields) -> Lowering:
    """The lowering of an elementwise function whose float version is ``fn`` (``math.sin``)."""
    name = "_" + fn.__name__
    return Lowering(scalar=f"{name}({{0}})", scalar_ns={name: fn}, elementwise=True, **fields)


def same_aval(v, out) -> bool:
    """Whether the graph variable ``v`` has the shape and dtype of ``out`` (not a literal)."""
    return (hasattr(v, "count") and v.aval.shape == out.aval.shape
            and v.aval.dtype == out.aval.dtype)


def is_exactly(x, value) -> bool:
    """Whether a literal or constant is exactly ``value`` everywhere (a cheap check;
    ``0`` does not match ``-0.0``, whose sum with ``-0.0`` differs)."""
    try:
        a = np.asarray(x)
        if a.dtype.kind not in "biufc" or a.size == 0:
            return False
        if a.ndim and all(s == 0 for s in a.strides):  # a broadcast scalar
            a = a.reshape(-1)[:1]
        elif a.size > 4096:
            return False
        return bool(np.all(a == value)) and not (value == 0 and np.any(np.signbit(a)))
    except (TypeError, ValueError):  # pragma: no cover - exotic constants
        return False
