"""Batching (vmap): a batched value carries the axis along which it is batched.

Each primitive's batch rule gets the values and their batch axes (None for an
unbatched argument) and returns the output and its batch axis. Rules are
written with adjoin operations, so batching composes with every other
transformation.
"""
from __future__ import annotations

from adjoin.core.trace import ConcretizationError, Trace, Tracer, dtype_of, shape_of


class BatchTracer(Tracer):
    __slots__ = ("val", "bdim")

    def __init__(self, trace, val, bdim):
        self._trace = trace
        self.val = val
        self.bdim = bdim

    @property
    def shape(self):
        s = shape_of(self.val)
        return s[:self.bdim] + s[self.bdim + 1:]

    @property
    def dtype(self):
        return dtype_of(self.val)

    def _all_values(self):
        return self.val

    def _concrete(self):
        raise ConcretizationError(
            f"a value batched by vmap (per-example shape {self.shape}) was used where one "
            "concrete value is needed (Python `if`, int(), float()): it differs across the "
            "batch. Use adjoin.numpy.where, or move the branch out of the vmapped function.")


class BatchTrace(Trace):
    """The vmap interpreter."""

    __slots__ = ("axis_size",)

    def __init__(self, axis_size):
        super().__init__()
        self.axis_size = axis_size

    def process(self, prim, args, params):
        vals, dims = [], []
        for a in args:
            if type(a) is BatchTracer and a._trace is self:
                vals.append(a.val)
                dims.append(a.bdim)
            else:
                vals.append(a)
                dims.append(None)
        out, out_dim = prim.batch(vals, dims, **params)
        if prim.multiple_results:
            if not isinstance(out_dim, (list, tuple)):
                out_dim = [out_dim] * len(out)
            return [o if d is None else BatchTracer(self, o, d) for o, d in zip(out, out_dim)]
        return out if out_dim is None else BatchTracer(self, out, out_dim)

    def unwrap(self, x):
        if type(x) is BatchTracer and x._trace is self:
            return x.val, x.bdim
        return x, None
