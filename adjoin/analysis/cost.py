"""Operation counts and memory of f, jvp(f) and vjp(f), from staged graphs.

``cost(f)(*args)`` stages three programs and adds up the primitives' ``cost``
rules over their equations (nothing is timed, and no array is computed):

- ``f``: ``x ↦ y``;
- ``jvp(f)``: ``(x, ẋ) ↦ (y, ẏ)`` — the pushforward, primal included;
- ``vjp(f)``: ``(x, ȳ) ↦ (y, x̄)`` — the pullback *with* its forward pass
  (the lecture's 𝓑(f, (x,), (ȳ,)) = ((y,), (x̄,))).

Their ratios are compared with the cheap-gradient bounds the lecture quotes
(Griewank & Walther, *Evaluating Derivatives*, 2008, §4.5):
OPS(jvp) ≤ 2.5·OPS(f) and OPS(vjp) ≤ 4·OPS(f).

Memory: the reverse pass is staged under adjoin's own tape (``VJPTrace``), so
the report gives the bytes of the arrays the tape keeps alive (exactly what the
eager reverse mode holds between the forward and the backward pass), the bytes
of forward values the backward equations actually read (the residuals), and the
peak of live bytes of each program from a liveness pass (a value is freed
after its last use; inputs are held by the caller throughout).

The counting model (what one operation is) is described in
``docs/cost-model.md``.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from adjoin.core.avals import aval_of
from adjoin.core.graph import Graph, Literal
from adjoin.core.pytree import tree_flatten
from adjoin.transforms.reverse import VJPTracer
from adjoin.transforms.staging import StagingTrace, StagingTracer, stage

#: the lecture's cheap-gradient bounds: OPS(jvp f) ≤ 2.5 OPS(f), OPS(vjp f) ≤ 4 OPS(f)
JVP_BOUND = 2.5
VJP_BOUND = 4.0

__all__ = ["cost", "CostReport", "ProgramCost", "TapeCost", "graph_cost", "peak_live_bytes",
           "JVP_BOUND", "VJP_BOUND"]


# --------------------------------------------------------------------------------------
# one program
# --------------------------------------------------------------------------------------

def _eqn_flops(eqn) -> int:
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
        n = _eqn_flops(eqn)
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
            dead += _eqn_flops(eqn)
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


# --------------------------------------------------------------------------------------
# the tape
# --------------------------------------------------------------------------------------

@dataclass
class TapeCost:
    """What the reverse pass keeps between the forward and the backward pass."""

    #: tape entries (primitive applications recorded by reverse mode)
    entries: int
    #: bytes of the distinct arrays the tape references (saved inputs and outputs of
    #: each entry), as ``VJPTrace.tape_bytes()`` counts them on concrete values
    tape_bytes: int
    #: of those, bytes of the program's own inputs and constants (held by the caller anyway)
    tape_input_bytes: int
    #: bytes of forward values that the backward equations read (the residuals proper)
    residual_bytes: int

    @property
    def tape_intermediate_bytes(self) -> int:
        """Tape bytes of values the forward pass computed (what the tape adds to memory)."""
        return self.tape_bytes - self.tape_input_bytes


def _shape_only_rule():
    """How the tape drops values a vjp rule does not read: (prim by vjp rule, min size).

    Reverse mode may keep only the shape of a large array that a primitive's vjp rule
    does not read (``Primitive.saves``); staged values are never dropped, so the count
    applies the same rule to mirror what the eager tape holds.
    """
    from adjoin.core.primitive import REGISTRY
    from adjoin.transforms import reverse
    min_size = getattr(reverse, "_SHAPE_ONLY_MIN_SIZE", None)
    if min_size is None:
        return {}, None
    by_rule = {id(p.vjp): p for p in list(REGISTRY.values())
               if getattr(p, "saves", None) is not None}
    return by_rule, min_size


def _tape_cost(trace, graph, n_fwd) -> TapeCost:
    held = {id(v) for v in graph.invars + graph.constvars}
    seen, total, of_inputs = set(), 0, 0
    entries = 0
    by_rule, min_size = _shape_only_rule()
    for entry in trace.tape:
        if entry is None:
            continue
        entries += 1
        outs = list(entry[4]) if entry[6] else [entry[4]]
        saved = list(entry[3])
        prim = by_rule.get(id(entry[0])) if not entry[6] else None
        if prim is not None:  # values the rule does not read are kept as shapes only
            def drop(v):
                return (isinstance(v, (StagingTracer, np.ndarray)) and v.ndim > 0
                        and aval_of(v).size >= min_size)
            if not prim.saves[0]:
                saved = [v for v in saved if not drop(v)]
            if not prim.saves[1]:
                outs = [v for v in outs if not drop(v)]
        for v in saved + outs:
            if isinstance(v, StagingTracer):
                key, nbytes, is_input = id(v.var), v.aval.nbytes, id(v.var) in held
            elif isinstance(v, np.ndarray):
                key, nbytes, is_input = id(v), v.nbytes, True
            elif isinstance(v, np.generic):
                key, nbytes, is_input = None, v.nbytes, True
            else:  # Python scalars, tracers of outer transformations
                continue
            if key is not None:
                if key in seen:
                    continue
                seen.add(key)
            total += nbytes
            if is_input:
                of_inputs += nbytes
    # residuals: values defined by the forward equations and read by the backward ones
    fwd_vars = {v for eqn in graph.eqns[:n_fwd] for v in eqn.outvars}
    res = {v for eqn in graph.eqns[n_fwd:] for v in eqn.invars
           if type(v) is not Literal and v in fwd_vars}
    return TapeCost(entries, total, of_inputs, sum(v.aval.nbytes for v in res))


# --------------------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------------------

@dataclass
class CostReport:
    """Operation counts of f, jvp(f), vjp(f), their ratios, and the reverse pass's memory."""

    f: ProgramCost
    jvp: ProgramCost
    vjp: ProgramCost
    tape: TapeCost
    #: equations of the staged vjp program that belong to the forward pass
    vjp_forward_eqns: int
    name: str = "f"
    argnums: tuple | None = None

    jvp_bound: float = JVP_BOUND
    vjp_bound: float = VJP_BOUND

    # --- ratios ----------------------------------------------------------------------
    @property
    def jvp_ratio(self) -> float:
        """OPS(jvp f) / OPS(f)."""
        return self.jvp.flops / self.f.flops if self.f.flops else float("nan")

    @property
    def vjp_ratio(self) -> float:
        """OPS(vjp f) / OPS(f) (forward pass included)."""
        return self.vjp.flops / self.f.flops if self.f.flops else float("nan")

    @property
    def jvp_within_bound(self) -> bool:
        return self.jvp.flops <= self.jvp_bound * self.f.flops

    @property
    def vjp_within_bound(self) -> bool:
        return self.vjp.flops <= self.vjp_bound * self.f.flops

    @property
    def bounds_hold(self) -> bool:
        return self.jvp_within_bound and self.vjp_within_bound

    # --- shortcuts ---------------------------------------------------------------------
    @property
    def flops(self) -> dict:
        return {"f": self.f.flops, "jvp": self.jvp.flops, "vjp": self.vjp.flops}

    @property
    def tape_bytes(self) -> int:
        return self.tape.tape_bytes

    @property
    def residual_bytes(self) -> int:
        return self.tape.residual_bytes

    @property
    def peak_bytes(self) -> int:
        """Peak live bytes of the vjp program (forward and backward pass)."""
        return self.vjp.peak_bytes

    @property
    def backward_flops(self) -> int:
        """Operations of the backward equations of the vjp program alone."""
        return sum(_eqn_flops(e) for e in self.vjp.graph.eqns[self.vjp_forward_eqns:])

    def by_primitive(self) -> dict:
        """{primitive: {"f": (n, flops), "jvp": (n, flops), "vjp": (n, flops)}}."""
        names = list(dict.fromkeys(list(self.f.by_primitive) + list(self.vjp.by_primitive)
                                   + list(self.jvp.by_primitive)))
        return {n: {p.name: p.by_primitive.get(n, (0, 0)) for p in (self.f, self.jvp, self.vjp)}
                for n in names}

    def to_dict(self) -> dict:
        return {
            "flops": self.flops, "jvp_ratio": self.jvp_ratio, "vjp_ratio": self.vjp_ratio,
            "jvp_bound": self.jvp_bound, "vjp_bound": self.vjp_bound,
            "bounds_hold": self.bounds_hold,
            "tape_entries": self.tape.entries, "tape_bytes": self.tape.tape_bytes,
            "tape_input_bytes": self.tape.tape_input_bytes,
            "residual_bytes": self.tape.residual_bytes,
            "peak_bytes": {"f": self.f.peak_bytes, "jvp": self.jvp.peak_bytes,
                           "vjp": self.vjp.peak_bytes},
            "input_bytes": self.f.input_bytes,
            "by_primitive": self.by_primitive(),
        }

    # --- printing ------------------------------------------------------------------------
    def text(self, top: int = 12) -> str:
        """The report as a table (``top``: how many primitives to list)."""
        def ok(flag):
            return "ok" if flag else "EXCEEDED"

        b = _fmt_bytes
        t = self.tape
        lines = [f"cost of {self.name}"
                 + (f" (differentiating argnums={self.argnums})" if self.argnums is not None else "")
                 + ": operations counted from the staged programs, nothing timed",
                 f"  {'program':<8}{'eqns':>8}{'flops':>16}{'× OPS(f)':>10}   cheap-gradient bound",
                 f"  {'f':<8}{self.f.num_eqns:>8}{self.f.flops:>16,}{1.0:>10.2f}",
                 f"  {'jvp(f)':<8}{self.jvp.num_eqns:>8}{self.jvp.flops:>16,}"
                 f"{self.jvp_ratio:>10.2f}   ≤ {self.jvp_bound:.1f}  {ok(self.jvp_within_bound)}",
                 f"  {'vjp(f)':<8}{self.vjp.num_eqns:>8}{self.vjp.flops:>16,}"
                 f"{self.vjp_ratio:>10.2f}   ≤ {self.vjp_bound:.1f}  {ok(self.vjp_within_bound)}",
                 f"  (vjp(f) = forward pass + backward pass of {self.backward_flops:,} flops"
                 + (f"; results unused: {self.vjp.dead_flops:,} flops" if self.vjp.dead_flops
                    else "") + ")",
                 "memory",
                 f"  inputs and constants of f         {b(self.f.input_bytes):>11}",
                 f"  tape of the reverse pass          {b(t.tape_bytes):>11}   "
                 f"({t.entries} entries; inputs {b(t.tape_input_bytes)}, "
                 f"computed values {b(t.tape_intermediate_bytes)})",
                 f"  residuals the backward pass reads {b(t.residual_bytes):>11}",
                 f"  peak live bytes                   f {b(self.f.peak_bytes)}, "
                 f"jvp(f) {b(self.jvp.peak_bytes)}, vjp(f) {b(self.vjp.peak_bytes)}",
                 f"per primitive: equations × flops{'f':>26}{'jvp(f)':>25}{'vjp(f)':>25}"]
        rows = sorted(self.by_primitive().items(),
                      key=lambda kv: (-max(v[1] for v in kv[1].values()), kv[0]))
        for name, per in rows[:top]:
            cells = "".join(f"{per[k][0]:>8} ×{per[k][1]:>15,}" for k in ("f", "jvp", "vjp"))
            lines.append(f"  {name:<31}{cells}")
        if len(rows) > top:
            rest = rows[top:]
            cells = "".join(f"{sum(r[1][k][0] for r in rest):>8} ×"
                            f"{sum(r[1][k][1] for r in rest):>15,}" for k in ("f", "jvp", "vjp"))
            lines.append(f"  {f'({len(rest)} more)':<31}{cells}")
        return "\n".join(lines)

    __str__ = text

    def __repr__(self):
        return self.text()


