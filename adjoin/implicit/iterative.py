"""Running an iteration: the stopping test and the one rule for thresholds under vmap.

**Thresholds are per example.** A solver stops when every system has reached *its own*
tolerance: example i needs ``residual_i ≤ max(tol · reference_i, atol)``, where the
reference is what the solver measures relative to (‖b_i‖ for a linear solve, the residual
at x0 for a root or an argmin). That is what the same solve does on one example alone, so
``vmap(solve)`` stops where a loop over the examples would (the batch runs until its
slowest example has converged; the others keep their converged iterates). The threshold is
therefore a batched value under vmap (``stopping_threshold`` on a batched reference), and
``converged`` compares residual and threshold example by example.
"""
from __future__ import annotations

import collections
import dataclasses
from typing import Any

import numpy as np

import adjoin.numpy as anp
from adjoin.backends import persist as _persist
from adjoin.core.pytree import tree_map
from adjoin.core.trace import ConcretizationError, Tracer, all_values
from adjoin.implicit.info import NonFiniteError, SolveInfo, nonfinite_summary
from adjoin.transforms.custom import stop_gradient


def stopped(tree):
    """The values of ``tree`` without derivatives (traced leaves cut, batch axes kept)."""
    return tree_map(lambda x: stop_gradient(x) if isinstance(x, Tracer) else x, tree)


def is_abstract(value) -> bool:
    """Whether ``value`` is being staged (jit, make_graph): it has no concrete data, so a
    decision on it must be written as array operations (``where``, a structured loop)."""
    if not isinstance(value, Tracer):
        return False
    try:
        all_values(value)
    except ConcretizationError:
        return True
    return False


def every(cond) -> bool:
    """Whether a (traced) boolean holds for every entry and every vmap example."""
    return bool(np.all(np.asarray(all_values(cond))))


def largest(x) -> float:
    """The largest entry over every vmap example, as a float."""
    return float(np.max(np.asarray(all_values(x))))


def check_tolerances(tol, atol):
    if tol is None or atol is None or not tol >= 0 or not atol >= 0:
        raise ValueError(f"tol and atol must be non-negative numbers, got tol={tol!r}, "
                         f"atol={atol!r}")


def stopping_threshold(reference, tol, atol):
    """max(tol · reference, atol) for each example: the residual a solve must reach.

    ``reference``: a scalar per example (batched under vmap: then so is the threshold).
    Derivatives do not flow into a threshold.
    """
    check_tolerances(tol, atol)
    ref = stopped(reference)
    if isinstance(ref, Tracer):
        return anp.maximum(float(tol) * ref, float(atol))
    ref = np.asarray(ref, dtype=float)
    out = np.maximum(float(tol) * ref, float(atol))
    return float(out) if out.ndim == 0 else out


def converged(err, threshold) -> bool:
    """Whether every example has its residual ``err`` at or below its ``threshold``."""
    if isinstance(threshold, Tracer):
        return every(err <= threshold)
    return bool(np.all(np.asarray(all_values(err)) <= threshold))


def worst(err, threshold) -> tuple[float, float]:
    """(residual, threshold) of the example farthest above its threshold (the largest
    residual when all have converged), for reports."""
    e = np.asarray(all_values(err), dtype=float)
    t = np.asarray(all_values(threshold), dtype=float)
    if e.size == 0:
        return float("nan"), float(np.max(t)) if t.size else float("nan")
    if t.shape not in ((), e.shape):  # batch axes not aligned: report the extremes
        return float(np.max(e)), float(np.max(t))
    t = np.broadcast_to(t, e.shape)
    i = np.argmax(e - t) if np.any(e > t) else np.argmax(e)
    return float(e.flat[i]), float(t.flat[i])


@dataclasses.dataclass
class Iterated:
    """The outcome of :func:`iterate`: the final state, the report, the last ``keep_last``
    states before the final one (oldest first) and the threshold it used (per example)."""

    state: Any
    info: SolveInfo
    history: list
    threshold: Any


def iterate(solver, state, theta, threshold, maxiter, keep_last=0) -> Iterated:
    """Run ``solver`` (an IterativeSolver) from ``state`` for at most ``maxiter`` steps.

    ``threshold``: the residual to reach (a number or a per-example value), or a function
    ``threshold(state0, *theta)`` computing it from the starting state (relative
    tolerances). A function is evaluated on the values being iterated, so under ``jit`` an
    implicitly differentiated solve computes it when the compiled program runs.
    """
    if callable(threshold):
        threshold = threshold(state, *theta)
    history = collections.deque(maxlen=keep_last) if keep_last else None
    k, ok, err, nonfinite = 0, False, None, ""
    start = state
    for k in range(maxiter + 1):
        err = solver.error(state, *theta)
        if converged(err, threshold):
            ok = True
            break
        if nonfinite_summary(err):  # NaN or Inf never converges: stop and say why at once
            nonfinite = _nonfinite_report(solver, k, start, theta)
            if k == 0:
                raise NonFiniteError(nonfinite)
            break
        if k == maxiter:
            break
        if history is not None:
            history.append(state)
        state = _persist(solver.step(state, *theta))  # Dask: one iteration's graph at a time
    residual, thr = worst(err, threshold) if err is not None else (float("nan"), float("nan"))
    return Iterated(state, SolveInfo(solver.name, k, residual, thr, ok, nonfinite),
                    list(history or []), threshold)


def _nonfinite_report(solver, k, start, theta) -> str:
    """Why a residual is NaN/Inf: which inputs hold NaN or Inf, or where it diverged."""
    bad = [f"the starting point has {s}" for s in [nonfinite_summary(start)] if s]
    bad += [f"parameter #{i} has {s}" for i, t in enumerate(theta)
            for s in [nonfinite_summary(t)] if s]
    if k == 0:
        cause = "; ".join(bad) or "the function itself returns NaN/Inf at the starting point"
        return (f"{solver.name}: the residual is NaN/Inf before the first iteration "
                f"({cause}). Pass a finite right-hand side, parameters and initial guess "
                "(ad.debug_nans() finds where a NaN is made).")
    if bad:
        return (f"{solver.name}: the residual became NaN/Inf at iteration {k}: "
                f"{'; '.join(bad)}. Pass finite values.")
    return (f"{solver.name}: the residual became NaN/Inf at iteration {k} (the inputs "
            "it can see are finite: the operator holds NaN/Inf, or the iteration diverged or "
            "divided by zero). Check that the problem "
            "suits the method (cg needs a symmetric positive definite matrix), scale it, or "
            "start closer to the solution.")
