"""The primitive: one atomic operation that owns all of its rules.

A primitive has six rules, all stated in one block of one file (see
``adjoin/primitives/``):

``impl(*args, **params)``
    the NumPy/SciPy implementation on concrete arrays;
``shape(*avals, **params)``
    abstract evaluation: the output's :class:`~adjoin.core.avals.ShapedArray`
    from the inputs' shapes and dtypes, without computing anything;
``jvp(primals, tangents, **params) -> (out, out_dot)``
    the pushforward; a tangent of ``None`` is a symbolic zero;
``vjp(needs, out_bar, out, *primals, **params) -> tuple of input cotangents``
    the pullback; ``needs[i]`` says whether argument ``i`` wants a cotangent
    (return ``None`` for those that do not);
``batch(args, dims, **params) -> (out, out_dim)``
    the vmap rule; ``dims[i]`` is the batched axis of argument ``i`` or None;
``cost(*avals, **params) -> int``
    floating-point operations of one application.

and one optional slot, ``lowering`` (:class:`~adjoin.core.lowering.Lowering`): how
``jit`` may compile it (a scalar expression, fusion into elementwise kernels, exact
no-op forwarding). Without one, jit calls ``impl``.

Rules are written with adjoin's own operations (``adjoin.numpy``), never raw
NumPy on traced values, so that every rule is itself differentiable.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Callable

from adjoin.core.lowering import DEFAULT as _DEFAULT_LOWERING, Lowering
from adjoin.core import trace as _trace
from adjoin.core.trace import bind as _dispatch, trace_stack

RULES = ("impl", "shape", "jvp", "vjp", "batch", "cost")

#: every primitive ever created, by name
REGISTRY: dict[str, "Primitive"] = {}


class MissingRuleError(NotImplementedError):
    """A primitive was asked for a rule it does not have."""


def _missing(prim: "Primitive", rule: str):
    def missing(*args, **kwargs):
        raise MissingRuleError(
            f"primitive '{prim.name}' has no {rule} rule. Add `{rule}=...` where "
            f"'{prim.name}' is defined, in {prim.defined_in}.")
    missing.is_missing = True
    return missing


class Primitive:
    """An atomic operation with its implementation and derivative rules."""

    __slots__ = ("name", "impl", "shape", "jvp", "vjp", "batch", "cost",
                 "multiple_results", "defined_in", "reverse", "forward", "saves",
                 "lowering", "__weakref__")

    def __init__(self, name, impl=None, *, shape=None, jvp=None, vjp=None,
                 batch=None, cost=None, multiple_results=False, defined_in=None,
                 reverse=None, forward=None, saves=None, lowering: Lowering | None = None):
        self.name = name
        self.lowering = _DEFAULT_LOWERING if lowering is None else lowering
        # what the vjp rule reads: None (inputs and output) or (inputs?, output?); reverse
        # mode keeps only the shape and dtype of large arrays the rule does not read
        self.saves = saves
        # optional hooks for primitives that wrap a user function (custom rules,
        # checkpoint): how reverse mode records them and how forward mode runs them
        self.reverse = reverse
        self.forward = forward
        self.multiple_results = multiple_results
        if defined_in is None:
            frame = sys._getframe(1)
            while frame is not None and frame.f_code.co_filename == __file__:
                frame = frame.f_back
            # family helpers live in _families.py: report the file that calls them
            while frame is not None and os.path.basename(frame.f_code.co_filename) == "_families.py":
                frame = frame.f_back
            defined_in = _short_path(frame.f_code.co_filename) if frame else "?"
        self.defined_in = defined_in
        rules = dict(impl=impl, shape=shape, jvp=jvp, vjp=vjp, batch=batch, cost=cost)
        for rule, fn in rules.items():
            setattr(self, rule, fn if fn is not None else _missing(self, rule))
        if name in REGISTRY:
            raise ValueError(f"a primitive named '{name}' already exists ({REGISTRY[name].defined_in})")
        REGISTRY[name] = self

    def def_rules(self, **rules: Callable) -> "Primitive":
        """Set rules after creation (for rules that refer to the primitive itself)."""
        for rule, fn in rules.items():
            if rule not in RULES:
                raise TypeError(f"unknown rule '{rule}'; the rules are {RULES}")
            setattr(self, rule, fn)
        return self

    def has_rule(self, rule: str) -> bool:
        return not getattr(getattr(self, rule), "is_missing", False)

    def bind(self, *args: Any, **params: Any) -> Any:
        """Apply the primitive: to NumPy directly, or to the innermost active transformation."""
        if trace_stack:
            return _dispatch(self, args, params)
        try:
            return self.impl(*args, **params)
        except Exception as e:
            if _trace.impl_fallback is None:
                raise
            return _trace.impl_fallback(self, args, params, e)

    def __repr__(self):
        return f"Primitive({self.name})"


def set_impl_fallback(fn: Callable | None) -> None:
    """Install the hook that runs after an impl raised (see ``adjoin.core.trace.impl_failed``);
    ``adjoin.backends.install`` sets it at import. None removes it."""
    _trace.impl_fallback = fn


def _short_path(filename: str) -> str:
    parts = os.path.normpath(filename).split(os.sep)
    if "adjoin" in parts:
        return "/".join(parts[len(parts) - 1 - parts[::-1].index("adjoin"):])
    return filename
