"""Helpers that build whole families of primitives from one line each.

``unary("exp", np.exp, deriv=lambda x, out: out)`` gives a primitive whose jvp
is ``deriv * x_dot``, whose vjp is ``out_bar * deriv``, which batches
elementwise and whose cost is ``flops`` per element. The derivative is written
with adjoin operations so that it can be differentiated again.
"""
from __future__ import annotations

import numpy as np

from adjoin.core.avals import ShapedArray
from adjoin.core.parallel import blocked  # large eager ufuncs split over threads
from adjoin.core.primitive import Primitive
from adjoin.core.trace import dtype_of, shape_of
from adjoin.primitives import lax

#: the counting model: flops charged per element (see docs/cost-model in the README)
TRANSCENDENTAL = 10


# --- shape rules ---------------------------------------------------------------

def elementwise_shape(impl):
    """Shape rule for a NumPy ufunc-like impl: broadcast shapes, dtype from a 0-d trial."""
    cache = {}

    def shape(*avals, **params):
        key = tuple(a.dtype for a in avals) + tuple(params.items())
        dtype = cache.get(key)
        if dtype is None:
            with np.errstate(all="ignore"):
                out = impl(*[np.ones((), a.dtype) for a in avals], **params)
            dtype = cache[key] = np.asarray(out).dtype
        return ShapedArray(np.broadcast_shapes(*[a.shape for a in avals]), dtype)

    return shape


def elementwise_cost(flops):
    def cost(*avals, **params):
        return flops * int(np.prod(np.broadcast_shapes(*[a.shape for a in avals]), dtype=np.int64))
    return cost


# --- batching --------------------------------------------------------------------

def elementwise_batch(prim):
    """vmap rule for elementwise (broadcasting) primitives: batch axis to the front."""
    def batch(vals, dims, **params):
        nd = max(len(shape_of(v)) - (d is not None) for v, d in zip(vals, dims))
        moved = []
        for v, d in zip(vals, dims):
            if d is None:
                moved.append(v)
                continue
            if d != 0:
                v = lax.moveaxis(v, d, 0)
            s = shape_of(v)
            missing = nd - (len(s) - 1)
            if missing:
                v = lax.reshape(v, s[:1] + (1,) * missing + s[1:])
            moved.append(v)
        return prim.bind(*moved, **params), 0
    return batch


# --- reductions of broadcast cotangents ---------------------------------------------

def sum_to_shape(g, shape, real):
    """Sum a cotangent over leading / size-1 broadcast axes down to ``shape``.

    ``real``: the input is real, so it gets the real part of a complex cotangent (JAX's
    convention: the cotangent of a real value is real).
    """
    gshape = shape_of(g)
    shape = tuple(shape)
    if gshape != shape:
        lead = len(gshape) - len(shape)
        axes = tuple(range(lead)) + tuple(
            i + lead for i, n in enumerate(shape) if n == 1 and gshape[i + lead] != 1)
        if axes:
            g = lax.sum(g, axis=axes)
        if shape_of(g) != shape:
            g = lax.reshape(g, shape)
    if real and dtype_of(g).kind == "c":
        g = lax.real(g)
    return g


def unbroadcast(g, x):
    """Sum the cotangent ``g`` of a broadcast result down to the shape of input ``x``
    (and to a real cotangent if ``x`` is real)."""
    return sum_to_shape(g, shape_of(x), dtype_of(x).kind != "c")


def broadcast_tangent(t, out):
    """A tangent of a broadcast input, brought to the shape of the output."""
    s = shape_of(out)
    return t if shape_of(t) == s else lax.broadcast_to(t, s)


# --- families --------------------------------------------------------------------------

_SAVES = {"input": (True, False), "output": (False, True), "both": None, "none": (False, False)}


def bilinear_jvp(prim):
    """The jvp rule of a primitive bilinear in its two operands (a convolution):
    ż = p(ẋ, w) + p(x, ẇ), with the primitive's own params. Set it after creation
    (``prim.def_rules(jvp=bilinear_jvp(prim))``)."""
    def jvp(primals, tangents, **params):
        x, w = primals
        x_dot, w_dot = tangents
        out = prim.bind(x, w, **params)
        terms = [prim.bind(t, w, **params) for t in [x_dot] if t is not None]
        terms += [prim.bind(x, t, **params) for t in [w_dot] if t is not None]
        return out, (None if not terms else terms[0] if len(terms) == 1 else terms[0] + terms[1])
    return jvp


def unary(name, impl, deriv, *, flops=1, uses="both", lowering=None):
    """An elementwise primitive f with f'(x) = ``deriv(x, out)`` (holomorphic for complex).

    ``uses``: which of x ("input") and out ("output") ``deriv`` reads ("both" or "none"),
    so that reverse mode keeps only those; ``lowering``: how jit compiles it
    (:class:`~adjoin.core.lowering.Lowering`).
    """
    prim = Primitive(name, blocked(impl), saves=_SAVES[uses], lowering=lowering)

    def jvp(primals, tangents):
        x, = primals
        out = prim.bind(x)
        x_dot, = tangents
        if x_dot is None:
            return out, None
        return out, x_dot * deriv(x, out)

    def vjp(needs, out_bar, out, x):
        return (out_bar * deriv(x, out),)

    prim.def_rules(shape=elementwise_shape(impl), jvp=jvp, vjp=vjp,
                   batch=lambda vals, dims: (prim.bind(vals[0]), dims[0]),
                   cost=elementwise_cost(flops))
    return prim


def nondifferentiable(name, impl, *, nargs=1, flops=1, lowering=None):
    """An elementwise primitive with zero derivative (rounding, comparisons, tests)."""
    prim = Primitive(name, impl, lowering=lowering)

    def jvp(primals, tangents, **params):
        return prim.bind(*primals, **params), None

    def vjp(needs, out_bar, out, *args, **params):
        return (None,) * len(args)

    batch = (elementwise_batch(prim) if nargs > 1
             else (lambda vals, dims, **params: (prim.bind(vals[0], **params), dims[0])))
    prim.def_rules(shape=elementwise_shape(impl), jvp=jvp, vjp=vjp, batch=batch,
                   cost=elementwise_cost(flops))
    return prim


def binary(name, impl, dx, dy, *, flops=1, uses="both", lowering=None):
    """An elementwise broadcasting primitive f(x, y) with partials ``dx(x, y, out)``, ``dy(x, y, out)``.

    ``uses`` and ``lowering`` as for :func:`unary`.
    """
    prim = Primitive(name, blocked(impl), saves=_SAVES[uses], lowering=lowering)

    def jvp(primals, tangents):
        x, y = primals
        x_dot, y_dot = tangents
        out = prim.bind(x, y)
        out_dot = None
        if x_dot is not None:
            out_dot = broadcast_tangent(x_dot * dx(x, y, out), out)
        if y_dot is not None:
            y_dot = y_dot * dy(x, y, out)
            out_dot = broadcast_tangent(y_dot, out) if out_dot is None else out_dot + y_dot
        return out, out_dot

    def vjp(needs, out_bar, out, x, y):
        x_bar = unbroadcast(out_bar * dx(x, y, out), x) if needs[0] else None
        y_bar = unbroadcast(out_bar * dy(x, y, out), y) if needs[1] else None
        return x_bar, y_bar

    prim.def_rules(shape=elementwise_shape(impl), jvp=jvp, vjp=vjp,
                   batch=elementwise_batch(prim), cost=elementwise_cost(flops))
    return prim
