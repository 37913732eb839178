"""Staging: run a function on abstract values and record the graph IR.

Values have shapes and dtypes but no data; every primitive's ``shape`` rule
says what its output looks like. Python control flow on a staged value raises a
:class:`~adjoin.core.trace.ConcretizationError` that names the value.
"""
from __future__ import annotations

import numpy as np

from adjoin.core.avals import ShapedArray, aval_of
from adjoin.core.graph import Eqn, Graph, Literal, Var
from adjoin.core.pytree import tree_flatten
from adjoin.core.trace import Trace, Tracer


class StagingTracer(Tracer):
    __slots__ = ("aval", "var")

    def __init__(self, trace, aval, var):
        self._trace = trace
        self.aval = aval
        self.var = var

    @property
    def shape(self):
        return self.aval.shape

    @property
    def dtype(self):
        return self.aval.dtype


class StagingTrace(Trace):
    """The staging interpreter: records equations instead of computing."""

    __slots__ = ("eqns", "invars", "constvars", "consts", "_const_ids")

    def __init__(self):
        super().__init__()
        self.eqns, self.invars, self.constvars, self.consts = [], [], [], []
        self._const_ids = {}

    def new_input(self, aval: ShapedArray) -> StagingTracer:
        var = Var(aval)
        self.invars.append(var)
        return StagingTracer(self, aval, var)

    def _var_of(self, x):
        if type(x) is StagingTracer and x._trace is self:
            return x.var
        if isinstance(x, np.ndarray) and x.ndim > 0:
            hit = self._const_ids.get(id(x))
            if hit is None:
                var = Var(aval_of(x))
                self.constvars.append(var)
                self.consts.append(x)
                hit = self._const_ids[id(x)] = var
            return hit
        if isinstance(x, Tracer):
            # a value of an outer transformation captured here: a constant of this graph
            var = Var(aval_of(x))
            self.constvars.append(var)
            self.consts.append(x)
            return var
        return Literal(x)

    def process(self, prim, args, params):
        invars = [self._var_of(a) for a in args]
        out_aval = prim.shape(*[v.aval for v in invars], **params)
        if prim.multiple_results:
            outvars = [Var(a) for a in out_aval]
            self.eqns.append(Eqn(prim, invars, outvars, params))
            return [StagingTracer(self, v.aval, v) for v in outvars]
        var = Var(out_aval)
        self.eqns.append(Eqn(prim, invars, [var], params))
        return StagingTracer(self, out_aval, var)

    def to_graph(self, outs, in_tree=None, out_tree=None) -> Graph:
        outvars = [self._var_of(o) for o in outs]
        return Graph(self.invars, self.constvars, self.consts, self.eqns, outvars, in_tree, out_tree)


def stage(fun, *args, **kwargs) -> Graph:
    """Stage ``fun(*args, **kwargs)`` into a Graph; array leaves become abstract inputs."""
    flat, in_tree = tree_flatten(args)
    with StagingTrace() as trace:
        tracers = [trace.new_input(aval_of(x)) for x in flat]
        out = fun(*in_tree.unflatten(tracers), **kwargs)
        out_flat, out_tree = tree_flatten(out)
        graph = trace.to_graph(out_flat, in_tree, out_tree)
    return graph


def abstract_eval(fun, avals):
    """The output avals of ``fun`` (a function of flat arrays returning a list) on ``avals``."""
    graph = stage(lambda *xs: list(fun(*xs)), *[ShapedArray(a.shape, a.dtype) for a in avals])
    return graph.out_avals, graph
