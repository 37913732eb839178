"""The jit-call primitive: a staged call of a jitted function's graph, run as compiled code.

When a jitted function is called with the tracers of another transformation
(``grad(jit(f))``, ``jvp(jit(f))``, ``vmap(jit(f))``), it binds ``jit_call`` with its
optimized graph (a :class:`Program`) instead of replaying the graph equation by
equation. Each rule of the primitive is itself a staged, optimized and compiled
program, derived once per program (and per tangent mask or batch layout) and cached:

jvp
    ``(x, ẋ) -> (f(x), ∂f(x)·ẋ)``: the graph of ``jvp(f)`` on the nonzero tangents
    (the zero ones are constants of the derived program), bound as ``jit_call`` again;
reverse mode
    the graph of ``vjp(f)`` staged once as one joint program
    ``(x, ȳ) -> (f(x), x̄)``, split by dependence on ``ȳ``: the forward part
    ``x -> (f(x), residuals)`` runs when the value is computed (its residuals are every
    value of the forward pass the backward part reads: stacked, never recomputed) and
    the backward part ``(residuals, ȳ) -> x̄`` runs in the pullback. Both are
    ``jit_call``s, so second derivatives differentiate compiled code again;
``vjp`` (the rule, for transformations that call it directly)
    the joint program, which recomputes the forward pass;
batching
    the graph of ``vmap(f)`` for the batch axes of the call: the outputs that depend on a
    batched input are batched on axis 0, the others are not.

Under an outer ``jit`` the call is inlined into the outer graph (``inline_calls``), so the
outer program fuses across it. Use none of this directly: ``jit`` binds it.
"""
from __future__ import annotations

import numpy as np

from adjoin.core.avals import ShapedArray, aval_of
from adjoin.core.graph import Eqn, Graph, Literal, Var
from adjoin.core.lowering import Lowering
from adjoin.core.primitive import Primitive
from adjoin.core.pytree import tree_flatten
from adjoin.transforms._optimize import optimize
from adjoin.backends import is_foreign, zeros
from adjoin.transforms._namespace_backend import signature_backend
from adjoin.transforms._tiers import _Entry, make_entry
from adjoin.transforms.autodiff import jvp, vjp
from adjoin.transforms.staging import StagingTrace
from adjoin.transforms.vectorize import vmap

__all__ = ["jit_call_p", "Program", "inline_calls", "stage_flat"]


def stage_flat(fn, avals):
    """The graph of ``fn(*flat) -> list`` on abstract inputs ``avals`` (not optimized)."""
    with StagingTrace() as trace:
        tracers = [trace.new_input(ShapedArray(a.shape, a.dtype)) for a in avals]
        outs = list(fn(*tracers))
        graph = trace.to_graph(outs, None, tree_flatten(outs)[1])
    return graph


