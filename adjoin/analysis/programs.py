"""Operations and memory of one staged program (a :class:`~adjoin.core.graph.Graph`).

:func:`graph_cost` adds up the primitives' ``cost`` rules over a graph's equations
and runs a liveness pass for its peak of live bytes. :func:`adjoin.analysis.cost`
uses it for f, jvp(f) and vjp(f); call it directly on any staged graph (from
``make_graph`` or ``jit``) when one program is all you need.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from adjoin.core.graph import Eqn, Graph, Literal

__all__ = ["ProgramCost", "graph_cost", "peak_live_bytes", "eqn_flops"]


def eqn_flops(eqn: Eqn) -> int:
    """Floating-point operations of one equation, from its primitive's cost rule."""
    return int(eqn.prim.cost(*[v.aval for v in eqn.invars], **eqn.params))


@dataclass
class ProgramCost:
    """Operations and memory of one staged program."""

    name: str
    graph: Graph
    flops: int
    #: primitive name -> (number of equations, floating-point operations)
    by_primitive: dict = field(default_factory=dict)
    #: peak of live bytes (inputs held throughout, each value freed after its last use)
    peak_bytes: int = 0
    #: bytes of the program's inputs and captured constants
    input_bytes: int = 0
    #: operations of equations whose results nothing uses (counted in ``flops`` too)
    dead_flops: int = 0

    @property
    def num_eqns(self) -> int:
        return len(self.graph.eqns)


def graph_cost(graph: Graph, name: str = "f") -> ProgramCost:
    """The :class:`ProgramCost` of a staged graph (operations per primitive, peak bytes)."""
    by, total = {}, 0
    for eqn in graph.eqns:
        n = eqn_flops(eqn)
        total += n
        c, f = by.get(eqn.prim.name, (0, 0))
        by[eqn.prim.name] = (c + 1, f + n)
    by = dict(sorted(by.items(), key=lambda kv: (-kv[1][1], kv[0])))
    held = _unique_vars(graph.invars + graph.constvars)
    return ProgramCost(name, graph, total, by, peak_live_bytes(graph),
                       sum(v.aval.nbytes for v in held), _dead_flops(graph))


def _dead_flops(graph: Graph) -> int:
    needed = {v for v in graph.outvars if type(v) is not Literal}
    dead = 0
    for eqn in reversed(graph.eqns):
        if any(v in needed for v in eqn.outvars):
            needed.update(v for v in eqn.invars if type(v) is not Literal)
        else:
            dead += eqn_flops(eqn)
    return dead


def _unique_vars(vs):
    seen, out = set(), []
    for v in vs:
        if type(v) is not Literal and id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def peak_live_bytes(graph: Graph) -> int:
    """Peak of live bytes over one evaluation of ``graph`` in program order.

    Inputs and constants are live throughout (the caller holds them); every
    other value is live from the equation that defines it to its last use (to
    the end if it is an output). During an equation its inputs and outputs are
    live together.
    """
    last = {}
    for i, eqn in enumerate(graph.eqns):
        for v in eqn.invars:
            if type(v) is not Literal:
                last[v] = i
    keep = {v for v in graph.outvars if type(v) is not Literal}
    held = set(_unique_vars(graph.invars + graph.constvars))
    live = sum(v.aval.nbytes for v in held)
    peak = live
    for i, eqn in enumerate(graph.eqns):
        live += sum(v.aval.nbytes for v in eqn.outvars)
        peak = max(peak, live)
        freed = set()
        for v in eqn.invars:
            if (type(v) is not Literal and v not in held and v not in keep and v not in freed
                    and last[v] == i):
                freed.add(v)
                live -= v.aval.nbytes
        for v in eqn.outvars:  # dead on arrival
            if v not in last and v not in keep:
                live -= v.aval.nbytes
    return peak
