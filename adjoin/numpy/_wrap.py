"""Turning primitives into NumPy-style functions with a fast path.

With no transformation active, the generated function calls the primitive's
NumPy implementation directly: one Python call on top of NumPy's.
"""
from __future__ import annotations

from adjoin.core.trace import bind, impl_failed, trace_stack


def unary_function(prim, name=None, doc=None):
    impl = prim.impl

    def fn(x):
        if trace_stack:
            return bind(prim, (x,), {})
        try:
            return impl(x)
        except Exception as e:  # another backend's array (adjoin.backends), or re-raised
            return impl_failed(prim, (x,), {}, e)

    fn.__name__ = fn.__qualname__ = name or prim.name
    fn.__doc__ = doc or f"Elementwise ``numpy.{prim.name}``, differentiable (primitive '{prim.name}')."
    return fn


def binary_function(prim, name=None, doc=None):
    impl = prim.impl

    def fn(x, y):
        if trace_stack:
            return bind(prim, (x, y), {})
        try:
            return impl(x, y)
        except Exception as e:  # another backend's array (adjoin.backends), or re-raised
            return impl_failed(prim, (x, y), {}, e)

    fn.__name__ = fn.__qualname__ = name or prim.name
    fn.__doc__ = doc or f"Elementwise ``numpy.{prim.name}``, differentiable (primitive '{prim.name}')."
    return fn
