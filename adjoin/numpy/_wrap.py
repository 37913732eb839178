"""Turning primitives into NumPy-style functions with a fast path.

With no transformation active, the generated function calls the primitive's
NumPy implementation directly: one Python call on top of NumPy's.
"""
from __future__ import annotations

from adjoin.core.trace import bind, trace_stack


def unary_function(prim, name=None, doc=None):
    impl = prim.impl

    def fn(x):
        if trace_stack:
            return bind(prim, (x,), {})
        return impl(x)

    fn.__name__ = fn.__qualname__ = name or prim.name
    fn.__doc__ = doc or f"Elementwise ``numpy.{prim.name}``, differentiable (primitive '{prim.name}')."
    return fn


def binary_function(prim, name=None, doc=None):
    impl = prim.impl

    def fn(x, y):
        if trace_stack:
            return bind(prim, (x, y), {})
        return impl(x, y)

    fn.__name__ = fn.__qualname__ = name or prim.name
    fn.__doc__ = doc or f"Elementwise ``numpy.{prim.name}``, differentiable (primitive '{prim.name}')."
    return fn
