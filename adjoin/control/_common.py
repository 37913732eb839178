"""Helpers shared by the control-flow primitives: flat bodies, avals, zeros, carries."""
from __future__ import annotations

import numpy as np

from adjoin.core.avals import ShapedArray, aval_of, zero_tangent
from adjoin.core.trace import ConcretizationError, Tracer, all_values
from adjoin.transforms.api import jvp
from adjoin.transforms.batching import BatchTrace, BatchTracer
from adjoin.transforms.closure import closure_convert
from adjoin.transforms.staging import abstract_eval, stage


def fill(t, like):
    """A symbolic zero (None) tangent or cotangent of ``like`` (an inexact value or aval)
    made concrete."""
    return zero_tangent(like) if t is None else t


def jvp_with_placed_tangents(fun, groups, args):
    """``jvp(fun)`` for a loop body or branch whose flat arguments come in groups.

    Each group is ``(size, positions)``: ``size`` values, then the tangents of the values at
    ``positions`` (the others have none). Returns ``(out, out_dot)`` as lists.
    """
    primals, tangents, o = [], [], 0
    for size, positions in groups:
        dots = args[o + size:o + size + len(positions)]
        placed = [None] * size
        for j, i in enumerate(positions):
            placed[i] = dots[j]
        primals += list(args[o:o + size])
        tangents += placed
        o += size + len(positions)
    return jvp(lambda *p: list(fun(*p)), primals, tangents)


def is_abstract(args) -> bool:
    """Whether some value has no concrete data underneath (it is being staged)."""
    for a in args:
        if isinstance(a, Tracer):
            try:
                all_values(a)
            except ConcretizationError:
                return True
    return False


#: out avals of a flat body, per (body, in avals): shape rules are asked often
_AVAL_CACHE: dict = {}


def body_avals(fun, avals):
    """Output avals of a flat function ``fun(*xs) -> list`` on ``avals``."""
    avals = tuple(ShapedArray(tuple(a.shape), a.dtype) for a in avals)
    graph = getattr(fun, "graph", None)
    if graph is not None and list(graph.in_avals) == list(avals[:len(graph.invars)]):
        return list(graph.out_avals)
    key = (id(fun), avals)
    hit = _AVAL_CACHE.get(key)
    if hit is not None and hit[0] is fun:
        return hit[1]
    out = abstract_eval(fun, avals)[0]
    if len(_AVAL_CACHE) > 4096:
        _AVAL_CACHE.clear()
    _AVAL_CACHE[key] = (fun, list(out))
    return list(out)


def body_flops(fun, avals) -> int:
    graph = getattr(fun, "graph", None)
    if graph is None:
        graph = abstract_eval(fun, [ShapedArray(tuple(a.shape), a.dtype) for a in avals])[1]
    return graph.flops()


def convert(fun, avals):
    """Closure-convert a flat function: ``(converted, consts)`` where
    ``converted(*xs, *consts) == fun(*xs)`` (a list)."""
    return closure_convert(fun, *[aval_of(a) for a in avals])


def describe(avals):
    return "[" + ", ".join(a.str_short() for a in avals) + "]"


def same_avals(a, b) -> bool:
    return len(a) == len(b) and all(tuple(x.shape) == tuple(y.shape) and
                                    np.dtype(x.dtype) == np.dtype(y.dtype) for x, y in zip(a, b))


def check_carry(in_tree, out_tree, in_avals, out_avals, what):
    """A loop body must return a carry of the initial carry's structure, shapes and dtypes."""
    if in_tree != out_tree:
        raise TypeError(f"{what}: the body must return a carry with the structure of the "
                        f"initial carry; got {out_tree} for {in_tree}")
    if not same_avals(in_avals, out_avals):
        raise TypeError(
            f"{what}: the body must return a carry with the shapes and dtypes of the initial "
            f"carry; got {describe(out_avals)} for {describe(in_avals)}. Give the initial "
            "carry the dtype the body computes (e.g. 0.0 rather than 0, or .astype).")


def batched_outputs(fun, avals, in_batched, size):
    """Which outputs of the flat function ``fun`` depend on the batched inputs
    (``in_batched[i]``: input i is batched along a leading axis of ``size``)."""
    found = {}

    def probe(*xs):
        with BatchTrace(size) as trace:
            ins = [BatchTracer(trace, x, 0) if b else x for x, b in zip(xs, in_batched)]
            outs = fun(*ins)
            found["flags"] = [type(o) is BatchTracer and o._trace is trace for o in outs]
        return []

    stage(probe, *[ShapedArray(((size,) if b else ()) + tuple(a.shape), a.dtype)
                   for a, b in zip(avals, in_batched)])
    return found["flags"]


def carry_fixpoint(fun, avals, in_batched, num_carry, size):
    """The carries that are batched in every step: start from the batched initial carries
    and add those a step makes batched, until nothing changes."""
    flags = list(in_batched)
    while True:
        out = batched_outputs(fun, avals, flags, size)
        new = [a or b for a, b in zip(flags[:num_carry], out[:num_carry])]
        if new == flags[:num_carry]:
            return flags, out
        flags[:num_carry] = new
