"""``compare_adjoints``: every adjoint strategy on one loss, side by side.

Two adjoints that agree prove nothing about either; a Taylor test does (Farrell et al.,
dolfin-adjoint): for a direction v the remainder

    r(ε) = |L(p + εv) − L(p) − ε ⟨∇L, v⟩|

is O(ε²) exactly when ∇L is the derivative of the L that was evaluated, so the rates
log₂ r(ε)/r(ε/2) approach 2. A gradient off by δ leaves r(ε) ≈ ε|⟨δ, v⟩| once ε is small,
and the rates fall to 1: the continuous adjoints show it (their gradient is the ODE's, the
loss is the discrete map's) when ε is small enough to resolve their O(h^p) error.
The perturbed losses are the same for every strategy (they share the forward pass), so
they are computed once.

Memory is measured with tracemalloc (which sees NumPy's allocations): ``tape_bytes`` is what
the forward pass leaves for the backward pass (tape, residuals, checkpoints: everything
alive between them), ``peak_bytes`` the most in use during the backward pass, both above
the memory in use before the forward pass. tracemalloc slows Python down; ``seconds`` are
measured with it off.
"""
from __future__ import annotations

import dataclasses
import math
import time
import tracemalloc
from typing import Callable, Sequence

import numpy as np

from adjoin.core.pytree import tree_flatten, tree_unflatten
from adjoin.implicit.strategies import DiffStrategy, Unroll
from adjoin.ode.stats import recording
from adjoin.ode.strategies import Backsolve, Checkpointed, Interpolated
from adjoin.transforms.api import vjp


@dataclasses.dataclass
class AdjointRow:
    """One strategy's gradient and what it cost."""

    name: str
    value: float
    grad: object
    #: max |∇L − ∇L_ref| over all entries, and relative to max |∇L_ref|
    grad_diff: float
    grad_rel_diff: float
    #: the Taylor test's rates log₂ r(ε)/r(ε/2) (→ 2 for an exact gradient)
    taylor_rates: list
    #: vector field evaluations of the forward and the backward passes; vjps in the latter
    nfev_forward: int
    nfev_backward: int
    nvjp_backward: int
    #: steps recomputed from checkpoints, and Revolve's optimum (None: not applicable)
    recomputed_steps: int
    optimal_recomputations: int | None
    #: the most states held as checkpoints / outputs / dense output, and their bytes
    checkpoint_bytes: int
    #: bytes alive between the forward and the backward pass, and the backward pass's peak
    tape_bytes: int
    peak_bytes: int
    seconds: float

    @property
    def taylor_order(self) -> float:
        """The last Taylor rate (the smallest ε)."""
        return self.taylor_rates[-1] if self.taylor_rates else math.nan


@dataclasses.dataclass
class AdjointReport:
    """The side-by-side comparison; ``report["Backsolve"]`` is a row, ``print(report)`` the
    table, ``report.rows`` all of them, ``report.reference`` the strategy the gradient
    differences are measured against."""

    rows: list
    reference: str
    epsilons: list

    def __getitem__(self, name: str) -> AdjointRow:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no strategy named {name!r}; the report has "
                       f"{[r.name for r in self.rows]}")

    def text(self) -> str:
        w = 4 * max(1, len(self.epsilons) - 1) + 2
        head = (f"{'strategy':<18}{'|Δ∇L|/|∇L|':>12}{'Taylor rates':>{w}}{'fev fwd':>9}"
                f"{'fev bwd':>9}{'vjps':>7}{'recomp (opt)':>14}{'ckpt B':>10}"
                f"{'tape B':>11}{'peak B':>11}{'s':>8}")
        lines = [head, "-" * len(head)]
        for r in self.rows:
            rates = " ".join(f"{x:.1f}" for x in r.taylor_rates)
            opt = "" if r.optimal_recomputations is None else f" ({r.optimal_recomputations})"
            lines.append(
                f"{r.name:<18}{r.grad_rel_diff:>12.1e}{rates:>{w}}{r.nfev_forward:>9}"
                f"{r.nfev_backward:>9}{r.nvjp_backward:>7}{str(r.recomputed_steps) + opt:>14}"
                f"{_b(r.checkpoint_bytes):>10}{_b(r.tape_bytes):>11}{_b(r.peak_bytes):>11}"
                f"{r.seconds:>8.3f}")
        lines.append(f"gradient differences against {self.reference}; Taylor rates at ε = "
                     + f"{self.epsilons[0]:.0e} / 2^k, k = 0…{len(self.epsilons) - 1}"
                     + " (2: exact for the "
                     "evaluated loss, 1: approximate)")
        return "\n".join(lines)

    __str__ = text