class Program:
    """A closed, optimized graph with lazily compiled code and its derived programs.

    ``run(*flat)`` runs the compiled code (tiered like ``jit``: NumPy first, numba once
    warm, per ``backend``). Hashed by identity: equal programs are the same object.
    """

    def __init__(self, graph, name, backend, fuse=True):
        if graph.out_tree is None:
            graph = Graph(graph.invars, graph.constvars, graph.consts, graph.eqns,
                          graph.outvars, graph.in_tree, tree_flatten(list(graph.outvars))[1])
        self.graph = graph
        self.name = name
        self.backend = backend
        self.fuse = fuse
        self._entry = _Entry(graph, graph, {}, name, fuse, backend)
        self._derived = {}
        self._foreign = {}    # (backend, device) -> entry, for arrays of other backends

    def run(self, *flat):
        for x in flat:
            if is_foreign(x):
                return list(self._entry_for(flat).fn(*flat))
        return list(self._entry.fn(*flat))

    def _entry_for(self, flat):
        key = signature_backend(flat)
        e = self._foreign.get(key)
        if e is None:
            e = self._foreign[key] = make_entry(self.graph, self.graph, {}, self.name,
                                                self.fuse, self.backend, key[0])
        return e

    def _derive(self, key, make_graph, name):
        p = self._derived.get(key)
        if p is None:
            g, _ = optimize(make_graph())
            p = self._derived[key] = Program(g, f"{self.name}_{name}", self.backend, self.fuse)
        return p

    # --- derived programs -------------------------------------------------------------
    def jvp_program(self, mask):
        """``(x, ẋ[mask]) -> (f(x), ẏ)``."""
        graph = self.graph
        avals = graph.in_avals
        n = len(avals)

        def fn(*flat):
            primals, it = list(flat[:n]), iter(flat[n:])
            tangents = [next(it) if m else None for m in mask]
            outs, tans = jvp(lambda *a: graph.evaluate_flat(*a), primals, tangents)
            tans = [np.zeros(o.shape, o.dtype) if t is None else t for o, t in
                    zip(graph.out_avals, tans)]
            return list(outs) + list(tans)

        tan_avals = [a for a, m in zip(avals, mask) if m]
        return self._derive(("jvp", mask), lambda: stage_flat(fn, list(avals) + tan_avals), "jvp")

    def joint_graph(self, needs=None):
        """The optimized graph ``(x, ȳ) -> (f(x), x̄)``, with the cotangents of the inputs
        that ``needs`` (default: all) marks; the others are never computed."""
        n_in = len(self.graph.invars)
        needs = tuple([True] * n_in) if needs is None else tuple(needs)
        key = ("joint_graph", needs)
        hit = self._derived.get(key)
        if hit is not None:
            return hit
        graph = self.graph
        wanted = [i for i in range(n_in) if needs[i]]

        def fn(*flat):
            primals, cts = flat[:n_in], flat[n_in:]
            diff = [primals[i] for i in wanted]

            def partial(*d):
                full = list(primals)
                for i, v in zip(wanted, d):
                    full[i] = v
                return list(graph.evaluate_flat(*full))

            outs, pullback = vjp(partial, *diff)
            in_cts = pullback(list(cts))
            in_cts = [np.zeros(graph.in_avals[i].shape, graph.in_avals[i].dtype) if c is None
                      else c for i, c in zip(wanted, in_cts)]
            return list(outs) + list(in_cts)

        ct_avals = [ShapedArray(a.shape, a.dtype) for a in graph.out_avals]
        joint, _ = optimize(stage_flat(fn, list(graph.in_avals) + ct_avals))
        self._derived[key] = joint
        return joint

    def vjp_joint_program(self):
        """``(x, ȳ) -> x̄`` (recomputes f)."""
        def make():
            j = self.joint_graph()   # every input's cotangent
            n_out = len(self.graph.outvars)
            return Graph(j.invars, j.constvars, j.consts, j.eqns, j.outvars[n_out:])
        return self._derive("vjp", make, "vjp")

    def split_programs(self, needs=None):
        """(forward ``x -> (f(x), residuals)``, backward ``(residuals, ȳ) -> x̄``), x̄ for
        the inputs ``needs`` marks (default: all)."""
        n_in = len(self.graph.invars)
        needs = tuple([True] * n_in) if needs is None else tuple(needs)
        hit = self._derived.get(("split", needs))
        if hit is not None:
            return hit
        j = self.joint_graph(needs)
        n_in, n_out = len(self.graph.invars), len(self.graph.outvars)
        primal_in, ct_in = j.invars[:n_in], j.invars[n_in:]
        outs, in_cts = j.outvars[:n_out], j.outvars[n_out:]
        tainted = set(ct_in)
        fwd_eqns, bwd_eqns = [], []
        for eqn in j.eqns:
            if any(type(v) is Var and v in tainted for v in eqn.invars):
                bwd_eqns.append(eqn)
                tainted.update(eqn.outvars)
            else:
                fwd_eqns.append(eqn)
        const_set = set(j.constvars)
        residuals, seen = [], set()

        def need(v):
            if type(v) is Var and v not in tainted and v not in const_set and v not in seen:
                seen.add(v)
                residuals.append(v)

        for eqn in bwd_eqns:
            for v in eqn.invars:
                need(v)
        for v in in_cts:
            need(v)
        fwd = Graph(primal_in, j.constvars, j.consts, fwd_eqns, list(outs) + residuals)
        bwd = Graph(residuals + list(ct_in), j.constvars, j.consts, bwd_eqns, in_cts)
        pf = self._derive(("fwd", needs), lambda: fwd, "fwd")
        pb = self._derive(("bwd", needs), lambda: bwd, "bwd")
        self._derived[("split", needs)] = (pf, pb)
        return pf, pb

    def batched_outputs(self, dims):
        """Which outputs depend on an input with a batch axis (``dims[i]`` not None)."""
        g = self.graph
        dep = {v for v, d in zip(g.invars, dims) if d is not None}
        for e in g.eqns:
            if any(type(v) is Var and v in dep for v in e.invars):
                dep.update(e.outvars)
        return tuple(type(v) is Var and v in dep for v in g.outvars)

    def batch_program(self, dims, avals):
        """``vmap(f)`` for batch axes ``dims`` of inputs ``avals``; the outputs that depend
        on a batched input are batched on axis 0, the others are not batched."""
        graph = self.graph
        out_axes = tuple(0 if b else None for b in self.batched_outputs(dims))

        def fn(*flat):
            return list(vmap(lambda *a: tuple(graph.evaluate_flat(*a)), in_axes=tuple(dims),
                             out_axes=out_axes)(*flat))

        key = ("batch", tuple(dims), tuple((a.shape, a.dtype) for a in avals))
        return self._derive(key, lambda: stage_flat(fn, avals), "vmap")


