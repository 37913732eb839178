"""Forward mode: tangents travel beside primals; each primitive's jvp rule pushes them on.

A tangent of ``None`` is a symbolic zero: no array of zeros is built, and an
output whose tangent is zero is not traced at all, except an array of another backend
(array-api-strict, CuPy): it stays a tracer with a ``None`` tangent, since such an array's
operators raise on a tracer instead of deferring to it (``floor(x) * x``), where a NumPy
array's ``__mul__`` returns NotImplemented and lets the tracer's ``__rmul__`` run.
"""
from __future__ import annotations

from adjoin.backends import is_foreign
from adjoin.core.trace import PrimalTracer, Trace, Tracer


class JVPTracer(PrimalTracer, Tracer):
    __slots__ = ("primal", "tangent")

    def __init__(self, trace, primal, tangent):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent


class JVPTrace(Trace):
    """The forward-mode interpreter."""

    __slots__ = ()

    def process(self, prim, args, params):
        if prim.forward is not None:
            return prim.forward(self, args, params)
        primals, tangents = [], []
        for a in args:
            if type(a) is JVPTracer and a._trace is self:
                primals.append(a.primal)
                tangents.append(a.tangent)
            else:
                primals.append(a)
                tangents.append(None)
        out, out_dot = prim.jvp(primals, tangents, **params)
        if prim.multiple_results:
            return [o if t is None and not is_foreign(o) else JVPTracer(self, o, t)
                    for o, t in zip(out, out_dot)]
        if out_dot is None and not is_foreign(out):
            return out
        return JVPTracer(self, out, out_dot)

    def unwrap(self, x):
        """(primal, tangent or None) of a value that may be one of this trace's tracers."""
        if type(x) is JVPTracer and x._trace is self:
            return x.primal, x.tangent
        return x, None
