"""The three programs that :func:`adjoin.analysis.cost` and the pictures inspect, staged.

- ``f``: ``x ↦ y`` (:func:`adjoin.make_graph`);
- ``jvp(f)``: ``(x, ẋ) ↦ (y, ẏ)``, the pushforward with its primal (:func:`stage_jvp`);
- ``vjp(f)``: ``(x, ȳ) ↦ (y, x̄)``, the pullback *with* its forward pass, staged under
  adjoin's own tape (:func:`stage_vjp`), which also returns the tape as recorded after the
  forward pass (its :class:`~adjoin.transforms.reverse.TapeEntry` records).

Only the public API of the transformations is used: ``make_graph``, ``jvp``, and the
reverse-mode interpreter :class:`~adjoin.transforms.reverse.VJPTrace` (``new_input``,
``unwrap``, ``slot_of``, ``entries``, ``backward``, ``cotangent_of``).
"""
from __future__ import annotations

from typing import Callable, Sequence

from adjoin.core.avals import aval_of, is_inexact
from adjoin.core.graph import Graph
from adjoin.core.pytree import tree_flatten
from adjoin.transforms.api import jvp, make_graph
from adjoin.transforms.reverse import TapeEntry, VJPTrace
from adjoin.transforms.staging import StagingTrace

__all__ = ["prepare", "stage_f", "stage_jvp", "stage_vjp"]


def prepare(fun: Callable, args: Sequence, kwargs: dict, argnums, static_argnums):
    """(f of the non-static arguments, those arguments, their argnums among them or None)."""
    n = len(args)
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    st = {i % n for i in static if -n <= i < n}
    dyn = [a for i, a in enumerate(args) if i not in st]
    dyn_pos = [i for i in range(n) if i not in st]
    if argnums is None:
        nums = None
    else:
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        for i in nums:
            if not -n <= i < n or i % n in st:
                raise ValueError(f"argnums {argnums} must name non-static positional "
                                 f"arguments of the {n} given")
        nums = tuple(dyn_pos.index(i % n) for i in nums)

    def f_dyn(*d):
        it = iter(d)
        full = [args[i] if i in st else next(it) for i in range(n)]
        return fun(*full, **kwargs)

    f_dyn.__name__ = getattr(fun, "__name__", "f")
    return f_dyn, dyn, nums


def stage_f(fun: Callable, args: Sequence) -> tuple[Graph, list]:
    """(the graph of ``fun(*args)``, the arguments with abstract leaves for the other stagings)."""
    graph = make_graph(fun)(*args)
    return graph, list(graph.in_tree.unflatten(graph.in_avals))


def _diff_mask(args, argnums) -> list:
    """Per flat leaf: is it differentiated (in argnums and of inexact dtype)?"""
    mask = []
    for i, a in enumerate(args):
        leaves, _ = tree_flatten(a)
        for x in leaves:
            mask.append((argnums is None or i in argnums) and is_inexact(x))
    return mask


def stage_jvp(fun: Callable, args: Sequence, argnums) -> Graph:
    """The graph of ``(x, ẋ) ↦ (y, ẏ)``; tangents for the differentiated inexact leaves."""
    flat, in_tree = tree_flatten(args)
    mask = _diff_mask(args, argnums)
    with StagingTrace() as st:
        xs = [st.new_input(aval_of(x)) for x in flat]
        ts = [st.new_input(aval_of(x)) for x, d in zip(flat, mask) if d]
        diff = [x for x, d in zip(xs, mask) if d]

        def f_diff(*d):
            it = iter(d)
            full = [next(it) if m else x for x, m in zip(xs, mask)]
            return fun(*in_tree.unflatten(full))

        out, out_dot = jvp(f_diff, diff, ts)
        outs = tree_flatten(out)[0] + tree_flatten(out_dot)[0]
        return st.to_graph(outs)


def stage_vjp(fun: Callable, args: Sequence, argnums) -> tuple[Graph, list[TapeEntry], int]:
    """Stage ``(x, ȳ) ↦ (y, x̄)`` under adjoin's tape.

    Returns (graph, the tape after the forward pass, number of forward equations). The
    cotangent inputs ȳ are those of the outputs that depend on a differentiated input;
    x̄ has one leaf per leaf of each differentiated argument (zeros for integer leaves).
    """
    flat, in_tree = tree_flatten(args)
    nums = tuple(range(len(args))) if argnums is None else tuple(argnums)
    with StagingTrace() as st:
        staged = list(in_tree.unflatten([st.new_input(aval_of(x)) for x in flat]))
        trace = VJPTrace()
        inputs = []
        with trace:
            for i in nums:
                leaves, tree = tree_flatten(staged[i])
                ins = [trace.new_input(x) if is_inexact(x) else x
                       for x in leaves]
                inputs.extend(ins)
                staged[i] = tree.unflatten(ins)
            out = fun(*staged)
        out_flat = tree_flatten(out)[0]
        out_primal = [trace.unwrap(o) for o in out_flat]
        n_fwd = len(st.eqns)
        seeds = {}
        for o, p in zip(out_flat, out_primal):
            k = trace.slot_of(o)
            if k is not None:
                c = st.new_input(aval_of(p))
                seeds[k] = c if k not in seeds else seeds[k] + c
        tape = list(trace.entries())
        cts = trace.backward(seeds, consume=False)
        outs = out_primal + [trace.cotangent_of(x, cts) for x in inputs]
        graph = st.to_graph(outs)
    return graph, tape, n_fwd
