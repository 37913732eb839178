"""The machinery shared by the primitives that call a user function with custom rules.

``custom_jvp``, ``custom_vjp`` and ``checkpoint`` each bind one primitive whose
parameters hold the user's function (and rules). They share how reverse mode records
such a call (:func:`reverse_record`, with a second path for values the function closes
over), how forward mode runs it (:func:`forward_with_closure`), its shape and cost rules
(stage the function) and the flat-function wrapper that remembers the output structure.
Only the modules of ``custom.py``'s family use it.
"""
from __future__ import annotations

from adjoin.core.avals import zero_tangent
from adjoin.core.lowering import Lowering
from adjoin.core.pytree import tree_flatten, tree_map
from adjoin.core.trace import Tracer
from adjoin.transforms.forward import JVPTracer
from adjoin.transforms.reverse import VJPTracer
from adjoin.transforms.staging import abstract_eval

RUNS_USER_CODE = Lowering(foldable=False)


def fill(ts, like):
    """Tangents or cotangents with each None replaced by zeros like its primal."""
    return [zero_tangent(p) if t is None else t for t, p in zip(ts, like)]


def call_shape(*avals, fun, **params):
    """The shape rule of a primitive that calls ``fun``: stage fun on the avals."""
    return abstract_eval(fun, avals)[0]


def call_cost(*avals, fun, **params):
    """The cost rule of a primitive that calls ``fun``: the flops of its staged graph."""
    return abstract_eval(fun, avals)[1].flops()


def split_static(args, static_argnums):
    """(static args by position, the other args, a function rebuilding all args from those)."""
    static = {i % len(args): args[i] for i in static_argnums}
    dynamic = tuple(a for i, a in enumerate(args) if i not in static)

    def full(dyn):
        it = iter(dyn)
        return [static[i] if i in static else next(it) for i in range(len(args))]

    return static, dynamic, full


class FlatFun:
    """``fun`` on flat leaves, returning a flat list; remembers the output structure."""

    def __init__(self, fun, in_tree, out_store):
        self.fun, self.in_tree, self.out_store = fun, in_tree, out_store
        self.__name__ = getattr(fun, "__name__", "fun")

    def __call__(self, *flat):
        out = self.fun(*self.in_tree.unflatten(flat))
        leaves, tree = tree_flatten(out)
        self.out_store.setdefault("tree", tree)
        return leaves


def split_closure(trace, outs, tracer_type):
    """Separate outputs that are tracers of ``trace`` itself (they depend on closed-over
    values being differentiated) into (primal, the tracer or None)."""
    prim_outs, closure = [], []
    for o in outs:
        if isinstance(o, Tracer) and o._trace.level > trace.level:
            raise TypeError(
                "a function with a custom rule (custom_jvp, custom_vjp or checkpoint) closes "
                "over a value that an inner transformation is tracing, while its explicit "
                "arguments belong to an outer one; its derivative would be wrong. Pass the "
                "closed-over value as an explicit argument of the function.")
        if type(o) is tracer_type and o._trace is trace:
            closure.append(o)
            prim_outs.append(o.primal)
        else:
            closure.append(None)
            prim_outs.append(o)
    return prim_outs, closure


def strip_trace(trace, tree, tracer_type):
    """The pytree with ``trace``'s own tracers replaced by their primals."""
    return tree_map(lambda x: x.primal if type(x) is tracer_type and x._trace is trace else x, tree)


def join_vjp(needs, g, out, *saved):
    """The pullback of the join of two derivative paths of one output: both get ȳ."""
    return g, g


def reverse_record(trace, args, params, run, vjp_rule, rule_params, saved_of):
    """Shared reverse-mode recording of a call primitive.

    ``run(primals) -> (outs, extra)`` computes the outputs; ``saved_of(primals, extra)``
    the residuals; ``vjp_rule(needs, cts, outs, *saved, **rule_params)`` pulls back.
    Outputs that depend on closed-over traced values get a second path (a join
    entry) so that both contributions reach the cotangents.
    """
    primals, in_idx = trace.split_args(args)
    outs, extra = run(primals)
    outs, closure = split_closure(trace, list(outs), VJPTracer)
    extra = strip_trace(trace, extra, VJPTracer)
    tracers = trace.record(vjp_rule, dict(rule_params, extra=extra), tuple(in_idx),
                           saved_of(primals, extra), outs, True)
    for k, c in enumerate(closure):
        if c is not None:
            t = tracers[k]
            t_idx = t.idx if type(t) is VJPTracer else -1
            tracers[k] = trace.record(join_vjp, {}, (t_idx, c.idx), (), outs[k], False)
    return tracers


def forward_with_closure(trace, args, run_jvp):
    """Forward-mode processing of a call primitive with closure support.

    ``run_jvp(primals, tangents) -> (outs, out_tangents)``; outputs that are tracers of
    ``trace`` carry the closure contribution in their own tangent.
    """
    primals, tangents = [], []
    for a in args:
        p, t = trace.unwrap(a)
        primals.append(p)
        tangents.append(t)
    outs, tans = run_jvp(primals, tangents)
    split_closure(trace, outs, JVPTracer)  # raises for closures over inner tracers
    results = []
    for o, t in zip(outs, tans):
        if type(t) is JVPTracer and t._trace is trace:
            t = t.primal  # its own tangent is a second-order term of this level
        if type(o) is JVPTracer and o._trace is trace:
            o, tc = o.primal, o.tangent
            if tc is not None:
                t = tc if t is None else t + tc
        results.append(o if t is None else JVPTracer(trace, o, t))
    return results


def mask(in_cts, needs):
    """Cotangents of the arguments that want one (None for the others)."""
    return [c if n else None for c, n in zip(in_cts, needs)]