def _fmt_bytes(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


# --------------------------------------------------------------------------------------
# staging jvp(f) and vjp(f)
# --------------------------------------------------------------------------------------

def _diff_mask(args, argnums):
    """Per flat leaf: is it differentiated (in argnums and of inexact dtype)?"""
    mask = []
    for i, a in enumerate(args):
        leaves, _ = tree_flatten(a)
        for x in leaves:
            mask.append((argnums is None or i in argnums) and aval_of(x).dtype.kind in "fc")
    return mask


def _stage_jvp(fun, args, argnums) -> Graph:
    from adjoin.transforms import api
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

        out, out_dot = api.jvp(f_diff, diff, ts)
        outs = tree_flatten(out)[0] + tree_flatten(out_dot)[0]
        return st.to_graph(outs)


def _stage_vjp(fun, args, argnums):
    """Stage ``(x, ȳ) ↦ (y, x̄)`` under adjoin's tape; returns (graph, tape, n_forward_eqns)."""
    from adjoin.transforms import api
    flat, in_tree = tree_flatten(args)
    nums = tuple(range(len(args))) if argnums is None else tuple(argnums)
    with StagingTrace() as st:
        xs = [st.new_input(aval_of(x)) for x in flat]
        staged_args = in_tree.unflatten(xs)
        trace, diff_trees, out, _ = api._record(fun, staged_args, nums, "vjp", False, {},
                                                copy_inputs=False)
        out_primal, out_flat, _ = api._strip(trace, out)
        n_fwd = len(st.eqns)
        seeds = {}
        for o, p in zip(out_flat, out_primal):
            if type(o) is VJPTracer and o._trace is trace:
                c = st.new_input(aval_of(p))
                seeds[o.idx] = c if o.idx not in seeds else seeds[o.idx] + c
        tape = _snapshot(trace)
        cts = trace.backward(seeds, consume=False)
        in_cts = api._input_cotangents(trace, diff_trees, cts)
        outs = list(out_primal) + [leaf for ct in in_cts for leaf in tree_flatten(ct)[0]]
        graph = st.to_graph(outs)
    return graph, tape, n_fwd


class _snapshot:
    """The tape as it stands after the forward pass."""

    def __init__(self, trace):
        self.tape = list(trace.tape)


# --------------------------------------------------------------------------------------
# the entry point
# --------------------------------------------------------------------------------------

def _prepare(fun, args, kwargs, argnums, static_argnums):
    """(f of the staged arguments, those arguments made abstract-ready, their argnums)."""
    from adjoin.transforms.api import _abstractify
    n = len(args)
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    st = {i % n for i in static if -n <= i < n}
    dyn = [_abstractify(a) for i, a in enumerate(args) if i not in st]
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


def cost(fun, argnums=None, static_argnums=()):
    """``cost(f)(*args)``: a :class:`CostReport` of f, jvp(f) and vjp(f) at ``args``' shapes.

    OPS(program) = Σ over its equations of the primitive's ``cost`` rule (see
    ``docs/cost-model.md``); nothing is run or timed, only shapes matter.

    fun: the function; its arguments are pytrees of arrays and scalars.
    argnums: int or tuple: the arguments that carry tangents / get cotangents
        (default: every argument; integer leaves never do).
    static_argnums: arguments passed through as Python values (not staged).
    """
    name = getattr(fun, "__name__", "f")
    name = "f" if name == "<lambda>" else name
    shown = (argnums,) if isinstance(argnums, int) else (None if argnums is None
                                                         else tuple(argnums))

    @functools.wraps(fun)
    def cost_fun(*args, **kwargs):
        f_dyn, dyn, nums = _prepare(fun, args, kwargs, argnums, static_argnums)
        g_f = stage(f_dyn, *dyn)
        g_jvp = _stage_jvp(f_dyn, dyn, nums)
        g_vjp, tape, n_fwd = _stage_vjp(f_dyn, dyn, nums)
        return CostReport(graph_cost(g_f, "f"), graph_cost(g_jvp, "jvp"),
                          graph_cost(g_vjp, "vjp"), _tape_cost(tape, g_vjp, n_fwd), n_fwd,
                          name=name, argnums=shown)

    return cost_fun