# --- the primitive ------------------------------------------------------------------------

def _impl(*args, program):
    return program.run(*args)


def _shape(*avals, program):
    return [ShapedArray(a.shape, a.dtype) for a in program.graph.out_avals]


def _cost(*avals, program):
    return program.graph.flops()


# (y, ẏ) = (f(x), ∂f(x)·ẋ): the derived jvp program on the nonzero tangents
def _jvp(primals, tangents, program):
    mask = tuple(t is not None for t in tangents)
    jp = program.jvp_program(mask)
    res = jit_call_p.bind(*primals, *[t for t in tangents if t is not None], program=jp)
    n = len(program.graph.outvars)
    return list(res[:n]), list(res[n:])


# x̄ = ∂f(x)ᵀ·ȳ, by the joint program (x, ȳ) -> x̄ (the forward pass runs again)
def _vjp(needs, cts, outs, *primals, program):
    like = next((p for p in primals if is_foreign(p)), None)   # zeros on the inputs' backend
    cts = [zeros(a.shape, a.dtype, like=like) if c is None else c
           for a, c in zip(program.graph.out_avals, cts)]
    in_cts = jit_call_p.bind(*primals, *cts, program=program.vjp_joint_program())
    return [c if n else None for c, n in zip(in_cts, needs)]


# reverse mode: the forward part computes y and the residuals now; the pullback runs the
# backward part (residuals, ȳ) -> x̄ = ∂f(x)ᵀ·ȳ
def _reverse(trace, args, params):
    program = params["program"]
    primals, in_idx = trace.split_args(args)
    needs = tuple(k >= 0 for k in in_idx)   # cotangents only for the traced inputs
    fwd, bwd = program.split_programs(needs)
    res = jit_call_p.bind(*primals, program=fwd)
    n = len(program.graph.outvars)
    return trace.record(_bwd_rule, {"program": bwd, "computed": needs}, tuple(in_idx),
                        list(res[n:]), list(res[:n]), True, jit_call_p)


def _bwd_rule(needs, cts, outs, *residuals, program, computed):
    it = iter(jit_call_p.bind(*residuals, *cts, program=program))
    in_cts = [next(it) if c else None for c in computed]
    return [c if n else None for c, n in zip(in_cts, needs)]


# vmap: the derived program of vmap(f) for these batch axes, outputs on axis 0
def _batch(vals, dims, program):
    avals = [aval_of(v) for v in vals]
    bp = program.batch_program(tuple(dims), avals)
    outs = jit_call_p.bind(*vals, program=bp)
    return list(outs), [0 if b else None for b in program.batched_outputs(tuple(dims))]


jit_call_p = Primitive(
    "jit_call", _impl, shape=_shape, jvp=_jvp, vjp=_vjp, batch=_batch, cost=_cost,
    multiple_results=True, reverse=_reverse,
    # compiled code of its own: never folded (constant inputs are rare and it may be large)
    lowering=Lowering(foldable=False))


def inline_calls(graph):
    """``graph`` with every ``jit_call`` equation replaced by the equations of its program
    (fresh variables per call), recursively; the graph itself if there are none."""
    if not any(e.prim is jit_call_p for e in graph.eqns):
        return graph
    constvars, consts = list(graph.constvars), list(graph.consts)
    eqns = []

    def splice(g, invals, out_targets):
        env = dict(zip(g.invars, invals))
        for v, c in zip(g.constvars, g.consts):
            nv = Var(v.aval)
            constvars.append(nv)
            consts.append(c)
            env[v] = nv

        def rd(v):
            return v if type(v) is Literal else env[v]

        for e in g.eqns:
            ins = [rd(v) for v in e.invars]
            if e.prim is jit_call_p:
                outs = [Var(v.aval) for v in e.outvars]
                splice(e.params["program"].graph, ins, outs)
            else:
                outs = [Var(v.aval) for v in e.outvars]
                eqns.append(Eqn(e.prim, ins, outs, e.params))
            for v, o in zip(e.outvars, outs):
                env[v] = o
        for t, v in zip(out_targets, g.outvars):
            src = rd(v)
            # out_targets are the caller's vars: bind them with an identity through env
            alias[t] = src

    alias = {}
    for e in graph.eqns:
        ins = [alias.get(v, v) if type(v) is Var else v for v in e.invars]
        if e.prim is jit_call_p:
            splice(e.params["program"].graph, ins, e.outvars)
        else:
            eqns.append(Eqn(e.prim, ins, e.outvars, e.params))

    def final(v):
        while type(v) is Var and v in alias:
            v = alias[v]
        return v

    eqns = [Eqn(e.prim, [final(v) for v in e.invars], e.outvars, e.params) for e in eqns]
    outvars = [final(v) for v in graph.outvars]
    return Graph(graph.invars, constvars, consts, eqns, outvars, graph.in_tree, graph.out_tree)