def _b(n: int) -> str:
    for unit, size in (("G", 2 ** 30), ("M", 2 ** 20), ("k", 2 ** 10)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(int(n))


def _flat(tree):
    leaves, treedef = tree_flatten(tree)
    return leaves, treedef


def _float_leaves(params):
    leaves, treedef = tree_flatten(params)
    idx = [i for i, x in enumerate(leaves)
           if np.asarray(x).dtype.kind == "f"]
    return leaves, treedef, idx


def _perturb(leaves, treedef, idx, direction, eps):
    new = list(leaves)
    for i, d in zip(idx, direction):
        new[i] = np.asarray(leaves[i]) + eps * d
    return tree_unflatten(treedef, new)


def compare_adjoints(loss: Callable, params, adjoints: Sequence[DiffStrategy] | None = None,
                     epsilons: Sequence[float] | None = None, seed: int = 0,
                     measure_memory: bool = True) -> AdjointReport:
    """Run ``loss(params, adjoint)`` with every strategy in ``adjoints`` and compare.

    ``loss(params, adjoint)`` returns a real scalar and passes ``adjoint`` to its
    integrations (``odeint(..., adjoint=adjoint)``). ``adjoints``: default
    ``(ad.Unroll(), ad.Checkpointed(8), ad.Backsolve(), ad.Interpolated())``; the first is
    the reference of the gradient differences. ``epsilons``: the Taylor test's steps
    (default 10⁻² · 2⁻ᵏ, k = 0…9, relative to the size of the parameters). Use it to pick a
    strategy for your problem: the table shows which gradients are exact, what each costs in
    evaluations, recomputations and memory.
    """
    adjoints = list(adjoints) if adjoints is not None else [
        Unroll(), Checkpointed(8), Backsolve(), Interpolated()]
    if not adjoints:
        raise ValueError("compare_adjoints: give at least one strategy")
    leaves, treedef, idx = _float_leaves(params)
    if not idx:
        raise ValueError("compare_adjoints: params has no floating-point arrays to "
                         "differentiate")
    rng = np.random.default_rng(seed)
    direction = [rng.standard_normal(np.shape(leaves[i])) for i in idx]
    scale = max(1.0, max(float(np.max(np.abs(leaves[i]))) if np.size(leaves[i]) else 0.0
                         for i in idx))
    eps = list(epsilons) if epsilons is not None else [1e-2 * scale * 0.5 ** k
                                                      for k in range(10)]
    base = float(loss(params, adjoints[0]))
    perturbed = [float(loss(_perturb(leaves, treedef, idx, direction, e), adjoints[0]))
                 for e in eps]
    rows, ref_grad = [], None
    for adjoint in adjoints:
        row = _run(loss, params, adjoint, measure_memory)
        g_leaves, _ = _flat(row.grad)
        g_flat = np.concatenate([np.ravel(np.asarray(x, dtype=float)) for x in g_leaves])
        if ref_grad is None:
            ref_grad = g_flat
        diff = float(np.max(np.abs(g_flat - ref_grad))) if g_flat.size else 0.0
        row.grad_diff = diff
        row.grad_rel_diff = diff / max(float(np.max(np.abs(ref_grad))), 1e-300)
        slope = sum(float(np.sum(np.asarray(g_leaves[i]) * d)) for i, d in zip(idx, direction))
        r = [abs(p - base - e * slope) for p, e in zip(perturbed, eps)]
        row.taylor_rates = [math.log2(r[k] / r[k + 1]) if r[k + 1] > 0 and r[k] > 0
                            else math.inf for k in range(len(r) - 1)]
        rows.append(row)
    return AdjointReport(rows, rows[0].name, eps)


def _name(adjoint) -> str:
    return repr(adjoint)


def gradient_memory(fun: Callable, *args) -> tuple[int, int]:
    """``(tape_bytes, peak_bytes)`` of the gradient of the scalar ``fun(*args)``: the bytes
    alive between the forward and the backward pass, and the most in use during the backward
    pass, both above what was in use before (tracemalloc, which sees NumPy's arrays)."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        _, pullback = vjp(fun, *args)
        tape = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.reset_peak()
        pullback(1.0)
        peak = tracemalloc.get_traced_memory()[1] - before
        del pullback
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return int(tape), int(max(peak, tape))


def _run(loss, params, adjoint, measure_memory) -> AdjointRow:
    t0 = time.perf_counter()
    value, pullback = vjp(lambda p: loss(p, adjoint), params)
    grad = pullback(1.0)[0]
    seconds = time.perf_counter() - t0
    tape = peak = 0
    with recording() as log:
        if measure_memory:
            tape, peak = gradient_memory(lambda p: loss(p, adjoint), params)
        else:
            vjp(lambda p: loss(p, adjoint), params)[1](1.0)
    s = _sum_stats(log)
    return AdjointRow(_name(adjoint), float(value), grad, 0.0, 0.0, [], s["nfev_forward"],
                      s["nfev_backward"], s["nvjp_backward"], s["recomputed_steps"],
                      s["optimal_recomputations"], s["checkpoint_bytes"], int(tape), int(peak),
                      seconds)


def _sum_stats(log) -> dict:
    keys = ("nfev_forward", "nfev_backward", "nvjp_backward", "recomputed_steps",
            "checkpoint_bytes")
    out = {k: sum(getattr(s, k) for s in log) for k in keys}
    opts = [s.optimal_recomputations for s in log if s.optimal_recomputations is not None]
    out["optimal_recomputations"] = sum(opts) if opts else None
    return out
