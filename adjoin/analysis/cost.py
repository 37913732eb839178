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
``docs/cost-model.md``. The parts live beside this module: ``programs.py`` (one
program's operations and peak bytes), ``tape.py`` (the tape's bytes) and
``staged.py`` (staging the three programs).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

from adjoin.analysis.programs import ProgramCost, eqn_flops, graph_cost, peak_live_bytes
from adjoin.analysis.staged import prepare, stage_f, stage_jvp, stage_vjp
from adjoin.analysis.tape import TapeCost, tape_cost

#: the lecture's cheap-gradient bounds: OPS(jvp f) ≤ 2.5 OPS(f), OPS(vjp f) ≤ 4 OPS(f)
JVP_BOUND = 2.5
VJP_BOUND = 4.0

__all__ = ["cost", "CostReport", "ProgramCost", "TapeCost", "graph_cost", "peak_live_bytes",
           "JVP_BOUND", "VJP_BOUND"]


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
        return sum(eqn_flops(e) for e in self.vjp.graph.eqns[self.vjp_forward_eqns:])

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


def cost(fun: Callable, argnums=None, static_argnums=()) -> Callable[..., CostReport]:
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
        f_dyn, dyn, nums = prepare(fun, args, kwargs, argnums, static_argnums)
        g_f, abstract = stage_f(f_dyn, dyn)
        g_jvp = stage_jvp(f_dyn, abstract, nums)
        g_vjp, tape, n_fwd = stage_vjp(f_dyn, abstract, nums)
        return CostReport(graph_cost(g_f, "f"), graph_cost(g_jvp, "jvp"),
                          graph_cost(g_vjp, "vjp"), tape_cost(tape, g_vjp, n_fwd), n_fwd,
                          name=name, argnums=shown)

    return cost_fun
